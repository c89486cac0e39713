"""Heterogeneity scores of clusters and formations (``docs/theory.md`` §9).

Per cluster ``s`` (devices ``C_s``, ``N_s = |C_s|``):

- label term ``Δ_s = Σ_{i∈C_s} (n_i/n_s) · JSD(p_i ‖ p̄_s)``: ``p_i`` device ``i``'s label
  distribution, ``n_i`` its sample count, ``n_s = Σ n_i``, ``p̄_s = Σ (n_i/n_s) p_i`` the
  cluster's label distribution; ``JSD(p‖q) = ½KL(p‖m) + ½KL(q‖m)``, ``m = (p+q)/2``, in
  **bits** (log base 2), so ``0 ≤ JSD ≤ 1`` and ``0 ≤ Δ_s ≤ 1``;
- gradient term ``ζ_s² = (1/N_s) Σ_{i∈C_s} ‖∇F_i(x⁰) − ∇F̄_s(x⁰)‖²``, ``∇F̄_s`` the cluster mean;
- optimizer term ``Ω_s = Var_{i∈C_s}(α_i) / mean_{i∈C_s}(α_i)²`` (population variance; the
  squared coefficient of variation of the effective step factors, scale free);
- combined ``H_s = Δ_s + γ Ω_s`` (``data="labels"``) or ``ζ_s² + γ Ω_s`` (``data="gradients"``).

**These are heuristic scores, not bound inputs** (``docs/theory.md`` §6): ``H_s`` enters no
bound of :mod:`ssdfl.theory.bounds`, and ``ζ_s²`` at ``x⁰`` is not the ``ζ`` of a bound, which
needs the dissimilarity where its proof evaluates it — at the optimum
(:func:`dissimilarity_at_optimum`) or a sup over a region (``nonconvex_bound``).

Formation scores return one value per cluster (ordered as ``np.unique(labels)``) and, via
:func:`formation_heterogeneity`, the device-weighted mean ``Σ_s (N_s/N) H_s``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ssdfl.clusters.batch import jsd
from ssdfl.clusters.labels import check_labels
from ssdfl.errors import SsdflError
from ssdfl.theory.models import DeviceModel

__all__ = [
    "cluster_scores",
    "dissimilarity_at_optimum",
    "formation_heterogeneity",
    "gradient_dissimilarity",
    "jsd",
    "label_jsd",
    "optimizer_heterogeneity",
]


def _labels(labels: np.ndarray | Sequence[int], n: int) -> np.ndarray:
    return check_labels(labels, n)


def label_jsd(histograms: np.ndarray, labels: np.ndarray | Sequence[int]) -> np.ndarray:
    """``Δ_s`` per cluster from ``(N, C)`` label counts (see module docstring)."""
    H = np.asarray(histograms, dtype=np.float64)
    if H.ndim != 2:
        raise SsdflError("histograms must be an (N, C) array of label counts")
    lab = _labels(labels, H.shape[0])
    n_i = H.sum(axis=1)
    if np.any(n_i <= 0):
        raise SsdflError("every device needs at least one sample")
    out = []
    for s in np.unique(lab):
        Hs = H[lab == s]
        w = Hs.sum(axis=1) / Hs.sum()
        pbar = Hs.sum(axis=0)
        out.append(float(w @ jsd(Hs, np.broadcast_to(pbar, Hs.shape))))
    return np.array(out)


def dissimilarity_at_optimum(
    model: DeviceModel,
    labels: np.ndarray | Sequence[int],
    weights: np.ndarray | Sequence[float] | None = None,
) -> tuple[np.ndarray, float]:
    """The heterogeneity inputs of :func:`ssdfl.theory.bounds.generic_problem` /
    :func:`~ssdfl.theory.bounds.formation_bound` where their proof evaluates them, at the
    optimum ``x_w = argmin Σ w_iF_i`` (``x*`` by default): ``zeta2[s] = (1/N_s)Σ_{i∈C_s}
    ‖∇F_i(x_w) − mean_s ∇F(x_w)‖²`` and ``zeta_b = (Σ_s N_s‖mean_s ∇F(x_w)‖²)^{1/2}``.
    (:func:`gradient_dissimilarity` at ``x⁰`` is a heuristic score and no bound input.)"""
    n = model.n_devices
    lab = _labels(labels, n)
    x = model.optimum(None if weights is None else np.asarray(weights, dtype=np.float64))
    G = model.grad(np.tile(x, (n, 1)))
    z2, zb2 = [], 0.0
    for s in np.unique(lab):
        Gs = G[lab == s]
        mean = Gs.mean(axis=0)
        z2.append(float(np.mean(np.sum((Gs - mean) ** 2, axis=1))))
        zb2 += len(Gs) * float(np.sum(mean**2))
    return np.array(z2), float(np.sqrt(zb2))


def gradient_dissimilarity(
    model: DeviceModel, labels: np.ndarray | Sequence[int], x0: np.ndarray | None = None
) -> np.ndarray:
    """``ζ_s²`` per cluster at the common point ``x⁰`` (default 0) or at per-device points if
    ``x0`` has shape ``(N, d)``. A **heuristic score** (``docs/theory.md`` §9): the bounds need the
    dissimilarity at the optimum, :func:`dissimilarity_at_optimum`; a value at ``x⁰`` fed
    into a bound gives a number that is no bound."""
    n, d = model.n_devices, model.dim
    lab = _labels(labels, n)
    x = np.zeros(d) if x0 is None else np.asarray(x0, dtype=np.float64)
    X = np.broadcast_to(x, (n, d)) if x.shape == (d,) else x
    if X.shape != (n, d):
        raise SsdflError(f"x0 must have shape ({d},) or ({n}, {d})")
    G = model.grad(np.ascontiguousarray(X))
    out = []
    for s in np.unique(lab):
        Gs = G[lab == s]
        out.append(float(np.mean(np.sum((Gs - Gs.mean(axis=0)) ** 2, axis=1))))
    return np.array(out)


def optimizer_heterogeneity(
    alphas: np.ndarray | Sequence[float], labels: np.ndarray | Sequence[int]
) -> np.ndarray:
    """``Ω_s = Var(α)/mean(α)²`` per cluster."""
    a = np.asarray(alphas, dtype=np.float64)
    if a.ndim != 1 or np.any(a <= 0):
        raise SsdflError("alphas must be a 1-D array of positive step factors")
    lab = _labels(labels, len(a))
    return np.array([np.var(a[lab == s]) / np.mean(a[lab == s]) ** 2 for s in np.unique(lab)])


def cluster_scores(
    labels: np.ndarray | Sequence[int],
    alphas: np.ndarray | Sequence[float],
    *,
    histograms: np.ndarray | None = None,
    model: DeviceModel | None = None,
    x0: np.ndarray | None = None,
    gamma: float = 1.0,
    data: str = "labels",
) -> np.ndarray:
    """``H_s = data term + γ Ω_s`` per cluster; ``data`` ∈ {``"labels"``, ``"gradients"``}."""
    if gamma < 0:
        raise SsdflError("gamma must be >= 0")
    if data == "labels":
        if histograms is None:
            raise SsdflError("data='labels' needs label histograms")
        term = label_jsd(histograms, labels)
    elif data == "gradients":
        if model is None:
            raise SsdflError("data='gradients' needs a model")
        term = gradient_dissimilarity(model, labels, x0)
    else:
        raise SsdflError(f"data must be 'labels' or 'gradients', got {data!r}")
    return term + gamma * optimizer_heterogeneity(alphas, labels)


def formation_heterogeneity(scores: np.ndarray, labels: np.ndarray | Sequence[int]) -> float:
    """Device-weighted mean ``Σ_s (N_s/N) H_s`` of per-cluster scores."""
    lab = np.asarray(labels)
    _, counts = np.unique(lab, return_counts=True)
    sc = np.asarray(scores, dtype=np.float64)
    if sc.shape != counts.shape:
        raise SsdflError(f"{sc.size} scores for {counts.size} clusters")
    return float(counts @ sc / counts.sum())
