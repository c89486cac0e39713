"""The initialization protocol simulated message by message: closed form without loss (checked
against networkx distances), agreement of every device under loss with retransmission, and the
planner as every device's formation algorithm."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

import ssdfl
from ssdfl.errors import DisconnectedGraphError, SsdflError
from ssdfl.planner.config import PlanConfig
from ssdfl.planner.plan import plan_formation
from ssdfl.planner.protocol import initialization_agreement
from ssdfl.simulate.comm import flooding_traffic, record_bytes
from ssdfl.simulate.protocol import default_formation, simulate_flooding
from ssdfl.theory.devices import DeviceTable


def _graphs() -> list[nx.Graph]:
    return [
        nx.path_graph(5),
        nx.cycle_graph(7),
        nx.star_graph(5),
        nx.connected_watts_strogatz_graph(18, 4, 0.3, seed=1),
        nx.barabasi_albert_graph(16, 2, seed=2),
    ]


def _closed_form_nx(G: nx.Graph, R: np.ndarray) -> tuple[int, int, int]:
    """The protocol's closed form from networkx distances (independent of ssdfl)."""
    dist = dict(nx.all_pairs_shortest_path_length(G))
    ecc = nx.eccentricity(G)
    D = max(ecc.values())
    msgs = sum(G.degree(j) * min(ecc[j] + 1, D) for j in G)
    byts = sum(G.degree(j) * sum(int(R[u]) for u in G if dist[u][j] <= D - 1) for j in G)
    return D, msgs, byts


@pytest.mark.parametrize("k", range(5))
def test_lossless_equals_closed_form(k: int) -> None:
    G = _graphs()[k]
    g = ssdfl.Graph.from_networkx(G)
    R = record_bytes(g, 40)
    r = simulate_flooding(g, record_sizes=R, formation_fn=lambda v: np.zeros(v.graph.n))
    D, msgs, byts = _closed_form_nx(G, R)
    assert (r.rounds, r.messages, r.bytes) == (D, msgs, byts)
    c = flooding_traffic(g, R)
    assert (r.rounds, r.messages, r.bytes) == (c.rounds, c.messages, c.bytes)
    assert r.total_messages == r.messages and r.retransmissions == 0 and r.lost == 0
    assert r.acks == r.messages and r.ack_bytes == 8 * r.acks
    assert r.agreement
    # every device finishes exactly at its eccentricity (records arrive along shortest paths)
    ecc = nx.eccentricity(G)
    assert r.finish_tick.tolist() == [ecc[u] for u in sorted(G)]
    # echo suppression only removes messages
    e = simulate_flooding(g, record_sizes=R, suppress_echo=True,
                          formation_fn=lambda v: np.zeros(v.graph.n))  # fmt: skip
    assert e.messages <= r.messages and e.bytes <= r.bytes and e.rounds == r.rounds


@pytest.mark.parametrize("seed", range(4))
def test_agreement_under_loss_and_delay(seed: int) -> None:
    G = nx.connected_watts_strogatz_graph(20, 4, 0.3, seed=seed)
    g = ssdfl.Graph.from_networkx(G)
    R = record_bytes(g)
    # a cheap formation that depends on the whole view: every device's degree mod 3
    fn = default_formation if seed == 0 else (lambda v: v.graph.degrees.astype(int) % 3)
    r = simulate_flooding(g, record_sizes=R, loss=0.3, max_delay=2, seed=seed, formation_fn=fn)
    assert r.agreement and np.all(r.finish_tick > 0)
    assert r.lost > 0 and r.retransmissions > 0
    c = flooding_traffic(g, R)
    assert r.rounds >= c.rounds
    # the agreed formation is the one computed centrally on the true graph
    ref = fn(ssdfl.simulate.protocol.ProtocolView(g, (None,) * g.n))
    np.testing.assert_array_equal(r.formation, ref)
    # seeded: the same seed gives the same run
    r2 = simulate_flooding(g, record_sizes=R, loss=0.3, max_delay=2, seed=seed, formation_fn=fn)
    assert (r2.rounds, r2.total_messages, r2.lost) == (r.rounds, r.total_messages, r.lost)


def test_planner_agreement_with_loss() -> None:
    G = nx.connected_watts_strogatz_graph(8, 3, 0.4, seed=3)
    g = ssdfl.Graph.from_networkx(G)
    rng = np.random.default_rng(0)
    n = g.n
    dev = DeviceTable(
        optimizer=["sgd", "prox", "momentum", "sgd"] * 2, mu=np.array([0, .1, 0, 0] * 2),
        rho=np.array([0, 0, .9, 0] * 2), lr=np.full(n, np.nan), n_samples=np.full(n, 50.0),
        label_hist=rng.integers(0, 20, size=(n, 4)).astype(float), classes=list("abcd"),
        source="test",
    )  # fmt: skip
    cfg = PlanConfig(fastest_mixing=False, schedule=False, theorem2=False, all_subsets_n=0, k_max=3)
    r = initialization_agreement(g, dev, cfg, loss=0.25, max_delay=1, seed=5)
    assert r.agreement and len(r.formations) == n
    central = plan_formation(g, dev, cfg).assignment
    np.testing.assert_array_equal(r.formation, central)
    assert r.retransmissions > 0
    assert r.bytes >= flooding_traffic(g, record_bytes(g, 16)).bytes


def test_bad_inputs() -> None:
    g = ssdfl.Graph.from_edges([(0, 1), (2, 3)], n=4)
    with pytest.raises(DisconnectedGraphError):
        simulate_flooding(g)
    h = ssdfl.Graph.from_networkx(nx.path_graph(3))
    with pytest.raises(SsdflError, match="loss"):
        simulate_flooding(h, loss=1.0)
    with pytest.raises(SsdflError, match="payloads"):
        simulate_flooding(h, payloads=[1, 2])
