"""Effective loss: the intra-cluster step is a gradient step on F̃_s (to 1e-10); fixed points
of the schedule vs long simulations; effective gradient normalization removes the bias."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import approx_fprime

from conftest import weighted_graphs
from ssdfl import Graph, mixing_matrix
from ssdfl.errors import SsdflError
from ssdfl.theory.effective import (
    EffectiveLoss,
    biased_optimum,
    effective_minimizer,
    fixed_point,
    fixed_point_distance,
    objective_inconsistency,
    smoothness_bound,
    step_size_limit,
    surrogate_weights,
)
from ssdfl.theory.models import LeastSquares, LogisticRegression, Quadratic
from ssdfl.theory.optimizers import (
    SGD,
    MomentumSGD,
    OptimizerPopulation,
    ProxSGD,
    random_population,
)
from ssdfl.theory.reference import affine_schedule, block_mixing, simulate


def _model(kind: str, n: int, rng: np.random.Generator):
    if kind == "quadratic":
        return Quadratic.random(n, 3, rng)
    Z = [rng.normal(size=(int(rng.integers(3, 7)), 3)) for _ in range(n)]
    if kind == "lsq":
        return LeastSquares(Z, [rng.normal(size=len(z)) for z in Z], l2=0.1)
    return LogisticRegression(Z, [rng.integers(0, 3, size=len(z)) for z in Z], 3, l2=0.1)


@given(
    g=weighted_graphs(min_n=2, max_n=12, connected=True),
    seed=st.integers(0, 2**31),
    eta=st.floats(1e-3, 1.0),
    n_clusters=st.integers(1, 4),
    kind=st.sampled_from(["quadratic", "lsq", "logistic"]),
    normalize=st.booleans(),
    tau=st.integers(1, 10),
)
def test_intra_step_is_gradient_step_on_effective_loss(
    g: nx.Graph, seed: int, eta: float, n_clusters: int, kind: str, normalize: bool, tau: int
) -> None:
    rng = np.random.default_rng(seed)
    n = g.number_of_nodes()
    gr = Graph.from_networkx(g)
    labels = rng.integers(0, n_clusters, size=n)
    Wa = block_mixing(gr, labels, "lazy-weighted-metropolis")
    model = _model(kind, n, rng)
    pop = random_population(n, rng, kinds=("sgd", "prox", "momentum"))
    X = rng.normal(size=(n, model.dim))
    anchor = rng.normal(size=(n, model.dim))
    V = rng.normal(size=(n, model.dim))
    state = pop.init_state(model.dim)
    if "v" in state:
        state["v"][...] = V
    c = pop.scales(tau, eta, normalize)
    G = model.grad(X)
    X_next = Wa @ X - eta * c[:, None] * pop.direction(G, X, anchor, state, 1)
    for s in np.unique(labels):
        idx = np.flatnonzero(labels == s)
        Fs = EffectiveLoss(
            model.subset(idx), Wa[np.ix_(idx, idx)], eta, mu=pop.mu[idx], rho=pop.rho[idx],
            anchor=anchor[idx], V=V[idx], scales=c[idx],
        )  # fmt: skip
        step = Fs.step(X[idx])
        scale = 1.0 + np.abs(X_next[idx]).max()
        assert np.abs(step - X_next[idx]).max() <= 1e-10 * scale


@settings(max_examples=15)
@given(seed=st.integers(0, 2**31), eta=st.floats(0.01, 0.5))
def test_effective_gradient_matches_finite_differences(seed: int, eta: float) -> None:
    rng = np.random.default_rng(seed)
    n = 4
    model = Quadratic.random(n, 2, rng)
    g = Graph.from_networkx(nx.cycle_graph(n))
    W = mixing_matrix(g).toarray()
    F = EffectiveLoss(
        model, W, eta, mu=rng.uniform(0, 1, n), rho=rng.uniform(0, 0.9, n),
        anchor=rng.normal(size=(n, 2)), V=rng.normal(size=(n, 2)), scales=rng.uniform(0.5, 2, n),
    )  # fmt: skip
    X = rng.normal(size=(n, 2))
    fd = approx_fprime(X.ravel(), lambda x: F.value(x.reshape(n, 2)), 1e-7).reshape(n, 2)
    np.testing.assert_allclose(F.grad(X), fd, atol=1e-4 * (1 + np.abs(fd).max()))
    # the minimizer solves ∇F̃ = 0
    Xs = effective_minimizer(F)
    np.testing.assert_allclose(F.grad(Xs), 0.0, atol=1e-9)


@settings(max_examples=20)
@given(seed=st.integers(0, 2**31), eta=st.floats(0.01, 2.0))
def test_smoothness_bound_dominates_hessian(seed: int, eta: float) -> None:
    rng = np.random.default_rng(seed)
    n, d = 5, 2
    model = Quadratic.random(n, d, rng, mu=0.1, L=3.0)
    g = Graph.from_networkx(nx.path_graph(n))
    W = mixing_matrix(g).toarray()
    mu = rng.uniform(0, 1, n)
    c = rng.uniform(0.5, 2.0, n)
    H = np.kron((np.eye(n) - W) / eta, np.eye(d))
    for i in range(n):
        H[i * d : (i + 1) * d, i * d : (i + 1) * d] += c[i] * (model.A[i] + mu[i] * np.eye(d))
    lam_max = np.linalg.eigvalsh(H)[-1]
    assert lam_max <= smoothness_bound(model.L_i, W, eta, mu, c) * (1 + 1e-12)
    lim = step_size_limit(model.L_i, W, mu, c)
    # below the limit, one gradient step on F̃ has |1 − η λ(H)| < 1 (a contraction)
    e2 = 0.99 * lim
    H2 = np.kron((np.eye(n) - W) / e2, np.eye(d)) + (H - np.kron((np.eye(n) - W) / eta, np.eye(d)))
    ev = np.linalg.eigvalsh(np.eye(n * d) - e2 * H2)
    assert np.all(np.abs(ev) < 1.0)


def _instance(seed: int, n: int = 8, d: int = 2):
    rng = np.random.default_rng(seed)
    g = Graph.from_networkx(nx.connected_watts_strogatz_graph(n, 4, 0.3, seed=seed % 1000))
    labels = np.array([0] * (n // 2) + [1] * (n - n // 2))
    Wa = block_mixing(g, labels)
    Wr = mixing_matrix(g).toarray()
    q = Quadratic.random(n, d, rng, heterogeneity=2.0)
    return rng, labels, Wa, Wr, q


@settings(max_examples=10)
@given(
    seed=st.integers(0, 2**31),
    normalize=st.booleans(),
    reset=st.booleans(),
    tau_a=st.integers(1, 5),
    tau_r=st.integers(0, 3),
)
def test_fixed_point_matches_long_simulation(
    seed: int, normalize: bool, reset: bool, tau_a: int, tau_r: int
) -> None:
    rng, _, Wa, Wr, q = _instance(seed)
    pop = random_population(q.n_devices, rng, rho_range=(0.1, 0.6), mu_range=(0.05, 0.5))
    eta = 0.05
    sched = affine_schedule(
        q, pop, Wa, Wr, eta, tau_a, tau_r, normalize=normalize, reset_momentum=reset
    )
    nd = q.n_devices * q.dim
    M = sched.cycle()
    K = M[:nd, :nd] if reset else M[: 2 * nd, : 2 * nd]
    r = max(abs(np.linalg.eigvals(K)))
    assert r < 1  # small η: the cycle map contracts
    cycles = min(4000, math.ceil(math.log(1e-13) / math.log(r)) + 10)
    X, _ = fixed_point(q, pop, Wa, Wr, eta, tau_a, tau_r, normalize=normalize, reset_momentum=reset)
    tr = simulate(
        q,
        pop,
        Wa,
        Wr,
        np.zeros_like(X),
        eta,
        tau_a,
        tau_r,
        cycles,
        normalize=normalize,
        reset_momentum=reset,
    )
    np.testing.assert_allclose(tr.X[-1], X, atol=1e-8 * (1 + np.abs(X).max()))
    # and the fixed point is invariant under one more simulated cycle
    tr1 = (
        simulate(q, pop, Wa, Wr, X, eta, tau_a, tau_r, 1, normalize=normalize, reset_momentum=True)
        if reset
        else None
    )
    if tr1 is not None:
        np.testing.assert_allclose(tr1.X[-1], X, atol=1e-9 * (1 + np.abs(X).max()))


def test_normalization_removes_bias() -> None:
    _, _, Wa, Wr, q = _instance(11)
    n = q.n_devices
    pop = OptimizerPopulation([SGD(), MomentumSGD(0.9), ProxSGD(0.5), MomentumSGD(0.5)] * (n // 4))
    x_star = q.optimum()
    tau_a, tau_r = 5, 2
    assert objective_inconsistency(q, pop, tau_a, 0.01, normalize=True) < 1e-12
    bias = objective_inconsistency(q, pop, tau_a, 0.01)
    assert bias > 0.1
    dist_norm, dist_raw, dist_alpha = [], [], []
    for eta in (0.02, 0.005, 0.00125):
        Xn, _ = fixed_point(q, pop, Wa, Wr, eta, tau_a, tau_r, normalize=True)
        Xr, _ = fixed_point(q, pop, Wa, Wr, eta, tau_a, tau_r, normalize=False)
        dist_norm.append(np.linalg.norm(Xn.mean(0) - x_star))
        assert fixed_point_distance(
            q, pop, Wa, Wr, eta, tau_a, tau_r, normalize=True
        ) == pytest.approx(dist_norm[-1])
        dist_raw.append(np.linalg.norm(Xr.mean(0) - x_star))
        dist_alpha.append(np.linalg.norm(Xr.mean(0) - biased_optimum(q, pop, tau_a, eta)))
    # normalized: the fixed point converges to x* linearly in η (ratio ≈ 4 per step)
    assert dist_norm[1] < dist_norm[0] / 3 and dist_norm[2] < dist_norm[1] / 3
    # unnormalized: it converges to the α-weighted optimum instead, and stays ≈ bias from x*
    assert dist_alpha[1] < dist_alpha[0] / 3 and dist_alpha[2] < dist_alpha[1] / 3
    assert dist_raw[2] > 0.8 * bias
    assert dist_norm[2] < 0.05 * dist_raw[2]
    w = surrogate_weights(pop, tau_a, 0.01, normalize=True)
    np.testing.assert_allclose(w, 1.0)


def test_bad_input() -> None:
    _, _, Wa, Wr, q = _instance(3)
    with pytest.raises(SsdflError):
        EffectiveLoss(q, np.eye(3), 0.1)
    with pytest.raises(SsdflError):
        EffectiveLoss(q, Wa, -0.1)
    with pytest.raises(SsdflError):
        EffectiveLoss(q, Wa, 0.1, mu=np.zeros(2))
    from ssdfl.theory.optimizers import Adam

    pop = OptimizerPopulation([Adam()] * q.n_devices)
    with pytest.raises(SsdflError):
        fixed_point(q, pop, Wa, Wr, 0.1, 2, 1)
    with pytest.raises(SsdflError):
        EffectiveLoss.from_population(q, Wa, 0.1, pop, np.zeros((q.n_devices, q.dim)))
