"""Verify a bound on your own model: the Theorem-2 / Lemma-1-2 bounds next to the observed
value and their ratio (``docs/theory.md`` §12).

:func:`verify` takes a model, a formation (clusters), a schedule and an initial point, builds
the bound constants (:func:`ssdfl.theory.bounds.bound_problem`), runs the bound recursion and
observes the same quantities:

- ``observed="exact"`` (quadratic / least-squares models with optimizers covered by the affine
  analysis): exact means and covariances of the iterates under Gaussian gradient noise
  (:func:`ssdfl.theory.reference.exact_moments`), no statistical slack;
- ``observed="monte-carlo"`` (any model the bounds cover): the average over ``seeds`` runs of
  :func:`ssdfl.theory.reference.simulate` (exact when ``sigma = 0``: one run).

Every quantity is measured from the **true optimum** ``x* = argmin Σ F_i``. The recursion
bounds distances from ``x_c = argmin Σ c_i F_i`` (its reference point); the bias is folded in by
Minkowski's inequality: ``(E‖X − 1x*ᵀ‖²)^{1/2} ≤ (E‖X − 1x_cᵀ‖²)^{1/2} + √N‖x_c − x*‖``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ssdfl.clusters.labels import cluster_labels
from ssdfl.errors import SsdflError
from ssdfl.graphs.graph import GraphLike, as_graph
from ssdfl.graphs.mixing import block_mixing_matrix, mixing_matrix
from ssdfl.theory import reference
from ssdfl.theory.bounds import bound_problem, global_cycle_bound
from ssdfl.theory.models import DeviceModel, Quadratic
from ssdfl.theory.optimizers import SGD, LocalOptimizer, OptimizerPopulation

__all__ = ["QUANTITIES", "Verification", "expected_gaps", "verify"]

QUANTITIES = {
    "opt": "(1/N) E‖X − 1x*ᵀ‖² (distance of every device to the optimum)",
    "mean_sq": "E‖x̄ − x*‖² (network average to the optimum)",
    "gamma": "E Γ = (1/N) E‖(I − J)X‖² (global consensus gap)",
    "gamma_s": "E Γ_s per cluster (intra-cluster consensus gaps)",
}


def expected_gaps(
    mean: np.ndarray, cov: np.ndarray, labels: np.ndarray, x_ref: np.ndarray
) -> dict[str, np.ndarray]:
    """Exact ``E Γ_s`` (``(T+1, S)``), ``E Γ``, ``(1/N)E‖X − 1x_refᵀ‖²`` and ``E‖x̄ − x_ref‖²``
    from the mean ``(T+1, N, d)`` and covariance ``(T+1, Nd, Nd)`` of the iterates."""
    _, n, d = mean.shape

    def proj_energy(idx: np.ndarray) -> np.ndarray:
        k = len(idx)
        M = mean[:, idx]
        det = np.sum((M - M.mean(1, keepdims=True)) ** 2, axis=(1, 2))
        P = np.kron(np.eye(k) - 1.0 / k, np.eye(d))
        ii = (idx[:, None] * d + np.arange(d)[None, :]).ravel()
        C = cov[:, ii][:, :, ii]
        return det + np.einsum("ij,tji->t", P, C)

    gs = np.stack(
        [proj_energy(np.flatnonzero(labels == s)) / np.sum(labels == s) for s in np.unique(labels)],
        axis=1,
    )
    g = proj_energy(np.arange(n)) / n
    opt = np.sum((mean - x_ref) ** 2, axis=(1, 2)) / n + np.trace(cov, axis1=1, axis2=2) / n
    Jm = np.kron(np.ones((1, n)) / n, np.eye(d))
    xbar = mean.mean(axis=1)
    msq = np.sum((xbar - x_ref) ** 2, axis=1) + np.trace(Jm @ cov @ Jm.T, axis1=1, axis2=2)
    return {"gamma_s": gs, "gamma": g, "opt": opt, "mean_sq": msq}


def _sample_gaps(traj: np.ndarray, labels: np.ndarray, x_ref: np.ndarray) -> dict[str, np.ndarray]:
    """The same quantities for one run ``traj`` (``(T+1, N, d)``), without expectation."""
    n = traj.shape[1]
    gs = np.stack(
        [
            np.sum((traj[:, i] - traj[:, i].mean(1, keepdims=True)) ** 2, axis=(1, 2)) / len(i)
            for i in (np.flatnonzero(labels == s) for s in np.unique(labels))
        ],
        axis=1,
    )
    g = np.sum((traj - traj.mean(1, keepdims=True)) ** 2, axis=(1, 2)) / n
    opt = np.sum((traj - x_ref) ** 2, axis=(1, 2)) / n
    msq = np.sum((traj.mean(1) - x_ref) ** 2, axis=1)
    return {"gamma_s": gs, "gamma": g, "opt": opt, "mean_sq": msq}


@dataclass
class Verification:
    """A bound next to what it bounds (every round ``t = 0..T``; cycle ends every
    ``τ_a + τ_r`` rounds).

    ``bound[q]`` and ``observed[q]`` for each quantity ``q`` of :data:`QUANTITIES` (``(T+1,)``;
    ``gamma_s``: ``(T+1, S)``), ``ratio[q] = bound / observed`` (``inf`` where the observed
    value is 0); ``holds``: bound ≥ observed everywhere (no slack: the bound includes its
    floating-point floor; Monte Carlo up to its sampling error — see ``method``); ``rate``
    (the certified per-cycle growth factor of the bound's cycle map,
    :func:`ssdfl.theory.bounds.cycle_rate`) and ``radius`` of Theorem 2 (``radius`` bounds the
    limit of ``opt`` at cycle ends, bias folded in; finite exactly when ``rate < 1``);
    ``proves_convergence``: ``rate < 1`` and the radius is below the bound at the start;
    ``bias = ‖x_c − x*‖``; ``method`` ``"exact"`` or
    ``"monte-carlo (k seeds)"``; ``problem`` the :class:`~ssdfl.theory.bounds.BoundProblem`.
    """

    bound: dict[str, np.ndarray]
    observed: dict[str, np.ndarray]
    ratio: dict[str, np.ndarray]
    holds: bool
    rate: float
    radius: float
    converges: bool
    bias: float
    method: str
    cycle_ends: np.ndarray
    problem: Any = field(repr=False)
    proves_convergence: bool = False

    def at_end(self, quantity: str = "opt") -> tuple[float, float, float]:
        """``(bound, observed, ratio)`` of ``quantity`` after the last round."""
        b, o = float(np.max(self.bound[quantity][-1])), float(np.max(self.observed[quantity][-1]))
        return b, o, (b / o if o > 0 else math.inf)

    def summary(self) -> str:
        b, o, r = self.at_end("opt")
        if not self.converges:
            conv = f"no finite limit (rate {self.rate:.4f} ≥ 1: the bound proves no convergence)"
        elif self.proves_convergence:
            conv = f"radius {self.radius:.4g} (rate {self.rate:.4f}): proves convergence"
        else:
            conv = (f"radius {self.radius:.4g} (rate {self.rate:.4f}) is not below the bound's "
                    f"start {float(self.bound['opt'][0]):.4g}: proves no convergence")  # fmt: skip
        return (
            f"(1/N)E‖X − 1x*ᵀ‖² after {len(self.cycle_ends) - 1} cycles: bound {b:.4g}, "
            f"observed {o:.4g} ({self.method}), ratio {r:.3g}; {conv}; "
            f"{'holds' if self.holds else 'VIOLATED'}"
        )


def _population(optimizers: Any, n: int) -> OptimizerPopulation:
    if optimizers is None:
        return OptimizerPopulation(SGD(), n)
    if isinstance(optimizers, OptimizerPopulation):
        return optimizers
    if isinstance(optimizers, LocalOptimizer):
        return OptimizerPopulation(optimizers, n)
    return OptimizerPopulation(list(optimizers))


def verify(
    model: DeviceModel,
    graph: GraphLike,
    clusters: Any,
    *,
    optimizers: OptimizerPopulation | LocalOptimizer | Sequence[LocalOptimizer] | None = None,
    eta: float,
    tau_a: int,
    tau_r: int,
    cycles: int,
    x0: np.ndarray | None = None,
    sigma: float = 0.0,
    normalize: bool = False,
    reset_momentum: bool = True,
    rule: str = "lazy-metropolis",
    observed: str = "auto",
    seeds: int = 200,
    momentum: str = "auto",
) -> Verification:
    """Bound and observation of the schedule (module docstring). ``clusters``: labels, a list
    of node arrays or a ``Formation``; ``x0``: ``(d,)`` or ``(N, d)`` initial models (default
    0); ``observed``: ``"exact"``, ``"monte-carlo"`` or ``"auto"`` (exact when the model is
    quadratic and the optimizers are covered by the affine analysis). Optimizers the bounds do
    not cover raise :class:`~ssdfl.errors.SsdflError` naming them."""

    g = as_graph(graph)
    n, d = model.n_devices, model.dim
    if g.n != n:
        raise SsdflError(f"the graph has {g.n} nodes but the model has {n} devices")
    lab = cluster_labels(clusters, n)
    pop = _population(optimizers, n)
    Wa = block_mixing_matrix(g, lab, rule).toarray()
    Wr = mixing_matrix(g, rule).toarray()
    X0 = np.zeros((n, d)) if x0 is None else np.asarray(x0, dtype=np.float64)
    if X0.shape == (d,):
        X0 = np.tile(X0, (n, 1))
    if X0.shape != (n, d):
        raise SsdflError(f"x0 must have shape ({d},) or ({n}, {d})")
    P = bound_problem(model, lab, Wa, Wr, pop, eta, tau_a, tau_r, sigma=sigma,
                      normalize=normalize, reset_momentum=reset_momentum,
                      momentum=momentum)  # fmt: skip
    cb = global_cycle_bound(P, cycles, X0)
    x_star = model.optimum()
    bias = float(P.bias)
    tr = cb.trace

    def fold(per_device_sq: np.ndarray, scale: float) -> np.ndarray:
        # (E‖v − x*‖²)^{1/2} ≤ (E‖v − x_c‖²)^{1/2} + scale·bias   (Minkowski)
        with np.errstate(over="ignore", invalid="ignore"):
            return (np.sqrt(per_device_sq) + scale * bias) ** 2

    bound = {
        "opt": fold(tr.opt, 1.0),
        "mean_sq": fold(tr.mean_sq, 1.0),
        "gamma": tr.gamma,
        "gamma_s": tr.gamma_s,
    }
    radius = float(fold(np.array(cb.radius), 1.0)) if cb.converges else math.inf
    if observed == "auto":
        observed = "exact" if (pop.covered_by("affine") and _is_quadratic(model)) else "monte-carlo"
    if observed == "exact":
        sched = reference.affine_schedule(
            model, pop, Wa, Wr, eta, tau_a, tau_r, normalize=normalize,
            reset_momentum=reset_momentum,
        )  # fmt: skip
        mean, cov = reference.exact_moments(sched, X0, cycles, sigma)
        obs = expected_gaps(mean, cov, lab, x_star)
        method = "exact"
        se = {q: np.zeros_like(v) for q, v in obs.items()}
    elif observed == "monte-carlo":
        k = 1 if sigma == 0 else int(seeds)
        if k < 1:
            raise SsdflError("seeds must be >= 1")
        runs = []
        for s in range(k):
            traj = reference.simulate(model, pop, Wa, Wr, X0, eta, tau_a, tau_r, cycles,
                                      sigma=sigma, normalize=normalize,
                                      reset_momentum=reset_momentum, rng=s).X  # fmt: skip
            runs.append(_sample_gaps(traj, lab, x_star))
        obs = {q: np.mean([r[q] for r in runs], axis=0) for q in runs[0]}
        # a k-seed mean: "holds" allows 4 standard errors of it (one-sided ≈ 3e-5 each)
        se = {q: (np.std([r[q] for r in runs], axis=0, ddof=1) / math.sqrt(k) if k > 1
                  else np.zeros_like(obs[q])) for q in obs}  # fmt: skip
        method = "exact (deterministic run)" if k == 1 else f"monte-carlo ({k} seeds)"
    else:
        raise SsdflError(f"observed must be 'exact', 'monte-carlo' or 'auto', got {observed!r}")
    ratio = {}
    holds = True
    for q in bound:
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            ratio[q] = np.where(obs[q] > 0, bound[q] / np.where(obs[q] > 0, obs[q], 1.0), np.inf)
        # no round-off slack: the bound carries its floating-point floor (docs/theory.md §7f)
        holds &= bool(np.all(obs[q] - 4.0 * se[q] <= bound[q]))
    ends = np.arange(0, cycles * (tau_a + tau_r) + 1, tau_a + tau_r)
    return Verification(
        bound=bound, observed=obs, ratio=ratio, holds=holds, rate=float(cb.rate), radius=radius,
        converges=bool(cb.converges), bias=bias, method=method, cycle_ends=ends, problem=P,
        proves_convergence=bool(cb.converges and radius < float(bound["opt"][0])),
    )  # fmt: skip


def _is_quadratic(model: DeviceModel) -> bool:

    return isinstance(model, Quadratic) or hasattr(model, "as_quadratic")
