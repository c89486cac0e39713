"""Per-candidate numbers (size, λ, Φ, heterogeneity ``H``, between-cluster term ``B``, the
Lemma-1/2 fixed points) and the decomposable objective ``J``; see ``docs/formation.md``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ssdfl.graphs.graph import Graph
from ssdfl.graphs.mixing import mixing_matrix, second_eigenvalue
from ssdfl.planner.config import PlanConfig
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
        from ssdfl.theory.bounds import eps_S, phi_min

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
    from ssdfl.clusters.clustering import cluster_measure
    from ssdfl.theory.heterogeneity import jsd

    pop = devices.population()
    alpha = pop.alphas(cfg.tau_a, cfg.eta)
    a_bar = float(alpha.mean())
    hist = devices.label_hist
    grads = devices.grads
    if hist is not None:
        p_all = _label_dist(hist.sum(axis=0))
    K = len(candidates)
    size = np.array([len(c) for c in candidates], dtype=np.int64)
    lam = np.zeros(K)
    phi = np.ones(K)
    phi_lo = np.ones(K)
    exact = np.ones(K, dtype=bool)
    H = np.zeros(K)
    B = np.zeros(K)
    W = mixing_matrix(g, cfg.mixing_rule)
    lam_w = second_eigenvalue(W) if g.n > 1 else 0.0
    for j, c in enumerate(candidates):
        if len(c) > 1:
            lam[j] = second_eigenvalue(mixing_matrix(g.subgraph(c), cfg.mixing_rule))
            v, lo, _hi, ex = cluster_measure(g, c, measure="mixing", mixing_rule=cfg.mixing_rule)
            phi[j], phi_lo[j], exact[j] = v, lo, ex
        a = alpha[c]
        omega = float(a.var() / a.mean() ** 2)
        omega_b = (float(a.mean()) / a_bar - 1.0) ** 2
        if grads is not None:
            gc = grads[c]
            zeta2 = float(np.mean(np.sum((gc - gc.mean(axis=0)) ** 2, axis=1)))
            H[j] = zeta2 / max(cfg.grad_scale, 1e-300) + cfg.gamma * omega
            B[j] = (
                float(np.sum((gc.mean(axis=0) - grads.mean(axis=0)) ** 2))
                / max(cfg.grad_scale, 1e-300)
                + cfg.gamma * omega_b
            )
        elif hist is not None:
            w = devices.n_samples[c] / devices.n_samples[c].sum()
            pc = _label_dist(hist[c])
            pbar = (w[:, None] * pc).sum(axis=0)
            delta = float(np.sum(w * jsd(pc, np.broadcast_to(pbar, pc.shape))))
            H[j] = delta + cfg.gamma * omega
            B[j] = float(jsd(pbar, p_all)) + cfg.gamma * omega_b
        else:
            H[j] = cfg.gamma * omega
            B[j] = cfg.gamma * omega_b
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
