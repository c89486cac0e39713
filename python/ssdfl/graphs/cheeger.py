"""Cheeger constants (exact and certified bounds), internal conductance of a cluster, and the
conductance of a mixing matrix.

Definitions, for a proper non-empty node set ``S`` with complement ``S̄``:

- ``"volume"`` normalization (conductance, the Cheeger constant of the paper):
  ``h(G) = min_S cut(S) / min(vol S, vol S̄)`` with weighted degrees;
- ``"size"`` normalization (edge expansion): ``i(G) = min_S cut(S) / min(|S|, |S̄|)``;
- Markov-chain conductance of a symmetric doubly stochastic ``W``:
  ``Φ(W) = min_{0<|S|≤n/2} (1/|S|) Σ_{i∈S, j∉S} W_ij`` = the ``"size"`` constant of the graph
  whose edge weights are the off-diagonal entries of ``W``.

Conventions: a disconnected graph has constant 0 (a connected component is the minimizing
set); fewer than 2 nodes is an error.

Certified bounds used when the exact enumeration is too large (``λ₂`` of the normalized
Laplacian ``𝓛`` for ``"volume"``, of ``L = D − A`` for ``"size"``; ``d_max`` the largest weighted
degree; the sweep value is the value of an actual set, hence an upper bound):

- ``"volume"``: ``λ₂(𝓛)/2 ≤ h ≤ min(sweep, √(2 λ₂(𝓛)))``;
- ``"size"``: ``λ₂(L)/2 ≤ i ≤ min(sweep, √(2 d_max λ₂(L)))``. For a mixing matrix
  ``λ₂(L) = 1 − λ₂(W)`` and ``d_max ≤ 1``, which is the chain Cheeger inequality
  ``1 − 2Φ ≤ λ₂(W) ≤ 1 − Φ²/2`` (``λ₂(W)`` the second-largest eigenvalue, not the modulus).

The lower bounds subtract the eigensolver's residual norm, so they hold whenever the solver
converged to ``λ₂`` (always for the dense path; see ``docs/cheeger.md``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ssdfl import _core
from ssdfl.errors import SsdflError
from ssdfl.graphs.graph import Graph, GraphLike, NodeSet, as_graph, as_mask, square_csr
from ssdfl.graphs.spectral import _check, _fiedler_pair, _laplacian, _norm_name, sweep_cut

__all__ = [
    "AUTO_EXACT_MAX",
    "DEFAULT_MAX_EXACT",
    "HARD_MAX_EXACT",
    "CheegerResult",
    "cheeger_constant",
    "internal_conductance",
    "mixing_conductance",
]

DEFAULT_MAX_EXACT: int = _core.DEFAULT_MAX_EXACT
"""``method="exact"`` refuses graphs with more nodes unless ``max_exact`` is raised."""
HARD_MAX_EXACT: int = _core.HARD_MAX_EXACT
"""Absolute limit of the exact enumeration (``2^(n−1)`` cuts)."""
AUTO_EXACT_MAX = 26
"""``method="auto"`` enumerates exactly up to this many nodes (about 0.05 s), else sweeps."""


@dataclass(frozen=True)
class CheegerResult:
    """A Cheeger constant or its certified bracket.

    ``value``: the exact constant when ``exact`` is true, otherwise the value of ``set``
    (the best sweep cut, an upper bound). ``set``: sorted node indices of the lighter side
    (by volume or size) of a cut achieving ``value``. ``lower_bound ≤ constant ≤ upper_bound``
    (both equal ``value`` when exact). ``method``: ``"exact"``, ``"sweep"`` or
    ``"components"`` (disconnected graph, constant 0).
    """

    value: float
    set: np.ndarray
    lower_bound: float
    upper_bound: float
    exact: bool
    method: str
    normalization: str = "volume"

    def __float__(self) -> float:
        return float(self.value)


def _disconnected(g: Graph, norm: str) -> CheegerResult | None:
    labels, count = _core.connected_components(g._core)
    if count <= 1:
        return None
    mass = g.degrees if norm == "volume" else np.ones(g.n)
    cm = np.bincount(labels, weights=mass, minlength=count)
    pos = np.flatnonzero(cm > 0)
    pick = int(pos[np.argmin(cm[pos])]) if len(pos) else 0
    return CheegerResult(0.0, np.flatnonzero(labels == pick), 0.0, 0.0, True, "components", norm)


def _exact(g: Graph, norm: str, max_exact: int) -> CheegerResult:
    r = _core.exact_cheeger(g._core, norm, int(max_exact))
    return CheegerResult(r.value, np.flatnonzero(r.mask), r.value, r.value, True, "exact", norm)


def _residual(g: Graph, normalized: bool, lam: float, v: np.ndarray) -> float:
    L = _laplacian(g, normalized)
    return float(np.linalg.norm(L @ v - lam * v))


def _sweep(g: Graph, norm: str) -> CheegerResult:
    normalized = norm == "volume"
    lam, v = _fiedler_pair(g, normalized, "auto", 1e-8)
    res = _residual(g, normalized, lam, v)
    x = v / np.sqrt(g.degrees) if normalized else v
    sw = sweep_cut(g, x, norm)
    lower = max(0.0, (lam - res) / 2.0)
    spectral_upper = np.sqrt(2.0 * lam) if normalized else np.sqrt(2.0 * g.degrees.max() * lam)
    upper = float(min(sw.value, spectral_upper))
    return CheegerResult(sw.value, sw.set, lower, upper, False, "sweep", norm)


def cheeger_constant(
    g: GraphLike,
    method: str = "auto",
    normalization: str = "volume",
    max_exact: int | None = None,
) -> CheegerResult:
    """Cheeger constant of ``g`` (see the module doc for definitions and bounds).

    ``method``: ``"exact"`` (Rust enumeration of all ``2^(n−1)`` cuts, parallel; refuses
    ``n > max_exact``, default :data:`DEFAULT_MAX_EXACT`, with :class:`TooLargeError`),
    ``"sweep"`` (Fiedler sweep cut with certified spectral bounds), or ``"auto"`` (exact when
    ``n ≤ max_exact``, default :data:`AUTO_EXACT_MAX`, else sweep). Ctrl-C interrupts the
    enumeration (``KeyboardInterrupt``).
    """
    g = as_graph(g)
    _check(g)
    norm = _norm_name(normalization)
    if method not in ("auto", "exact", "sweep"):
        raise SsdflError(f"unknown method {method!r}; expected 'auto', 'exact' or 'sweep'")
    if max_exact is not None and max_exact < 2:
        raise SsdflError(f"max_exact must be >= 2, got {max_exact}")
    disc = _disconnected(g, norm)
    if disc is not None:
        return disc
    if method == "exact":
        return _exact(g, norm, DEFAULT_MAX_EXACT if max_exact is None else max_exact)
    if method == "auto" and g.n <= (AUTO_EXACT_MAX if max_exact is None else max_exact):
        return _exact(g, norm, HARD_MAX_EXACT)
    return _sweep(g, norm)


def internal_conductance(
    g: GraphLike,
    cluster: NodeSet,
    method: str = "auto",
    normalization: str = "volume",
    max_exact: int | None = None,
) -> CheegerResult:
    """Cheeger constant of the subgraph induced by ``cluster`` (degrees, volumes and cuts
    taken inside the subgraph), as :func:`cheeger_constant`; ``set`` holds indices of ``g``.

    A cluster with fewer than 2 nodes is an error; a cluster whose induced subgraph is
    disconnected has internal conductance 0.
    """
    g = as_graph(g)
    idx = np.flatnonzero(as_mask(g, cluster)).astype(np.int64)
    if len(idx) < 2:
        raise SsdflError(
            f"internal conductance needs a cluster of at least 2 nodes, got {len(idx)}"
        )
    sub = Graph(g._core.induced_subgraph(idx))
    r = cheeger_constant(sub, method=method, normalization=normalization, max_exact=max_exact)
    return CheegerResult(
        r.value, idx[r.set], r.lower_bound, r.upper_bound, r.exact, r.method, r.normalization
    )


def _mixing_graph(W: object, atol: float) -> Graph:
    M = square_csr(W, "W")
    n = M.shape[0]
    if n < 2:
        raise SsdflError(f"the conductance needs at least 2 nodes, W is {n}×{n}")
    M.sum_duplicates()
    if not np.all(np.isfinite(M.data)) or (M.data < -atol).any():
        raise SsdflError("W must have finite non-negative entries")
    if abs(M - M.T).max() > atol if M.nnz else False:
        raise SsdflError("W must be symmetric")
    rows = np.asarray(M.sum(axis=1)).ravel()
    if np.abs(rows - 1.0).max() > atol:
        raise SsdflError(
            f"W must be doubly stochastic: a row sums to {rows[np.argmax(np.abs(rows - 1))]}"
        )
    off = sp.csr_array(0.5 * (M + M.T))
    off.setdiag(0.0)
    off.eliminate_zeros()
    off.data[off.data < 0] = 0.0
    off.eliminate_zeros()
    return Graph.from_scipy(off)


def mixing_conductance(
    W: object,
    method: str = "auto",
    max_exact: int | None = None,
    atol: float = 1e-9,
) -> CheegerResult:
    """Markov-chain conductance ``Φ(W) = min_{0<|S|≤n/2} (1/|S|) Σ_{i∈S, j∉S} W_ij`` of a
    symmetric doubly stochastic ``W`` (dense or scipy sparse).

    ``method`` as in :func:`cheeger_constant` (``"size"`` normalization on the off-diagonal
    graph). When not exact, ``lower_bound = (1 − λ₂(W))/2`` (minus the solver residual) and
    ``upper_bound = min(sweep value, √(2(1 − λ₂(W))))`` with ``λ₂(W)`` the second-largest
    eigenvalue (chain Cheeger inequality ``1 − 2Φ ≤ λ₂ ≤ 1 − Φ²/2``).
    """
    g = _mixing_graph(W, atol)
    return cheeger_constant(g, method=method, normalization="size", max_exact=max_exact)
