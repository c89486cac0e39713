"""Churn in the simulator: the driver equals the engine without churn, leavers' models are
lost, joiners start from a neighbour, stranded devices stay in the metrics and are re-attached
by a re-formation; traces are seeded and shaped as documented."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

import ssdfl
from ssdfl.errors import SsdflError
from ssdfl.simulate import SSDFL, simulate
from ssdfl.simulate.churn import (
    MembershipTrace,
    mass_failure,
    random_churn,
    regional_failure,
    simulate_churn,
)
from ssdfl.theory.models import Quadratic

N = 12


def _setup() -> tuple[nx.Graph, ssdfl.Graph, Quadratic, np.ndarray]:
    G = nx.convert_node_labels_to_integers(nx.grid_2d_graph(3, 4), ordering="sorted")
    g = ssdfl.Graph.from_networkx(G)
    model = Quadratic.random(N, 3, np.random.default_rng(0), mu=0.5, L=2.0, heterogeneity=1.0)
    lab = np.array([0, 0, 1, 1] * 3)  # columns 0-1 and 2-3 (node r*4+c)
    return G, g, model, lab


def test_without_churn_equals_the_engine() -> None:
    _G, g, model, lab = _setup()
    tr = MembershipTrace(np.ones(N, bool), np.ones((6, N), bool), "static")
    r = simulate_churn(model, g, tr, lab, tau_a=3, tau_r=2, eta=0.1)
    ref = simulate(model, g, SSDFL(clusters=lab), tau_a=3, tau_r=2, cycles=6, eta=0.1,
                   backend="numpy")  # fmt: skip
    np.testing.assert_allclose(r.X, ref.X, rtol=0, atol=1e-12)
    assert r.table().bytes_train.iloc[-1] == ref.table().d2d_bytes.iloc[-1]


def test_stranded_devices_stay_in_the_metrics_and_are_reattached() -> None:
    G, g, model, lab = _setup()
    # node 4 (row 1, col 0) and 1 (row 0, col 1) leave: node 0 is cut off from cluster 0
    pres = np.ones((4, N), bool)
    pres[1:, [1, 4]] = False
    tr = MembershipTrace(np.ones(N, bool), pres, "cut", burst=2)
    r = simulate_churn(model, g, tr, lab, tau_a=2, tau_r=1, eta=0.1)
    df = r.table()
    assert df.n_present.tolist() == [12, 12, 10, 10, 10]
    # cluster 0 present = {0, 5, 8, 9}: fragments {0} and {5, 8, 9} -> 1 stranded
    H = G.subgraph([u for u in range(N) if lab[u] == 0 and u not in (1, 4)])
    assert nx.number_connected_components(H) == 2
    assert df.stranded.tolist() == [0, 0, 1, 1, 1]
    assert np.all(np.isnan(r.X[[1, 4]]))  # lost
    present = np.flatnonzero(pres[-1])
    own = np.array([model.loss(np.tile(x, (N, 1))).mean() for x in r.X[present]])
    assert df.device_loss_mean.iloc[-1] == pytest.approx(own.mean(), rel=1e-12)

    def reform(sub: ssdfl.Graph, old: np.ndarray, strategy: str) -> tuple[np.ndarray, int]:
        s_, t_, _ = sub.edges()
        H = nx.Graph(list(zip(s_.tolist(), t_.tolist())))
        H.add_nodes_from(range(sub.n))
        comps = list(nx.connected_components(H))
        out = np.empty(sub.n, dtype=np.int64)
        for i, c in enumerate(comps):
            out[list(c)] = i
        return out, 123

    r2 = simulate_churn(model, g, tr, lab, strategy="repair", reform=reform, tau_a=2, eta=0.1)
    d2 = r2.table()
    assert d2.stranded.tolist() == [0, 0, 0, 0, 0]
    assert d2.bytes_formation.tolist() == [0, 0, 123, 123, 123]


def test_joiner_starts_from_a_neighbour_model() -> None:
    _G, g, model, lab = _setup()
    init = np.ones(N, bool)
    init[11] = False
    pres = np.ones((3, N), bool)
    pres[0, 11] = False
    tr = MembershipTrace(init, pres, "join")
    x0 = np.array([1.0, -2.0, 0.5])
    r = simulate_churn(model, g, tr, np.where(init, lab, 0), tau_a=2, tau_r=0, eta=0.1, x0=x0)
    assert r.table().stranded.tolist() == [0, 0, 1, 1]  # no cluster without a re-formation
    tr1 = MembershipTrace(init, pres[:2], "join")
    # with no training (τ_a = τ_r = 0 is invalid for the engine, fine here) the joiner's row
    # equals its smallest present neighbour's (7 in the 3×4 grid: neighbours of 11 are 7, 10)
    r1 = simulate_churn(model, g, tr1, np.where(init, lab, 0), tau_a=0, tau_r=0, x0=x0)
    assert np.array_equal(r1.X[11], r1.X[7])


def test_traces() -> None:
    G, g, _m, _l = _setup()
    a = mass_failure(g, 10, 3, 0.8, back_at=7, seed=1)
    assert a.present[:2].all() and a.present[2:6].sum(axis=1).tolist() == [N - 10] * 4
    assert a.present[6:].all() and a.burst == 3
    b = regional_failure(g, 10, 4, 0.25, seed=2)
    failed = np.flatnonzero(~b.present[-1])
    assert len(failed) == 3 and nx.is_connected(G.subgraph(failed.tolist()))
    c = random_churn(g, 50, 0.1, seed=3)
    assert c.present.shape == (50, N) and 0.6 < c.present.mean() < 1.0
    assert np.array_equal(c.present, random_churn(g, 50, 0.1, seed=3).present)
    with pytest.raises(SsdflError):
        simulate_churn(_m, g, a, _l, strategy="repair")
