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
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ssdfl.errors import InfeasibleError, SsdflError
from ssdfl.graphs.graph import GraphLike, as_graph
from ssdfl.graphs.mixing import mixing_matrix, second_eigenvalue

__all__ = ["FastestMixing", "fastest_mixing"]


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
) -> FastestMixing:
    """Solve FMMC or FDLA on ``g`` (connected, ≥ 2 nodes); see the module docstring."""
    import cvxpy as cp

    g = as_graph(g)
    problem = problem.lower()
    if problem not in ("fmmc", "fdla"):
        raise SsdflError(f"problem must be 'fmmc' or 'fdla', got {problem!r}")
    from ssdfl.graphs.metrics import is_connected

    if g.n < 2:
        raise SsdflError("fastest mixing needs a graph with at least 2 nodes")
    if not is_connected(g):
        raise SsdflError("fastest mixing needs a connected graph (no W mixes across components)")
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
    base = mixing_matrix(g, baseline)
    return FastestMixing(
        W=Wm,
        problem=problem,
        slem=second_eigenvalue(Wm),
        baseline=baseline,
        baseline_slem=second_eigenvalue(base),
        solver=chosen,
    )
