"""Application layer: the formation planner (candidates → scoring → MILP per ``S`` →
Theorem-2 numbers, fastest-mixing weights, schedule and traffic), its report and its
validation against simulated training. Pipeline and derivations: ``docs/formation.md``."""

from ssdfl.planner.candidates import connected_subsets, generate_candidates
from ssdfl.planner.config import PlanConfig
from ssdfl.planner.plan import PLAN_SCHEMA, FormationPlan, plan_formation
from ssdfl.planner.scoring import (
    CandidateTable,
    candidate_table,
    formation_objective,
    objective_terms,
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
