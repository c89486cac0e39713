"""Shared helpers of the bound tests: exact expected gaps from exact moments."""

from __future__ import annotations

import numpy as np


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
