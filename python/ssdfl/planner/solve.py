"""The set-partitioning MILP: the best formation for every ``S`` of the table and over every
``S``, and the exhaustive cross-check.

Costs: one HiGHS solve (``scipy.optimize.milp``, no modelling layer) per ``S`` of the table
(``S ≤ TABLE_S``), plus, when the ``S`` range is larger than the table, one model over the whole
range (:func:`ssdfl.clusters.setpartition.solve_set_partition_all_S`)."""

from __future__ import annotations

from typing import Any

from ssdfl._progress import get_logger, stage
from ssdfl.clusters.setpartition import (
    exhaustive_set_partition,
    solve_set_partition,
    solve_set_partition_all_S,
)
from ssdfl.errors import InfeasibleError, TooLargeError
from ssdfl.planner.config import PlanConfig
from ssdfl.planner.scoring import CandidateTable, formation_objective, objective_terms

__all__ = ["TABLE_S", "best_by_S", "best_formation", "exhaustive_check"]

log = get_logger(__name__)

TABLE_S = 64
"""Largest ``S`` with its own row (one MILP each) in the objective-vs-``S`` table by default."""

TABLE_ALL_N = 100
"""Up to this many devices the table has every ``S ≤ TABLE_S``; above, ``S = 1, 2, 4, …, 64``
(plus the optimum's ``S``): each row is one MILP on ``N`` cover rows."""


def best_by_S(
    t: CandidateTable, n: int, cfg: PlanConfig, smax: int, S_values: list[int] | None = None
) -> tuple[list[dict[str, Any]], dict[int, tuple[int, ...]]]:
    """The best formation for every ``S = 1..smax`` (or every ``S`` of ``S_values``; one MILP
    each; ``None`` objective if infeasible) and the chosen candidates per feasible ``S``."""
    cost, vmax = objective_terms(t, n)
    # tie-break (documented): a tiny weight on the worst intra contraction λ_C^{τ_a}
    tie = 1e-9 * (t.lam**cfg.tau_a)
    rows: list[dict[str, Any]] = []
    sols: dict[int, tuple[int, ...]] = {}
    Ss = list(range(1, smax + 1)) if S_values is None else S_values
    with stage(log, f"set-partitioning MILP for {len(Ss)} values of S", total=len(Ss)) as st:
        for S in Ss:
            adm = t.admissible(S, cfg)
            try:
                r = solve_set_partition(n, t.clusters, cost, vmax + tie, adm, n_clusters=S)
            except InfeasibleError:
                rows.append({"S": S, "objective": None, "feasible": False})
                st.advance()
                continue
            sols[S] = r.chosen
            rows.append(_row(t, S, r.chosen, n))
            st.advance()
    return rows, sols


def _row(t: CandidateTable, S: int, chosen: tuple[int, ...], n: int) -> dict[str, Any]:
    return {
        "S": S, "objective": formation_objective(t, list(chosen), n), "feasible": True,
        "clusters": [t.clusters[j].tolist() for j in chosen],
    }  # fmt: skip


def best_formation(
    t: CandidateTable, n: int, cfg: PlanConfig
) -> tuple[list[dict[str, Any]], tuple[int, ...], float]:
    """The objective-vs-``S`` table (``S = 1..min(n, max_clusters or TABLE_S)``; powers of two
    above :data:`TABLE_ALL_N` devices) and the best formation over every
    ``S = 1..(max_clusters or n)``: ``(rows, chosen candidates, J)``.

    Singletons are admissible at every ``S``, so with the default range (up to ``n``) a
    formation always exists. When the range fits the table the best row is taken (ties: smaller
    ``S``); otherwise one MILP over the whole range (runs of ``S`` with the same admissible
    candidates, one-hot over the runs) finds it, and its row is added to the table."""
    s_hi = min(cfg.max_clusters or n, n)
    s_table = min(s_hi, TABLE_S)
    sample = None if n <= TABLE_ALL_N else [S for S in (1, 2, 4, 8, 16, 32, 64) if S <= s_table]
    rows, sols = best_by_S(t, n, cfg, s_table, sample)
    feasible = [r for r in rows if r["feasible"]]
    best_row = (
        min(feasible, key=lambda r: (round(r["objective"], 15), r["S"])) if feasible else None
    )
    if s_hi > s_table or sample is not None:
        cost, vmax = objective_terms(t, n)
        with stage(log, f"one MILP over S = 1..{s_hi}"):
            try:
                r = solve_set_partition_all_S(
                    n, t.clusters, cost, vmax, lambda S: t.admissible(S, cfg), (1, s_hi),
                    tie=1e-9 * (t.lam**cfg.tau_a),
                )  # fmt: skip
            except InfeasibleError:
                r = None
        if r is not None and (best_row is None or r.objective < best_row["objective"]
                              - 1e-12 * max(1.0, abs(best_row["objective"]))):  # fmt: skip
            own = [x for x in rows if x["S"] == r.S]
            if own and own[0]["feasible"]:  # the table's own row for that S (same optimum)
                best_row = own[0]
            else:
                rows = [x for x in rows if x["S"] != r.S]
                rows.append(_row(t, r.S, r.chosen, n))
                rows.sort(key=lambda x: x["S"])
                sols[r.S] = r.chosen
                best_row = next(x for x in rows if x["S"] == r.S)
    if best_row is None:
        raise InfeasibleError(
            f"no admissible formation for any S in 1..{s_hi} (at S = n the singletons always "
            "are; raise --max-clusters)"
        )
    return rows, sols[best_row["S"]], float(best_row["objective"])


def exhaustive_check(
    t: CandidateTable, n: int, cfg: PlanConfig, smax: int, best: float
) -> dict[str, Any] | None:
    """Exhaustive search over the same candidates and objective (small instances only)."""
    if n > 14 or len(t.clusters) > 120:
        return None
    cost, vmax = objective_terms(t, n)
    vals = []
    for S in range(1, smax + 1):
        try:
            r = exhaustive_set_partition(
                n, t.clusters, cost, vmax, t.admissible(S, cfg), n_clusters=S, max_candidates=120
            )
            vals.append(r.objective)
        except (InfeasibleError, TooLargeError):
            continue
    if not vals:
        return None
    ex = min(vals)
    return {"objective": ex, "agrees": bool(abs(ex - best) <= 1e-9 * max(1.0, abs(ex)))}
