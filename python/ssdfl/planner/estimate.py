"""Resource estimate of :func:`ssdfl.planner.plan.plan_formation` before the work, and the size
guard (``PlanConfig.max_edges``; ``docs/reliability.md``, limits of the planner).

The estimate is a fit of the planner's measured CPU time and peak memory against the graph's
size (``n`` devices, ``m`` edges; ``docs/performance.md``, "``ssdfl form`` on dense graphs"):

    cpu_s  ≈ CPU_BASE_S + CPU_PER_EDGE_S·m + CPU_PER_NODE_EDGE_S·n·m
    memory ≈ MEM_BASE_B + MEM_PER_EDGE_B·m

The ``n·m`` term is the stages that scan every edge once per node (the random yardstick
partitions, the flooding traffic's hop distances), measured on their own; the other two are a
least-squares fit on K₁₀₀–K₈₀₀ and G(500, 0.5) with ``pilot_budget = 0`` and no devices file
(−28 % to +47 % of the measured CPU there; 50 s for the 10⁴-node geometric graph measured at
60 CPU-s). Not modelled: the pilot (10–25 CPU-s at K₁₀₀–K₄₀₀) and, with a heterogeneous
devices file on dense graphs, the Theorem-2 constants' dense eigenproblems (K₄₀₀: 65 instead
of 32 CPU-s). It is an order of magnitude, not a promise; load moves the wall time, not the CPU
time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ssdfl.errors import PlanTooLargeError

__all__ = [
    "DEFAULT_MAX_EDGES",
    "PlanEstimate",
    "PlanTooLargeError",
    "check_plan_size",
    "estimate_plan",
]

#: default of ``PlanConfig.max_edges`` (``ssdfl form --max-edges``): K₁₀₀₀ (499,500 edges,
#: estimated ≈ 2 CPU-min) is planned, K₂₀₀₀ (1,999,000 edges, ≈ 7 CPU-min) refused
DEFAULT_MAX_EDGES = 500_000

# fitted coefficients (docs/performance.md, "ssdfl form on dense graphs"; CPU seconds, bytes)
CPU_BASE_S = 19.1
CPU_PER_EDGE_S = 1.37e-4
CPU_PER_NODE_EDGE_S = 3.8e-8
MEM_BASE_B = 138e6
MEM_PER_EDGE_B = 413.0

#: plans estimated above this many CPU seconds log the estimate at INFO (else DEBUG)
LOG_ABOVE_S = 30.0


@dataclass(frozen=True)
class PlanEstimate:
    """Estimated CPU seconds and peak memory (bytes) of planning a graph of ``n`` nodes and
    ``m`` edges."""

    n: int
    m: int
    cpu_s: float
    memory_b: float

    def __str__(self) -> str:
        return (
            f"{self.n:,} devices, {self.m:,} edges: about {_duration(self.cpu_s)} of CPU "
            f"and {self.memory_b / 2**30:.1f} GiB of memory"
        )


def _duration(s: float) -> str:
    if s < 120:
        return f"{s:.0f} s"
    if s < 7200:
        return f"{s / 60:.0f} min"
    return f"{s / 3600:.1f} h"


def estimate_plan(n: int, m: int) -> PlanEstimate:
    """The fitted estimate of the module docstring for ``n`` nodes and ``m`` edges."""
    n_, m_ = float(n), float(m)
    cpu = CPU_BASE_S + CPU_PER_EDGE_S * m_ + CPU_PER_NODE_EDGE_S * n_ * m_
    mem = MEM_BASE_B + MEM_PER_EDGE_B * m_
    return PlanEstimate(n=int(n), m=int(m), cpu_s=float(cpu), memory_b=float(mem))


def check_plan_size(
    n: int, m: int, max_edges: int | None, log: logging.Logger | None = None
) -> PlanEstimate:
    """Estimate the plan of a graph with ``n`` nodes and ``m`` edges, log the estimate (INFO when
    it exceeds :data:`LOG_ABOVE_S`), and raise :class:`PlanTooLargeError` when ``m`` exceeds
    ``max_edges`` (``None`` or ``0``: no limit)."""
    est = estimate_plan(n, m)
    if max_edges and m > max_edges:
        raise PlanTooLargeError(
            f"the graph is too large to plan: {est}; the limit is "
            f"{max_edges:,} edges. Raise it with `ssdfl form --max-edges N` "
            f"(PlanConfig.max_edges; 0 = no limit) or plan a sparser graph"
        )
    if log is not None:
        level = logging.INFO if est.cpu_s >= LOG_ABOVE_S else logging.DEBUG
        log.log(level, "planning %s (estimate)", est)
    return est
