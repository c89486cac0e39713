"""Mixing (gossip) matrices and their spectra.

A mixing matrix ``W`` of a graph is symmetric, doubly stochastic (rows and columns sum to 1),
non-negative, and supported on the edges plus the diagonal. Rules:

- ``"metropolis"``: ``W_ij = 1 / (1 + max(d_i, d_j))`` on edges (unweighted degrees ``d``),
  ``W_ii = 1 − Σ_j W_ij`` (Metropolis–Hastings; Xiao & Boyd).
- ``"lazy-metropolis"`` (default): ``(I + W_metropolis) / 2``, positive definite.
- ``"max-degree"``: ``W_ij = 1 / (1 + d_max)`` on edges.
- ``"weighted-metropolis"``: ``W_ij = w_ij / (1 + max(d_i, d_j))`` with weighted degrees
  ``d_i = Σ_j w_ij``; its lazy form ``"lazy-weighted-metropolis"``.

Spectra: eigenvalues ``1 = λ_1 ≥ λ_2 ≥ … ≥ λ_n`` of a symmetric ``W``; the *second largest
eigenvalue modulus* ``λ(W) = max(|λ_2|, |λ_n|)`` sets the gossip contraction
``‖W x − x̄‖ ≤ λ(W)‖x − x̄‖``; the spectral gap is ``1 − λ(W)``.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from scipy.sparse import csgraph
from threadpoolctl import threadpool_limits

from ssdfl.errors import DisconnectedGraphError, SsdflError
from ssdfl.graphs.graph import Graph, GraphLike, as_graph

__all__ = [
    "MIXING_RULES",
    "block_mixing_matrix",
    "dense_matrix",
    "mixing_matrix",
    "random_matching",
    "second_eigenvalue",
    "spectral_gap",
]

MIXING_RULES = (
    "lazy-metropolis",
    "metropolis",
    "max-degree",
    "weighted-metropolis",
    "lazy-weighted-metropolis",
)


def mixing_matrix(g: GraphLike, rule: str = "lazy-metropolis") -> sp.csr_array:
    """Symmetric doubly stochastic mixing matrix of ``g`` by ``rule`` (see module doc)."""
    return _mixing_matrix(as_graph(g), rule)


def _mixing_matrix(g: Graph, rule: str = "lazy-metropolis") -> sp.csr_array:
    """:func:`mixing_matrix` of a :class:`Graph` (for callers inside the package, which convert
    once at their public entry)."""
    if rule not in MIXING_RULES:
        raise SsdflError(f"unknown mixing rule {rule!r}; expected one of {MIXING_RULES}")
    n = g.n
    if n == 0:
        raise SsdflError("the graph has no nodes")
    src, dst, w = g.edges()
    wdeg = g.degrees if "weighted" in rule else None  # the Rust sums: bit-identical to cluster.rs
    return _mixing_on_edges(n, src, dst, w, rule, np.zeros(n, dtype=np.int64), wdeg)


def _mixing_on_edges(
    n: int,
    src: np.ndarray,
    dst: np.ndarray,
    w: np.ndarray,
    rule: str,
    group: np.ndarray,
    wdeg: np.ndarray | None = None,
) -> sp.csr_array:
    """The mixing matrix by ``rule`` of the graph with edges ``(src, dst, w)`` on ``n`` nodes,
    degrees counted over those edges (``wdeg``: the weighted degrees if already known);
    ``group[u]`` is the component whose maximum degree the ``"max-degree"`` rule uses (all
    zeros: the whole graph)."""
    if rule in ("weighted-metropolis", "lazy-weighted-metropolis"):
        deg = wdeg
        if deg is None:
            deg = np.bincount(np.concatenate([src, dst]), np.concatenate([w, w]), minlength=n)
        vals = w / (1.0 + np.maximum(deg[src], deg[dst]))
    else:
        deg = np.bincount(np.concatenate([src, dst]), minlength=n).astype(np.float64)
        if rule == "max-degree":
            dmax = np.zeros(int(group.max()) + 1 if n else 1)
            np.maximum.at(dmax, group, deg)
            vals = 1.0 / (1.0 + dmax[group[src]])
        else:
            vals = 1.0 / (1.0 + np.maximum(deg[src], deg[dst]))
    off = sp.coo_array(
        (np.concatenate([vals, vals]), (np.concatenate([src, dst]), np.concatenate([dst, src]))),
        shape=(n, n),
    ).tocsr()
    diag = 1.0 - np.asarray(off.sum(axis=1)).ravel()
    W = off + sp.diags_array(diag, format="csr")
    if rule.startswith("lazy"):
        W = 0.5 * (W + sp.eye_array(n, format="csr"))
    return sp.csr_array(W)


def block_mixing_matrix(
    g: GraphLike,
    labels: np.ndarray,
    rule: str = "lazy-metropolis",
    check_connected: bool = True,
) -> sp.csr_array:
    """Sparse block-diagonal ``diag(W_1, …, W_S)`` of a formation (``labels[u]`` = cluster of
    ``u``): each cluster's mixing matrix (``rule``) on its induced subgraph, a singleton's block
    is ``[1]``. With ``check_connected`` a cluster whose induced subgraph is disconnected
    raises :class:`~ssdfl.errors.DisconnectedGraphError` (``docs/theory.md`` §1, A3)."""
    g = as_graph(g)
    lab = np.asarray(labels, dtype=np.int64)
    if lab.shape != (g.n,):
        raise SsdflError(f"labels must have shape ({g.n},), got {lab.shape}")
    if rule not in MIXING_RULES:
        raise SsdflError(f"unknown mixing rule {rule!r}; expected one of {MIXING_RULES}")
    src, dst, w = g.edges()
    inside = lab[src] == lab[dst]  # the block matrix is the rule on the intra-cluster edges
    src, dst, w = src[inside], dst[inside], w[inside]
    if check_connected:
        _, comp = csgraph.connected_components(
            sp.coo_array((np.ones(len(src)), (src, dst)), shape=(g.n, g.n)), directed=False
        )
        pairs = np.unique(np.stack([lab, comp]), axis=1)  # (cluster, component) pairs
        clusters, count = np.unique(pairs[0], return_counts=True)
        if (count > 1).any():
            bad = int(clusters[np.argmax(count > 1)])
            raise DisconnectedGraphError(f"cluster {bad} induces a disconnected subgraph")
    return _mixing_on_edges(g.n, src, dst, w, rule, lab)


def dense_matrix(
    W: sp.spmatrix | sp.sparray | np.ndarray, n: int | None = None, name: str = "W"
) -> np.ndarray:
    """``W`` (numpy, scipy sparse or array-like) as a dense float64 array, checked square
    (``n × n`` when ``n`` is given); ``name`` is the argument named in the error."""
    A = (
        np.asarray(W, dtype=np.float64)
        if isinstance(W, np.ndarray) or not sp.issparse(W)
        else np.asarray(W.toarray(), dtype=np.float64)
    )
    if n is not None and A.shape != (n, n):
        raise SsdflError(f"{name} must be {n}×{n}, got {A.shape}")
    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise SsdflError(f"{name} must be square, got shape {A.shape}")
    return A


def _eigs_symmetric(W: sp.spmatrix | sp.sparray | np.ndarray) -> np.ndarray:
    """All eigenvalues (ascending) for small ``W``; dense LAPACK."""
    return np.linalg.eigvalsh(dense_matrix(W))


def second_eigenvalue(W: sp.spmatrix | sp.sparray | np.ndarray) -> float:
    """Second largest eigenvalue modulus ``max(|λ_2|, |λ_n|)`` of a symmetric doubly
    stochastic ``W`` (dense for n ≤ 2000, Lanczos on ``W − 11ᵀ/n`` otherwise)."""
    n = W.shape[0]
    if W.shape != (n, n):
        raise SsdflError(f"W must be square, got shape {W.shape}")
    if n < 2:
        raise SsdflError("a mixing matrix needs at least 2 nodes for a second eigenvalue")
    if n <= 2000:
        ev = _eigs_symmetric(W)
        return float(max(abs(ev[-2]), abs(ev[0])))
    Ws = sp.csr_array(W)
    ones = np.full(n, 1.0 / np.sqrt(n))
    op = spla.LinearOperator((n, n), matvec=lambda x: Ws @ x - ones * (ones @ x), dtype=np.float64)
    with threadpool_limits(1):  # level-2 BLAS on n-vectors: threads only add contention
        val = spla.eigsh(op, k=1, which="LM", return_eigenvectors=False, tol=1e-10)
    return float(abs(val[0]))


def spectral_gap(W: sp.spmatrix | sp.sparray | np.ndarray) -> float:
    """``1 − λ(W)`` with ``λ(W)`` the second largest eigenvalue modulus."""
    return 1.0 - second_eigenvalue(W)


def random_matching(
    src: np.ndarray, dst: np.ndarray, n: int, rng: np.random.Generator, edge_prob: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """A random matching of the graph, vectorized: each edge is a candidate with probability
    ``edge_prob`` and gets a uniform random priority; a candidate edge is active iff its
    priority is the largest among the candidate edges at *both* of its endpoints. Two active
    edges never share a node (each would be the other's maximum), so the active set is a
    matching ``M`` and ``W_t = I − ½ Σ_{(u,v)∈M} (e_u − e_v)(e_u − e_v)ᵀ`` is symmetric, doubly
    stochastic and PSD."""
    m = len(src)
    pr = rng.random(m)
    if edge_prob < 1.0:
        pr = np.where(rng.random(m) < edge_prob, pr, -1.0)
    best = np.full(n, -1.0)
    np.maximum.at(best, src, pr)
    np.maximum.at(best, dst, pr)
    act = (pr >= 0) & (pr == best[src]) & (pr == best[dst])
    return src[act], dst[act]
