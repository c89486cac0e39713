"""Per-cluster numbers for many clusters at once (the planner's candidate scoring at scale).

- :func:`mixing_slem_many`: the second eigenvalue modulus ``λ(W_C)`` of each cluster's mixing
  matrix (on its induced subgraph): the induced subgraphs of all clusters are found in one
  vectorized pass over the CSR arrays, small clusters are grouped by size and solved by one
  batched LAPACK call per group (``numpy.linalg.eigvalsh`` on a stack), large ones one by one
  (:func:`ssdfl.graphs.mixing.second_eigenvalue`).
- :func:`cluster_spectra`: every eigenvalue of ``W_C`` (small clusters) or its extremes
  ``[λ_min, λ₂, 1]`` (Lanczos) — what the Theorem-2 constants use.
- :func:`graph_slem`: ``λ(W)`` of the whole graph (dense up to a size, else ``1 − λ₂`` of the
  Laplacian ``I − W``, plus ``λ_min`` for non-lazy rules).
- :func:`exact_measures_many`: the exact Markov-chain conductance ``Φ(W_C)`` of every small
  cluster in one call of the Rust enumeration.
- :func:`heterogeneity_many`: the planner's ``H_C`` and ``B_C`` for every cluster with segment
  sums over one concatenated node array.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from ssdfl import _core
from ssdfl.errors import SsdflError
from ssdfl.graphs.graph import Graph, Positions
from ssdfl.graphs.mixing import MIXING_RULES, _mixing_matrix, second_eigenvalue
from ssdfl.graphs.spectral import algebraic_connectivity

__all__ = [
    "BATCH_MAX",
    "LANCZOS_MIN",
    "cluster_spectra",
    "exact_measures_many",
    "graph_slem",
    "heterogeneity_many",
    "induced_mixing_entries",
    "jsd",
    "mixing_slem_many",
]

BATCH_MAX = 64
"""Clusters up to this size are solved in stacked (batched) dense eigenproblems."""

LANCZOS_MIN = 400
"""Clusters above this size get ``λ(W_C)`` from sparse solvers (``1 − λ₂(I − W_C)`` and
``λ_min`` by Lanczos) instead of a full dense spectrum."""

_STACK_ENTRIES = 1 << 22  # entries per stacked (k, s, s) array


def _flat(clusters: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    sizes = np.array([len(c) for c in clusters], dtype=np.int64)
    flat = np.concatenate([np.asarray(c, dtype=np.int64) for c in clusters]) if len(clusters) \
        else np.zeros(0, dtype=np.int64)  # fmt: skip
    cid = np.repeat(np.arange(len(clusters)), sizes)
    return flat, cid, sizes


def induced_mixing_entries(
    g: Graph, clusters: Sequence[np.ndarray], rule: str = "lazy-metropolis"
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Off-diagonal entries of every cluster's mixing matrix on its induced subgraph (nodes in
    the order given, sorted clusters give ``g.subgraph``'s order): ``(cluster, row, col, value)``
    for both orientations, and the diagonal per concatenated node (``1 − row sum``, before the
    lazy halving which is applied to both)."""
    if rule not in MIXING_RULES:
        raise SsdflError(f"unknown mixing rule {rule!r}; expected one of {MIXING_RULES}")
    n = g.n
    flat, cid, sizes = _flat(clusters)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]) if len(sizes) else sizes
    loc = np.arange(len(flat)) - starts[cid]
    csr = g._core.csr()
    indptr, indices, data = csr.indptr, csr.indices, csr.data
    deg = indptr[flat + 1] - indptr[flat]
    # expand every member's neighbour list
    rep = np.repeat(np.arange(len(flat)), deg)
    offs = np.arange(len(rep)) - np.repeat(np.cumsum(deg) - deg, deg)
    nbr = indices[indptr[flat][rep] + offs]
    wts = data[indptr[flat][rep] + offs]
    # position of (cluster, neighbour) among the members, if the neighbour is a member
    key = cid.astype(np.int64) * n + flat
    order = np.argsort(key, kind="stable")
    skey = key[order]
    q = cid[rep].astype(np.int64) * n + nbr
    pos = np.searchsorted(skey, q)
    pos = np.minimum(pos, max(len(skey) - 1, 0))
    inside = (len(skey) > 0) & (skey[pos] == q) if len(skey) else np.zeros(len(q), dtype=bool)
    a = rep[inside]  # member index (flat) of the row
    b = order[pos[inside]]  # member index of the neighbour
    w = wts[inside]
    # degrees inside each cluster
    if rule in ("weighted-metropolis", "lazy-weighted-metropolis"):
        d = np.bincount(a, weights=w, minlength=len(flat))
        vals = w / (1.0 + np.maximum(d[a], d[b]))
    else:
        d = np.bincount(a, minlength=len(flat)).astype(np.float64)
        if rule == "max-degree":
            dmax = np.zeros(len(sizes))
            np.maximum.at(dmax, cid, d)
            vals = np.full(len(a), 1.0) / (1.0 + dmax[cid[a]])
        else:
            vals = 1.0 / (1.0 + np.maximum(d[a], d[b]))
    diag = 1.0 - np.bincount(a, weights=vals, minlength=len(flat))
    if rule.startswith("lazy"):
        vals = 0.5 * vals
        diag = 0.5 * (diag + 1.0)
    return cid[a], loc[a], loc[b], vals, diag


def _stacks(
    g: Graph, clusters: Sequence[np.ndarray], rule: str, which: np.ndarray
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Dense mixing matrices of the clusters ``which`` grouped by size: ``[(ids, (k, s, s))]``."""
    sub = [clusters[j] for j in which]
    cl, r, c, v, diag = induced_mixing_entries(g, sub, rule)
    sizes = np.array([len(x) for x in sub], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]) if len(sizes) else sizes
    out = []
    for s in np.unique(sizes):
        grp = np.flatnonzero(sizes == s)
        step = max(1, _STACK_ENTRIES // int(s * s))
        for i0 in range(0, len(grp), step):
            part = grp[i0 : i0 + step]
            slot = np.full(len(sizes), -1)
            slot[part] = np.arange(len(part))
            A = np.zeros((len(part), s, s))
            keep = slot[cl] >= 0
            A[slot[cl[keep]], r[keep], c[keep]] = v[keep]
            di = np.arange(s)
            A[:, di, di] = diag[starts[part][:, None] + di[None, :]]
            out.append((which[part], A))
    return out


def mixing_slem_many(
    g: Graph, clusters: Sequence[np.ndarray], rule: str = "lazy-metropolis",
    batch_max: int = BATCH_MAX,
) -> np.ndarray:  # fmt: skip
    """``λ(W_C) = max(|λ₂|, |λ_min|)`` of each cluster's mixing matrix on its induced subgraph
    (0 for a single node); equal to ``second_eigenvalue(mixing_matrix(g.subgraph(C), rule))``."""
    K = len(clusters)
    sizes = np.array([len(c) for c in clusters], dtype=np.int64)
    lam = np.zeros(K)
    small = np.flatnonzero((sizes > 1) & (sizes <= batch_max))
    for ids, A in _stacks(g, clusters, rule, small):
        ev = np.linalg.eigvalsh(A)
        lam[ids] = np.maximum(np.abs(ev[:, -2]), np.abs(ev[:, 0]))
    for j in np.flatnonzero(sizes > batch_max).tolist():
        sub = g.subgraph(Positions(clusters[j]))
        if sizes[j] <= LANCZOS_MIN:
            lam[j] = second_eigenvalue(_mixing_matrix(sub, rule))
        else:
            lo, l2, _ = _extremes(sub, rule)
            lam[j] = max(abs(l2), abs(lo))
    return lam


def _laplacian_lambda2(h: Graph) -> float:
    """``λ₂`` of the combinatorial Laplacian of a weighted graph (:mod:`ssdfl.graphs.spectral`)."""
    return float(algebraic_connectivity(h, normalized=False, tol=1e-10))


def _extremes(g: Graph, rule: str, W: sp.csr_array | None = None) -> np.ndarray:
    """``[λ_min, λ₂, 1]`` of the mixing matrix of the connected graph ``g`` by Lanczos."""
    W = sp.csr_array(_mixing_matrix(g, rule)) if W is None else W
    h = Graph(_core.mixing_weight_graph(g._core, rule))  # weights W_ij: Laplacian I − W
    lam2 = 1.0 - _laplacian_lambda2(h)
    lam_min = float(
        spla.eigsh(W, k=1, which="SA", return_eigenvectors=False, tol=1e-12,
                   v0=np.random.default_rng(0).standard_normal(g.n))[0]
    )  # fmt: skip
    return np.array([lam_min, lam2, 1.0])


def graph_slem(
    g: Graph, rule: str = "lazy-metropolis", W: sp.csr_array | None = None, dense_max: int = 600
) -> float:
    """``λ(W)`` of the whole graph: ``max(|λ₂|, |λ_min|)`` from dense LAPACK up to
    ``dense_max`` nodes (what ``bounds`` computes), else from :func:`_extremes`."""
    if g.n < 2:
        return 0.0
    W = sp.csr_array(_mixing_matrix(g, rule)) if W is None else W
    if g.n <= dense_max:
        ev = np.linalg.eigvalsh(W.toarray())
        return float(max(abs(ev[-2]), abs(ev[0])))
    lo, l2, _ = _extremes(g, rule, W)
    return float(max(abs(l2), abs(lo)))


def cluster_spectra(
    g: Graph, clusters: Sequence[np.ndarray], rule: str = "lazy-metropolis",
    dense_max: int = 400,
) -> list[np.ndarray]:  # fmt: skip
    """Eigenvalues of every cluster's ``W_C`` (ascending): all of them up to ``dense_max``
    nodes (batched by size up to :data:`BATCH_MAX`), ``[λ_min, λ₂, 1]`` above (Lanczos)."""
    sizes = np.array([len(c) for c in clusters], dtype=np.int64)
    out: list[np.ndarray] = [np.ones(1)] * len(clusters)
    small = np.flatnonzero((sizes > 1) & (sizes <= BATCH_MAX))
    for ids, A in _stacks(g, clusters, rule, small):
        ev = np.linalg.eigvalsh(A)
        for j, e in zip(ids, ev):
            out[j] = e
    for j in np.flatnonzero(sizes > BATCH_MAX).tolist():
        sub = g.subgraph(Positions(clusters[j]))
        if sizes[j] <= dense_max:
            out[j] = np.linalg.eigvalsh(_mixing_matrix(sub, rule).toarray())
        else:
            out[j] = _extremes(sub, rule)
    return out


def exact_measures_many(
    g: Graph, clusters: Sequence[np.ndarray], measure: str = "mixing",
    rule: str = "lazy-metropolis", limit: int = 24,
) -> np.ndarray:  # fmt: skip
    """Exact conductance (``measure="mixing"``: ``Φ(W_C)``; ``"graph"``: induced-subgraph
    conductance) of every cluster of 2..``limit`` nodes in one Rust call (NaN elsewhere);
    equal to :func:`ssdfl.clusters.clustering.cluster_measure` there."""
    out = np.full(len(clusters), np.nan)
    ids = [j for j, c in enumerate(clusters) if 2 <= len(c) <= limit]
    if not ids:
        return out
    parts = [np.asarray(clusters[j], dtype=np.int64) for j in ids]
    flat = np.concatenate(parts)
    off = np.concatenate([[0], np.cumsum([len(p) for p in parts])]).astype(np.int64)
    vals, _ = _core.exact_cluster_measures(g._core, flat, off, measure, rule, int(limit))
    out[ids] = np.asarray(vals, dtype=np.float64)
    return out


def _segment_mean(x: np.ndarray, starts: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    return np.add.reduceat(x, starts, axis=0) / (sizes if x.ndim == 1 else sizes[:, None])


def jsd(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Jensen–Shannon divergence in bits between rows of ``p`` and ``q`` (normalized to sum 1;
    broadcasting over leading axes). The one definition: ``ssdfl.theory.heterogeneity.jsd`` is
    this function."""
    p = np.asarray(p, dtype=np.float64)
    q = np.asarray(q, dtype=np.float64)
    if np.any(p < 0) or np.any(q < 0):
        raise SsdflError("distributions must be non-negative")
    ps, qs = p.sum(-1, keepdims=True), q.sum(-1, keepdims=True)
    if np.any(ps <= 0) or np.any(qs <= 0):
        raise SsdflError("every distribution needs positive mass")
    p, q = p / ps, q / qs
    m = 0.5 * (p + q)

    def kl(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(a > 0, a * np.log2(np.where(a > 0, a, 1.0) / np.where(b > 0, b, 1.0)), 0)
        return t.sum(-1)

    return np.clip(0.5 * kl(p, m) + 0.5 * kl(q, m), 0.0, 1.0)


def heterogeneity_many(
    clusters: Sequence[np.ndarray], alpha: np.ndarray, gamma: float, *,
    label_hist: np.ndarray | None = None, n_samples: np.ndarray | None = None,
    grads: np.ndarray | None = None, grad_scale: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """``(H_C, B_C)`` of every cluster (see ``docs/formation.md``): optimizer term
    ``Ω_C = Var(α)/mean(α)²``, ``(ᾱ_C/ᾱ_V − 1)²``, plus gradient dissimilarity (``grads``) or
    label JSD (``label_hist`` weighted by ``n_samples``)."""
    flat, cid, sizes = _flat(clusters)
    if len(flat) == 0:
        return np.zeros(0), np.zeros(0)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    a = np.asarray(alpha, dtype=np.float64)[flat]
    am = _segment_mean(a, starts, sizes)
    var = _segment_mean((a - am[cid]) ** 2, starts, sizes)
    omega = var / am**2
    omega_b = (am / float(np.mean(alpha)) - 1.0) ** 2
    if grads is not None:
        G = np.asarray(grads, dtype=np.float64)
        gc = G[flat]
        gm = _segment_mean(gc, starts, sizes)
        zeta2 = _segment_mean(np.sum((gc - gm[cid]) ** 2, axis=1), starts, sizes)
        scale = max(grad_scale, 1e-300)
        H = zeta2 / scale + gamma * omega
        B = np.sum((gm - G.mean(axis=0)) ** 2, axis=1) / scale + gamma * omega_b
    elif label_hist is not None:
        hist = np.asarray(label_hist, dtype=np.float64)
        ns = np.asarray(n_samples, dtype=np.float64)[flat]
        w = ns / np.add.reduceat(ns, starts)[cid]
        pc = hist[flat] / hist[flat].sum(axis=1, keepdims=True)
        pbar = np.add.reduceat(w[:, None] * pc, starts, axis=0)
        delta = np.add.reduceat(w * jsd(pc, pbar[cid]), starts)
        tot = hist.sum(axis=0)
        H = delta + gamma * omega
        B = jsd(pbar, np.broadcast_to(tot / tot.sum(), pbar.shape)) + gamma * omega_b
    else:
        H = gamma * omega
        B = gamma * omega_b
    return np.asarray(H, dtype=np.float64), np.asarray(B, dtype=np.float64)
