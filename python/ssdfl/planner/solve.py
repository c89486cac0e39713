"""The set-partitioning MILP for every ``S`` and its exhaustive cross-check."""

from __future__ import annotations

from typing import Any

from ssdfl.errors import InfeasibleError
from ssdfl.planner.config import PlanConfig
from ssdfl.planner.scoring import CandidateTable, formation_objective, objective_terms

__all__ = ["best_by_S", "exhaustive_check"]


def best_by_S(
    t: CandidateTable, n: int, cfg: PlanConfig, smax: int
) -> tuple[list[dict[str, Any]], dict[int, tuple[int, ...]]]:
    from ssdfl.clusters.setpartition import solve_set_partition

    cost, vmax = objective_terms(t, n)
    # tie-break (documented): a tiny weight on the worst intra contraction λ_C^{τ_a}
    tie = 1e-9 * (t.lam**cfg.tau_a)
    rows: list[dict[str, Any]] = []
    sols: dict[int, tuple[int, ...]] = {}
    for S in range(1, smax + 1):
        adm = t.admissible(S, cfg)
        try:
            r = solve_set_partition(n, t.clusters, cost, vmax + tie, adm, n_clusters=S)
        except InfeasibleError:
            rows.append({"S": S, "objective": None, "feasible": False})
            continue
        sols[S] = r.chosen
        rows.append({
            "S": S, "objective": formation_objective(t, list(r.chosen), n), "feasible": True,
            "clusters": [t.clusters[j].tolist() for j in r.chosen],
        })  # fmt: skip
    return rows, sols


def exhaustive_check(
    t: CandidateTable, n: int, cfg: PlanConfig, smax: int, best: float
) -> dict[str, Any] | None:
    """Exhaustive search over the same candidates and objective (small instances only)."""
    from ssdfl.clusters.setpartition import exhaustive_set_partition
    from ssdfl.errors import TooLargeError

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
