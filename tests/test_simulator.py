"""Simulator: method reductions, exact averaging, reproducibility, fixed points."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from ssdfl import Graph, mixing_matrix
from ssdfl.errors import SsdflError
from ssdfl.simulate import (
    SDFL,
    SSDFL,
    STC,
    FedAvg,
    SeparableQuadratic,
    cluster_mixing,
    simulate,
)
from ssdfl.theory.effective import biased_optimum, fixed_point
from ssdfl.theory.models import Quadratic
from ssdfl.theory.optimizers import SGD, MomentumSGD, OptimizerPopulation, ProxSGD


def _mixed_pop(n: int) -> OptimizerPopulation:
    opts = []
    for i in range(n):
        opts.append([SGD(), ProxSGD(0.3 + 0.1 * (i % 3)), MomentumSGD(0.2 + 0.1 * (i % 4))][i % 3])
    return OptimizerPopulation(opts)


@pytest.fixture(scope="module")
def small() -> tuple[Graph, Quadratic, np.ndarray]:
    g = nx.connected_watts_strogatz_graph(9, 4, 0.3, seed=3)
    G = Graph.from_networkx(g)
    model = Quadratic.random(9, 3, np.random.default_rng(1), mu=0.5, L=2.0, heterogeneity=1.0)
    labels = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2])
    # make sure each cluster is connected in this graph; otherwise use connected components
    from ssdfl.graphs.metrics import is_set_connected

    if not all(is_set_connected(G, np.flatnonzero(labels == s)) for s in range(3)):
        from ssdfl.simulate import random_connected_partition

        labels = random_connected_partition(G, 3, 0)
    return G, model, labels


def _traj(res) -> np.ndarray:
    return np.stack(res.models)


def test_s1_tau_r0_equals_sdfl(small) -> None:
    G, model, _ = small
    pop = _mixed_pop(9)
    x0 = np.random.default_rng(5).normal(size=(9, 3))
    kw = dict(optimizers=pop, tau_a=3, cycles=12, eta=0.05, x0=x0, record_models=True)
    a = simulate(model, G, SSDFL(clusters=np.zeros(9, dtype=int)), tau_r=0, **kw)
    b = simulate(model, G, SDFL(), tau_r=0, **kw)
    np.testing.assert_allclose(_traj(a), _traj(b), rtol=0, atol=1e-12)


def test_s1_tau1_tau1_inter_steps_equals_sdfl(small) -> None:
    """τ_a = τ_r = 1, S = 1, local steps in the inter round: one SSD-FL cycle = two sDFL
    iterations (same local steps per cycle, so the same prox anchors)."""
    G, model, _ = small
    pop = _mixed_pop(9)
    x0 = np.random.default_rng(6).normal(size=(9, 3))
    kw = dict(optimizers=pop, cycles=15, eta=0.05, x0=x0, record_models=True, sigma=0.3)
    a = simulate(
        model, G, SSDFL(clusters=np.zeros(9, dtype=int), inter_local_steps=True),
        tau_a=1, tau_r=1, **kw,
    )  # fmt: skip
    b = simulate(model, G, SDFL(), tau_a=2, tau_r=0, **kw)
    np.testing.assert_allclose(_traj(a), _traj(b), rtol=0, atol=1e-12)


def test_complete_graph_exact_averaging() -> None:
    """On K_N the Metropolis matrix is exactly 11ᵀ/N: every gossip round is exact averaging,
    checked against a dense loop that averages with ``X.mean``."""
    n, d = 7, 4
    K = Graph.from_networkx(nx.complete_graph(n))
    W = mixing_matrix(K, "metropolis").toarray()
    np.testing.assert_allclose(W, np.full((n, n), 1.0 / n), atol=1e-15)
    model = Quadratic.random(n, d, np.random.default_rng(2))
    pop = _mixed_pop(n)
    x0 = np.random.default_rng(3).normal(size=(n, d))
    res = simulate(
        model, K, SSDFL(clusters=np.zeros(n, dtype=int)), optimizers=pop, tau_a=2, tau_r=1,
        cycles=6, eta=0.1, x0=x0, mixing="metropolis", record_models=True,
    )  # fmt: skip
    # independent loop: explicit formulas per optimizer kind, averaging by X.mean
    X, V = x0.copy(), np.zeros((n, d))
    for k in range(6):
        A = X.copy()
        for _ in range(2):
            G = model.grad(X)
            D = G + pop.mu[:, None] * (X - A) + pop.rho[:, None] * V
            V = np.where((pop.rho > 0)[:, None], D, 0.0)
            X = np.broadcast_to(X.mean(0), X.shape) - 0.1 * D
        X = np.broadcast_to(X.mean(0), X.shape).copy()
        np.testing.assert_allclose(res.models[k + 1], X, atol=1e-12)
        assert res.history[k + 1]["consensus_gap"] < 1e-26


def test_fedavg_matches_averaging_loop(small) -> None:
    G, model, _ = small
    pop = _mixed_pop(9)
    res = simulate(model, G, FedAvg(), optimizers=pop, tau_a=4, cycles=5, eta=0.05,
                   record_models=True)  # fmt: skip
    X, V = np.zeros((9, 3)), np.zeros((9, 3))
    for k in range(5):
        A = X.copy()
        for _ in range(4):
            D = model.grad(X) + pop.mu[:, None] * (X - A) + pop.rho[:, None] * V
            V = np.where((pop.rho > 0)[:, None], D, 0.0)
            X = X - 0.05 * D
        X = np.broadcast_to(X.mean(0), X.shape).copy()
        np.testing.assert_allclose(res.models[k + 1], X, atol=1e-12)
    assert res.final["d2d_msgs"] == 0 and res.final["msgs_server"] == 5 * 2 * 9


@pytest.mark.parametrize("method", ["ssdfl", "sdfl", "pdfl", "stc", "cstc", "fedavg"])
def test_seed_reproducible(small, method: str) -> None:
    G, model, labels = small
    kw = {"clusters": labels} if method in ("ssdfl", "cstc") else {}
    run = lambda seed: simulate(  # noqa: E731
        model, G, method, method_kwargs=kw, optimizers=_mixed_pop(9), tau_a=2, tau_r=1,
        cycles=5, eta=0.05, sigma=0.5, seed=seed,
    )  # fmt: skip
    a, b, c = run(11), run(11), run(12)
    assert np.array_equal(a.X, b.X)
    assert a.table().drop(columns="seconds").equals(b.table().drop(columns="seconds"))
    assert not np.array_equal(a.X, c.X)


def _W_intra_inter(G: Graph, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return cluster_mixing(G, labels).toarray(), mixing_matrix(G).toarray()


@pytest.mark.parametrize(("reset", "normalize"), [(True, False), (False, False), (True, True)])
def test_ssdfl_converges_to_theory_fixed_point(small, reset: bool, normalize: bool) -> None:
    """Long noiseless runs reach ssdfl.theory.effective.fixed_point (exact periodic fixed point of
    the
    cycle map, built independently from dense Kronecker matrices). Normalization with kept
    state uses α(∞) for momentum (not the theory module's α(τ_a)): see
    test_normalization_small_step."""
    G, model, labels = small
    pop = _mixed_pop(9)
    Wa, Wr = _W_intra_inter(G, labels)
    Xs, _ = fixed_point(model, pop, Wa, Wr, 0.05, 3, 2, normalize=normalize,
                        reset_momentum=reset)  # fmt: skip
    res = simulate(model, G, SSDFL(clusters=labels), optimizers=pop, tau_a=3, tau_r=2,
                   cycles=1500, eta=0.05, normalize=normalize, reset_state=reset,
                   eval_every=500)  # fmt: skip
    np.testing.assert_allclose(res.X, Xs, atol=1e-9)


@pytest.mark.parametrize("method", ["sdfl", "pdfl", "fedavg", "cstc"])
def test_baselines_converge_to_their_fixed_points(small, method: str) -> None:
    """Each deterministic baseline is the schedule with its own (W_intra, W_inter, τ_a, τ_r);
    its long run reaches that schedule's exact fixed point."""
    G, model, labels = small
    pop = _mixed_pop(9)
    n = 9
    W = mixing_matrix(G).toarray()
    kw = {"clusters": labels} if method == "cstc" else {}
    res = simulate(model, G, method, method_kwargs=kw, optimizers=pop, tau_a=3, tau_r=2,
                   cycles=1500, eta=0.05, reset_state=True, eval_every=500, seed=4)  # fmt: skip
    if method == "sdfl":
        Wa, Wr, tr = W, W, 0
    elif method == "pdfl":
        Wa, Wr, tr = np.eye(n), W, 2
    elif method == "fedavg":
        Wa, Wr, tr = np.eye(n), np.full((n, n), 1.0 / n), 1
    else:
        Wa, Wr, tr = cluster_mixing(G, res.labels).toarray(), W, 2
    Xs, _ = fixed_point(model, pop, Wa, Wr, 0.05, 3, tr, reset_momentum=True)
    np.testing.assert_allclose(res.X, Xs, atol=1e-9)


def test_normalization_small_step(small) -> None:
    """Small-step claim (docs/simulator.md): without normalization x̄ → argmin Σ α_i F_i
    (objective inconsistency); with it x̄ → argmin Σ F_i. Optimizer state kept across cycles,
    so momentum's α is the steady state 1/(1−ρ)."""
    G, model, labels = small
    pop = _mixed_pop(9)
    eta = 0.002
    x_true = model.optimum()
    alpha_inf = np.array([o.alpha(np.inf, eta) if o.kind == "momentum" else o.alpha(3, eta)
                          for o in pop.optimizers])  # fmt: skip
    x_biased = model.optimum(alpha_inf)
    assert np.linalg.norm(x_biased - x_true) > 0.05  # the bias is real
    for normalize, target, other in ((False, x_biased, x_true), (True, x_true, x_biased)):
        res = simulate(model, G, SSDFL(clusters=labels), optimizers=pop, tau_a=3, tau_r=2,
                       cycles=3000, eta=eta, normalize=normalize, eval_every=3000)  # fmt: skip
        xbar = res.X.mean(0)
        assert np.linalg.norm(xbar - target) < 0.1 * np.linalg.norm(target - other)


def test_reset_state_bias_matches_theory_weights(small) -> None:
    """With buffers reset every cycle the small-step limit is the theory module's
    biased_optimum (α_i over τ_a steps)."""
    G, model, labels = small
    pop = _mixed_pop(9)
    eta = 0.002
    target = biased_optimum(model, pop, 3, eta)
    res = simulate(model, G, SSDFL(clusters=labels), optimizers=pop, tau_a=3, tau_r=2,
                   cycles=3000, eta=eta, reset_state=True, eval_every=3000)  # fmt: skip
    gap = np.linalg.norm(target - model.optimum())
    assert np.linalg.norm(res.X.mean(0) - target) < 0.1 * gap


def test_stc_tracks_biased_optimum(small) -> None:
    """Randomized gossip has no deterministic fixed point; with SGD everywhere and a small step
    its average model ends near argmin Σ F_i (distance O(η))."""
    G, model, _ = small
    res = simulate(model, G, STC(), tau_a=3, cycles=2000, eta=0.005, eval_every=2000, seed=1)
    x_star = model.optimum()
    assert np.linalg.norm(res.X.mean(0) - x_star) < 0.05 * max(1.0, np.linalg.norm(x_star))


def test_separable_quadratic_matches_dense() -> None:
    rng = np.random.default_rng(0)
    sq = SeparableQuadratic.random(5, 4, rng)
    q = sq.to_quadratic()
    X = rng.normal(size=(5, 4))
    np.testing.assert_allclose(sq.loss(X), q.loss(X), atol=1e-12)
    np.testing.assert_allclose(sq.grad(X), q.grad(X), atol=1e-12)
    np.testing.assert_allclose(sq.optimum(), q.optimum(), atol=1e-12)
    w = rng.uniform(0.1, 2, size=5)
    np.testing.assert_allclose(sq.optimum(w), q.optimum(w), atol=1e-12)
    np.testing.assert_allclose(sq.global_losses(X), [q.global_loss(x) for x in X], atol=1e-12)


def test_bad_input(small) -> None:
    G, model, _labels = small
    with pytest.raises(SsdflError):
        simulate(model, G, "nope")
    with pytest.raises(SsdflError):
        simulate(model, G, "sdfl", tau_a=0, tau_r=0)
    with pytest.raises(SsdflError):
        simulate(model, G, "sdfl", eta=-1.0)
    with pytest.raises(SsdflError):
        simulate(model, Graph.from_networkx(nx.path_graph(4)), "sdfl")
    disc = nx.disjoint_union(nx.path_graph(4), nx.path_graph(5))
    with pytest.raises(SsdflError):
        simulate(model, Graph.from_networkx(disc), "sdfl")
    with pytest.raises(SsdflError):
        simulate(model, G, SSDFL(clusters=[[0, 1], [2, 3]]))
    path = nx.shortest_path_length(G.to_networkx(), 0)
    far = max(path, key=path.get)
    assert path[far] >= 2
    lab = np.zeros(9, dtype=int)
    lab[[0, far]] = 1  # cluster {0, far}: not adjacent, so its induced subgraph is disconnected
    with pytest.raises(SsdflError):
        simulate(model, G, SSDFL(clusters=lab), cycles=1)


@pytest.mark.parametrize("method", ["ssdfl", "sdfl", "pdfl", "stc", "fedavg"])
def test_rust_backend_equals_numpy(small, method: str) -> None:
    """The fused Rust round and the numpy/scipy path give the same floats (small problem:
    sequential rows; large one: rows in parallel)."""
    G, model, labels = small
    kw = {"clusters": labels} if method == "ssdfl" else {}
    common = dict(method_kwargs=kw, optimizers=_mixed_pop(9), tau_a=3, tau_r=2, cycles=6,
                  eta=0.05, sigma=0.2, seed=3, record_models=True)  # fmt: skip
    a = simulate(model, G, method, backend="rust", **common)
    b = simulate(model, G, method, backend="numpy", **common)
    np.testing.assert_array_equal(_traj(a), _traj(b))
    n, d = 64, 600  # n·d above the parallel threshold of the Rust kernel
    big = SeparableQuadratic.random(n, d, np.random.default_rng(0))
    Gb = Graph.from_networkx(nx.connected_watts_strogatz_graph(n, 4, 0.3, seed=1))
    kwb = {"n_clusters": 4} if method == "ssdfl" else {}
    common = dict(method_kwargs=kwb, optimizers=_mixed_pop(n), tau_a=2, tau_r=1, cycles=3,
                  eta=0.05, device_metrics=False)  # fmt: skip
    a = simulate(big, Gb, method, backend="rust", **common)
    b = simulate(big, Gb, method, backend="numpy", **common)
    np.testing.assert_array_equal(a.X, b.X)


def test_stop_at_divergence_and_adam(small) -> None:
    G, model, labels = small
    x_star = model.optimum()
    res = simulate(model, G, SSDFL(clusters=labels), tau_a=3, cycles=500, eta=0.05,
                   x_star=x_star, stop_at={"dist_opt": 0.5})  # fmt: skip
    last = res.final
    assert last["dist_opt"] <= 0.5 and last["cycle"] < 500
    assert res.history[-2]["dist_opt"] > 0.5  # stopped at the first cycle that got there
    bad = simulate(model, G, "sdfl", tau_a=2, cycles=200, eta=5.0)
    assert bad.diverged and not np.isfinite(bad.final["loss"]) and bad.final["cycle"] < 200
    # Adam devices (extension) run on the numpy path; the Rust backend refuses them
    from ssdfl.theory.optimizers import Adam

    pop = OptimizerPopulation([Adam(), SGD(), MomentumSGD(0.5)] * 3)
    a = simulate(model, G, "sdfl", optimizers=pop, tau_a=2, cycles=3, eta=0.05)
    b = simulate(model, G, "sdfl", optimizers=pop, tau_a=2, cycles=3, eta=0.05, backend="numpy")
    np.testing.assert_array_equal(a.X, b.X)
    with pytest.raises(SsdflError):
        simulate(model, G, "sdfl", optimizers=pop, cycles=1, backend="rust")


def test_simulation_config_equals_keywords(small) -> None:
    """``simulate(config=SimulationConfig(...))`` and the keyword shim give the same run;
    keywords override config fields; unknown keywords are refused."""
    import dataclasses

    from ssdfl.simulate import SimulationConfig

    G, model, labels = small
    cfg = SimulationConfig(optimizers=_mixed_pop(9), tau_a=3, tau_r=2, cycles=5, eta=0.05,
                           normalize=True, seed=4)  # fmt: skip
    a = simulate(model, G, SSDFL(clusters=labels), cfg)
    b = simulate(model, G, SSDFL(clusters=labels), optimizers=_mixed_pop(9), tau_a=3, tau_r=2,
                 cycles=5, eta=0.05, normalize=True, seed=4)  # fmt: skip
    np.testing.assert_array_equal(a.X, b.X)
    c = simulate(model, G, SSDFL(clusters=labels), cfg, cycles=2)
    d = simulate(model, G, SSDFL(clusters=labels), dataclasses.replace(cfg, cycles=2))
    np.testing.assert_array_equal(c.X, d.X)
    assert len(c.history) == 3 and cfg.cycles == 5
    with pytest.raises(TypeError, match="unexpected"):
        simulate(model, G, "sdfl", cfg, cylces=3)
