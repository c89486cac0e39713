"""Minimal reference simulation of the SSD-FL schedule (for checking theory; the full
simulator with baselines lives elsewhere).

Schedule (docs/theory.md §0). Clusters are given by ``labels`` (``(N,)`` ints). ``W_intra`` is the
block-diagonal matrix ``diag(W_1, …, W_S)`` (cluster ``s``'s mixing matrix on its induced
subgraph), ``W_inter`` the mixing matrix of the whole graph. One *global cycle*:

1. cycle start: anchors ``A ← X``; momentum / Adam buffers reset to 0 if ``reset_momentum``;
2. ``τ_a`` intra-cluster rounds ``X ← W_intra X − η C D(X)`` with ``D`` the optimizers'
   directions (``g = ∇F_i + ξ_i``) and ``C = diag(c_i)``, ``c_i`` the optimizer's own
   normalization (``1/α_i(τ_a, η)`` with a reset, ``1/α_i(∞, η)`` for optimizers carrying
   state across cycles without one) under effective gradient normalization, else 1;
3. ``τ_r`` inter-cluster rounds ``X ← W_inter X`` (pure gossip).

:func:`simulate` runs it for any :class:`~ssdfl.theory.models.DeviceModel` and
:class:`~ssdfl.theory.optimizers.OptimizerPopulation` and returns every iterate.
For quadratics with SGD / proximal / momentum devices the schedule is affine in the state
``z = (X, V, A)``; :func:`affine_schedule` gives its matrices (row-major ``vec``), which
:func:`exact_moments` uses to propagate the exact mean and covariance under Gaussian noise and
:func:`ssdfl.theory.effective.fixed_point` to solve for the periodic fixed point.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ssdfl.clusters.labels import check_labels
from ssdfl.errors import SsdflError
from ssdfl.graphs.graph import GraphLike, as_graph
from ssdfl.graphs.mixing import block_mixing_matrix, dense_matrix
from ssdfl.theory.models import DeviceModel, Quadratic
from ssdfl.theory.optimizers import OptimizerPopulation

__all__ = [
    "AffineSchedule",
    "Trajectory",
    "affine_schedule",
    "block_mixing",
    "consensus_gaps",
    "exact_moments",
    "simulate",
]


def _labels(labels: np.ndarray | list[int], n: int) -> np.ndarray:
    return check_labels(labels, n)


def block_mixing(
    g: GraphLike, labels: np.ndarray | list[int], rule: str = "lazy-metropolis"
) -> np.ndarray:
    """Dense ``N × N`` block-diagonal ``diag(W_s)``: each cluster's mixing matrix (``rule``)
    on its induced subgraph; a singleton cluster gets ``W_s = [1]`` (dense form of
    :func:`ssdfl.graphs.mixing.block_mixing_matrix`, clusters not required to be connected)."""
    g = as_graph(g)
    lab = _labels(labels, g.n)
    return block_mixing_matrix(g, lab, rule, check_connected=False).toarray()


@dataclass
class Trajectory:
    """Iterates of a run: ``X[t]`` after round ``t`` (``X[0]`` = start), ``phase[t]`` ∈
    {``"start"``, ``"intra"``, ``"inter"``}, ``cycle[t]`` the cycle index of round ``t``."""

    X: np.ndarray
    phase: np.ndarray
    cycle: np.ndarray


def simulate(
    model: DeviceModel,
    optimizers: OptimizerPopulation,
    W_intra: np.ndarray | sp.sparray,
    W_inter: np.ndarray | sp.sparray,
    X0: np.ndarray,
    eta: float,
    tau_a: int,
    tau_r: int,
    cycles: int,
    *,
    sigma: float = 0.0,
    batch_size: int | None = None,
    normalize: bool = False,
    reset_momentum: bool = True,
    rng: np.random.Generator | int | None = None,
) -> Trajectory:
    """Run ``cycles`` global cycles (see module docstring); returns every iterate."""
    n, d = model.n_devices, model.dim
    if len(optimizers) != n:
        raise SsdflError(f"{len(optimizers)} optimizers for {n} devices")
    if tau_a < 0 or tau_r < 0 or cycles < 0 or tau_a + tau_r == 0:
        raise SsdflError("need tau_a, tau_r, cycles >= 0 and tau_a + tau_r >= 1")
    if not (eta > 0):
        raise SsdflError(f"eta must be > 0, got {eta}")
    Wa = dense_matrix(W_intra, n, "W_intra")
    Wr = dense_matrix(W_inter, n, "W_inter")
    r = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    c = optimizers.scales(max(tau_a, 1), eta, normalize, reset_momentum)[:, None]
    X = np.array(X0, dtype=np.float64)
    if X.shape != (n, d):
        raise SsdflError(f"X0 must have shape ({n}, {d})")
    T = cycles * (tau_a + tau_r)
    hist = np.empty((T + 1, n, d))
    phase = np.empty(T + 1, dtype=object)
    cyc = np.empty(T + 1, dtype=np.int64)
    hist[0], phase[0], cyc[0] = X, "start", 0
    state = optimizers.init_state(d)
    noisy = sigma > 0 or batch_size is not None
    t = 0
    for k in range(cycles):
        A = X.copy()
        if reset_momentum:
            optimizers.reset(state)
        for j in range(tau_a):
            G = model.stochastic_grad(X, r, sigma, batch_size) if noisy else model.grad(X)
            D = optimizers.direction(G, X, A, state, j)
            X = Wa @ X - eta * c * D
            t += 1
            hist[t], phase[t], cyc[t] = X, "intra", k
        for _ in range(tau_r):
            X = Wr @ X
            t += 1
            hist[t], phase[t], cyc[t] = X, "inter", k
    return Trajectory(hist, phase, cyc)


def consensus_gaps(X: np.ndarray, labels: np.ndarray | list[int]) -> np.ndarray:
    """Per-cluster consensus gaps ``Γ_s = (1/N_s) Σ_{i∈C_s} ‖x_i − x̄_s‖²`` for ``X`` of shape
    ``(..., N, d)``; returns ``(..., S)`` in the order of ``np.unique(labels)``."""
    n = X.shape[-2]
    lab = _labels(labels, n)
    out = []
    for s in np.unique(lab):
        Xs = X[..., lab == s, :]
        dev = Xs - Xs.mean(axis=-2, keepdims=True)
        out.append(np.sum(dev * dev, axis=(-2, -1)) / Xs.shape[-2])
    return np.stack(out, axis=-1)


@dataclass
class AffineSchedule:
    """Affine form of one schedule for quadratics with SGD / prox / momentum devices.

    State ``z = [vec X; vec V; vec A; 1]`` (length ``3Nd+1``, row-major ``vec``). ``intra`` and
    ``inter`` map ``z`` to the next round's state; ``start`` applies the cycle-start reset
    (``A ← X``, ``V ← 0`` if ``reset_momentum``); ``noise`` (``(3Nd+1) × Nd``) maps the gradient
    noise ``vec Ξ`` into an intra round's new state.
    """

    n: int
    d: int
    tau_a: int
    tau_r: int
    start: np.ndarray
    intra: np.ndarray
    inter: np.ndarray
    noise: np.ndarray

    def cycle(self) -> np.ndarray:
        """The noiseless one-cycle map (start, ``τ_a`` intra, ``τ_r`` inter)."""
        M = self.start
        for _ in range(self.tau_a):
            M = self.intra @ M
        for _ in range(self.tau_r):
            M = self.inter @ M
        return M

    def state(self, X: np.ndarray, V: np.ndarray | None = None) -> np.ndarray:
        nd = self.n * self.d
        z = np.zeros(3 * nd + 1)
        z[:nd] = np.ravel(X)
        if V is not None:
            z[nd : 2 * nd] = np.ravel(V)
        z[2 * nd : 3 * nd] = np.ravel(X)
        z[-1] = 1.0
        return z

    def X(self, z: np.ndarray) -> np.ndarray:
        return z[: self.n * self.d].reshape(self.n, self.d)


def affine_schedule(
    model: DeviceModel,
    optimizers: OptimizerPopulation,
    W_intra: np.ndarray | sp.sparray,
    W_inter: np.ndarray | sp.sparray,
    eta: float,
    tau_a: int,
    tau_r: int,
    *,
    normalize: bool = False,
    reset_momentum: bool = True,
) -> AffineSchedule:
    """Matrices of the schedule (see :class:`AffineSchedule`). Adam devices are refused (their
    step is not affine). :class:`~ssdfl.theory.models.LeastSquares` models are converted."""
    if hasattr(model, "as_quadratic") and not isinstance(model, Quadratic):
        model = model.as_quadratic()
    if not isinstance(model, Quadratic):
        raise SsdflError("the affine schedule needs a Quadratic (or LeastSquares) model")
    optimizers.require("affine", "affine_schedule")
    if optimizers.fused is None:  # pragma: no cover - covered optimizers declare a fused form
        raise SsdflError("the affine schedule needs every optimizer's fused (μ, ρ) form")
    f_mu, f_rho, f_v = optimizers.fused
    n, d = model.n_devices, model.dim
    nd = n * d
    Wa = dense_matrix(W_intra, n, "W_intra")
    Wr = dense_matrix(W_inter, n, "W_inter")
    c = optimizers.scales(max(tau_a, 1), eta, normalize, reset_momentum)
    Id = np.eye(d)
    Ab = np.zeros((nd, nd))
    for i in range(n):
        Ab[i * d : (i + 1) * d, i * d : (i + 1) * d] = model.A[i]
    Mu = np.kron(np.diag(f_mu), Id)
    Rho = np.kron(np.diag(f_rho), Id)
    Cm = np.kron(np.diag(c), Id)
    Pm = np.kron(np.diag(f_v.astype(float)), Id)
    Ab_b = Ab @ model.b.ravel()
    # direction D = (Ab + Mu) x + Rho v − Mu a − Ab b + ξ
    Dx, Dv, Da, D1 = Ab + Mu, Rho, -Mu, -Ab_b
    T = np.zeros((3 * nd + 1, 3 * nd + 1))
    sx, sv, sa = slice(0, nd), slice(nd, 2 * nd), slice(2 * nd, 3 * nd)
    T[sx, sx] = np.kron(Wa, Id) - eta * Cm @ Dx
    T[sx, sv] = -eta * Cm @ Dv
    T[sx, sa] = -eta * Cm @ Da
    T[sx, -1] = -eta * Cm @ D1
    T[sv, sx] = Pm @ Dx
    T[sv, sv] = Pm @ Dv
    T[sv, sa] = Pm @ Da
    T[sv, -1] = Pm @ D1
    T[sa, sa] = np.eye(nd)
    T[-1, -1] = 1.0
    B = np.zeros((3 * nd + 1, nd))
    B[sx] = -eta * Cm
    B[sv] = Pm
    R = np.eye(3 * nd + 1)
    R[sx, sx] = np.eye(nd)
    R[sa, sa] = 0.0
    R[sa, sx] = np.eye(nd)
    if reset_momentum:
        R[sv, sv] = 0.0
    G = np.eye(3 * nd + 1)
    G[sx, sx] = np.kron(Wr, Id)
    return AffineSchedule(n, d, tau_a, tau_r, R, T, G, B)


def exact_moments(
    sched: AffineSchedule, X0: np.ndarray, cycles: int, sigma: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Exact mean ``E[X_t]`` (``(T+1, N, d)``) and covariance of ``vec X_t``
    (``(T+1, Nd, Nd)``) over every round, for gradient noise ``ξ_i ~ N(0, σ²/d · I)``
    independent across devices and rounds. Same round indexing as :func:`simulate`."""
    nd = sched.n * sched.d
    m = sched.state(X0)
    P = np.zeros((m.size, m.size))
    Q = (sigma**2 / sched.d) * sched.noise @ sched.noise.T
    means, covs = [m[:nd].copy()], [P[:nd, :nd].copy()]
    for _ in range(cycles):
        m = sched.start @ m
        P = sched.start @ P @ sched.start.T
        for _ in range(sched.tau_a):
            m = sched.intra @ m
            P = sched.intra @ P @ sched.intra.T + Q
            means.append(m[:nd].copy())
            covs.append(P[:nd, :nd].copy())
        for _ in range(sched.tau_r):
            m = sched.inter @ m
            P = sched.inter @ P @ sched.inter.T
            means.append(m[:nd].copy())
            covs.append(P[:nd, :nd].copy())
    return np.stack(means).reshape(-1, sched.n, sched.d), np.stack(covs)
