"""Local optimizers of SSD-FL devices, vectorized over many devices.

Every optimizer produces, per device ``i`` and step, a *direction* ``d_i``; the intra-cluster
round is ``X⁺ = W_s X − η D`` (spec §2), with ``D`` the ``(N, d)`` array of directions.

Directions (``g_i`` the (stochastic) gradient of ``F_i`` at ``x_i``, ``a_i`` the anchor = the
model at the start of the current cycle, ``v_i`` the momentum buffer *before* the step):

- :class:`SGD`: ``d = g``.
- :class:`ProxSGD` ``(mu)``: ``d = g + μ (x − a)`` (FedProx proximal term).
- :class:`MomentumSGD` ``(rho)``: heavy-ball ``d = g + ρ v``, then ``v ← d``.
- :class:`Adam` ``(beta1, beta2, eps)`` — *extension, not in the paper*: bias-corrected Adam,
  ``d = m̂ / (√v̂ + ε)``. A diagonal preconditioner; it has no scalar effective step factor
  (see :meth:`Adam.alpha`) and is not covered by the bounds in :mod:`ssdfl.theory.bounds`.

Effective step factor ``α(τ, η)`` (FedNova, Wang et al. 2020; spec §2): over ``τ`` local steps the
accumulated update of a device is ``−η Σ_k a_k g_k`` and ``α = ‖a‖₁ / τ``:

- SGD: ``α = 1``;
- proximal: ``‖a‖₁ = [1 − (1 − ημ)^τ] / (ημ)``;
- momentum: ``‖a‖₁ = [τ − ρ(1 − ρ^τ)/(1 − ρ)] / (1 − ρ)``; ``τ = ∞`` gives the steady state
  ``1/(1 − ρ)``.

*Effective gradient normalization* divides each device's direction by its ``α_i``; in the
small-step limit the fixed point then minimizes ``Σ F_i`` instead of ``Σ α_i F_i``.

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
    "SGD",
    "Adam",
    "LocalOptimizer",
    "MomentumSGD",
    "OptimizerPopulation",
    "ProxSGD",
    "random_population",
]

State = dict[str, np.ndarray]


def _check_tau_eta(tau: float, eta: float) -> None:
    if not (tau >= 1):
        raise SsdflError(f"tau must be >= 1 (or math.inf), got {tau}")
    if not (eta > 0 and math.isfinite(eta)):
        raise SsdflError(f"eta must be a positive finite number, got {eta}")


@dataclass(frozen=True)
class LocalOptimizer(ABC):
    """Base class: a device's local optimizer (immutable value object).

    Subclasses define ``mu`` (proximal coefficient, 0 if none) and ``rho`` (momentum, 0 if none),
    :meth:`alpha`, and :meth:`direction` on an ``(n, d)`` block of devices sharing it.
    """

    kind: ClassVar[str] = "base"

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

    mu: float = 0.1  # type: ignore[assignment]
    kind: ClassVar[str] = "prox"

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

    rho: float = 0.9  # type: ignore[assignment]
    kind: ClassVar[str] = "momentum"

    def __post_init__(self) -> None:
        if not (isinstance(self.rho, int | float) and 0.0 <= self.rho < 1.0):
            raise SsdflError(f"momentum rho must be in [0, 1), got {self.rho}")

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

    def __post_init__(self) -> None:
        if not (0.0 <= self.beta1 < 1.0 and 0.0 <= self.beta2 < 1.0):
            raise SsdflError("Adam betas must lie in [0, 1)")
        if not (self.eps > 0):
            raise SsdflError("Adam eps must be > 0")

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
    proximal / momentum coefficients, 0 where not applicable), ``kinds`` (``(N,)`` strings).
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

    @property
    def has_adam(self) -> bool:
        return bool(np.any(self.kinds == "adam"))

    def alphas(self, tau: float, eta: float) -> np.ndarray:
        """``(N,)`` effective step factors ``α_i(τ, η)``."""
        return np.array([o.alpha(tau, eta) for o in self.optimizers], dtype=np.float64)

    def scales(self, tau: float, eta: float, normalize: bool) -> np.ndarray:
        """Per-device multiplier ``c_i`` of the direction: ``1/α_i`` if ``normalize`` else 1."""
        if not normalize:
            return np.ones(self.n)
        a = self.alphas(tau, eta)
        if np.any(a <= 0):
            raise SsdflError("cannot normalize by a non-positive effective step factor")
        return 1.0 / a

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


def random_population(
    n: int,
    rng: np.random.Generator,
    kinds: Sequence[str] = ("sgd", "prox", "momentum"),
    mu_range: tuple[float, float] = (0.01, 1.0),
    rho_range: tuple[float, float] = (0.1, 0.9),
) -> OptimizerPopulation:
    """Each device draws an optimizer kind uniformly from ``kinds`` (as in the paper's
    experiments) and its coefficient uniformly from ``mu_range`` / ``rho_range``."""
    allowed = {"sgd", "prox", "momentum", "adam"}
    if not kinds or any(k not in allowed for k in kinds):
        raise SsdflError(f"kinds must be a non-empty subset of {sorted(allowed)}")
    opts: list[LocalOptimizer] = []
    for _ in range(n):
        k = kinds[int(rng.integers(len(kinds)))]
        if k == "sgd":
            opts.append(SGD())
        elif k == "prox":
            opts.append(ProxSGD(float(rng.uniform(*mu_range))))
        elif k == "momentum":
            opts.append(MomentumSGD(float(rng.uniform(*rho_range))))
        else:
            opts.append(Adam())
    return OptimizerPopulation(opts)
