"""Local optimizers of SSD-FL devices, vectorized over many devices.

Every optimizer produces, per device ``i`` and step, a *direction* ``d_i``; the intra-cluster
round is ``X⁺ = W_s X − η D`` (docs/theory.md §0), with ``D`` the ``(N, d)`` array of directions.

Directions (``g_i`` the (stochastic) gradient of ``F_i`` at ``x_i``, ``a_i`` the anchor = the
model at the start of the current cycle, ``v_i`` the momentum buffer *before* the step):

- :class:`SGD`: ``d = g``.
- :class:`ProxSGD` ``(mu)``: ``d = g + μ (x − a)`` (FedProx proximal term).
- :class:`MomentumSGD` ``(rho)``: heavy-ball ``d = g + ρ v``, then ``v ← d``.
- :class:`Adam` ``(beta1, beta2, eps)`` — *extension, not in the paper*: bias-corrected Adam,
  ``d = m̂ / (√v̂ + ε)``. A diagonal preconditioner; it has no scalar effective step factor
  (see :meth:`Adam.alpha`) and is not covered by the bounds in :mod:`ssdfl.theory.bounds`.

Effective step factor ``α(τ, η)`` (FedNova, Wang et al. 2020; docs/theory.md §12): over
``τ`` local steps the accumulated update of a device is ``−η Σ_k a_k g_k`` and ``α = ‖a‖₁ / τ``:

- SGD: ``α = 1``;
- proximal: ``‖a‖₁ = [1 − (1 − ημ)^τ] / (ημ)``;
- momentum: ``‖a‖₁ = [τ − ρ(1 − ρ^τ)/(1 − ρ)] / (1 − ρ)``; ``τ = ∞`` gives the steady state
  ``1/(1 − ρ)``.

*Effective gradient normalization* divides each device's direction by its ``α_i``; in the
small-step limit the fixed point then minimizes ``Σ F_i`` instead of ``Σ α_i F_i``.

**The optimizer protocol.** A :class:`LocalOptimizer` declares everything the package needs of
it, so a new optimizer is one class (plus one :func:`register_optimizer` call if it should be
readable from a devices file):

- :meth:`~LocalOptimizer.direction` — the update direction (the generic simulator path);
- :meth:`~LocalOptimizer.alpha` — the step factor ``α(τ, η)`` over ``τ`` steps from a fresh
  state, and :meth:`~LocalOptimizer.cycle_alpha` — the factor one cycle of ``τ`` steps actually
  contributes: ``α(τ)`` if the buffers are zeroed at every cycle start, else the steady state
  ``α(∞)`` when the optimizer carries memory across cycles (:attr:`~LocalOptimizer.carries_state`);
- :meth:`~LocalOptimizer.normalization` — the effective-gradient normalization factor
  ``1/cycle_alpha`` (used by the simulator, the bounds, the reference recursions, the
  effective losses and the planner alike);
- :meth:`~LocalOptimizer.fused` — the coefficients ``(μ, ρ, stores_v)`` of the fused kernel
  ``D = G + μ(X − A) + ρV`` (``V ← D`` when ``stores_v``), or ``None``: then the simulator
  runs :meth:`~LocalOptimizer.direction` for the whole population;
- :attr:`~LocalOptimizer.bound_coverage` — the analyses of :mod:`ssdfl.theory` that cover it
  (:data:`BOUNDS`); a bound asked about an optimizer outside its coverage raises
  :class:`~ssdfl.errors.SsdflError` naming it (:meth:`OptimizerPopulation.require`), and a
  report that shows a bound says which devices it leaves out
  (:meth:`OptimizerPopulation.coverage_note`);
- :attr:`~LocalOptimizer.default_lr` — its own step size when a devices file leaves ``lr``
  empty, or ``None`` (the plan's SGD step size ``η`` applies); Adam's normalized steps are not
  on the scale of ``η``.

A heterogeneous population is an :class:`OptimizerPopulation` (one optimizer per device). Its
:meth:`~OptimizerPopulation.direction` groups devices that share an optimizer and updates each
group with one vectorized numpy expression; its state is a dict of ``(N, d)`` arrays.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ssdfl.errors import SsdflError

__all__ = [
    "BOUNDS",
    "OPTIMIZERS",
    "SGD",
    "Adam",
    "FusedStep",
    "LocalOptimizer",
    "MomentumSGD",
    "OptimizerPopulation",
    "ProxSGD",
    "make_optimizer",
    "random_population",
    "register_optimizer",
]

State = dict[str, np.ndarray]

BOUNDS: dict[str, str] = {
    "recursion": "Lemmas 1-2 and Theorem 2 (ssdfl.theory.bounds.bound_problem / run_bounds)",
    "generic": "the scalar-constant Theorem 2 (bounds.generic_problem / formation_bound)",
    "theorem1": "Theorem 1 (intra-cluster convergence on the effective loss)",
    "theorem3": "Theorem 3 (smooth non-convex stationarity, bounds.nonconvex_bound)",
    "affine": "the exact affine schedule (reference.affine_schedule, exact_moments, "
    "effective.fixed_point, EffectiveLoss)",
}
"""Names of the analyses an optimizer can declare in :attr:`LocalOptimizer.bound_coverage`."""


@dataclass(frozen=True)
class FusedStep:
    """Coefficients of an optimizer in the fused kernel ``D = G + μ(X − A) + ρV``;
    ``stores_v``: the row keeps ``V ← D`` (heavy-ball buffer)."""

    mu: float = 0.0
    rho: float = 0.0
    stores_v: bool = False


def _check_tau_eta(tau: float, eta: float) -> None:
    if not (tau >= 1):
        raise SsdflError(f"tau must be >= 1 (or math.inf), got {tau}")
    if not (eta > 0 and math.isfinite(eta)):
        raise SsdflError(f"eta must be a positive finite number, got {eta}")


@dataclass(frozen=True)
class LocalOptimizer(ABC):
    """Base class: a device's local optimizer (immutable value object); the protocol is in
    the module docstring.

    Subclasses define :meth:`alpha` and :meth:`direction` on an ``(n, d)`` block of devices
    sharing it; the defaults of the other members are the safe ones for an unknown optimizer:
    no fused kernel, covered by no bound, carries its state across cycles, uses the anchor.
    ``mu`` / ``rho`` are the coefficients the bounds' analyses read (0 if none).
    """

    kind: ClassVar[str] = "base"
    bound_coverage: ClassVar[frozenset[str]] = frozenset()
    uses_anchor: ClassVar[bool] = True
    columns: ClassVar[tuple[str, ...]] = ()
    """Devices-file columns holding this optimizer's constructor arguments (same names)."""
    optional_columns: ClassVar[tuple[str, ...]] = ()
    """Those of :attr:`columns` a devices file may leave empty (the constructor's default)."""
    default_lr: ClassVar[float | None] = None
    """Step size used when a device gives no ``lr`` of its own; ``None``: the plan's ``η``."""

    @property
    def mu(self) -> float:
        return 0.0

    @property
    def rho(self) -> float:
        return 0.0

    @abstractmethod
    def alpha(self, tau: float, eta: float) -> float:
        """Effective step factor ``‖a‖₁/τ`` over ``tau`` local steps of size ``eta``."""
        ...

    def state_keys(self) -> tuple[str, ...]:
        """Names of the per-device state arrays this optimizer needs."""
        return ()

    @property
    def carries_state(self) -> bool:
        """Whether the optimizer has buffers that, when kept across cycles, make a gradient
        contribute beyond the cycle it was taken in (default: it has state keys)."""
        return bool(self.state_keys())

    def cycle_alpha(self, tau: float, eta: float, reset_state: bool = True) -> float:
        """Step factor of one cycle of ``tau`` local steps: ``α(τ, η)`` if the buffers are
        zeroed at every cycle start (``reset_state``), else the steady state ``α(∞, η)`` for
        an optimizer that :attr:`carries_state` (its gradients keep contributing afterwards)."""
        return self.alpha(math.inf if (self.carries_state and not reset_state) else tau, eta)

    def normalization(self, tau: float, eta: float, reset_state: bool = True) -> float:
        """Effective-gradient normalization factor ``c = 1/cycle_alpha(τ, η)``."""
        a = self.cycle_alpha(tau, eta, reset_state)
        if not (a > 0 and math.isfinite(a)):
            raise SsdflError(
                f"cannot normalize {self!r}: its effective step factor is {a} (tau={tau})"
            )
        return 1.0 / a

    def fused(self) -> FusedStep | None:
        """Coefficients in the fused μ/ρ kernel, or ``None`` (generic :meth:`direction` path)."""
        return None

    def covered_by(self, bound: str) -> bool:
        """Whether the analysis ``bound`` (a key of :data:`BOUNDS`) covers this optimizer."""
        if bound not in BOUNDS:
            raise SsdflError(f"unknown bound {bound!r}; expected one of {sorted(BOUNDS)}")
        return bound in self.bound_coverage

    @classmethod
    def sample(cls, rng: np.random.Generator, **ranges: tuple[float, float]) -> LocalOptimizer:
        """A random instance (``random_population``): each column drawn uniformly from
        ``ranges[f"{column}_range"]``."""
        kw = {c: float(rng.uniform(*ranges[f"{c}_range"])) for c in cls.columns}
        return cls(**kw)

    @abstractmethod
    def direction(
        self, g: np.ndarray, x: np.ndarray, anchor: np.ndarray, state: State, step: int
    ) -> np.ndarray:
        """Direction ``d`` for a block of devices (all arrays ``(n, d)``); updates ``state``
        in place (its arrays are views/rows owned by the caller). ``step`` counts local steps
        since the last reset, starting at 0."""
        ...


@dataclass(frozen=True)
class SGD(LocalOptimizer):
    """Plain SGD: ``d = g``; ``α = 1``."""

    kind: ClassVar[str] = "sgd"
    bound_coverage: ClassVar[frozenset[str]] = frozenset(BOUNDS)
    uses_anchor: ClassVar[bool] = False

    def fused(self) -> FusedStep:
        return FusedStep()

    def alpha(self, tau: float, eta: float) -> float:
        _check_tau_eta(tau, eta)
        return 1.0

    def direction(
        self, g: np.ndarray, x: np.ndarray, anchor: np.ndarray, state: State, step: int
    ) -> np.ndarray:
        return g.copy()


@dataclass(frozen=True)
class ProxSGD(LocalOptimizer):
    """Proximal SGD: ``d = g + μ (x − anchor)``; ``α = [1 − (1−ημ)^τ] / (ημτ)``."""

    mu: float = 0.1
    kind: ClassVar[str] = "prox"
    bound_coverage: ClassVar[frozenset[str]] = frozenset({"recursion", "theorem1", "affine"})
    columns: ClassVar[tuple[str, ...]] = ("mu",)

    def fused(self) -> FusedStep:
        return FusedStep(mu=float(self.mu))

    def __post_init__(self) -> None:
        if not (isinstance(self.mu, int | float) and self.mu >= 0 and math.isfinite(self.mu)):
            raise SsdflError(f"proximal coefficient mu must be finite and >= 0, got {self.mu}")

    def alpha(self, tau: float, eta: float) -> float:
        _check_tau_eta(tau, eta)
        q = eta * self.mu
        if q == 0.0:
            return 1.0
        if math.isinf(tau):
            return 0.0  # ‖a‖₁ stays bounded (≤ 1/(ημ)) while τ → ∞
        if q >= 2.0:
            raise SsdflError(f"eta*mu = {q} >= 2: the proximal step diverges")
        if q == 1.0:
            return 1.0 / tau
        # −expm1(τ·log1p(−q)) = 1 − (1−q)^τ without cancellation for small ημ
        if q < 1.0:
            return float(-math.expm1(tau * math.log1p(-q)) / (q * tau))
        return float((1.0 - (1.0 - q) ** tau) / (q * tau))

    def direction(
        self, g: np.ndarray, x: np.ndarray, anchor: np.ndarray, state: State, step: int
    ) -> np.ndarray:
        return g + self.mu * (x - anchor)


@dataclass(frozen=True)
class MomentumSGD(LocalOptimizer):
    """Heavy-ball SGD: ``d = g + ρ v``, ``v ← d`` (``v = 0`` after a reset);
    ``α = [τ − ρ(1−ρ^τ)/(1−ρ)] / ((1−ρ)τ)``, ``α(∞) = 1/(1−ρ)``."""

    rho: float = 0.9
    kind: ClassVar[str] = "momentum"
    bound_coverage: ClassVar[frozenset[str]] = frozenset({"recursion", "affine"})
    uses_anchor: ClassVar[bool] = False
    columns: ClassVar[tuple[str, ...]] = ("rho",)

    def fused(self) -> FusedStep:
        return FusedStep(rho=float(self.rho), stores_v=True)

    def __post_init__(self) -> None:
        if not (isinstance(self.rho, int | float) and 0.0 <= self.rho < 1.0):
            raise SsdflError(f"momentum rho must be in [0, 1) (must be < 1), got {self.rho}")

    def alpha(self, tau: float, eta: float) -> float:
        _check_tau_eta(tau, eta)
        r = self.rho
        if r == 0.0:
            return 1.0
        if math.isinf(tau):
            return 1.0 / (1.0 - r)
        norm1 = (tau - r * (1.0 - r**tau) / (1.0 - r)) / (1.0 - r)
        return float(norm1 / tau)

    def state_keys(self) -> tuple[str, ...]:
        return ("v",)

    def direction(
        self, g: np.ndarray, x: np.ndarray, anchor: np.ndarray, state: State, step: int
    ) -> np.ndarray:
        d = g + self.rho * state["v"]
        state["v"] = d.copy()
        return d


@dataclass(frozen=True)
class Adam(LocalOptimizer):
    """Adam (extension, documented as such): ``m ← β₁m + (1−β₁)g``, ``s ← β₂s + (1−β₂)g²``,
    ``d = m̂/(√ŝ + ε)`` with bias corrections ``m̂ = m/(1−β₁^{k+1})``, ``ŝ = s/(1−β₂^{k+1})``.

    ``α = 1``: with bias correction ``m̂`` is a convex combination of past gradients, so the
    gradient *count* per step is 1; the diagonal preconditioner is data dependent and is not a
    scalar factor, so Adam's objective inconsistency is not captured by ``α``.
    """

    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    kind: ClassVar[str] = "adam"
    default_lr: ClassVar[float | None] = 0.01
    uses_anchor: ClassVar[bool] = False
    columns: ClassVar[tuple[str, ...]] = ("beta1", "beta2", "eps")
    optional_columns: ClassVar[tuple[str, ...]] = ("beta1", "beta2", "eps")

    @classmethod
    def sample(cls, rng: np.random.Generator, **ranges: tuple[float, float]) -> LocalOptimizer:
        return cls()

    def __post_init__(self) -> None:
        if not (0.0 <= self.beta1 < 1.0 and 0.0 <= self.beta2 < 1.0):
            raise SsdflError(
                f"Adam betas must lie in [0, 1), got beta1={self.beta1}, beta2={self.beta2}"
            )
        if not (self.eps > 0 and math.isfinite(self.eps)):
            raise SsdflError(f"Adam eps must be finite and > 0, got {self.eps}")

    def alpha(self, tau: float, eta: float) -> float:
        _check_tau_eta(tau, eta)
        return 1.0

    def state_keys(self) -> tuple[str, ...]:
        return ("m", "s")

    def direction(
        self, g: np.ndarray, x: np.ndarray, anchor: np.ndarray, state: State, step: int
    ) -> np.ndarray:
        m = self.beta1 * state["m"] + (1.0 - self.beta1) * g
        s = self.beta2 * state["s"] + (1.0 - self.beta2) * g * g
        state["m"], state["s"] = m, s
        mh = m / (1.0 - self.beta1 ** (step + 1))
        sh = s / (1.0 - self.beta2 ** (step + 1))
        return mh / (np.sqrt(sh) + self.eps)


class OptimizerPopulation:
    """One :class:`LocalOptimizer` per device, stepped together.

    Attributes: ``optimizers`` (tuple, length ``N``), ``mu`` and ``rho`` (``(N,)`` arrays of
    proximal / momentum coefficients, 0 where not applicable), ``kinds`` (``(N,)`` names);
    ``fused`` the ``(N,)`` fused-kernel coefficients ``(mu, rho, stores_v)`` or ``None`` when
    some device has no fused form.
    """

    def __init__(self, optimizers: Sequence[LocalOptimizer] | LocalOptimizer, n: int | None = None):
        if isinstance(optimizers, LocalOptimizer):
            if n is None:
                raise SsdflError("give n when a single optimizer is shared by all devices")
            optimizers = [optimizers] * n
        opts = tuple(optimizers)
        if not opts:
            raise SsdflError("an optimizer population needs at least one device")
        for o in opts:
            if not isinstance(o, LocalOptimizer):
                raise TypeError(f"expected LocalOptimizer instances, got {type(o).__name__}")
        if n is not None and n != len(opts):
            raise SsdflError(f"{len(opts)} optimizers given for n={n} devices")
        self.optimizers = opts
        self.n = len(opts)
        self.mu = np.array([o.mu for o in opts], dtype=np.float64)
        self.rho = np.array([o.rho for o in opts], dtype=np.float64)
        self.kinds = np.array([o.kind for o in opts], dtype=object)
        groups: dict[LocalOptimizer, list[int]] = {}
        for i, o in enumerate(opts):
            groups.setdefault(o, []).append(i)
        self._groups = [(o, np.asarray(ix, dtype=np.int64)) for o, ix in groups.items()]
        self._keys = sorted({k for o in opts for k in o.state_keys()})
        fz = [o.fused() for o in opts]
        self.fused: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        if all(f is not None for f in fz):
            self.fused = (
                np.array([f.mu for f in fz if f is not None], dtype=np.float64),
                np.array([f.rho for f in fz if f is not None], dtype=np.float64),
                np.array([f.stores_v for f in fz if f is not None], dtype=bool),
            )
        self.needs_anchor = any(o.uses_anchor for o in opts)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, idx: np.ndarray | Sequence[int]) -> OptimizerPopulation:
        ix = np.asarray(idx, dtype=np.int64)
        return OptimizerPopulation([self.optimizers[i] for i in ix])

    def __repr__(self) -> str:
        counts: dict[str, int] = {}
        for k in self.kinds:
            counts[k] = counts.get(k, 0) + 1
        return f"OptimizerPopulation(n={self.n}, {counts})"

    def uncovered(self, bound: str) -> list[LocalOptimizer]:
        """The distinct optimizers of the population that ``bound`` does not cover."""
        seen: list[LocalOptimizer] = []
        for o, _ in self._groups:
            if not o.covered_by(bound) and o not in seen:
                seen.append(o)
        return seen

    def covered_by(self, bound: str) -> bool:
        return not self.uncovered(bound)

    def coverage_note(self, bound: str) -> str | None:
        """One sentence naming the devices' optimizers that ``bound`` (a key of :data:`BOUNDS`)
        does not cover and how many devices use them, or ``None`` if it covers all."""
        bad = self.uncovered(bound)
        if not bad:
            return None
        kinds = sorted({o.kind for o in bad})
        count = int(sum(np.sum(self.kinds == k) for k in kinds))
        return (
            f"{count} of {self.n} devices use {', '.join(kinds)}, which {BOUNDS[bound]} does "
            f"not cover: the bounds shown leave them out"
        )

    def default_lrs(self) -> np.ndarray:
        """``(N,)`` each device's optimizer's :attr:`~LocalOptimizer.default_lr` (NaN where
        ``None``: the plan's ``η`` applies)."""
        return np.array([np.nan if o.default_lr is None else o.default_lr for o in self.optimizers])

    def require(self, bound: str, where: str = "") -> None:
        """Raise :class:`SsdflError` unless every device is covered by ``bound`` (a key of
        :data:`BOUNDS`); the message names the optimizers that are not."""
        bad = self.uncovered(bound)
        if bad:
            names = ", ".join(sorted({f"{type(o).__name__} ({o.kind})" for o in bad}))
            at = f"{where}: " if where else ""
            raise SsdflError(
                f"{at}{BOUNDS[bound]} does not cover {names}; covered optimizers declare "
                f"{bound!r} in bound_coverage (SGD / prox / momentum where derived)"
            )

    def alphas(self, tau: float, eta: float) -> np.ndarray:
        """``(N,)`` effective step factors ``α_i(τ, η)`` (from a fresh state)."""
        return np.array([o.alpha(tau, eta) for o in self.optimizers], dtype=np.float64)

    def cycle_alphas(
        self, tau: float, eta: float | np.ndarray, reset_state: bool = True
    ) -> np.ndarray:
        """``(N,)`` step factors one cycle contributes (:meth:`LocalOptimizer.cycle_alpha`);
        ``eta`` scalar or per device."""
        etas = np.broadcast_to(np.asarray(eta, dtype=np.float64), (self.n,))
        return np.array(
            [o.cycle_alpha(tau, float(e), reset_state) for o, e in zip(self.optimizers, etas)],
            dtype=np.float64,
        )

    def scales(
        self, tau: float, eta: float | np.ndarray, normalize: bool, reset_state: bool = True
    ) -> np.ndarray:
        """Per-device multiplier ``c_i`` of the direction: ``1/cycle_alpha_i`` if
        ``normalize`` else 1 (see :meth:`LocalOptimizer.normalization`)."""
        if not normalize:
            return np.ones(self.n)
        etas = np.broadcast_to(np.asarray(eta, dtype=np.float64), (self.n,))
        return np.array(
            [o.normalization(tau, float(e), reset_state) for o, e in zip(self.optimizers, etas)],
            dtype=np.float64,
        )

    def init_state(self, d: int) -> State:
        """Zero state arrays ``(N, d)`` for every key any device needs (``v``, ``m``, ``s``)."""
        return {k: np.zeros((self.n, d)) for k in self._keys}

    def reset(self, state: State) -> None:
        """Zero the optimizer buffers in place (done at each cycle start by default)."""
        for arr in state.values():
            arr[...] = 0.0

    def direction(
        self, g: np.ndarray, x: np.ndarray, anchor: np.ndarray, state: State, step: int
    ) -> np.ndarray:
        """``(N, d)`` directions for all devices; updates ``state`` in place."""
        if g.shape != x.shape or x.shape != anchor.shape or x.shape[0] != self.n:
            raise SsdflError(
                f"shapes must all be (N={self.n}, d); got g{g.shape} x{x.shape} a{anchor.shape}"
            )
        out = np.empty_like(g)
        if len(self._groups) == 1:
            o, _ = self._groups[0]
            sub = {k: state[k] for k in o.state_keys()}
            out[...] = o.direction(g, x, anchor, sub, step)
            for k in o.state_keys():
                state[k] = sub[k]
            return out
        for o, ix in self._groups:
            sub = {k: state[k][ix] for k in o.state_keys()}
            out[ix] = o.direction(g[ix], x[ix], anchor[ix], sub, step)
            for k in o.state_keys():
                state[k][ix] = sub[k]
        return out


OPTIMIZERS: dict[str, type[LocalOptimizer]] = {}
"""The registry: devices-file name (``kind``) → optimizer class."""


def register_optimizer(cls: type[LocalOptimizer]) -> type[LocalOptimizer]:
    """Add ``cls`` to :data:`OPTIMIZERS` under ``cls.kind`` (usable as a class decorator)."""
    if not (isinstance(cls, type) and issubclass(cls, LocalOptimizer)):
        raise TypeError("register_optimizer needs a LocalOptimizer subclass")
    if cls.kind in OPTIMIZERS and OPTIMIZERS[cls.kind] is not cls:
        raise SsdflError(f"an optimizer named {cls.kind!r} is already registered")
    OPTIMIZERS[cls.kind] = cls
    return cls


for _cls in (SGD, ProxSGD, MomentumSGD, Adam):
    register_optimizer(_cls)


def make_optimizer(kind: str, **params: float) -> LocalOptimizer:
    """The registered optimizer ``kind`` built from its :attr:`~LocalOptimizer.columns`
    (those in :attr:`~LocalOptimizer.optional_columns` may be left out: constructor default)."""
    cls = OPTIMIZERS.get(kind)
    if cls is None:
        raise SsdflError(f"unknown optimizer {kind!r}; expected one of {tuple(OPTIMIZERS)}")
    missing = [c for c in cls.columns if c not in params and c not in cls.optional_columns]
    if missing:
        raise SsdflError(f"optimizer {kind!r} needs {', '.join(missing)}")
    return cls(**{c: float(params[c]) for c in cls.columns if c in params})


def random_population(
    n: int,
    rng: np.random.Generator,
    kinds: Sequence[str] = ("sgd", "prox", "momentum"),
    mu_range: tuple[float, float] = (0.01, 1.0),
    rho_range: tuple[float, float] = (0.1, 0.9),
) -> OptimizerPopulation:
    """Each device draws an optimizer kind uniformly from ``kinds`` (names of
    :data:`OPTIMIZERS`, as in the paper's experiments) and its coefficients uniformly from
    ``mu_range`` / ``rho_range`` (:meth:`LocalOptimizer.sample`)."""
    if not kinds or any(k not in OPTIMIZERS for k in kinds):
        raise SsdflError(f"kinds must be a non-empty subset of {sorted(OPTIMIZERS)}")
    opts = [
        OPTIMIZERS[kinds[int(rng.integers(len(kinds)))]].sample(
            rng, mu_range=mu_range, rho_range=rho_range
        )
        for _ in range(n)
    ]
    return OptimizerPopulation(opts)
