"""The MoDeST-style baseline: traffic closed form, committee averaging, its own driver."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

import ssdfl
from ssdfl.errors import SsdflError
from ssdfl.simulate import simulate
from ssdfl.simulate.churn import simulate_modest
from ssdfl.simulate.methods import make_method
from ssdfl.simulate.modest import ModestState, modest_messages, modest_round
from ssdfl.theory.models import Quadratic


def test_traffic_closed_form_and_convergence() -> None:
    n, d = 20, 4
    g = ssdfl.Graph.from_networkx(nx.cycle_graph(n))
    model = Quadratic.random(n, d, np.random.default_rng(1), mu=0.5, L=2.0, heterogeneity=0.5)
    r = simulate_modest(model, g, cycles=7, tau_a=3, eta=0.1, sample_size=5, aggregators=2)
    df = r.table()
    assert df.bytes_train.tolist() == [modest_messages(k, 5, 2) * d * 4 for k in range(8)]
    assert modest_messages(7, 5, 2) == 5 * 2 * 13  # s·a·(2K − 1), by hand
    assert np.isfinite(df.device_loss_mean).all()


def test_one_round_by_hand() -> None:
    n, d = 8, 3
    model = Quadratic.random(n, d, np.random.default_rng(2), mu=0.5, L=2.0, heterogeneity=0.5)
    X = np.random.default_rng(3).normal(size=(n, d))
    present = np.ones(n, bool)
    present[0] = False
    st = ModestState(model=np.full(d, 0.5), holders=np.array([0, 1]))  # holder 0 left
    rng = np.random.default_rng(4)
    Y, msgs = modest_round(model, X, present, st, rng, tau_a=2, eta=0.1, sample_size=3,
                           aggregators=2)  # fmt: skip
    # replay the draws: trainers and aggregators among present devices
    r2 = np.random.default_rng(4)
    idx = np.flatnonzero(present)
    tr = np.sort(r2.choice(idx, 3, replace=False))
    ag = np.sort(r2.choice(idx, 2, replace=False))
    Z = X.copy()
    Z[tr] = 0.5
    for _ in range(2):
        Z[tr] -= 0.1 * model.grad(Z)[tr]
    np.testing.assert_allclose(Y[ag], np.tile(Z[tr].mean(axis=0), (2, 1)), atol=1e-12)
    assert msgs == 1 * 3 + 3 * 2  # one live holder → 3 downloads, 3·2 uploads
    others = np.setdiff1d(np.arange(n), np.union1d(tr, ag))
    np.testing.assert_array_equal(Y[others], X[others])  # stale


def test_engine_points_at_its_own_driver() -> None:
    """MoDeST is not an engine Method (its committee changes every round): asking the engine
    for it names the driver that runs it."""
    with pytest.raises(SsdflError, match="simulate_modest"):
        make_method("modest", sample_size=4)
    model = Quadratic.random(4, 2, np.random.default_rng(0))
    with pytest.raises(SsdflError, match="simulate_modest"):
        simulate(model, nx.path_graph(4), "modest")
