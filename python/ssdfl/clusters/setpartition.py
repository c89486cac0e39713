"""Choosing a formation among candidate clusters: a set-partitioning MILP (cvxpy + HiGHS).

Given candidate clusters ``C_1..C_K ⊆ V`` (node index arrays), an additive cost ``c_j`` and a
max-term ``v_j`` per candidate, and an admissibility mask, solve

    minimise    Σ_j c_j x_j + t
    subject to  Σ_{j : i ∈ C_j} x_j = 1          for every node i   (exact cover)
                t ≥ v_j x_j                        for every j        (epigraph of max_j v_j x_j)
                x_j = 0                            for inadmissible j
                Σ_j x_j = S                        (if the number of clusters is fixed)
                x ∈ {0, 1}^K

The epigraph is exact because ``v_j ≥ 0`` is required (then ``max_j v_j x_j`` over chosen ``j``
equals the smallest feasible ``t``). :func:`exhaustive_set_partition` enumerates every exact
cover (for small instances and tests).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import cvxpy as cp
import numpy as np
import scipy.sparse as sp

from ssdfl.errors import InfeasibleError, SsdflError, TooLargeError

__all__ = ["SetPartitionResult", "exhaustive_set_partition", "solve_set_partition"]


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


def solve_set_partition(
    n: int,
    candidates: Sequence[np.ndarray],
    cost: np.ndarray | None = None,
    max_term: np.ndarray | None = None,
    admissible: np.ndarray | None = None,
    n_clusters: int | None = None,
    solver: str = "HIGHS",
) -> SetPartitionResult:
    """Solve the set-partitioning MILP of the module docstring with cvxpy."""
    cands, c, v, ok = _validate(n, candidates, cost, max_term, admissible)
    if solver not in cp.installed_solvers():
        raise SsdflError(
            f"MILP solver {solver} is not installed (installed: {cp.installed_solvers()}); "
            "`pip install highspy` provides HIGHS"
        )
    k = len(cands)
    rows = np.concatenate(cands)
    cols = np.concatenate([np.full(len(a), j) for j, a in enumerate(cands)])
    A = sp.csr_array((np.ones(len(rows)), (rows, cols)), shape=(n, k))
    uncovered = np.flatnonzero(A[:, np.flatnonzero(ok)].sum(axis=1) == 0)
    if uncovered.size:
        raise InfeasibleError(
            f"no admissible candidate covers node(s) {uncovered[:10].tolist()}: no formation exists"
        )
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
