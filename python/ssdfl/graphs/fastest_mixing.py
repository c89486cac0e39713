"""Fastest-mixing weights on a graph (convex programs solved with cvxpy).

Parametrisation: with the edge–node incidence matrix ``B`` (one column ``e_i − e_j`` per edge)
and edge weights ``w``, ``W = I − B diag(w) Bᵀ`` is symmetric with ``W 1 = 1`` for every ``w``
and is supported on the edges plus the diagonal. The programs minimise the second largest
eigenvalue modulus ``‖W − 11ᵀ/n‖₂`` (the per-round gossip contraction factor):

- **FDLA** (fastest distributed linear averaging; Xiao & Boyd 2004): ``w`` unconstrained in sign.
- **FMMC** (fastest mixing Markov chain; Boyd, Diaconis & Xiao 2004): ``w ≥ 0`` and
  ``Σ_{e∋i} w_e ≤ 1`` (non-negative ``W``, so a doubly stochastic matrix).

With ``positive_definite=True`` (the default; the SSD-FL analysis assumes PD mixing) the
constraint ``W ⪰ δ I`` is added, so the contraction factor is ``λ₂(W)``; compare it with the
lazy Metropolis matrix, which is PD too.

Methods: ``"sdp"`` solves the semidefinite program with cvxpy (exact up to solver tolerance;
cost grows like ``n⁶`` in practice, minutes at 100 nodes), ``"subgradient"`` runs the projected
subgradient method of Boyd, Diaconis & Xiao (SIAM Review 2004, §5): at the current weights
take the eigenvector ``u`` of ``λ₂`` (or ``v`` of ``λ_min``); ``−(u_i − u_j)²`` is a
subgradient of ``λ₂`` in ``w_e`` and ``(v_i − v_j)²`` one of ``−λ_min``; step ``α_k = α₀/√k``
along the normalized subgradient, then project back onto ``{w ≥ 0, Σ_{e∋i} w_e ≤ 1}`` node by
node (each node's incident weights onto ``{w ≥ 0, Σ w ≤ 1}``; reducing weights keeps the other
nodes feasible). With the PD constraint, an iterate with ``λ_min < δ`` steps on the
constraint instead (Shor's switching rule). It starts from the lazy Metropolis weights (or
``w0``: warm start), keeps the best feasible iterate, and stops after ``max_iter`` steps or
``patience`` steps without improvement. Eigenpairs come from dense LAPACK up to
:data:`DENSE_EIG` nodes and from warm-started Lanczos above. Its result is feasible and never
worse than the start, but only approximately optimal (tests compare it with the SDP).
``"auto"`` uses the SDP up to :data:`SDP_MAX` nodes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from ssdfl.errors import InfeasibleError, SsdflError
from ssdfl.graphs.graph import Graph, GraphLike, as_graph
from ssdfl.graphs.metrics import _is_connected
from ssdfl.graphs.mixing import _mixing_matrix, second_eigenvalue

__all__ = ["DENSE_EIG", "SDP_MAX", "FastestMixing", "fastest_mixing"]

SDP_MAX = 30
"""``method="auto"`` solves the SDP up to this many nodes, the subgradient method above."""

DENSE_EIG = 400
"""The subgradient method uses dense eigenpairs up to this many nodes, Lanczos above."""


@dataclass(frozen=True)
class FastestMixing:
    """Result of :func:`fastest_mixing`.

    ``W`` is the optimised mixing matrix (scipy CSR), ``slem`` its second largest eigenvalue
    modulus (recomputed from ``W`` with LAPACK, not the solver's objective), ``baseline_slem``
    that of the reference rule (``baseline``), ``gap``/``baseline_gap`` the spectral gaps.
    """

    W: sp.csr_array
    problem: str
    slem: float
    baseline: str
    baseline_slem: float
    solver: str

    @property
    def gap(self) -> float:
        return 1.0 - self.slem

    @property
    def baseline_gap(self) -> float:
        return 1.0 - self.baseline_slem

    @property
    def gap_ratio(self) -> float:
        """Spectral gap gained: ``gap / baseline_gap`` (≥ 1 up to solver tolerance)."""
        return self.gap / self.baseline_gap if self.baseline_gap > 0 else float("inf")


def fastest_mixing(
    g: GraphLike,
    problem: str = "fmmc",
    positive_definite: bool = True,
    margin: float = 1e-6,
    solver: str | None = None,
    baseline: str = "lazy-metropolis",
    method: str = "auto",
    max_iter: int = 300,
    patience: int = 80,
    w0: np.ndarray | None = None,
) -> FastestMixing:
    """Solve FMMC or FDLA on ``g`` (connected, ≥ 2 nodes); see the module docstring.
    ``method``: ``"auto"``, ``"sdp"`` or ``"subgradient"`` (with ``max_iter``, ``patience``
    and optional start weights ``w0``, one per edge in ``g.edges()`` order)."""
    g = as_graph(g)
    problem = problem.lower()
    if problem not in ("fmmc", "fdla"):
        raise SsdflError(f"problem must be 'fmmc' or 'fdla', got {problem!r}")
    if method not in ("auto", "sdp", "subgradient"):
        raise SsdflError(f"method must be 'auto', 'sdp' or 'subgradient', got {method!r}")
    if g.n < 2:
        raise SsdflError("fastest mixing needs a graph with at least 2 nodes")
    if not _is_connected(g):
        raise SsdflError("fastest mixing needs a connected graph (no W mixes across components)")
    if method == "subgradient" or (method == "auto" and g.n > SDP_MAX):
        return _subgradient(g, problem, positive_definite, margin, baseline, max_iter,
                            patience, w0)  # fmt: skip
    import cvxpy as cp

    n = g.n
    src, dst, _ = g.edges()
    m = len(src)
    B = sp.csc_array(
        (
            np.concatenate([np.ones(m), -np.ones(m)]),
            (np.concatenate([src, dst]), np.concatenate([np.arange(m), np.arange(m)])),
        ),
        shape=(n, m),
    )
    w = cp.Variable(m)
    Bd = B.toarray()
    W = np.eye(n) - Bd @ cp.diag(w) @ Bd.T
    J = np.full((n, n), 1.0 / n)
    cons = []
    if problem == "fmmc":
        cons += [w >= 0, cp.abs(Bd) @ w <= 1]
    if positive_definite:
        cons.append(W >> margin * np.eye(n))
        s = cp.Variable()
        cons.append(W - J << s * np.eye(n))
        objective = cp.Minimize(s)
    else:
        objective = cp.Minimize(cp.sigma_max(W - J))
    prob = cp.Problem(objective, cons)
    chosen = solver or ("CLARABEL" if "CLARABEL" in cp.installed_solvers() else "SCS")
    try:
        prob.solve(solver=chosen)
    except cp.error.SolverError as exc:
        raise SsdflError(f"{problem.upper()} solver {chosen} failed: {exc}") from None
    if prob.status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE) or w.value is None:
        raise InfeasibleError(f"{problem.upper()} ended with status {prob.status}")
    wv = np.asarray(w.value, dtype=np.float64)
    if problem == "fmmc":  # clip solver noise so W is exactly non-negative
        wv = np.clip(wv, 0.0, None)
        row = np.abs(Bd) @ wv
        over = row > 1
        if over.any():
            wv = wv / max(1.0, row.max())
    Wm = sp.csr_array(sp.eye_array(n) - B @ sp.diags_array(wv) @ B.T)
    Wm.eliminate_zeros()
    base = _mixing_matrix(g, baseline)
    return FastestMixing(
        W=Wm,
        problem=problem,
        slem=second_eigenvalue(Wm),
        baseline=baseline,
        baseline_slem=second_eigenvalue(base),
        solver=chosen,
    )


def _incidence(src: np.ndarray, dst: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Node → incident edges as CSR arrays ``(indptr, edge ids)``."""
    ends = np.concatenate([src, dst])
    eid = np.concatenate([np.arange(len(src)), np.arange(len(src))])
    order = np.argsort(ends, kind="stable")
    indptr = np.concatenate([[0], np.cumsum(np.bincount(ends, minlength=n))])
    return indptr, eid[order]


def _project(
    w: np.ndarray, src: np.ndarray, dst: np.ndarray, n: int, inc: tuple[np.ndarray, np.ndarray]
) -> np.ndarray:
    """Onto ``w ≥ 0`` and, node by node (most violated first), each node's incident weights
    onto ``{x ≥ 0, Σ x ≤ 1}`` (threshold ``t`` with ``Σ max(x − t, 0) = 1``)."""
    w = np.maximum(w, 0.0)
    tot = np.bincount(src, w, n) + np.bincount(dst, w, n)
    bad = np.flatnonzero(tot > 1.0)
    indptr, eids = inc
    for i in bad[np.argsort(-tot[bad], kind="stable")]:
        es = eids[indptr[i] : indptr[i + 1]]
        x = w[es]
        if x.sum() <= 1.0:
            continue
        u = np.sort(x)[::-1]
        c = np.cumsum(u) - 1.0
        k = np.arange(1, len(u) + 1)
        r = np.flatnonzero(u - c / k > 0)[-1]
        w[es] = np.maximum(x - c[r] / (r + 1), 0.0)
    return w


class _Eig:
    """``(λ₂, u, λ_min, v)`` of ``W = I − B diag(w) Bᵀ``: dense LAPACK or warm-started Lanczos."""

    def __init__(self, src: np.ndarray, dst: np.ndarray, n: int) -> None:
        self.src, self.dst, self.n = src, dst, n
        self.u: np.ndarray | None = None
        self.v: np.ndarray | None = None

    def matrix(self, w: np.ndarray) -> sp.csr_array:
        n, src, dst = self.n, self.src, self.dst
        off = sp.coo_array(
            (np.concatenate([w, w]), (np.concatenate([src, dst]), np.concatenate([dst, src]))),
            shape=(n, n),
        ).tocsr()
        diag = 1.0 - np.asarray(off.sum(axis=1)).ravel()
        return sp.csr_array(off + sp.diags_array(diag, format="csr"))

    def __call__(self, w: np.ndarray) -> tuple[float, np.ndarray, float, np.ndarray]:
        import scipy.sparse.linalg as spla

        n = self.n
        if n <= DENSE_EIG:
            A = np.zeros((n, n))
            A[self.src, self.dst] = w
            A[self.dst, self.src] = w
            di = np.arange(n)
            A[di, di] = 1.0 - A.sum(axis=1)
            ev, V = np.linalg.eigh(A)
            return float(ev[-2]), V[:, -2], float(ev[0]), V[:, 0]
        W = self.matrix(w)
        one = np.full(n, 1.0 / np.sqrt(n))
        op = spla.LinearOperator((n, n), matvec=lambda x: W @ x - one * (one @ x),
                                 dtype=np.float64)  # fmt: skip
        rng = np.random.default_rng(0)
        u0 = self.u if self.u is not None else rng.standard_normal(n)
        v0 = self.v if self.v is not None else rng.standard_normal(n)
        l2, U = spla.eigsh(op, k=1, which="LA", v0=u0, tol=1e-9)
        ln, Vv = spla.eigsh(W, k=1, which="SA", v0=v0, tol=1e-9)
        self.u, self.v = U[:, 0], Vv[:, 0]
        return float(l2[0]), self.u, float(ln[0]), self.v


def _subgradient(
    g: Graph, problem: str, positive_definite: bool, margin: float, baseline: str,
    max_iter: int, patience: int, w0: np.ndarray | None,
) -> FastestMixing:  # fmt: skip
    """The projected subgradient method of the module docstring."""
    n = g.n
    src, dst, _ = g.edges()
    deg = np.bincount(np.concatenate([src, dst]), minlength=n)
    if w0 is None:
        w = 0.5 / (1.0 + np.maximum(deg[src], deg[dst]))  # lazy Metropolis: feasible, PD
    else:
        w = np.asarray(w0, dtype=np.float64).copy()
        if w.shape != (len(src),):
            raise SsdflError(f"w0 must hold one weight per edge ({len(src)})")
    inc = _incidence(src, dst, n)
    if problem == "fmmc":
        w = _project(w, src, dst, n, inc)
    eig = _Eig(src, dst, n)
    a0 = 1.0 / (1.0 + float(deg.max()))
    with threadpool_limits(1):  # many small eigenproblems: BLAS threads only add contention
        best_w = _iterate(eig, w, src, dst, n, inc, a0, problem, positive_definite, margin,
                          max_iter, patience)  # fmt: skip
    Wm = eig.matrix(best_w)
    Wm.eliminate_zeros()
    base = _mixing_matrix(g, baseline)
    return FastestMixing(
        W=Wm, problem=problem, slem=second_eigenvalue(Wm), baseline=baseline,
        baseline_slem=second_eigenvalue(base), solver="subgradient",
    )  # fmt: skip


def _iterate(
    eig: _Eig, w: np.ndarray, src: np.ndarray, dst: np.ndarray, n: int,
    inc: tuple[np.ndarray, np.ndarray], a0: float, problem: str, positive_definite: bool,
    margin: float, max_iter: int, patience: int,
) -> np.ndarray:  # fmt: skip
    delta = margin if positive_definite else -np.inf
    best_val, best_w, best_k = np.inf, w.copy(), 0
    for k in range(1, max_iter + 1):
        l2, u, ln, v = eig(w)
        val = l2 if positive_definite else max(l2, -ln)
        if ln >= delta and val < best_val - 1e-12:
            best_val, best_w, best_k = val, w.copy(), k
        if k - best_k > patience:
            break
        if ln < delta or (not positive_definite and -ln > l2):
            d = (v[src] - v[dst]) ** 2  # raise λ_min: lower weights across v's sign change
            step = -d
        else:
            d = (u[src] - u[dst]) ** 2  # lower λ₂: raise weights across u's sign change
            step = d
        nrm = float(np.linalg.norm(step))
        if nrm == 0.0:
            break
        w = w + (a0 / np.sqrt(k)) * step / nrm
        if problem == "fmmc":
            w = _project(w, src, dst, n, inc)
    return best_w
