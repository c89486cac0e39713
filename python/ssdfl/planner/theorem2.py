"""Theorem-2 numbers (rate, radius, bound by cycle) of a formation, from the candidate table."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ssdfl.graphs.graph import Graph
from ssdfl.graphs.mixing import block_mixing_matrix, mixing_matrix
from ssdfl.planner.config import PlanConfig
from ssdfl.planner.scoring import CandidateTable
from ssdfl.simulate.clusters import cluster_labels

__all__ = ["bound_by_cycle", "theorem2_numbers", "theorem2_problem"]


def theorem2_problem(
    g: Graph, clusters: list[np.ndarray], t: CandidateTable, cfg: PlanConfig,
    tau_a: int, tau_r: int,
) -> Any:  # fmt: skip
    """Theorem-2 constants (``bounds.generic_problem``) of a formation: devices taken as
    ``μ``-strongly convex ``L``-smooth, heterogeneity ``ζ_s² = G²H_s`` and
    ``ζ_b² = G²Σ_s N_s B_s`` from the candidate table."""
    from ssdfl.theory.bounds import generic_problem

    idx = t.index()
    js = [idx[tuple(c.tolist())] for c in clusters]
    labels = cluster_labels(clusters, g.n)
    return generic_problem(
        labels, block_mixing_matrix(g, labels, cfg.mixing_rule), mixing_matrix(g, cfg.mixing_rule),
        cfg.eta, tau_a, tau_r, L=cfg.L, mu=cfg.mu,
        zeta2=cfg.grad_scale * t.H[js],
        zeta_b=math.sqrt(cfg.grad_scale * float(np.sum(t.size[js] * t.B[js]))),
        sigma2=cfg.sigma2,
    )  # fmt: skip


def theorem2_numbers(
    g: Graph, clusters: list[np.ndarray], t: CandidateTable, cfg: PlanConfig, cycles: int = 60
) -> dict[str, Any]:
    """Theorem 2 of :mod:`ssdfl.theory.bounds` for a formation, from unit initial distance
    (``(1/N)‖X_0 − 1x*ᵀ‖² = 1``, devices in consensus): the bound at every cycle end, the
    per-cycle rate and the asymptotic radius."""
    from ssdfl.theory.bounds import global_cycle_bound

    P = theorem2_problem(g, clusters, t, cfg, cfg.tau_a, cfg.tau_r)
    cb = global_cycle_bound(P, cycles, np.zeros((g.n, 1)), np.ones(1), radius_cycles=300)
    ends = np.asarray(cb.trace.opt, dtype=np.float64)[:: P.tau_a + P.tau_r]
    return {
        "cycles": cycles,
        "bound_after_cycles": float(ends[-1]),
        "bound_by_cycle": ends.tolist(),
        "rate": float(cb.rate),
        "radius": float(cb.radius),
        "converges": bool(cb.rate < 1),
    }


def bound_by_cycle(
    g: Graph, clusters: list[np.ndarray], t: CandidateTable, cfg: PlanConfig,
    tau_a: int, tau_r: int, cycles: int,
) -> np.ndarray:  # fmt: skip
    """Theorem-2 bound on ``(1/N)E‖X − 1x*ᵀ‖²`` at cycle ends ``1..cycles`` (from 1, devices
    in consensus at the start) under the schedule ``(tau_a, tau_r)``."""
    from ssdfl.theory.bounds import run_bounds

    P = theorem2_problem(g, clusters, t, cfg, tau_a, tau_r)
    tr = run_bounds(P, cycles, e0=np.zeros(len(clusters)), b0=0.0, m0=math.sqrt(g.n))
    return np.asarray(tr.opt, dtype=np.float64)[:: tau_a + tau_r][1:]
