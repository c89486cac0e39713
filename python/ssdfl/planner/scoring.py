"""Per-candidate numbers (size, λ, Φ, heterogeneity ``H``, between-cluster term ``B``, the
Lemma-1/2 fixed points) and the decomposable objective ``J``; see ``docs/formation.md``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ssdfl.clusters.batch import (
    exact_measures_many,
    graph_slem,
    heterogeneity_many,
    mixing_slem_many,
)
from ssdfl.clusters.clustering import EXACT_LIMIT, cluster_measure
from ssdfl.graphs.graph import Graph
from ssdfl.planner.config import PlanConfig
from ssdfl.theory.bounds import eps_S, phi_min
from ssdfl.theory.devices import DeviceTable

__all__ = ["CandidateTable", "candidate_table", "formation_objective", "objective_terms"]


@dataclass
class CandidateTable:
    """Per-candidate numbers (arrays aligned with ``clusters``); see the module docstring."""

    clusters: list[np.ndarray]
    size: np.ndarray
    lam: np.ndarray
    phi: np.ndarray
    phi_lower: np.ndarray
    phi_exact: np.ndarray
    H: np.ndarray
    B: np.ndarray
    gamma_intra: np.ndarray
    between: np.ndarray

    def admissible(self, S: int, cfg: PlanConfig) -> np.ndarray:
        """Mask of candidates admissible in a formation of ``S`` clusters."""
        if cfg.admissibility == "spectral":
            return self.lam**cfg.tau_a <= eps_S(S, cfg.eps) + 1e-12
        return (self.size == 1) | (self.phi_lower >= phi_min(S, cfg.tau_a, cfg.eps))

    def index(self) -> dict[tuple[int, ...], int]:
        return {tuple(c.tolist()): j for j, c in enumerate(self.clusters)}


def _label_dist(hist: np.ndarray) -> np.ndarray:
    tot = hist.sum(axis=-1, keepdims=True)
    return hist / tot


def candidate_table(
    g: Graph, candidates: list[np.ndarray], devices: DeviceTable, cfg: PlanConfig
) -> CandidateTable:
    """Compute the per-candidate numbers of the module docstring."""
    pop = devices.population()
    alpha = pop.alphas(cfg.tau_a, cfg.eta)
    hist = devices.label_hist
    grads = devices.grads
    K = len(candidates)
    size = np.array([len(c) for c in candidates], dtype=np.int64)
    phi = np.ones(K)
    phi_lo = np.ones(K)
    exact = np.ones(K, dtype=bool)
    # batched (ssdfl.clusters.batch): λ of every cluster, exact Φ of the small ones in one
    # Rust call, H and B by segment sums; Φ of the large ones one by one (Cheeger bounds)
    lam = mixing_slem_many(g, candidates, cfg.mixing_rule)
    ex = exact_measures_many(g, candidates, "mixing", cfg.mixing_rule, EXACT_LIMIT)
    for j in np.flatnonzero(size > 1):
        if np.isfinite(ex[j]):
            phi[j] = phi_lo[j] = ex[j]
        else:
            v, lo, _hi, e = cluster_measure(g, candidates[j], measure="mixing",
                                            mixing_rule=cfg.mixing_rule)  # fmt: skip
            phi[j], phi_lo[j], exact[j] = v, lo, e
    H, B = heterogeneity_many(
        candidates, alpha, cfg.gamma, label_hist=hist, n_samples=devices.n_samples,
        grads=grads, grad_scale=cfg.grad_scale,
    )  # fmt: skip
    lam_w = graph_slem(g, cfg.mixing_rule) if g.n > 1 else 0.0
    eta, G2, s2 = cfg.eta, cfg.grad_scale, cfg.sigma2
    one_m = np.maximum(1.0 - lam, 1e-12)
    gamma_intra = eta**2 * G2 * H / one_m**2 + eta**2 * s2 * (1 - 1 / size) / np.maximum(
        1.0 - lam**2, 1e-12
    )
    kappa_b = 1.0 / max(1.0 - lam_w ** (2 * cfg.tau_r), 1e-12)
    between = kappa_b * ((eta * cfg.tau_a) ** 2 * G2 * size * B + cfg.tau_a * eta**2 * s2)
    return CandidateTable(
        clusters=list(candidates), size=size, lam=lam, phi=phi, phi_lower=phi_lo,
        phi_exact=exact, H=H, B=B, gamma_intra=gamma_intra, between=between,
    )  # fmt: skip


def objective_terms(t: CandidateTable, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``(additive cost, max-term)`` per candidate for the MILP of the module docstring."""
    cost = (t.size * t.gamma_intra + t.between) / n
    return cost, t.gamma_intra.copy()


def formation_objective(t: CandidateTable, chosen: list[int], n: int) -> float:
    """``J`` of the formation made of candidates ``chosen``."""
    cost, vmax = objective_terms(t, n)
    return float(cost[chosen].sum() + vmax[chosen].max())
