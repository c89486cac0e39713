"""Application layer: the formation planner (candidates → scoring → MILP per ``S`` →
Theorem-2 numbers, fastest-mixing weights, schedule and traffic), its report and its
validation against simulated training. Pipeline and derivations: ``docs/formation.md``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ssdfl._lazy import attach, exports

if TYPE_CHECKING:
    from ssdfl.planner.candidates import connected_subsets, generate_candidates
    from ssdfl.planner.config import PlanConfig
    from ssdfl.planner.plan import PLAN_SCHEMA, FormationPlan, plan_formation
    from ssdfl.planner.scoring import (
        CandidateTable,
        candidate_table,
        formation_objective,
        objective_terms,
    )

#: Public names by defining module, loaded at first use (PEP 562).
_LAZY = exports(
    {
        "ssdfl.planner.candidates": ("connected_subsets", "generate_candidates"),
        "ssdfl.planner.config": ("PlanConfig",),
        "ssdfl.planner.plan": ("PLAN_SCHEMA", "FormationPlan", "plan_formation"),
        "ssdfl.planner.scoring": (
            "CandidateTable",
            "candidate_table",
            "formation_objective",
            "objective_terms",
        ),
    }
)

__all__ = [
    "PLAN_SCHEMA",
    "CandidateTable",
    "FormationPlan",
    "PlanConfig",
    "candidate_table",
    "connected_subsets",
    "formation_objective",
    "generate_candidates",
    "objective_terms",
    "plan_formation",
]

__getattr__, __dir__ = attach(__name__, _LAZY)
