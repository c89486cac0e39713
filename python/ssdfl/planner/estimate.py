"""Resource estimate of :func:`ssdfl.planner.plan.plan_formation` before the work, and the size
guard (``PlanConfig.max_edges``; ``docs/reliability.md``, limits of the planner).

The estimate is a fit of the planner's measured CPU time and peak memory against the graph's
size (``n`` devices, ``m`` edges; ``docs/performance.md``, "``ssdfl form`` on dense graphs"):

    cpu_s  ≈ CPU_BASE_S + CPU_PER_EDGE_S · m + CPU_PER_NODE_S · n
    memory ≈ MEM_BASE_B + MEM_PER_EDGE_B · m + MEM_PER_NODE_B · n

It is an order of magnitude, not a promise: the machine's load and the devices file move the
wall time; the CPU time is what the fit describes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from ssdfl.errors import SsdflError

__all__ = [
    "DEFAULT_MAX_EDGES",
    "PlanEstimate",
    "PlanTooLargeError",
    "check_plan_size",
    "estimate_plan",
]

#: default of ``PlanConfig.max_edges`` (``ssdfl form --max-edges``)
DEFAULT_MAX_EDGES = 300_000

# fitted coefficients (docs/performance.md, "ssdfl form on dense graphs")
CPU_BASE_S = 12.0
CPU_PER_EDGE_S = 1.0e-4
CPU_PER_NODE_S = 2.0e-3
MEM_BASE_B = 160e6
MEM_PER_EDGE_B = 400.0
MEM_PER_NODE_B = 50e3

#: plans estimated above this many CPU seconds log the estimate at INFO (else DEBUG)
LOG_ABOVE_S = 30.0


class PlanTooLargeError(SsdflError):
    """The graph exceeds a planner size limit (``PlanConfig.max_edges``); raised before any
    work, with the estimate and the parameter that raises the limit."""


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
    cpu = CPU_BASE_S + CPU_PER_EDGE_S * m + CPU_PER_NODE_S * n
    mem = MEM_BASE_B + MEM_PER_EDGE_B * m + MEM_PER_NODE_B * n
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
            f"the graph is too large to plan by default ({est}); the limit is "
            f"{max_edges:,} edges. Raise it with `ssdfl form --max-edges N` "
            f"(PlanConfig.max_edges; 0 = no limit) or plan a sparser graph"
        )
    if log is not None:
        level = logging.INFO if est.cpu_s >= LOG_ABOVE_S else logging.DEBUG
        log.log(level, "planning %s (estimate)", est)
    return est
