"""Parameters of the formation planner (:class:`PlanConfig`); defined in ``docs/formation.md``."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ssdfl.errors import SsdflError
from ssdfl.planner.estimate import DEFAULT_MAX_EDGES

__all__ = ["PlanConfig"]


@dataclass
class PlanConfig:
    """Parameters of :func:`plan_formation` (all documented in ``docs/formation.md``).

    ``eta`` step size; ``tau_a``/``tau_r`` intra/inter rounds per cycle; ``eps`` global
    consensus budget (per cluster ``ε_S = ε``, ``theory.bounds.eps_S``); ``gamma`` weight of
    the optimizer term; ``grad_scale``
    ``G²`` converting label scores into squared-gradient units; ``sigma2`` gradient-noise
    variance; ``L``/``mu`` smoothness and strong convexity for the Theorem-2 bound;
    ``admissibility`` ``"spectral"`` or ``"cheeger"``; ``max_clusters`` largest ``S`` tried
    (default ``n`` up to 64 devices, else 64); ``k_max`` largest ``k`` of ``partition``;
    ``all_subsets_n``: up to this many devices every connected subset is a candidate (the MILP
    is then the exact optimum over all formations); ``fastest_mixing``, ``schedule``,
    ``theorem2`` switch those reports on; ``model_params`` parameters per model (traffic in
    bytes, float32 on the wire);
    ``target`` accuracy band on the Theorem-2 bound of ``(1/N)E‖X − 1x*ᵀ‖²`` (from 1 at the
    start) for the schedule search (default: 1.1 × the best bound any grid schedule reaches
    after ``max_cycles`` cycles).

    The formation's user objective (:mod:`ssdfl.planner.predict`): ``objective``
    ``"predicted"`` (default: the formation with the lowest predicted device loss at the budget
    is THE plan) or ``"J"`` (the paper's consensus objective only, no budget); ``budget``
    ``"bytes"``, ``"cycles"`` or ``"time"``; ``cycles`` the cycle budget ``C`` (a byte budget is
    what ``S = N`` spends in ``C`` cycles); ``model`` a built-in model name or
    ``package.module:factory``; ``seed`` the seed of the candidate search (the recommendation
    must not depend on it); ``pilot_budget``, ``bandwidth``, ``latency``, ``step_time``:
    passed to the choice and its :class:`~ssdfl.planner.predict.Budget` when given.

    ``max_edges``: graphs with more edges are refused before any work
    (:class:`~ssdfl.errors.PlanTooLargeError`, with the time and memory estimate of
    :mod:`ssdfl.planner.estimate`); ``None`` or ``0``: no limit (``docs/reliability.md``).
    """

    eta: float = 0.05
    tau_a: int = 20
    tau_r: int = 5
    eps: float = 0.5
    gamma: float = 1.0
    grad_scale: float = 1.0
    sigma2: float = 0.0
    L: float = 1.0
    mu: float = 0.5
    mixing_rule: str = "lazy-metropolis"
    admissibility: str = "spectral"
    max_clusters: int | None = None
    k_max: int = 8
    all_subsets_n: int = 10
    fastest_mixing: bool = True
    schedule: bool = True
    theorem2: bool = True
    tau_a_grid: tuple[int, ...] = (5, 10, 20, 40)
    tau_r_grid: tuple[int, ...] = (1, 2, 5, 10)
    target: float | None = None
    max_cycles: int = 40
    model_params: int = 100_000
    objective: str = "predicted"
    budget: str = "bytes"
    cycles: int = 40
    model: str = "softmax"
    seed: int = 0
    pilot_budget: float | None = None
    bandwidth: float | None = None
    latency: float | None = None
    step_time: float | None = None
    max_edges: int | None = DEFAULT_MAX_EDGES

    def validate(self) -> None:
        if not (self.eta > 0 and math.isfinite(self.eta)):
            raise SsdflError(f"eta must be > 0, got {self.eta}")
        for name in ("tau_a", "tau_r"):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or v < 1:
                raise SsdflError(f"{name} must be an integer >= 1, got {v!r}")
        if not 0 < self.eps <= 1:
            raise SsdflError(f"eps must be in (0, 1], got {self.eps}")
        for name in ("gamma", "grad_scale", "sigma2"):
            if not (getattr(self, name) >= 0 and math.isfinite(getattr(self, name))):
                raise SsdflError(f"{name} must be a finite number >= 0, got {getattr(self, name)}")
        if not 0 <= self.mu <= self.L:
            raise SsdflError(f"need 0 <= mu <= L, got mu={self.mu}, L={self.L}")
        if self.admissibility not in ("spectral", "cheeger"):
            raise SsdflError(
                f"admissibility must be 'spectral' or 'cheeger', got {self.admissibility!r}"
            )
        if self.objective not in ("predicted", "J"):
            raise SsdflError(f"objective must be 'predicted' or 'J', got {self.objective!r}")
        if not isinstance(self.cycles, (int, np.integer)) or self.cycles < 1:
            raise SsdflError(f"cycles must be an integer >= 1, got {self.cycles!r}")
        for name in ("pilot_budget", "bandwidth", "latency", "step_time"):
            v = getattr(self, name)
            if v is not None and not (math.isfinite(v) and v >= 0):
                raise SsdflError(f"{name} must be a finite number >= 0, got {v}")
        if self.max_edges is not None and (
            isinstance(self.max_edges, bool)
            or not isinstance(self.max_edges, (int, np.integer))
            or self.max_edges < 0
        ):
            raise SsdflError(f"max_edges must be an integer >= 0 or None, got {self.max_edges!r}")
        if self.target is not None and not self.target > 0:
            raise SsdflError(f"target must be > 0, got {self.target}")
