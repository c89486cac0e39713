"""Theorem 2 of the planner takes only what it proves (issue 22 item 2, issue 19 item 5): ``L``,
``μ`` and ``ζ`` of the devices' model, never the heterogeneity score ``H`` or its weight
``γ``; "not covered" (a reason, no number) for non-convex models and uncovered optimizers."""

from __future__ import annotations

import dataclasses
import math

import networkx as nx
import numpy as np
import pytest

from ssdfl import Graph
from ssdfl.clusters.labels import cluster_labels
from ssdfl.planner.config import PlanConfig
from ssdfl.planner.theorem2 import DeviceConstants, NotCovered, model_constants, theorem2_numbers
from ssdfl.theory.models import LeastSquares, LogisticRegression
from ssdfl.theory.optimizers import SGD, Adam, MomentumSGD, OptimizerPopulation, ProxSGD


def _least_squares(n: int, d: int, seed: int) -> LeastSquares:
    r = np.random.default_rng(seed)
    Z = [r.normal(size=(int(r.integers(5, 12)), d)) * r.uniform(0.3, 2.0) for _ in range(n)]
    y = [z @ r.normal(size=d) + r.normal(size=len(z)) for z in Z]
    return LeastSquares(Z, y, l2=0.1)


def test_least_squares_constants_are_exact() -> None:
    m = _least_squares(8, 3, 0)
    dc = model_constants(m)
    assert isinstance(dc, DeviceConstants)
    # independent: Hessians ZᵀZ/n + λI, their extreme eigenvalues; optimum by scipy
    ev = [np.linalg.eigvalsh(z.T @ z / len(z) + 0.1 * np.eye(3)) for z in m._device_Z()]
    assert dc.L == pytest.approx(max(e[-1] for e in ev), rel=1e-12)
    assert dc.mu == pytest.approx(min(e[0] for e in ev), rel=1e-12)

    # the optimum in closed form: Σ_i (Z_iᵀZ_i/n_i + λI) x = Σ_i Z_iᵀy_i/n_i
    pairs = list(zip(m._device_Z(), m._device_y(), strict=True))
    xs = np.linalg.solve(sum(z.T @ z / len(z) + 0.1 * np.eye(3) for z, _ in pairs),
                         sum(z.T @ y / len(z) for z, y in pairs))  # fmt: skip
    G = np.array([z.T @ (z @ xs - y) / len(z) + 0.1 * xs
                  for z, y in zip(m._device_Z(), m._device_y(), strict=True)])  # fmt: skip
    np.testing.assert_allclose(dc.grads, G, atol=1e-6)
    lab = np.array([0, 0, 0, 1, 1, 2, 2, 2])
    z2, zb = dc.zeta(lab)
    for s in range(3):
        Gs = G[lab == s]
        assert z2[s] == pytest.approx(np.mean(np.sum((Gs - Gs.mean(0)) ** 2, 1)), abs=1e-8)
    assert zb == pytest.approx(math.sqrt(sum(np.sum(lab == s) * np.sum(G[lab == s].mean(0) ** 2)
                                             for s in range(3))), abs=1e-8)  # fmt: skip


def test_softmax_constants_bound_the_hessian() -> None:
    """Böhning's L and μ = ℓ2 bracket the Hessian's spectrum (finite differences of the
    gradient at random points, a 3-feature 3-class model)."""
    r = np.random.default_rng(1)
    Z = [r.normal(size=(20, 3)) for _ in range(4)]
    y = [r.integers(0, 3, size=20) for _ in range(4)]
    m = LogisticRegression(Z, y, 3, l2=0.05)
    dc = model_constants(m)
    assert isinstance(dc, DeviceConstants) and dc.mu == pytest.approx(0.05)
    d = m.dim
    for _ in range(3):
        x = r.normal(size=d)
        for i in range(4):
            H = np.zeros((d, d))
            for j in range(d):
                h = np.zeros(d)
                h[j] = 1e-6
                Xp, Xm = np.zeros((4, d)), np.zeros((4, d))
                Xp[i], Xm[i] = x + h, x - h
                H[:, j] = (m.grad(Xp)[i] - m.grad(Xm)[i]) / 2e-6
            ev = np.linalg.eigvalsh((H + H.T) / 2)
            assert ev[-1] <= dc.L * (1 + 1e-6) and ev[0] >= dc.mu * (1 - 1e-4)


def test_no_bound_depends_on_gamma_or_the_heuristic_score() -> None:
    n = 8
    g = Graph.from_networkx(nx.cycle_graph(n))
    dc = model_constants(_least_squares(n, 3, 2), optimizers=OptimizerPopulation(SGD(), n))
    assert isinstance(dc, DeviceConstants)
    cl = [np.arange(4), np.arange(4, 8)]
    base = PlanConfig(eta=0.05, tau_a=3, tau_r=1)
    cfgs = [
        dataclasses.replace(base, gamma=gm, grad_scale=gs)
        for gm, gs in ((0.0, 1.0), (1.0, 1.0), (1.0, 4.0))
    ]
    nums = [theorem2_numbers(g, cl, None, c, device_constants=dc) for c in cfgs]
    for k in ("rate", "radius", "bound_by_cycle", "L", "mu"):
        assert nums[0][k] == nums[1][k] == nums[2][k], k
    assert nums[0]["covered"] and nums[0]["L"] == dc.L
    # and without device constants there is no number at all
    nc = theorem2_numbers(g, cl, None, base)
    assert nc["covered"] is False and "heuristic" in nc["reason"] and "rate" not in nc


def test_prox_and_momentum_devices_use_the_full_recursion() -> None:
    from ssdfl.graphs.mixing import block_mixing_matrix, mixing_matrix
    from ssdfl.theory.bounds import bound_problem, cycle_rate

    n = 8
    g = Graph.from_networkx(nx.cycle_graph(n))
    pop = OptimizerPopulation([SGD(), ProxSGD(0.3), MomentumSGD(0.5), SGD()] * 2)
    m = _least_squares(n, 2, 3)
    dc = model_constants(m, optimizers=pop)
    assert isinstance(dc, DeviceConstants)
    cfg = PlanConfig(eta=0.05, tau_a=3, tau_r=1)
    cl = [np.arange(4), np.arange(4, 8)]
    num = theorem2_numbers(g, cl, None, cfg, cycles=10, device_constants=dc)
    lab = cluster_labels(cl, n)
    P = bound_problem(m, lab, block_mixing_matrix(g, lab).toarray(), mixing_matrix(g).toarray(),
                      pop, 0.05, 3, 1, reset_momentum=False)  # fmt: skip
    assert num["rate"] == pytest.approx(cycle_rate(P).upper, rel=1e-12)
    assert (num["radius"] < math.inf) == (num["rate"] < 1) == num["converges"]


def test_not_covered_instead_of_a_number() -> None:
    n = 6
    adam = OptimizerPopulation([Adam()] + [SGD()] * (n - 1))
    r = model_constants(_least_squares(n, 2, 4), optimizers=adam)
    assert isinstance(r, NotCovered) and "Adam" in r.reason
    for name in ("mlp", "cnn"):
        r = model_constants(name)
        assert isinstance(r, NotCovered) and "non-convex" in r.reason
    r = model_constants("softmax", devices=None)
    assert isinstance(r, NotCovered) and "devices" in r.reason
    from ssdfl.theory.nn import MLP

    r = model_constants(MLP.random(n, 4, 3, seed=0) if hasattr(MLP, "random") else "mlp")
    assert isinstance(r, NotCovered)
    g = Graph.from_networkx(nx.path_graph(n))
    out = theorem2_numbers(g, [np.arange(n)], None, PlanConfig(), device_constants=r)
    assert out == {"covered": False, "reason": r.reason}
