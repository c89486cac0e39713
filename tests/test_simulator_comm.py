"""Simulator traffic counts vs closed forms and brute force; clusters; accelerated kernels."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ssdfl import Graph
from ssdfl.simulate import (
    SSDFL,
    STC,
    cluster_labels,
    cluster_mixing,
    flooding_traffic,
    global_losses,
    random_connected_partition,
    random_matching,
    record_bytes,
    simulate,
)
from ssdfl.simulate.accel import direction_fn, gradient_fn
from ssdfl.theory.data import load_digits_federated
from ssdfl.theory.models import LeastSquares, Quadratic
from ssdfl.theory.optimizers import random_population
from ssdfl.theory.reference import block_mixing


def _flood_bruteforce(g: nx.Graph, R: dict) -> tuple[int, int, int]:
    """Run the flooding protocol message by message."""
    known = {u: {u} for u in g}
    new = {u: {u} for u in g}
    diam = nx.diameter(g)
    msgs = byts = 0
    for _ in range(diam):
        inbox = {u: set() for u in g}
        for u in g:
            if new[u]:
                for v in g[u]:
                    msgs += 1
                    byts += sum(R[w] for w in new[u])
                    inbox[v] |= new[u]
        for u in g:
            new[u] = inbox[u] - known[u]
            known[u] |= inbox[u]
    assert all(known[u] == set(g) for u in g)
    return diam, msgs, byts


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 14), st.floats(0.1, 0.8), st.integers(0, 10**6))
def test_flooding_equals_bruteforce(n: int, p: float, seed: int) -> None:
    g = nx.gnp_random_graph(n, p, seed=seed)
    rng = np.random.default_rng(seed)
    perm = rng.permutation(n)
    for k in range(1, n):
        g.add_edge(int(perm[k]), int(perm[rng.integers(0, k)]))
    G = Graph.from_networkx(g)
    R = record_bytes(G, extra=40)
    t = flooding_traffic(G, R)
    assert (t.rounds, t.messages, t.bytes) == _flood_bruteforce(g, dict(enumerate(R.tolist())))


def test_flooding_complete_graph_closed_form() -> None:
    n = 8
    G = Graph.from_networkx(nx.complete_graph(n))
    t = flooding_traffic(G, 100)
    assert (t.rounds, t.messages, t.bytes) == (1, n * (n - 1), n * (n - 1) * 100)
    assert np.all(record_bytes(G) == 29 + 4 * (n - 1))


def test_ssdfl_traffic_closed_form() -> None:
    g = nx.erdos_renyi_graph(30, 0.15, seed=2)
    g = nx.compose(g, nx.path_graph(30))  # connected
    G = Graph.from_networkx(g)
    lab = random_connected_partition(G, 4, 7)
    m_in = sum(g.subgraph(np.flatnonzero(lab == s).tolist()).number_of_edges() for s in range(4))
    d = 5
    model = Quadratic.random(30, d, np.random.default_rng(0))
    res = simulate(model, G, SSDFL(clusters=lab), tau_a=3, tau_r=2, cycles=4, bytes_per_param=8)
    for k, row in enumerate(res.history):
        assert row["msgs_intra"] == k * 3 * 2 * m_in
        assert row["msgs_inter"] == k * 2 * 2 * g.number_of_edges()
        assert row["d2d_bytes"] == row["d2d_msgs"] * d * 8
        assert row["rounds"] == 5 * k and row["local_steps"] == 3 * k
    tab = res.table()
    assert (tab["init_rounds"] == nx.diameter(g)).all()


def test_random_matching_is_matching() -> None:
    g = nx.random_regular_graph(3, 40, seed=1)
    G = Graph.from_networkx(g)
    s, t, _ = G.edges()
    rng = np.random.default_rng(0)
    sizes = []
    for _ in range(50):
        u, v = random_matching(s, t, 40, rng, edge_prob=0.7)
        ends = np.concatenate([u, v])
        assert len(np.unique(ends)) == len(ends)  # no node twice
        assert all(g.has_edge(int(a), int(b)) for a, b in zip(u, v))
        sizes.append(len(u))
    assert min(sizes) >= 1


def test_stc_messages_and_doubly_stochastic() -> None:
    """STC's randomized gossip preserves the average exactly (W_t doubly stochastic) and
    charges 2 messages per active edge (≤ N per round)."""
    g = nx.connected_watts_strogatz_graph(20, 4, 0.2, seed=0)
    G = Graph.from_networkx(g)
    model = Quadratic.random(20, 3, np.random.default_rng(1))
    x0 = np.random.default_rng(2).normal(size=(20, 3))
    res = simulate(model, G, STC(), tau_a=1, cycles=1, eta=1e-300, x0=x0, record_models=True)
    np.testing.assert_allclose(res.models[1].mean(0), x0.mean(0), atol=1e-14)
    msgs = res.final["msgs_inter"]
    assert msgs % 2 == 0 and 2 <= msgs <= 20


def test_cluster_mixing_equals_reference() -> None:
    g = nx.connected_watts_strogatz_graph(15, 4, 0.3, seed=5)
    G = Graph.from_networkx(g)
    lab = random_connected_partition(G, 3, 1)
    np.testing.assert_allclose(cluster_mixing(G, lab).toarray(), block_mixing(G, lab), atol=1e-15)


@settings(max_examples=25, deadline=None)
@given(st.integers(3, 25), st.integers(0, 10**6), st.data())
def test_random_connected_partition(n: int, seed: int, data: st.DataObject) -> None:
    g = nx.connected_watts_strogatz_graph(n, 2, 0.5, seed=seed)
    G = Graph.from_networkx(g)
    S = data.draw(st.integers(1, n))
    lab = random_connected_partition(G, S, seed)
    assert sorted(np.unique(lab)) == list(range(S))
    for s in range(S):
        assert nx.is_connected(g.subgraph(np.flatnonzero(lab == s).tolist()))
    assert np.array_equal(lab, random_connected_partition(G, S, seed))


def test_cluster_labels_forms() -> None:
    lab = cluster_labels([[3, 4], [0, 1, 2]], 5)
    assert lab.tolist() == [0, 0, 0, 1, 1]  # renumbered by first appearance
    assert cluster_labels(np.array([7, 7, 2]), 3).tolist() == [0, 0, 1]
    with pytest.raises(ValueError):
        cluster_labels([[0, 1], [1, 2]], 3)
    with pytest.raises(ValueError):
        cluster_labels([[0, 1]], 3)


def test_accelerated_gradient_and_directions() -> None:
    ds = load_digits_federated(12, "k-label", k=3, seed=0)
    m = ds.logistic(l2=1e-3)
    X = np.random.default_rng(0).normal(size=(12, m.dim)) * 0.1
    np.testing.assert_allclose(gradient_fn(m)(X), m.grad(X), atol=1e-12)
    pop = random_population(12, np.random.default_rng(3))
    fast = direction_fn(pop)
    s1, s2 = pop.init_state(m.dim), pop.init_state(m.dim)
    A = X.copy()
    for k in range(4):
        G = m.grad(X)
        d1 = pop.direction(G, X, A, s1, k)
        d2 = fast(G.copy(), X, A, s2, k)
        np.testing.assert_allclose(d1, d2, atol=1e-13)
        X = X - 0.1 * d1


def test_global_losses_match_models() -> None:
    rng = np.random.default_rng(0)
    ds = load_digits_federated(6, "k-label", k=2, seed=1)
    X_log = rng.normal(size=(4, ds.logistic().dim)) * 0.1
    q = Quadratic.random(5, 3, rng)
    Z = [rng.normal(size=(8, 3)) for _ in range(5)]
    ls = LeastSquares(Z, [z @ np.ones(3) + rng.normal(size=8) for z in Z], l2=0.1)
    for model, X in ((ds.logistic(), X_log), (q, rng.normal(size=(4, 3))),
                     (ls, rng.normal(size=(4, 3)))):  # fmt: skip
        np.testing.assert_allclose(
            global_losses(model, X), [model.global_loss(x) for x in X], rtol=1e-12, atol=1e-12
        )


def test_device_accuracies_match_predict() -> None:
    from ssdfl.simulate.metrics import accuracy, device_accuracies

    ds = load_digits_federated(5, "k-label", k=3, seed=2)
    m = ds.logistic()
    X = np.random.default_rng(1).normal(size=(5, m.dim))
    Z, y = ds.X[:200], ds.y[:200]
    expect = (m.predict(X, Z) == y[None, :]).mean(axis=1)
    np.testing.assert_allclose(device_accuracies(m, X, Z, y), expect)
    assert accuracy(m, X[2], Z, y) == pytest.approx(expect[2])


def test_population_from_devices_file() -> None:
    from pathlib import Path

    from ssdfl import read_graph
    from ssdfl.simulate import population_from_devices
    from ssdfl.theory.devices import read_devices

    ex = Path(__file__).resolve().parents[1] / "examples"
    g = read_graph(ex / "er30.edgelist")
    dev = read_devices(ex / "er30-devices.csv", g)
    pop = population_from_devices(dev)
    assert len(pop) == 30 and list(pop.kinds) == dev.optimizer
    prox = np.array(dev.optimizer) == "prox"
    np.testing.assert_array_equal(pop.mu[prox], dev.mu[prox])
    mom = np.array(dev.optimizer) == "momentum"
    np.testing.assert_array_equal(pop.rho[mom], dev.rho[mom])


@pytest.mark.parametrize("how", ["hierarchy", "partition"])
def test_form_clusters_connected(how: str) -> None:
    from ssdfl import read_graph
    from ssdfl.simulate import form_clusters

    g = read_graph(Path(__file__).resolve().parents[1] / "examples" / "er30.edgelist")
    lab = form_clusters(g, 3, how)
    nxg = g.to_networkx()
    nodes = list(nxg.nodes)
    assert sorted(np.unique(lab)) == [0, 1, 2]
    for s in range(3):
        assert nx.is_connected(nxg.subgraph([nodes[i] for i in np.flatnonzero(lab == s)]))
    assert np.array_equal(lab, form_clusters(g, 3, how))  # deterministic
    with pytest.raises(ValueError):
        form_clusters(g, 3, "nonsense")
