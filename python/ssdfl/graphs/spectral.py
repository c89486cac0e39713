"""Laplacian spectra, Fiedler vectors, sweep cuts and Cheeger bounds.

Definitions (weighted, ``A`` the adjacency, ``D = diag(d)`` the weighted degrees):

- combinatorial Laplacian ``L = D − A``;
- normalized Laplacian ``𝓛 = I − D^{-1/2} A D^{-1/2}`` (networkx convention for isolated
  nodes: their row and column are zero);
- ``λ₂`` = second-smallest eigenvalue (algebraic connectivity); it is 0 exactly when the graph
  is disconnected;
- Fiedler vector = unit eigenvector of ``λ₂``. Sign convention: the first entry whose magnitude
  is at least ``1e-6·max|v|`` is positive. For a repeated ``λ₂`` any unit vector of the
  eigenspace is a valid answer and the one returned depends on the solver.
- sweep cut: the best prefix ``{π_1..π_k}`` of the nodes sorted by a vector (default
  ``D^{-1/2} v₂`` of ``𝓛`` for ``"volume"``, ``v₂`` of ``L`` for ``"size"``) under
  ``cut/min(vol S, vol S̄)`` (``"volume"``) or ``cut/min(|S|, |S̄|)`` (``"size"``).
- Cheeger's inequality for the normalized Laplacian: ``λ₂/2 ≤ h(G) ≤ √(2λ₂)`` with ``h`` the
  volume-normalized Cheeger constant.

Solvers: up to :data:`DENSE_MAX` nodes a dense LAPACK ``eigh`` (exact up to rounding); above,
ARPACK Lanczos (``scipy.sparse.linalg.eigsh``) for the largest eigenvalue of the shifted
operator ``c·I − M`` with the known null vector (``D^{1/2}1`` for ``𝓛``, ``1`` for ``L``)
projected out, which is ``c − λ₂`` (fast when ``λ₂`` is well separated, e.g. expanders); if it
has not converged after :data:`LANCZOS_BUDGET` restarts (small clustered ``λ₂``, e.g. geometric
graphs), LOBPCG preconditioned by smoothed-aggregation AMG (pyamg), and if that fails too,
shift-invert Lanczos on ``(M + δI)^{-1}`` with a sparse LU factorization. See
``docs/cheeger.md`` for the measurements behind the choice.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from threadpoolctl import ThreadpoolController

from ssdfl import _core
from ssdfl.errors import DisconnectedGraphError, SsdflError
from ssdfl.graphs.graph import Graph, GraphLike, as_graph
from ssdfl.graphs.metrics import weighted_view

__all__ = [
    "DENSE_MAX",
    "SweepProfile",
    "SweepResult",
    "algebraic_connectivity",
    "cheeger_bounds",
    "fiedler_pair",
    "fiedler_vector",
    "laplacian",
    "sweep_cut",
    "sweep_profile",
]

DENSE_MAX = 600
"""Largest node count solved with dense ``eigh``; larger graphs use sparse Lanczos."""

LANCZOS_BUDGET = 30
"""ARPACK restarts of plain Lanczos before falling back to shift-invert (sparse LU)."""

PROBE_STEPS = 30
"""Lanczos steps of the cheap probe that bounds ``λ₂`` from above before choosing a solver."""
SMALL_GAP = 0.005
"""If the probe shows ``λ₂ < SMALL_GAP·c`` (``c`` = 2 for 𝓛, ``2 d_max`` for ``L``), skip plain
Lanczos and go straight to AMG-preconditioned LOBPCG."""

LARGE_GAP = 0.05
"""If the probe's bound is at least ``LARGE_GAP·s`` (``s`` = 2 for 𝓛, twice the mean degree for
``L``), ``λ₂`` may be large (expander-like: Erdős–Rényi, random regular, Barabási–Albert) and
plain Lanczos gets :data:`LANCZOS_BUDGET_LARGE` restarts: AMG aggregates expanders badly and a
sparse LU of an expander fills in (a 10⁶-edge random regular graph did not finish in 400 s)."""

LANCZOS_BUDGET_LARGE = 600
"""ARPACK restarts of plain Lanczos when the probe does not show a small ``λ₂``."""

AMG_MIN_N = 5000
"""The probe shortcut applies from this many nodes (measured: at n = 2,000 plain Lanczos beat
AMG-LOBPCG on a geometric graph, 23 ms vs 56 ms; at n = 20,000 AMG won, 0.36 s vs 2.6 s)."""

PROBE_MIN_N = 1000
"""The probe runs from this many nodes; below :data:`AMG_MIN_N` a small bound sends the graph to
shift-invert (its LU is cheap at that size: 38 ms vs 80 ms for capped Lanczos and 97 ms for
AMG-LOBPCG on a 2,000-node geometric graph)."""

SHIFT_INVERT_NCV = 16
"""Lanczos basis size of shift-invert: the inverted spectrum has ``λ₂`` well separated, so a
short basis converges in one or two restarts (32 cost 33 LU solves per 1,250-node geometric
cluster, 16 cost 17–20 with the same λ₂)."""

_SIGN_TOL = 1e-6

_CONTROLLER: ThreadpoolController | None = None
_ONE_THREAD_DEPTH = 0


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """Context manager limiting BLAS/OpenMP pools to one thread (nested uses are free). The
    pools are discovered once per process: ``threadpool_limits`` rescans the loaded libraries
    on every call (~70 ms on a loaded machine, 0.9 s of a 4.4 s ``partition`` at N = 10⁴)."""
    global _CONTROLLER, _ONE_THREAD_DEPTH
    if _ONE_THREAD_DEPTH > 0:
        _ONE_THREAD_DEPTH += 1
        try:
            yield
        finally:
            _ONE_THREAD_DEPTH -= 1
        return
    if _CONTROLLER is None:
        _CONTROLLER = ThreadpoolController()
    with _CONTROLLER.limit(limits=1):
        _ONE_THREAD_DEPTH += 1
        try:
            yield
        finally:
            _ONE_THREAD_DEPTH -= 1


def laplacian(g: GraphLike, normalized: bool = False) -> sp.csr_array:
    """``L = D − A`` or, with ``normalized=True``, ``𝓛 = I − D^{-1/2} A D^{-1/2}`` as scipy CSR.

    Isolated nodes get a zero row and column in ``𝓛`` (networkx convention).
    """
    return _laplacian(as_graph(g), normalized)


def _laplacian(g: Graph, normalized: bool) -> sp.csr_array:
    A = g.to_scipy()
    d = g.degrees
    if not normalized:
        return sp.csr_array(sp.diags_array(d, format="csr") - A)
    s = np.zeros_like(d)
    pos = d > 0
    s[pos] = 1.0 / np.sqrt(d[pos])
    A = sp.csr_array(A)
    rows = np.repeat(np.arange(A.shape[0]), np.diff(A.indptr))
    N = sp.csr_array((A.data * s[rows] * s[A.indices], A.indices, A.indptr), shape=A.shape)
    return sp.csr_array(sp.diags_array(pos.astype(np.float64), format="csr") - N)


def _check(g: Graph) -> None:
    if g.n < 2:
        raise SsdflError(f"spectral quantities need at least 2 nodes, the graph has {g.n}")


def _fix_sign(v: np.ndarray) -> np.ndarray:
    v = v / np.linalg.norm(v)
    big = np.abs(v) >= _SIGN_TOL * np.abs(v).max()
    first = int(np.argmax(big))
    return -v if v[first] < 0 else v


def _null_vector(g: Graph, normalized: bool) -> np.ndarray:
    u = np.sqrt(g.degrees) if normalized else np.ones(g.n)
    return u / np.linalg.norm(u)


def _dense_pair(g: Graph, normalized: bool) -> tuple[float, np.ndarray]:
    M = _laplacian(g, normalized).toarray()
    w, V = sla.eigh(M, subset_by_index=[0, 1], driver="evr")
    return float(max(w[1], 0.0)), V[:, 1]


def _deflated_op(
    n: int, u: np.ndarray, apply: Callable[[np.ndarray], np.ndarray]
) -> spla.LinearOperator:
    def matvec(x: np.ndarray) -> np.ndarray:
        x = np.ravel(x)
        x = x - u * (u @ x)
        y = apply(x)
        return y - u * (u @ y)

    return spla.LinearOperator((n, n), matvec=matvec, dtype=np.float64)


def _amg_lobpcg(
    L: sp.csr_array, u: np.ndarray, c: float, tol: float, v0: np.ndarray
) -> np.ndarray | None:
    """LOBPCG for the smallest eigenpair orthogonal to ``u``, preconditioned by smoothed
    aggregation AMG (pyamg); ``None`` if pyamg is missing or it did not converge."""
    try:
        import pyamg
    except ImportError:  # pragma: no cover - pyamg is a dependency
        return None
    n = L.shape[0]
    ml = pyamg.smoothed_aggregation_solver(
        sp.csr_array(L + 1e-8 * c * sp.eye_array(n, format="csr")), symmetry="symmetric"
    )
    X = np.column_stack([v0, np.random.default_rng(1).standard_normal(n)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, V = spla.lobpcg(
            L, X, M=ml.aspreconditioner(), Y=u[:, None], largest=False, tol=tol * c, maxiter=300
        )
    v = V[:, 0]
    lam = float(v @ (L @ v)) / float(v @ v)
    if np.linalg.norm(L @ v - lam * v) > 100 * tol * c * np.linalg.norm(v):
        return None
    return v


def _shift_invert(
    L: sp.csr_array, u: np.ndarray, c: float, tol: float, v0: np.ndarray
) -> np.ndarray:
    n = L.shape[0]
    lu = spla.splu(
        sp.csc_array(L + 1e-6 * c * sp.eye_array(n, format="csc")),
        permc_spec="MMD_AT_PLUS_A",
        diag_pivot_thresh=0.0,
        options={"SymmetricMode": True},
    )
    op = _deflated_op(n, u, lu.solve)
    _, V = spla.eigsh(op, k=1, which="LA", tol=tol, v0=v0, ncv=min(n - 1, SHIFT_INVERT_NCV))
    return V[:, 0]


def _lambda2_upper_estimate(
    L: sp.csr_array, u: np.ndarray, c: float, v0: np.ndarray, steps: int = PROBE_STEPS
) -> float:
    """An upper bound on ``λ₂``: the Rayleigh quotient ``xᵀLx / xᵀx`` of the probe's top Ritz
    vector ``x`` (see :func:`_probe`)."""
    return _probe(L, u, c, v0, steps)[0]


def _probe(
    L: sp.csr_array, u: np.ndarray, c: float, v0: np.ndarray, steps: int = PROBE_STEPS
) -> tuple[float, np.ndarray]:
    """``steps`` Lanczos steps on ``c·I − M`` restricted to ``u⊥`` (``u`` the unit null vector
    of ``M``), with full reorthogonalization by two classical Gram–Schmidt passes ("twice is
    enough": one pass loses orthogonality once ``w`` cancels against the basis, and then Ritz
    values leave the spectrum, e.g. a "bound" of −645 on a 10⁶-edge ER graph). Returns
    ``(ρ, x)``: ``x`` the top Ritz vector, projected onto ``u⊥``, and ``ρ = xᵀMx / xᵀx`` its
    Rayleigh quotient. By Courant–Fischer ``ρ ≥ λ₂`` for any ``x ⊥ u``, whatever the
    orthogonality of the basis, so ``ρ`` is a true upper bound on ``λ₂`` (clipped at 0: ``M`` is
    positive semidefinite). ``x`` also starts the Lanczos that follows, so the probe's products
    are not wasted."""
    n = L.shape[0]
    steps = max(1, min(steps, n - 1))
    Q = np.empty((steps + 1, n))
    q = v0 - u * (u @ v0)
    Q[0] = q / np.linalg.norm(q)
    alpha, beta = np.empty(steps), np.empty(steps)
    k = steps
    for j in range(steps):
        w = c * Q[j] - L @ Q[j]
        w -= u * (u @ w)
        B = Q[: j + 1]
        h = B @ w
        w -= B.T @ h
        h2 = B @ w  # second pass: restores orthogonality to working precision
        w -= B.T @ h2
        w -= u * (u @ w)
        alpha[j] = h[j] + h2[j]
        beta[j] = np.linalg.norm(w)
        if beta[j] <= 1e-12 * c:
            k = j + 1
            break
        Q[j + 1] = w / beta[j]
    _, y = sla.eigh_tridiagonal(alpha[:k], beta[: k - 1], select="i", select_range=(k - 1, k - 1))
    x = Q[:k].T @ y[:, 0]
    x -= u * (u @ x)
    rho = float(x @ (L @ x)) / float(x @ x)
    return max(rho, 0.0), x


def _sparse_pair(g: Graph, normalized: bool, tol: float) -> tuple[float, np.ndarray]:
    """Solver chosen by a 30-step Lanczos probe that bounds ``λ₂`` from above (from
    :data:`PROBE_MIN_N` nodes): a small bound (geometric-like graph) goes to LOBPCG
    preconditioned by algebraic multigrid (shift-invert below :data:`AMG_MIN_N` nodes);
    otherwise Lanczos on ``c·I − M`` (null vector projected out) with :data:`LANCZOS_BUDGET`
    restarts (:data:`LANCZOS_BUDGET_LARGE` when the bound is large, i.e. an expander-like
    graph). If Lanczos does not converge: AMG-LOBPCG, and as a last resort shift-invert
    Lanczos on ``(M + δI)^{-1}`` with a sparse LU."""
    n = g.n
    L = _laplacian(g, normalized)
    u = _null_vector(g, normalized)
    # c ≥ λ_max: 2 for 𝓛, 2·max degree (Gershgorin) for L; s: the scale of λ₂ for the rule
    c = 2.0 if normalized else 2.0 * float(g.degrees.max())
    s = 2.0 if normalized else 2.0 * float(g.degrees.mean())
    v0 = np.random.default_rng(0).standard_normal(n)
    v0 -= u * (u @ v0)
    ncv = min(n - 1, 32)
    budget = LANCZOS_BUDGET
    # ARPACK's BLAS calls are level-2 on n-vectors: threads only add contention.
    with one_blas_thread():
        if n >= min(PROBE_MIN_N, AMG_MIN_N):
            bound, ritz = _probe(L, u, c, v0)
            if bound < SMALL_GAP * s:
                # λ₂ certainly tiny (geometric-like graph): plain Lanczos would stall; AMG for
                # large graphs, a sparse LU (cheap at this size) below AMG_MIN_N
                amg = _amg_lobpcg(L, u, c, tol, v0) if n >= AMG_MIN_N else None
                v = amg if amg is not None else _shift_invert(L, u, c, tol, v0)
                lam = float(v @ (L @ v)) / float(v @ v)
                return max(lam, 0.0), v
            if bound >= LARGE_GAP * s:
                budget = LANCZOS_BUDGET_LARGE
            if np.linalg.norm(ritz) > 0:
                v0 = ritz
        try:
            op = _deflated_op(n, u, lambda x: c * x - L @ x)
            _, V = spla.eigsh(op, k=1, which="LA", tol=tol, v0=v0, ncv=ncv, maxiter=budget)
            v = V[:, 0]
        except spla.ArpackNoConvergence:
            amg = _amg_lobpcg(L, u, c, tol, v0) if n >= 50 else None
            v = amg if amg is not None else _shift_invert(L, u, c, tol, v0)
    lam = float(v @ (L @ v)) / float(v @ v)  # Rayleigh quotient: accurate to O(residual²)
    return max(lam, 0.0), v


def fiedler_pair(
    g: GraphLike, normalized: bool = True, method: str = "auto", tol: float = 1e-8
) -> tuple[float, np.ndarray]:
    """``(λ₂, v₂)`` of ``𝓛`` (``normalized=True``) or ``L``; see the module doc.

    ``method``: ``"auto"`` (dense up to :data:`DENSE_MAX` nodes), ``"dense"`` or ``"sparse"``.
    Raises :class:`DisconnectedGraphError` for a disconnected graph (λ₂ = 0 has a
    multi-dimensional eigenspace and no Fiedler vector).
    """
    return _fiedler_pair(as_graph(g), normalized, method, tol)


def _fiedler_pair(g: Graph, normalized: bool, method: str, tol: float) -> tuple[float, np.ndarray]:
    _check(g)
    _, comps = _core.connected_components(g._core)
    if comps > 1:
        raise DisconnectedGraphError(
            f"the graph has {comps} connected components: λ₂ = 0 and the Fiedler vector is not "
            "defined (use a component's subgraph, or ssdfl.connected_components)"
        )
    if method == "auto":
        method = "dense" if g.n <= DENSE_MAX else "sparse"
    if method == "dense":
        lam, v = _dense_pair(g, normalized)
    elif method == "sparse":
        if g.n < 3:
            lam, v = _dense_pair(g, normalized)
        else:
            lam, v = _sparse_pair(g, normalized, tol)
    else:
        raise SsdflError(f"unknown method {method!r}; expected 'auto', 'dense' or 'sparse'")
    return lam, _fix_sign(v)


def algebraic_connectivity(
    g: GraphLike,
    weight: str | None = "weight",
    normalized: bool = False,
    tol: float = 1e-8,
    method: str = "auto",
) -> float:
    """``λ₂`` of ``L = D − A`` (default, as networkx) or of ``𝓛`` (``normalized=True``); 0 for
    a disconnected graph. ``weight`` as in networkx: the weights (default) or ``None`` (all 1).
    """

    g = weighted_view(g, weight)
    _check(g)
    if _core.connected_components(g._core)[1] > 1:
        return 0.0
    return _fiedler_pair(g, normalized, method, tol)[0]


def fiedler_vector(
    g: GraphLike,
    weight: str | None = "weight",
    normalized: bool = False,
    tol: float = 1e-8,
    method: str = "auto",
) -> np.ndarray:
    """Unit eigenvector of ``λ₂`` of ``L`` (default, as networkx) or ``𝓛``, deterministic sign.

    For the sweep ordering of conductance use ``D^{-1/2}·v`` of ``𝓛``'s vector (what
    :func:`sweep_cut` does).
    """

    return _fiedler_pair(weighted_view(g, weight), normalized, method, tol)[1]


def cheeger_bounds(g: GraphLike, method: str = "auto") -> tuple[float, float]:
    """``(λ₂/2, √(2λ₂))`` for ``λ₂`` of the normalized Laplacian: Cheeger's inequality
    ``λ₂/2 ≤ h(G) ≤ √(2λ₂)`` for the volume-normalized Cheeger constant ``h``."""
    lam = algebraic_connectivity(g, normalized=True, method=method)
    return lam / 2.0, float(np.sqrt(2.0 * lam))


def _norm_name(normalization: str) -> str:
    if normalization not in ("volume", "size"):
        raise SsdflError(f"unknown normalization {normalization!r}; expected 'volume' or 'size'")
    return normalization


def _default_vector(g: Graph, normalization: str) -> np.ndarray:
    if normalization == "volume":
        _, v = _fiedler_pair(g, True, "auto", 1e-8)
        return v / np.sqrt(g.degrees)
    _, v = _fiedler_pair(g, False, "auto", 1e-8)
    return v


def _vector(g: Graph, vector: np.ndarray | None, normalization: str) -> np.ndarray:
    if vector is None:
        return _default_vector(g, normalization)
    x = np.ascontiguousarray(vector, dtype=np.float64)
    if x.shape != (g.n,):
        raise SsdflError(f"vector has shape {x.shape}, expected ({g.n},)")
    return x


@dataclass(frozen=True)
class SweepResult:
    """Best prefix of a sweep.

    ``set``: sorted node indices of the lighter side of the best split; ``value``:
    ``cut/min(μ(S), μ(S̄))`` with ``μ`` = volume or size; ``prefix_len``: nodes in the best
    prefix of ``order``.
    """

    value: float
    set: np.ndarray
    cut: float
    mass: float
    complement_mass: float
    prefix_len: int
    order: np.ndarray
    normalization: str


def sweep_cut(
    g: GraphLike, vector: np.ndarray | None = None, normalization: str = "volume"
) -> SweepResult:
    """Sweep cut of ``g`` along ``vector`` (default: ``D^{-1/2} v₂(𝓛)`` for ``"volume"``,
    ``v₂(L)`` for ``"size"``): the best of the ``n − 1`` prefix cuts, in ``O(m + n log n)``
    (Rust). A disconnected graph needs an explicit ``vector``."""
    g = as_graph(g)
    _check(g)
    norm = _norm_name(normalization)
    x = _vector(g, vector, norm)
    r = _core.sweep_cut(g._core, x, norm)
    return SweepResult(
        value=r.value,
        set=np.flatnonzero(r.mask),
        cut=r.cut,
        mass=r.mass,
        complement_mass=r.complement_mass,
        prefix_len=r.prefix_len,
        order=r.order,
        normalization=norm,
    )


@dataclass(frozen=True)
class SweepProfile:
    """Every threshold of a sweep: entry ``k`` describes the prefix ``order[:k+1]``
    (``k = 0..n−1``; the last prefix is the whole graph, cut 0).

    ``cut``, ``volume`` and ``size`` of the prefix; the complement has
    ``total_volume − volume`` and ``n − size``.
    """

    order: np.ndarray
    cut: np.ndarray
    volume: np.ndarray
    size: np.ndarray
    total_volume: float

    def conductance(self) -> np.ndarray:
        """``cut/min(vol, vol̄)`` per prefix (``inf`` where a side has zero volume)."""
        den = np.minimum(self.volume, self.total_volume - self.volume)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(den > 0, self.cut / np.where(den > 0, den, 1.0), np.inf)

    def expansion(self) -> np.ndarray:
        """``cut/min(|S|, |S̄|)`` per prefix (``inf`` for the whole graph)."""
        n = len(self.order)
        den = np.minimum(self.size, n - self.size).astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(den > 0, self.cut / np.where(den > 0, den, 1.0), np.inf)


def sweep_profile(
    g: GraphLike, vector: np.ndarray | None = None, normalization: str = "volume"
) -> SweepProfile:
    """Cut, volume and size of every prefix of the ordering by ascending ``vector`` (ties by
    index; default vector as in :func:`sweep_cut`). ``O(m + n log n)`` in Rust."""
    g = as_graph(g)
    _check(g)
    x = _vector(g, vector, _norm_name(normalization))
    p = _core.sweep_profile(g._core, x)
    return SweepProfile(
        order=p.order,
        cut=p.cut,
        volume=p.volume,
        size=np.arange(1, g.n + 1, dtype=np.int64),
        total_volume=p.total_volume,
    )
