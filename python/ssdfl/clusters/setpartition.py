"""Choosing a formation among candidate clusters: a set-partitioning MILP (HiGHS).

Given candidate clusters ``C_1..C_K ⊆ V`` (node index arrays), an additive cost ``c_j`` and a
max-term ``v_j`` per candidate, and an admissibility mask, solve

    minimise    Σ_j c_j x_j + t
    subject to  Σ_{j : i ∈ C_j} x_j = 1          for every node i   (exact cover)
                t ≥ v_j x_j                        for every j        (epigraph of max_j v_j x_j)
                x_j = 0                            for inadmissible j
                Σ_j x_j = S                        (if the number of clusters is fixed)
                x ∈ {0, 1}^K

The epigraph is exact because ``v_j ≥ 0`` is required (then ``max_j v_j x_j`` over chosen ``j``
equals the smallest feasible ``t``). :func:`solve_set_partition` solves it with HiGHS through
``scipy.optimize.milp`` (sparse constraint rows, no modelling layer; other solvers via cvxpy);
:func:`solve_set_partition_all_S` solves the best formation over a whole range of ``S`` as one
model when admissibility depends on ``S``; :func:`exhaustive_set_partition` enumerates every
exact cover (for small instances and tests).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from ssdfl.errors import InfeasibleError, SsdflError, TooLargeError

__all__ = [
    "AllSResult",
    "SetPartitionResult",
    "exhaustive_set_partition",
    "solve_set_partition",
    "solve_set_partition_all_S",
]


@dataclass(frozen=True)
class SetPartitionResult:
    """Indices of the chosen candidates (sorted), the objective value and how it was found."""

    chosen: tuple[int, ...]
    objective: float
    method: str


def _validate(
    n: int,
    candidates: Sequence[np.ndarray],
    cost: np.ndarray | None,
    max_term: np.ndarray | None,
    admissible: np.ndarray | None,
) -> tuple[list[np.ndarray], np.ndarray, np.ndarray, np.ndarray]:
    k = len(candidates)
    if k == 0:
        raise SsdflError("no candidate clusters given")
    cands = []
    for j, c in enumerate(candidates):
        a = np.unique(np.asarray(c, dtype=np.int64))
        if a.size == 0:
            raise SsdflError(f"candidate {j} is empty")
        if a[0] < 0 or a[-1] >= n:
            raise SsdflError(f"candidate {j} has a node outside 0..{n - 1}")
        cands.append(a)
    c = np.zeros(k) if cost is None else np.asarray(cost, dtype=np.float64)
    v = np.zeros(k) if max_term is None else np.asarray(max_term, dtype=np.float64)
    ok = np.ones(k, dtype=bool) if admissible is None else np.asarray(admissible, dtype=bool)
    for name, arr in (("cost", c), ("max_term", v), ("admissible", ok)):
        if arr.shape != (k,):
            raise SsdflError(f"{name} has shape {arr.shape}, expected ({k},)")
    if not (np.all(np.isfinite(c)) and np.all(np.isfinite(v))):
        raise SsdflError("costs must be finite")
    if np.any(v < 0):
        raise SsdflError("max-terms must be ≥ 0 for the epigraph formulation")
    return cands, c, v, ok


@contextlib.contextmanager
def _quiet_stdout() -> Iterator[None]:
    """Silence what native solvers print on file descriptor 1 (HiGHS prints a banner)."""
    sys.stdout.flush()
    try:
        saved = os.dup(1)
    except OSError:  # no real stdout (e.g. some notebook kernels): nothing to silence
        yield
        return
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def _cover_matrix(n: int, cands: list[np.ndarray]) -> sp.csr_array:
    rows = np.concatenate(cands)
    cols = np.repeat(np.arange(len(cands)), [len(a) for a in cands])
    return sp.csr_array((np.ones(len(rows)), (rows, cols)), shape=(n, len(cands)))


def _check_cover(A: sp.csr_array, ok: np.ndarray) -> None:
    uncovered = np.flatnonzero(A[:, np.flatnonzero(ok)].sum(axis=1) == 0)
    if uncovered.size:
        raise InfeasibleError(
            f"no admissible candidate covers node(s) {uncovered[:10].tolist()}: no formation exists"
        )


def _highs(
    c: np.ndarray, A: sp.csr_array, lo: np.ndarray, hi: np.ndarray, integrality: np.ndarray,
    ub: np.ndarray, *, presolve: bool = True, node_limit: int | None = None,
) -> tuple[int, np.ndarray | None, str]:  # fmt: skip
    """``min cᵀy, lo ≤ Ay ≤ hi, 0 ≤ y ≤ ub`` with HiGHS (``scipy.optimize.milp``):
    ``(status, y, message)``; status 0 optimal, 1 stopped at a limit, 2 infeasible."""
    from scipy.optimize import Bounds, LinearConstraint, milp

    options: dict[str, Any] = {"presolve": presolve}
    if node_limit is not None:
        options["node_limit"] = int(node_limit)
    res = milp(
        c, constraints=LinearConstraint(A, lo, hi), integrality=integrality,
        bounds=Bounds(np.zeros(len(c)), ub), options=options,
    )  # fmt: skip
    return int(res.status), None if res.x is None else np.asarray(res.x), str(res.message)


def _optimum(status: int, y: np.ndarray | None, message: str) -> np.ndarray | None:
    """The optimal ``y``, ``None`` if infeasible; any other outcome is an error (never a
    solution that is not proven optimal)."""
    if status == 2:
        return None
    if status != 0 or y is None:
        raise SsdflError(f"MILP solver HiGHS ended with: {message}")
    return y


def _milp(
    c: np.ndarray, A: sp.csr_array, lo: np.ndarray, hi: np.ndarray, integrality: np.ndarray,
    ub: np.ndarray,
) -> np.ndarray | None:  # fmt: skip
    """The optimum of :func:`_highs` (with presolve, no limit); ``None`` if infeasible."""
    return _optimum(*_highs(c, A, lo, hi, integrality, ub))


ALL_S_NODE_LIMIT = 2_000
"""Branch-and-bound nodes for the all-``S`` model's first attempt, without presolve (see
:func:`_milp_fast_first`)."""


def _milp_fast_first(
    c: np.ndarray, A: sp.csr_array, lo: np.ndarray, hi: np.ndarray, integrality: np.ndarray,
    ub: np.ndarray,
) -> np.ndarray | None:  # fmt: skip
    """:func:`_milp` for the all-``S`` model: first without HiGHS's presolve and at most
    :data:`ALL_S_NODE_LIMIT` nodes, then, if that stops early, with presolve and no limit.
    HiGHS 1.12's presolve had not finished after 95 s on this model for an SBM with 10⁴
    nodes (``ssdfl form`` did not finish in 15 minutes) that the plain solve finishes at its
    root node in 0.4 s; on the per-``S`` models presolve is what makes them fast (1.2 s vs
    41–47 s), so those keep it. Both attempts prove optimality; the first is deterministic
    (a node count, not a time)."""
    status, y, message = _highs(
        c, A, lo, hi, integrality, ub, presolve=False, node_limit=ALL_S_NODE_LIMIT
    )
    if status == 1:  # stopped at the node limit
        return _milp(c, A, lo, hi, integrality, ub)
    return _optimum(status, y, message)


def _epigraph_rows(k: int, v: np.ndarray, extra: int) -> tuple[sp.csr_array, np.ndarray]:
    """Rows ``v_j x_j − t ≤ 0`` for the candidates with ``v_j > 0`` (variables: ``x`` (k),
    ``extra`` more, then ``t`` last)."""
    pos = np.flatnonzero(v > 0)
    r = np.arange(len(pos))
    E = sp.csr_array(
        (np.concatenate([v[pos], -np.ones(len(pos))]),
         (np.concatenate([r, r]), np.concatenate([pos, np.full(len(pos), k + extra)]))),
        shape=(len(pos), k + extra + 1),
    )  # fmt: skip
    return E, np.zeros(len(pos))


def solve_set_partition(
    n: int,
    candidates: Sequence[np.ndarray],
    cost: np.ndarray | None = None,
    max_term: np.ndarray | None = None,
    admissible: np.ndarray | None = None,
    n_clusters: int | None = None,
    solver: str = "HIGHS",
) -> SetPartitionResult:
    """Solve the set-partitioning MILP of the module docstring: HiGHS through
    ``scipy.optimize.milp`` (``solver="HIGHS"``, no modelling layer), any other name through
    cvxpy."""
    cands, c, v, ok = _validate(n, candidates, cost, max_term, admissible)
    A = _cover_matrix(n, cands)
    _check_cover(A, ok)
    if solver != "HIGHS":
        return _solve_cvxpy(n, A, c, v, ok, n_clusters, solver)
    k = len(cands)
    # variables [x (k), t]; inadmissible x fixed to 0 by their upper bound
    E, e_hi = _epigraph_rows(k, v, 0)
    blocks = [sp.hstack([A, sp.csr_array((n, 1))]), E]
    lo, hi = [np.ones(n), np.full(len(e_hi), -np.inf)], [np.ones(n), e_hi]
    if n_clusters is not None:
        blocks.append(sp.csr_array(np.concatenate([np.ones(k), [0.0]])[None, :]))
        lo.append(np.array([n_clusters]))
        hi.append(np.array([n_clusters]))
    y = _milp(
        np.concatenate([c, [1.0]]), sp.csr_array(sp.vstack(blocks)), np.concatenate(lo),
        np.concatenate(hi), np.concatenate([np.ones(k), [0]]),
        np.concatenate([ok.astype(float), [np.inf]]),
    )  # fmt: skip
    if y is None:
        what = f" with exactly {n_clusters} clusters" if n_clusters is not None else ""
        raise InfeasibleError(f"no exact cover of the nodes by admissible candidates{what}")
    chosen = tuple(int(j) for j in np.flatnonzero(y[:k] > 0.5))
    obj = float(c[list(chosen)].sum() + (v[list(chosen)].max() if chosen else 0.0))
    return SetPartitionResult(chosen=chosen, objective=obj, method="milp:HIGHS")


def _solve_cvxpy(
    n: int, A: sp.csr_array, c: np.ndarray, v: np.ndarray, ok: np.ndarray,
    n_clusters: int | None, solver: str,
) -> SetPartitionResult:  # fmt: skip
    import cvxpy as cp

    if solver not in cp.installed_solvers():
        raise SsdflError(
            f"MILP solver {solver} is not installed (installed: {cp.installed_solvers()}); "
            "`pip install highspy` provides HIGHS"
        )
    k = A.shape[1]
    x = cp.Variable(k, boolean=True)
    t = cp.Variable(nonneg=True)
    cons = [A @ x == 1, t >= cp.multiply(v, x)]
    if not ok.all():
        cons.append(x[np.flatnonzero(~ok)] == 0)
    if n_clusters is not None:
        cons.append(cp.sum(x) == n_clusters)
    prob = cp.Problem(cp.Minimize(c @ x + t), cons)
    try:
        with _quiet_stdout():
            prob.solve(solver=solver)
    except cp.error.SolverError as exc:
        raise SsdflError(f"MILP solver {solver} failed: {exc}") from None
    if prob.status in (cp.INFEASIBLE, cp.INFEASIBLE_INACCURATE):
        what = f" with exactly {n_clusters} clusters" if n_clusters is not None else ""
        raise InfeasibleError(f"no exact cover of the nodes by admissible candidates{what}")
    if prob.status not in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE) or x.value is None:
        raise SsdflError(f"MILP ended with status {prob.status}")
    chosen = tuple(int(j) for j in np.flatnonzero(np.round(x.value) > 0.5))
    obj = float(c[list(chosen)].sum() + (v[list(chosen)].max() if chosen else 0.0))
    return SetPartitionResult(chosen=chosen, objective=obj, method=f"milp:{solver}")


@dataclass(frozen=True)
class AllSResult:
    """Best formation over every number of clusters ``S`` in ``S_range``: chosen candidates,
    objective (without the tie weight), its ``S``."""

    chosen: tuple[int, ...]
    objective: float
    S: int


def solve_set_partition_all_S(
    n: int,
    candidates: Sequence[np.ndarray],
    cost: np.ndarray,
    max_term: np.ndarray,
    admissible_at: Callable[[int], np.ndarray],
    S_range: tuple[int, int],
    tie: np.ndarray | None = None,
) -> AllSResult:
    """One MILP for the best formation over every ``S`` in ``S_range = (lo, hi)`` when
    admissibility depends on ``S`` (``admissible_at(S)`` → mask). The ``S`` axis is cut into
    maximal runs ``[a_r, b_r]`` with the same admissible mask; a one-hot ``z_r`` picks the run:
    ``x_j ≤ Σ_{r: j admissible in r} z_r`` and ``Σ_r a_r z_r ≤ Σ_j x_j ≤ Σ_r b_r z_r``. The
    max-term carries ``tie`` (a tiny weight) like the per-``S`` model; among optima (within
    ``1e-12`` relative) the fewest clusters are taken by a second solve."""
    cands, c, v, _ = _validate(n, candidates, cost, max_term, None)
    lo_S, hi_S = S_range
    if not 1 <= lo_S <= hi_S:
        raise SsdflError(f"bad S range {S_range}")
    hi_S = min(hi_S, n)
    runs: list[tuple[int, int, np.ndarray]] = []
    for S in range(lo_S, hi_S + 1):
        m = np.asarray(admissible_at(S), dtype=bool)
        if runs and np.array_equal(runs[-1][2], m):
            runs[-1] = (runs[-1][0], S, m)
        else:
            runs.append((S, S, m))
    k, R = len(cands), len(runs)
    M = np.stack([r[2] for r in runs], axis=1)  # (k, R)
    A = _cover_matrix(n, cands)
    _check_cover(A, np.asarray(M.any(axis=1)))
    vt = v + (np.zeros(k) if tie is None else np.asarray(tie, dtype=np.float64))
    varying = np.flatnonzero(M.any(axis=1) & ~M.all(axis=1))
    # variables [x (k), z (R), t]
    nv = k + R + 1
    rows = [sp.hstack([A, sp.csr_array((n, R + 1))])]
    lo, hi = [np.ones(n)], [np.ones(n)]
    E, e_hi = _epigraph_rows(k, vt, R)
    rows.append(E)
    lo.append(np.full(len(e_hi), -np.inf))
    hi.append(e_hi)
    if varying.size:  # x_j − Σ_{r ∋ j} z_r ≤ 0
        Mv = M[varying]
        rr, cc = np.nonzero(Mv)
        L = sp.csr_array(
            (np.concatenate([np.ones(len(varying)), -np.ones(len(rr))]),
             (np.concatenate([np.arange(len(varying)), rr]), np.concatenate([varying, k + cc]))),
            shape=(len(varying), nv),
        )  # fmt: skip
        rows.append(L)
        lo.append(np.full(len(varying), -np.inf))
        hi.append(np.zeros(len(varying)))
    a = np.array([r[0] for r in runs], dtype=float)
    b = np.array([r[1] for r in runs], dtype=float)
    card = sp.csr_array(np.vstack([
        np.concatenate([np.ones(k), -a, [0.0]]), np.concatenate([np.ones(k), -b, [0.0]]),
        np.concatenate([np.zeros(k), np.ones(R), [0.0]]),
    ]))  # fmt: skip
    rows.append(card)
    lo.append(np.array([0.0, -np.inf, 1.0]))
    hi.append(np.array([np.inf, 0.0, 1.0]))
    Aall = sp.csr_array(sp.vstack(rows))
    lo_all, hi_all = np.concatenate(lo), np.concatenate(hi)
    integ = np.concatenate([np.ones(k + R), [0]])
    ub = np.concatenate([M.any(axis=1).astype(float), np.ones(R), [np.inf]])
    obj = np.concatenate([c, np.zeros(R), [1.0]])
    y = _milp_fast_first(obj, Aall, lo_all, hi_all, integ, ub)
    if y is None:
        raise InfeasibleError(
            f"no exact cover of the nodes by admissible candidates for any S in {lo_S}..{hi_S}"
        )
    best = float(obj @ y)
    # fewest clusters among the optima
    tol = 1e-12 * max(1.0, abs(best))
    Aobj = sp.csr_array(obj[None, :])
    y2 = _milp_fast_first(
        np.concatenate([np.ones(k), np.zeros(R + 1)]), sp.csr_array(sp.vstack([Aall, Aobj])),
        np.concatenate([lo_all, [-np.inf]]), np.concatenate([hi_all, [best + tol]]), integ, ub,
    )  # fmt: skip
    if y2 is not None:
        y = y2
    chosen = tuple(int(j) for j in np.flatnonzero(y[:k] > 0.5))
    val = float(c[list(chosen)].sum() + v[list(chosen)].max())
    return AllSResult(chosen=chosen, objective=val, S=len(chosen))


def exhaustive_set_partition(
    n: int,
    candidates: Sequence[np.ndarray],
    cost: np.ndarray | None = None,
    max_term: np.ndarray | None = None,
    admissible: np.ndarray | None = None,
    n_clusters: int | None = None,
    max_candidates: int = 200,
) -> SetPartitionResult:
    """Enumerate every exact cover by admissible candidates (Algorithm X style recursion on
    the lowest uncovered node) and return the best; ties → lexicographically smallest."""
    cands, c, v, ok = _validate(n, candidates, cost, max_term, admissible)
    if len(cands) > max_candidates:
        raise TooLargeError(
            f"exhaustive search over {len(cands)} candidates exceeds max_candidates="
            f"{max_candidates}; use solve_set_partition"
        )
    by_min: dict[int, list[int]] = {}
    for j, a in enumerate(cands):
        if ok[j]:
            by_min.setdefault(int(a[0]), []).append(j)
    best: list[tuple[float, tuple[int, ...]]] = []
    covered = np.zeros(n, dtype=bool)

    def rec(chosen: list[int]) -> None:
        free = np.flatnonzero(~covered)
        if free.size == 0:
            if n_clusters is None or len(chosen) == n_clusters:
                obj = float(c[chosen].sum() + v[chosen].max())
                key = (obj, tuple(sorted(chosen)))
                if not best or key < best[0]:
                    best[:] = [key]
            return
        if n_clusters is not None and len(chosen) >= n_clusters:
            return
        i = int(free[0])
        for j in by_min.get(i, []):
            a = cands[j]
            if covered[a].any():
                continue
            covered[a] = True
            chosen.append(j)
            rec(chosen)
            chosen.pop()
            covered[a] = False

    rec([])
    if not best:
        raise InfeasibleError("no exact cover of the nodes by admissible candidates")
    obj, chosen = best[0]
    return SetPartitionResult(chosen=chosen, objective=obj, method="exhaustive")
