"""Effective loss of a cluster and the fixed points of the SSD-FL schedule (``docs/theory.md`` §2).

For cluster ``s`` with stacked models ``X`` (``N_s × d``), mixing matrix ``W_s``, step ``η``,
per-device direction scales ``c_i`` (``1/α_i`` under effective gradient normalization, else 1),
proximal coefficients ``μ_i``, momentum coefficients ``ρ_i``, anchors ``a_i`` (models at the
cycle start) and momentum buffers ``v_i`` (before the step):

    F̃_s(X) = Σ_i c_i [F_i(x_i) + (μ_i/2)‖x_i − a_i‖² + ⟨ρ_i v_i, x_i⟩] + (1/2η) tr(Xᵀ(I − W_s)X)

and the intra-cluster round is exactly one gradient step on it:
``W_s X − η C D = X − η ∇F̃_s(X)`` (:class:`EffectiveLoss`). ``F̃_s`` is
``L̃``-smooth with ``L̃ ≤ max_i c_i(L_i + μ_i) + (1 − λ_min(W_s))/η``; a gradient step with
step ``η`` contracts when ``η·max_i c_i(L_i + μ_i) < 1 + λ_min(W_s)`` (:func:`smoothness_bound`,
:func:`step_size_limit`).

Fixed points (quadratics, SGD / prox / momentum devices):

- :func:`fixed_point`: the exact periodic fixed point of the whole schedule (cycle map solved as
  a linear system from :func:`ssdfl.theory.reference.affine_schedule`);
- :func:`biased_optimum`: its small-step limit ``x_w = argmin Σ_i w_i F_i`` with
  ``w_i = c_i α_i(τ_a, η)`` (:func:`surrogate_weights`): ``w_i = α_i`` without normalization
  (FedNova's objective inconsistency), ``w_i = 1`` with it (bias removed);
- :func:`objective_inconsistency`: ``‖x_w − x*‖`` with ``x* = argmin Σ_i F_i``;
- :func:`fixed_point_distance`: ``‖x̄_fp − x*‖`` of the exact fixed point's network average.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ssdfl.errors import SsdflError
from ssdfl.graphs.mixing import dense_matrix
from ssdfl.theory.models import DeviceModel, Quadratic
from ssdfl.theory.optimizers import OptimizerPopulation
from ssdfl.theory.reference import affine_schedule

__all__ = [
    "EffectiveLoss",
    "biased_optimum",
    "effective_minimizer",
    "fixed_point",
    "fixed_point_distance",
    "objective_inconsistency",
    "smoothness_bound",
    "step_size_limit",
    "surrogate_weights",
]


class EffectiveLoss:
    """``F̃_s`` of one cluster (see module docstring); all arrays are ``(N_s, d)`` or ``(N_s,)``.

    ``mu``, ``rho``, ``scales`` default to 0, 0, 1; ``anchor`` and ``V`` default to zeros.
    """

    def __init__(
        self,
        model: DeviceModel,
        W: np.ndarray | sp.sparray,
        eta: float,
        *,
        mu: np.ndarray | None = None,
        rho: np.ndarray | None = None,
        anchor: np.ndarray | None = None,
        V: np.ndarray | None = None,
        scales: np.ndarray | None = None,
    ):
        n, d = model.n_devices, model.dim
        self.model = model
        self.W = dense_matrix(W)
        if self.W.shape != (n, n):
            raise SsdflError(f"W must be {n}×{n} for a cluster of {n} devices")
        if not (eta > 0):
            raise SsdflError(f"eta must be > 0, got {eta}")
        self.eta = float(eta)
        self.mu = np.zeros(n) if mu is None else np.asarray(mu, dtype=np.float64)
        self.rho = np.zeros(n) if rho is None else np.asarray(rho, dtype=np.float64)
        self.c = np.ones(n) if scales is None else np.asarray(scales, dtype=np.float64)
        self.anchor = np.zeros((n, d)) if anchor is None else np.asarray(anchor, dtype=float)
        self.V = np.zeros((n, d)) if V is None else np.asarray(V, dtype=np.float64)
        for name, arr, shape in (
            ("mu", self.mu, (n,)),
            ("rho", self.rho, (n,)),
            ("scales", self.c, (n,)),
            ("anchor", self.anchor, (n, d)),
            ("V", self.V, (n, d)),
        ):
            if arr.shape != shape:
                raise SsdflError(f"{name} must have shape {shape}, got {arr.shape}")

    @classmethod
    def from_population(
        cls,
        model: DeviceModel,
        W: np.ndarray | sp.sparray,
        eta: float,
        optimizers: OptimizerPopulation,
        anchor: np.ndarray,
        V: np.ndarray | None = None,
        scales: np.ndarray | None = None,
    ) -> EffectiveLoss:
        """Coefficients from an optimizer population (optimizers outside the ``"affine"``
        coverage, e.g. Adam, are refused: no scalar form)."""
        optimizers.require("affine", "EffectiveLoss")
        if optimizers.fused is None:  # pragma: no cover - covered optimizers declare a fused form
            raise SsdflError("EffectiveLoss needs every optimizer's fused (μ, ρ) form")
        f_mu, f_rho, _ = optimizers.fused
        return cls(
            model, W, eta, mu=f_mu, rho=f_rho, anchor=anchor, V=V, scales=scales,
        )  # fmt: skip

    def value(self, X: np.ndarray) -> float:
        X = np.asarray(X, dtype=np.float64)
        dev = (
            self.model.loss(X)
            + 0.5 * self.mu * np.sum((X - self.anchor) ** 2, axis=1)
            + self.rho * np.sum(self.V * X, axis=1)
        )
        lap = np.sum(X * ((np.eye(len(X)) - self.W) @ X))
        return float(self.c @ dev + lap / (2.0 * self.eta))

    def grad(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        local = (
            self.model.grad(X) + self.mu[:, None] * (X - self.anchor) + self.rho[:, None] * self.V
        )
        return self.c[:, None] * local + (X - self.W @ X) / self.eta

    def step(self, X: np.ndarray) -> np.ndarray:
        """One gradient step ``X − η ∇F̃(X)``."""
        return X - self.eta * self.grad(X)


def effective_minimizer(loss: EffectiveLoss) -> np.ndarray:
    """Minimizer ``X̃*`` of ``F̃`` for a quadratic model: the solution of
    ``C[A_i(x_i − b_i) + μ_i(x_i − a_i) + ρ_i v_i] + (I − W)X/η = 0`` (one linear solve)."""
    model = loss.model
    if hasattr(model, "as_quadratic") and not isinstance(model, Quadratic):
        model = model.as_quadratic()
    if not isinstance(model, Quadratic):
        raise SsdflError("effective_minimizer needs a Quadratic (or LeastSquares) model")
    n, d = model.n_devices, model.dim
    H = np.kron((np.eye(n) - loss.W) / loss.eta, np.eye(d))
    rhs = np.zeros((n, d))
    for i in range(n):
        blk = slice(i * d, (i + 1) * d)
        H[blk, blk] += loss.c[i] * (model.A[i] + loss.mu[i] * np.eye(d))
        rhs[i] = loss.c[i] * (
            model.A[i] @ model.b[i] + loss.mu[i] * loss.anchor[i] - loss.rho[i] * loss.V[i]
        )
    try:
        x = np.linalg.solve(H, rhs.ravel())
    except np.linalg.LinAlgError as e:
        raise SsdflError("the effective loss has no unique minimizer") from e
    return x.reshape(n, d)


def smoothness_bound(
    L: float | np.ndarray,
    W: np.ndarray | sp.sparray,
    eta: float,
    mu: float | np.ndarray = 0.0,
    scales: float | np.ndarray = 1.0,
) -> float:
    """``L̃ = max_i c_i(L_i + μ_i) + (1 − λ_min(W))/η`` ≥ the smoothness constant of ``F̃``."""
    lam_min = float(np.linalg.eigvalsh(dense_matrix(W))[0])
    loc = np.max(np.asarray(scales) * (np.asarray(L) + np.asarray(mu)))
    return float(loc + (1.0 - lam_min) / eta)


def step_size_limit(
    L: float | np.ndarray,
    W: np.ndarray | sp.sparray,
    mu: float | np.ndarray = 0.0,
    scales: float | np.ndarray = 1.0,
) -> float:
    """Largest ``η`` with ``η L̃ < 2`` given the smoothness bound: ``(1 + λ_min(W)) /
    max_i c_i(L_i + μ_i)`` (a gradient step on ``F̃`` is then a contraction)."""
    lam_min = float(np.linalg.eigvalsh(dense_matrix(W))[0])
    loc = float(np.max(np.asarray(scales) * (np.asarray(L) + np.asarray(mu))))
    if loc <= 0:
        return float("inf")
    return (1.0 + lam_min) / loc


def surrogate_weights(
    optimizers: OptimizerPopulation,
    tau: int,
    eta: float,
    normalize: bool = False,
    reset_momentum: bool = True,
) -> np.ndarray:
    """``w_i = c_i α_i`` with the step factor one cycle contributes (``α_i(τ)`` with a reset,
    the steady state ``α_i(∞)`` for optimizers that carry state without one,
    :meth:`~ssdfl.theory.optimizers.LocalOptimizer.cycle_alpha`): ``= α_i`` unnormalized,
    ``= 1`` normalized."""
    a = optimizers.cycle_alphas(tau, eta, reset_momentum)
    return optimizers.scales(tau, eta, normalize, reset_momentum) * a


def biased_optimum(
    model: DeviceModel,
    optimizers: OptimizerPopulation,
    tau: int,
    eta: float,
    normalize: bool = False,
    reset_momentum: bool = True,
) -> np.ndarray:
    """``argmin_x Σ_i w_i F_i(x)`` with :func:`surrogate_weights` (closed form for
    quadratics): the small-step limit of the schedule's fixed point."""
    return model.optimum(surrogate_weights(optimizers, tau, eta, normalize, reset_momentum))


def objective_inconsistency(
    model: DeviceModel,
    optimizers: OptimizerPopulation,
    tau: int,
    eta: float,
    normalize: bool = False,
    reset_momentum: bool = True,
) -> float:
    """``‖argmin Σ w_i F_i − argmin Σ F_i‖`` (0 with normalization)."""
    xw = biased_optimum(model, optimizers, tau, eta, normalize, reset_momentum)
    return float(np.linalg.norm(xw - model.optimum()))


def fixed_point(
    model: Quadratic | DeviceModel,
    optimizers: OptimizerPopulation,
    W_intra: np.ndarray | sp.sparray,
    W_inter: np.ndarray | sp.sparray,
    eta: float,
    tau_a: int,
    tau_r: int,
    *,
    normalize: bool = False,
    reset_momentum: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact periodic fixed point of the schedule for a quadratic model.

    Returns ``(X, V)``: the devices' models and momentum buffers at the start of a cycle such
    that one cycle maps them to themselves (``V`` is zero when ``reset_momentum``). Raises
    :class:`SsdflError` if the cycle map has eigenvalue 1 (no unique fixed point).
    """
    sched = affine_schedule(
        model, optimizers, W_intra, W_inter, eta, tau_a, tau_r,
        normalize=normalize, reset_momentum=reset_momentum,
    )  # fmt: skip
    n, d = sched.n, sched.d
    nd = n * d
    M = sched.cycle()
    # state entering the cycle: (x, v, ·, 1); the start reset ignores the incoming anchors
    m = nd if reset_momentum else 2 * nd  # with a reset, v enters every cycle as 0
    try:
        z = np.linalg.solve(np.eye(m) - M[:m, :m], M[:m, -1])
    except np.linalg.LinAlgError as e:
        raise SsdflError("the cycle map has no unique fixed point") from e
    x = z[:nd]
    v = np.zeros(nd) if reset_momentum else z[nd:]
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(v))):
        raise SsdflError("the cycle map has no unique fixed point")
    return x.reshape(n, d), v.reshape(n, d)


def fixed_point_distance(
    model: Quadratic | DeviceModel,
    optimizers: OptimizerPopulation,
    W_intra: np.ndarray | sp.sparray,
    W_inter: np.ndarray | sp.sparray,
    eta: float,
    tau_a: int,
    tau_r: int,
    *,
    normalize: bool = False,
    reset_momentum: bool = True,
) -> float:
    """``‖mean_i x_i^fp − x*‖``: distance of the exact fixed point's network average (at the
    cycle start) to the true optimum ``x* = argmin Σ_i F_i``."""
    X, _ = fixed_point(
        model, optimizers, W_intra, W_inter, eta, tau_a, tau_r,
        normalize=normalize, reset_momentum=reset_momentum,
    )  # fmt: skip
    return float(np.linalg.norm(X.mean(axis=0) - model.optimum()))
