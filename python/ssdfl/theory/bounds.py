"""Consensus and convergence bounds of SSD-FL; derivations in ``docs/theory.md`` §3–§7.

Assumptions (A1–A4, stated fully in ``docs/theory.md``): each ``F_i`` is twice differentiable with
``μ_i I ≼ ∇²F_i ≼ L_i I`` (quadratics: ``A_i``); stochastic gradients are unbiased with
``E‖ξ_i‖² ≤ σ²``, independent across devices and rounds; every ``W_s`` and ``W`` is symmetric,
doubly stochastic and positive semidefinite (lazy Metropolis is); devices run SGD, proximal SGD
or heavy-ball momentum (Adam is not covered), with direction scales ``c_i`` (``1/α_i`` under
effective gradient normalization).

Tracked quantities (root-mean-square over the noise; ``x_c = argmin Σ_i c_i F_i`` is the
reference point, equal to ``x* = argmin Σ_i F_i`` when all ``c_i`` are equal):

- ``e_s = ‖(I − J_s) X_s‖_F`` — intra-cluster disagreement of cluster ``s``
  (``Γ_s = e_s²/N_s``);
- ``b = ‖(J_a − J) X‖_F = (Σ_s N_s‖x̄_s − x̄‖²)^{1/2}`` — disagreement between cluster means;
- ``m = √N ‖x̄ − x_c‖`` — optimality of the network average;
- ``p_s = ‖(X − A)_{prox devices of s}‖`` (distance travelled since the anchor),
  ``u_s = ‖(ρ∘V)_{momentum devices of s}‖`` (momentum memory).

One intra round obeys a monotone recursion ``y⁺ ≤ Φ(y)`` (Minkowski for the deterministic part,
orthogonality of the noise for the random part), an inter round contracts
``(e² + b²)^{1/2}`` by ``λ(W)``; iterating gives valid bounds at every round:

- :func:`intra_consensus_bound` — **Lemma 1**: ``E Γ_s(t) ≤ ē_s(t)²/N_s``;
- :func:`inter_consensus_bound` — **Lemma 2**: ``E Γ(t) ≤ (ē(t)² + b̄(t)²)/N`` for the global gap
  ``Γ = (1/N)‖(I − J)X‖²``;
- :func:`intra_cluster_convergence` — **Theorem 1**: linear convergence of the intra rounds to the
  minimizer of the effective loss (SGD / prox devices);
- :func:`global_cycle_bound` — **Theorem 2**: ``E‖x̄ − x_c‖² ≤ m̄²/N`` and
  ``(1/N) E‖X − 1x_cᵀ‖² ≤ (ē² + b̄² + m̄²)/N`` at every round, plus the per-cycle rate and the
  asymptotic radius;
- :func:`nonconvex_bound` — **Theorem 3**: smooth non-convex objectives (SGD devices, uniform
  gradient dissimilarity): consensus gaps and an average-stationarity bound;
- :func:`phi_min`, :func:`eps_S` — the Cheeger admissibility threshold (``λ_s^{τ_a} ≤ ε``).

Build the constants with :func:`bound_problem` (from a model — exact Hessian constants for
quadratics / least squares) or :func:`generic_problem` (from ``L``, ``μ`` and heterogeneity
numbers only, e.g. for scoring candidate formations); then call :func:`run_bounds`.
:func:`formation_bound` wraps it into one number per formation (graph + labels).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from ssdfl.clusters.labels import check_labels
from ssdfl.errors import SsdflError
from ssdfl.graphs.mixing import dense_matrix, mixing_matrix
from ssdfl.theory.models import DeviceModel, Quadratic
from ssdfl.theory.optimizers import OptimizerPopulation
from ssdfl.theory.reference import block_mixing

if TYPE_CHECKING:
    from ssdfl.graphs.graph import GraphLike

__all__ = [
    "BoundProblem",
    "BoundTrace",
    "CycleBound",
    "Radius",
    "Rate",
    "StationarityBound",
    "bound_problem",
    "certified_limit",
    "certified_radius",
    "certified_rate",
    "certify_fixed_point",
    "cycle_rate",
    "eps_S",
    "formation_bound",
    "generic_problem",
    "global_cycle_bound",
    "initial_state",
    "inter_consensus_bound",
    "inter_constants",
    "intra_cluster_convergence",
    "intra_consensus_bound",
    "noise_free",
    "nonconvex_bound",
    "phi_min",
    "phi_min_rule",
    "recursion_constants",
    "reference_point",
    "run_bounds",
    "sgd_problem",
    "super_solution",
    "theorem1_rate",
]


REFINE_LIMIT = 1500
"""Largest ``N_s·d`` for which :func:`bound_problem` computes the refined operator norms
``rho_e`` / ``g_cross`` (dense SVD); larger clusters use the spectral forms."""


# --------------------------------------------------------------------------- problem constants
@dataclass
class BoundProblem:
    """Every constant the bounds use. Arrays indexed by cluster have length ``S`` (clusters in
    ``np.unique(labels)`` order); by device, length ``N``.

    ``W_eigs[s]``: all eigenvalues of ``W_s``; ``lam_inter``: ``λ(W)`` of the global ``W``;
    ``kappa_s[s]``, ``kappa_b``, ``kappa_m``: spectra (as ``(min, max)``) of the reference
    matrices ``K_s``, ``K_b``, ``K_m``; ``L_gamma[s] ≥ ‖H_i − K_s‖`` (``i ∈ C_s``),
    ``L_beta ≥ ‖mean_s(H) − K_b‖`` with ``H_i = c_i∇²F_i``;
    ``zeta_a[s] = ‖(I − J_s)(C G*)_s‖_F``, ``zeta_b = (Σ_s N_s ‖mean_s(c g*)‖²)^{1/2}``,
    ``zeta_p[s] = ‖(C G*)_{prox ∩ s}‖_F``, ``zeta_u[s] = ‖(ρ G*)_{mom ∩ s}‖_F`` with ``G*``
    the gradients at ``x_c``; ``bias = ‖x_c − x*‖``; ``sigma2 = E‖ξ_i‖²``; ``x_ref`` = ``x_c``
    (set by :func:`bound_problem`; pass it as ``x_ref`` to the bound functions).

    Optional refinements (quadratics, computed by :func:`bound_problem`): ``rho_e[s]`` = the
    operator norm of ``E ↦ (I−J_s)(W_s E − η[H_i e_i]_i)`` on cluster-mean-zero ``E``
    (``≤ ρ_W,s + ηL_γ,s``), and ``g_cross[s] = σ_max((I−J_s)·col(H_i))/√N_s`` (``≤ L_γ,s``).
    ``inter`` (from :func:`inter_constants`): how one global gossip round ``X ← WX`` acts on the
    two parts ``E = (I−J_a)X`` and ``B = (J_a−J)X``: ``lam_E = ‖(I−J_a)W(I−J_a)‖``,
    ``lam_B = ‖(J_a−J)W(J_a−J)‖``, ``beta = ‖(I−J_a)(W−I)J_a‖`` (the leak between them, small
    when few edges join clusters), and per cluster ``lam_E_s``, ``beta_s``.

    ``momentum_mode``: ``"perturb"`` (the momentum term ``c_iρ_iv_i`` is a perturbation,
    ``u_s = ‖ρ∘V‖``) or ``"absorb"`` (heavy-ball devices are analysed with their steady-state
    scale ``s_i = 1/(1−ρ_i)`` folded into ``H_i = c_is_i∇²F_i`` and ``x_c = argmin Σ c_is_iF_i``;
    ``u_s`` bounds the deviation ``d_i − s_i∇F_i(x_i) − ξ_i``; ``zeta_cs_mom[s] =
    ‖(C S G*)_{mom ∩ s}‖``, ``zeta_u[s] = ‖(ρ S G*)_{mom ∩ s}‖``), see ``docs/theory.md`` §7c.

    Floating-point floor (``docs/theory.md`` §7f; :func:`float_floor`, set by
    :func:`bound_problem`, 0 for scalar-constant problems): every float64 round adds at most
    ``δ = fp_gamma·(fp_a·‖X̂‖_F + fp_c)`` to the state (``‖X̂‖_F ≤ ‖X̂ − 1x_refᵀ‖ + √N‖x_ref‖``),
    and evaluating a reported quantity adds ``fp_eval·‖X̂‖_F`` to its norm.
    """

    labels: np.ndarray
    sizes: np.ndarray
    W_eigs: list[np.ndarray]
    lam_inter: float
    eta: float
    tau_a: int
    tau_r: int
    c: np.ndarray
    mu: np.ndarray
    rho: np.ndarray
    L_dev: np.ndarray
    kappa_s: np.ndarray
    kappa_b: tuple[float, float]
    kappa_m: tuple[float, float]
    L_gamma: np.ndarray
    L_beta: float
    zeta_a: np.ndarray
    zeta_b: float
    zeta_p: np.ndarray
    zeta_u: np.ndarray
    sigma2: float = 0.0
    bias: float = 0.0
    reset_momentum: bool = True
    rho_e: np.ndarray | None = None
    g_cross: np.ndarray | None = None
    inter: dict | None = None
    momentum_mode: str = "perturb"
    x_ref: np.ndarray | None = None
    zeta_cs_mom: np.ndarray | None = None
    s_mom: np.ndarray | None = None
    reference: str = "model"
    fp_gamma: float = 0.0
    fp_a: float = 0.0
    fp_c: float = 0.0
    fp_eval: float = 0.0
    _cache: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        """The one construction check (every path — :func:`bound_problem`,
        :func:`generic_problem` / :func:`sgd_problem`, copies, a hand-built problem — runs it):
        ``reference="model"`` (constants measured at a known point) needs ``x_ref``, which the
        bound functions then enforce (:func:`reference_point`); ``reference="caller"`` (scalar
        constants with no model: :func:`sgd_problem`) needs ``x_ref = None``, and the caller
        names the optimum at every call. Shapes and signs of the constants are checked."""
        if self.reference not in ("model", "caller"):
            raise SsdflError(f"reference must be 'model' or 'caller', got {self.reference!r}")
        if self.reference == "model" and self.x_ref is None:
            raise SsdflError(
                "a BoundProblem whose constants come from a model needs x_ref (the point its "
                "ζ were measured at: x_c = argmin Σ c_i F_i); build it with bound_problem(), "
                "or use generic_problem() / reference='caller' for scalar constants"
            )
        if self.reference == "caller" and self.x_ref is not None:
            raise SsdflError("reference='caller' problems take x_ref at each call, not here")
        S, n = len(self.sizes), int(np.sum(self.sizes))
        if len(self.labels) != n or len(self.W_eigs) != S:
            raise SsdflError(f"labels ({len(self.labels)}) and W_eigs ({len(self.W_eigs)}) "
                             f"must match sizes (N = {n}, S = {S})")  # fmt: skip
        for name in ("c", "mu", "rho", "L_dev"):
            if np.shape(getattr(self, name)) != (n,):
                raise SsdflError(f"{name} must have one entry per device ({n})")
        for name in ("L_gamma", "zeta_a", "zeta_p", "zeta_u"):
            v = np.asarray(getattr(self, name))
            if v.shape != (S,) or np.any(v < 0):
                raise SsdflError(f"{name} must hold {S} non-negative numbers")
        if min(self.fp_gamma, self.fp_a, self.fp_c, self.fp_eval) < 0:
            raise SsdflError("the floating-point floor constants must be >= 0")
        if min(self.zeta_b, self.sigma2, self.L_beta, self.bias) < 0:
            raise SsdflError("zeta_b, sigma2, L_beta and bias must be >= 0")

    @property
    def S(self) -> int:
        return len(self.sizes)

    @property
    def N(self) -> int:
        return int(self.sizes.sum())


def _check_common(eta: float, tau_a: int, tau_r: int) -> None:
    if not (eta > 0 and math.isfinite(eta)):
        raise SsdflError(f"eta must be positive and finite, got {eta}")
    if tau_a < 0 or tau_r < 0 or tau_a + tau_r == 0:
        raise SsdflError("need tau_a, tau_r >= 0 with tau_a + tau_r >= 1")


def _cluster_spectra(
    W_intra: np.ndarray, lab: np.ndarray, W_inter: np.ndarray
) -> tuple[list[np.ndarray], float]:
    n = len(lab)
    Wa, Wr = dense_matrix(W_intra), dense_matrix(W_inter)
    if Wa.shape != (n, n) or Wr.shape != (n, n):
        raise SsdflError(f"mixing matrices must be {n}×{n}")
    for name, W in (("W_intra", Wa), ("W_inter", Wr)):
        if not np.allclose(W, W.T, atol=1e-12) or not np.allclose(W.sum(1), 1.0, atol=1e-10):
            raise SsdflError(f"{name} must be symmetric and doubly stochastic")
    eigs = []
    for s in np.unique(lab):
        idx = np.flatnonzero(lab == s)
        if not np.allclose(Wa[np.ix_(idx, idx)].sum(1), 1.0, atol=1e-10):
            raise SsdflError("W_intra must be block diagonal with doubly stochastic blocks")
        eigs.append(np.linalg.eigvalsh(Wa[np.ix_(idx, idx)]))
    off = Wa.copy()
    for s in np.unique(lab):
        idx = np.flatnonzero(lab == s)
        off[np.ix_(idx, idx)] = 0.0
    if np.abs(off).max(initial=0.0) > 1e-12:
        raise SsdflError("W_intra has entries between different clusters")
    ev = np.linalg.eigvalsh(Wr)
    if min(ev[0], min(e[0] for e in eigs)) < -1e-10:
        raise SsdflError(
            "the bounds assume positive semidefinite mixing matrices (use a lazy rule)"
        )
    lam = float(max(abs(ev[-2]), abs(ev[0]))) if n > 1 else 0.0
    return eigs, lam


def inter_constants(W_inter: np.ndarray | sp.sparray, labels: np.ndarray) -> dict[str, Any]:
    """Gossip-coupling constants of :class:`BoundProblem` ``inter`` (dense ``N × N`` norms)."""
    W = dense_matrix(W_inter)
    lab = np.asarray(labels)
    n = len(lab)
    Ja = np.zeros((n, n))
    for s in np.unique(lab):
        idx = np.flatnonzero(lab == s)
        Ja[np.ix_(idx, idx)] = 1.0 / len(idx)
    J = np.full((n, n), 1.0 / n)
    Pe, Pb = np.eye(n) - Ja, Ja - J
    out: dict[str, Any] = {
        "lam_E": float(np.linalg.norm(Pe @ W @ Pe, 2)),
        "lam_B": float(np.linalg.norm(Pb @ W @ Pb, 2)),
        "beta": float(np.linalg.norm(Pe @ (W - np.eye(n)) @ Ja, 2)),
    }
    lam_s, beta_s = [], []
    for s in np.unique(lab):
        rows = np.flatnonzero(lab == s)
        R = Pe[rows]
        lam_s.append(float(np.linalg.norm(R @ W @ Pe, 2)))
        beta_s.append(float(np.linalg.norm(R @ (W - np.eye(n)) @ Ja, 2)))
    out["lam_E_s"] = np.array(lam_s)
    out["beta_s"] = np.array(beta_s)
    return out


def bound_problem(
    model: DeviceModel,
    labels: np.ndarray | Sequence[int],
    W_intra: np.ndarray | sp.sparray,
    W_inter: np.ndarray | sp.sparray,
    optimizers: OptimizerPopulation,
    eta: float,
    tau_a: int,
    tau_r: int,
    *,
    sigma: float = 0.0,
    normalize: bool = False,
    reset_momentum: bool = True,
    momentum: str = "auto",
) -> BoundProblem:
    """Constants from a model. ``momentum`` ∈ {``"perturb"``, ``"absorb"``, ``"auto"``} selects
    the analysis of heavy-ball devices (see :class:`BoundProblem`); ``"auto"`` builds both and
    keeps the one whose noise- and heterogeneity-free cycle rate is smaller (an a-priori
    choice; both are valid theorems). Quadratic / least-squares models use their Hessians ``A_i``
    (``K_s = mean_{i∈C_s} c_iA_i``, ``K_b = K_m = mean_i c_iA_i``); other models use the
    interval ``[c_iμ_i, c_iL_i]`` (``K`` = its midpoint times ``I``, ``L_γ`` = half-width).
    ``sigma`` is the noise level of ``model.stochastic_grad`` (``E‖ξ‖² = σ²``)."""
    _check_common(eta, tau_a, tau_r)
    n, d = model.n_devices, model.dim
    if len(optimizers) != n:
        raise SsdflError(f"{len(optimizers)} optimizers for {n} devices")
    optimizers.require("recursion", "bound_problem")
    lab = check_labels(labels, n)
    if momentum not in ("perturb", "absorb", "auto"):
        raise SsdflError(f"momentum must be 'perturb', 'absorb' or 'auto', got {momentum!r}")
    if momentum == "auto":
        args = (model, labels, W_intra, W_inter, optimizers, eta, tau_a, tau_r)
        P1 = bound_problem(*args, sigma=sigma, normalize=normalize,
                           reset_momentum=reset_momentum, momentum="perturb")  # fmt: skip
        if not np.any(optimizers.rho > 0):
            return P1
        P2 = bound_problem(*args, sigma=sigma, normalize=normalize,
                           reset_momentum=reset_momentum, momentum="absorb")  # fmt: skip
        return P2 if cycle_rate(P2).upper < cycle_rate(P1).upper else P1
    clusters = [np.flatnonzero(lab == s) for s in np.unique(lab)]
    eigs, lam = _cluster_spectra(dense_matrix(W_intra), lab, dense_matrix(W_inter))
    # the optimizers' own normalization: α(τ_a) with a reset, the steady state without one
    c_step = optimizers.scales(max(tau_a, 1), eta, normalize, reset_momentum)
    mu, rho = optimizers.mu, optimizers.rho
    s_mom = np.where(rho > 0, 1.0 / (1.0 - rho), 1.0) if momentum == "absorb" else np.ones(n)
    c = c_step * s_mom  # gradient scale in the analysis
    if hasattr(model, "as_quadratic") and not isinstance(model, Quadratic):
        quad: Quadratic | None = model.as_quadratic()
    else:
        quad = model if isinstance(model, Quadratic) else None
    x_star = model.optimum()
    x_c = model.optimum(c)
    Gs = model.grad(np.tile(x_c, (n, 1)))
    Gs0 = model.grad(np.zeros((n, d)))
    L_dev = model.L_i
    S = len(clusters)
    kappa_s = np.zeros((S, 2))
    L_gamma = np.zeros(S)
    if quad is not None:
        CA = c[:, None, None] * quad.A
        K = CA.mean(axis=0)
        kK = np.linalg.eigvalsh(K)
        kappa_b = kappa_m = (float(kK[0]), float(kK[-1]))
        Lb = 0.0
        for k, idx in enumerate(clusters):
            Ks = CA[idx].mean(axis=0)
            ev = np.linalg.eigvalsh(Ks)
            kappa_s[k] = ev[0], ev[-1]
            L_gamma[k] = max(np.linalg.norm(CA[i] - Ks, 2) for i in idx)
            Lb = max(Lb, float(np.linalg.norm(Ks - K, 2)))
        L_beta = Lb
    else:
        lo, hi = c * model.mu_i, c * L_dev
        mid = 0.5 * (lo.min() + hi.max())
        kappa_b = (mid, mid)
        kappa_m = (float(lo.mean()), float(hi.mean()))
        L_beta = 0.5 * float(hi.max() - lo.min())
        for k, idx in enumerate(clusters):
            m_s = 0.5 * (lo[idx].min() + hi[idx].max())
            kappa_s[k] = m_s, m_s
            L_gamma[k] = 0.5 * float(hi[idx].max() - lo[idx].min())
    rho_e = g_cross = None
    if quad is not None and max(len(i) for i in clusters) * d <= REFINE_LIMIT:
        rho_e = np.zeros(S)
        g_cross = np.zeros(S)
        Wa = dense_matrix(W_intra)
        for k, idx in enumerate(clusters):
            ns = len(idx)
            if ns == 1:
                continue
            Pk = np.kron(np.eye(ns) - 1.0 / ns, np.eye(d))
            Bd = np.zeros((ns * d, ns * d))
            for j, i in enumerate(idx):
                Bd[j * d : (j + 1) * d, j * d : (j + 1) * d] = CA[i]
            Mk = np.kron(Wa[np.ix_(idx, idx)], np.eye(d)) - eta * Bd
            rho_e[k] = np.linalg.norm(Pk @ Mk @ Pk, 2)
            g_cross[k] = np.linalg.norm(Pk @ np.concatenate(CA[idx], axis=0), 2) / np.sqrt(ns)
    CG = c[:, None] * Gs
    zeta_a = np.array([np.linalg.norm(CG[idx] - CG[idx].mean(0)) for idx in clusters])
    zeta_b = float(np.sqrt(sum(len(idx) * np.sum(CG[idx].mean(0) ** 2) for idx in clusters)))
    zeta_p = np.array([np.linalg.norm(CG[idx][mu[idx] > 0]) for idx in clusters])
    rs = (rho * s_mom)[:, None]
    zeta_u = np.array([np.linalg.norm((rs * Gs)[idx][rho[idx] > 0]) for idx in clusters])
    zeta_cs = np.array([np.linalg.norm(CG[idx][rho[idx] > 0]) for idx in clusters])
    fp = float_floor(n, d, eta, c_step, L_dev, mu, rho, float(np.linalg.norm(Gs0)))
    return BoundProblem(
        labels=lab.astype(np.int64), sizes=np.array([len(i) for i in clusters]), W_eigs=eigs,
        lam_inter=lam, eta=float(eta), tau_a=int(tau_a), tau_r=int(tau_r), c=c_step,
        mu=mu.copy(),
        rho=rho.copy(), L_dev=np.asarray(L_dev, dtype=float), kappa_s=kappa_s, kappa_b=kappa_b,
        kappa_m=kappa_m, L_gamma=L_gamma, L_beta=L_beta, zeta_a=zeta_a, zeta_b=zeta_b,
        zeta_p=zeta_p, zeta_u=zeta_u, sigma2=float(sigma) ** 2,
        bias=float(np.linalg.norm(x_c - x_star)), reset_momentum=reset_momentum,
        rho_e=rho_e, g_cross=g_cross, inter=inter_constants(W_inter, lab),
        momentum_mode=momentum, x_ref=x_c, zeta_cs_mom=zeta_cs, s_mom=s_mom,
        fp_gamma=fp["fp_gamma"], fp_a=fp["fp_a"], fp_c=fp["fp_c"], fp_eval=fp["fp_eval"],
    )  # fmt: skip


FP_UNIT = 2.0**-53
"""Unit roundoff ``u`` of IEEE float64."""


def _gamma(k: float) -> float:
    """Higham's ``γ_k = ku/(1 − ku)``: the relative error bound of a ``k``-term sum of
    products in float64, in any summation order."""
    return k * FP_UNIT / (1.0 - k * FP_UNIT)


def float_floor(
    n: int, d: int, eta: float, c: np.ndarray, L_dev: np.ndarray, mu: np.ndarray,
    rho: np.ndarray, g0: float,
) -> dict[str, float]:  # fmt: skip
    """Floating-point floor constants of :class:`BoundProblem` (derivation in
    ``docs/theory.md`` §7f). A round computes every entry of ``X⁺ = W X − ηC D`` as a sum of at
    most ``k = 3Nd + N + 8`` products (the affine form on ``z = (X, V, A, 1)`` used by exact
    replays has ``3Nd + 1``), so ``|fl − exact| ≤ γ_k Σ|products|`` entrywise and
    ``‖R‖_F ≤ γ_k(‖|W|‖‖X̂‖ + ηc_i‖|∇²F_i| + 2μ_i‖(1 + ρ_i/(1−ρ_i))‖X̂‖ + ηc_i‖∇F(0)‖/(1−ρ_i))``
    with ``‖|W|‖ = 1`` (non-negative, doubly stochastic), ``‖|∇²F_i|‖ ≤ ‖∇²F_i‖_F ≤ √d L_i``
    and the heavy-ball buffer's own rounding summed geometrically (``1/(1−ρ)``). Evaluating a
    reported norm (a mean, a difference, a sum of squares) adds ``γ_{N+d+2}``-relative errors
    of ``‖X̂‖_F`` (``fp_eval``, twice for the mean and the subtraction)."""
    k = 3.0 * n * d + n + 8.0
    amp = 1.0 / (1.0 - np.asarray(rho, dtype=np.float64))
    hess = math.sqrt(d) * np.asarray(L_dev, dtype=np.float64) + 2.0 * np.asarray(mu)
    a = 1.0 + eta * float(np.max(np.asarray(c) * hess * amp, initial=0.0))
    c0 = eta * float(np.max(np.asarray(c) * amp, initial=0.0)) * g0
    return {"fp_gamma": _gamma(k), "fp_a": a, "fp_c": c0, "fp_eval": 2.0 * _gamma(n + d + 2.0)}


def generic_problem(
    labels: np.ndarray | Sequence[int],
    W_intra: np.ndarray | sp.sparray,
    W_inter: np.ndarray | sp.sparray,
    eta: float,
    tau_a: int,
    tau_r: int,
    *,
    L: float,
    mu: float,
    zeta2: np.ndarray | Sequence[float],
    zeta_b: float | None = None,
    sigma2: float = 0.0,
    optimizers: OptimizerPopulation | None = None,
) -> BoundProblem:
    """Constants for SGD devices from scalars only (``optimizers``, if given, must be covered
    by ``"generic"``: plain SGD): every ``F_i`` ``μ``-strongly convex and
    ``L``-smooth, cluster gradient dissimilarity at the optimum ``zeta2[s] = (1/N_s)Σ_{i∈C_s}
    ‖∇F_i(x*) − mean_s ∇F(x*)‖²`` and between-cluster term ``zeta_b`` (default: 0). Useful to
    score candidate formations with the heterogeneity scores of
    :mod:`ssdfl.theory.heterogeneity`."""
    _check_common(eta, tau_a, tau_r)
    if optimizers is not None:
        optimizers.require("generic", "generic_problem")
    lab = check_labels(labels)
    clusters = [np.flatnonzero(lab == s) for s in np.unique(lab)]
    eigs, lam = _cluster_spectra(dense_matrix(W_intra), lab, dense_matrix(W_inter))
    z2 = np.asarray(zeta2, dtype=np.float64)
    if z2.shape != (len(clusters),) or np.any(z2 < 0):
        raise SsdflError(f"zeta2 must hold {len(clusters)} non-negative numbers")
    return sgd_problem(
        lab, np.array([len(i) for i in clusters]), eigs, lam, inter_constants(W_inter, lab),
        eta, tau_a, tau_r, L=L, mu=mu, zeta2=z2, zeta_b=zeta_b, sigma2=sigma2,
    )  # fmt: skip


def sgd_problem(
    labels: np.ndarray, sizes: np.ndarray, W_eigs: list[np.ndarray], lam_inter: float,
    inter: dict[str, Any], eta: float, tau_a: int, tau_r: int, *, L: float, mu: float,
    zeta2: np.ndarray, zeta_b: float | None = None, sigma2: float = 0.0,
) -> BoundProblem:  # fmt: skip
    """The :class:`BoundProblem` of SGD devices, every ``F_i`` ``μ``-strongly convex and
    ``L``-smooth (``K`` = the midpoint of ``[μ, L]`` times ``I``, ``L_γ = L_β`` = the
    half-width, ``ζ_a[s] = √(N_s·zeta2[s])``), from mixing constants already computed
    (:func:`generic_problem` from dense matrices, the planner from sparse ones)."""
    if not (0 <= mu <= L):
        raise SsdflError(f"need 0 <= mu <= L, got mu={mu}, L={L}")
    n, S = int(np.sum(sizes)), len(sizes)
    mid, half = 0.5 * (L + mu), 0.5 * (L - mu)
    return BoundProblem(
        labels=np.asarray(labels).astype(np.int64), sizes=sizes, W_eigs=W_eigs,
        lam_inter=lam_inter, eta=float(eta), tau_a=int(tau_a), tau_r=int(tau_r), c=np.ones(n),
        mu=np.zeros(n), rho=np.zeros(n), L_dev=np.full(n, float(L)),
        kappa_s=np.tile([mid, mid], (S, 1)), kappa_b=(mid, mid), kappa_m=(float(mu), float(L)),
        L_gamma=np.full(S, half), L_beta=half, zeta_a=np.sqrt(sizes * np.asarray(zeta2)),
        zeta_b=float(zeta_b or 0.0), zeta_p=np.zeros(S), zeta_u=np.zeros(S), inter=inter,
        sigma2=float(sigma2), reference="caller",
    )  # fmt: skip


# --------------------------------------------------------------------------- the recursion
@dataclass
class BoundTrace:
    """Bounds at every round ``t = 0..T`` (same indexing as
    :func:`ssdfl.theory.reference.simulate`).

    ``e`` (``(T+1, S)``), ``e_tot``, ``b``, ``m``: RMS bounds on ``e_s``, ``‖(I−J_a)X‖``, ``b``,
    ``m``; ``gamma_s = e²/N_s`` bounds ``E Γ_s``; ``gamma = (e_tot² + b²)/N`` bounds ``E Γ``
    (global gap); ``opt = (e_tot² + b² + m²)/N`` bounds ``(1/N) E‖X − 1x_cᵀ‖²``;
    ``mean_sq = m²/N`` bounds ``E‖x̄ − x_c‖²``; ``phase``: "start"/"intra"/"inter".
    """

    e: np.ndarray
    e_tot: np.ndarray
    b: np.ndarray
    m: np.ndarray
    phase: np.ndarray
    sizes: np.ndarray
    bias: float
    floor: np.ndarray | None = None

    def _f(self, norm: np.ndarray) -> np.ndarray:
        """``norm`` plus the evaluation floor of the round (``floor``: ``fp_eval·‖X̂‖_F``,
        §7f), squared."""
        with np.errstate(over="ignore", invalid="ignore"):
            if self.floor is None:
                return norm**2
            fl = self.floor if norm.ndim == 1 else self.floor[:, None]
            return (norm + fl) ** 2

    @property
    def gamma_s(self) -> np.ndarray:
        return self._f(self.e) / self.sizes

    @property
    def gamma(self) -> np.ndarray:
        return self._f(np.hypot(self.e_tot, self.b)) / self.sizes.sum()

    @property
    def opt(self) -> np.ndarray:
        with np.errstate(over="ignore", invalid="ignore"):
            nrm = np.sqrt(self.e_tot**2 + self.b**2 + self.m**2)
        return self._f(nrm) / self.sizes.sum()

    @property
    def mean_sq(self) -> np.ndarray:
        return self._f(self.m) / self.sizes.sum()


def _rho_W(eigs: np.ndarray, kappa: np.ndarray, eta: float) -> float:
    """``max |λ_k − ηκ_j|`` over ``W_s``'s eigenvalues without one eigenvalue 1 (the
    consensus direction) and the two ends of ``K_s``'s spectrum (the max of ``|λ − ηκ|`` over
    ``κ`` in an interval is attained at an end)."""
    if len(eigs) <= 1:
        return 0.0
    lam = np.delete(eigs, np.argmax(eigs))
    return float(np.max(np.abs(lam[:, None] - eta * np.asarray(kappa)[None, :])))


def recursion_constants(P: BoundProblem) -> dict:
    """The per-cluster constants of the bound recursion (cached in ``P``), in ``O(N + S)``
    array operations: per-cluster maxima (``initial = 0``) and sums over the devices of each
    cluster, masked to the proximal (``μ_i > 0``) or momentum (``ρ_i > 0``) ones."""
    if P._cache:
        return P._cache
    eta, S = P.eta, P.S
    _, lab = np.unique(P.labels, return_inverse=True)
    lab = lab.reshape(-1)
    c2 = P.c**2
    Ns = P.sizes.astype(float)
    N = float(Ns.sum())
    mom = P.rho > 0
    prox = P.mu > 0

    def cmax(v: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        out = np.zeros(S)
        np.maximum.at(out, lab, v if mask is None else np.where(mask, v, 0.0))
        return out

    def csum(v: np.ndarray) -> np.ndarray:
        return np.bincount(lab, weights=np.asarray(v, dtype=np.float64), minlength=S)

    K: dict = {}
    K["lam_min"] = np.array([max(0.0, float(e[0])) for e in P.W_eigs])
    K["q_p"] = cmax(np.abs(1 - eta * (P.c * P.mu)), prox)
    K["Lc_p"] = cmax(P.c * P.L_dev, prox)
    K["has_p"] = csum(prox) > 0
    K["n_p"] = eta**2 * P.sigma2 * csum(np.where(prox, c2, 0.0))
    rho_W = np.zeros(S)
    for k in np.flatnonzero(P.sizes > 1):  # _rho_W is 0 on a singleton
        rho_W[k] = _rho_W(P.W_eigs[k], P.kappa_s[k], eta)
    K["rho_e"] = rho_W + eta * P.L_gamma
    if P.rho_e is not None:
        K["rho_e"] = np.minimum(K["rho_e"], P.rho_e)
    K["g"] = P.L_gamma.copy() if P.g_cross is None else np.minimum(P.L_gamma, P.g_cross)
    K["g_max"] = float(K["g"].max())
    K["q_b"] = max(abs(1 - eta * P.kappa_b[0]), abs(1 - eta * P.kappa_b[1]))
    K["q_m"] = max(abs(1 - eta * P.kappa_m[0]), abs(1 - eta * P.kappa_m[1]))
    K["Lg_max"] = float(P.L_gamma.max())
    K["nu"] = cmax(P.c * P.mu)
    K["omega"] = cmax(P.c, mom)
    K["rL_u"] = cmax(P.rho * P.L_dev)
    K["r_u"] = cmax(P.rho)
    K["has_u"] = csum(mom) > 0
    sm = P.s_mom if P.s_mom is not None else np.ones(len(P.c))
    K["rsL"] = cmax(P.rho * sm * P.L_dev)
    K["csL"] = cmax(P.c * sm * P.L_dev, mom)
    K["n_mom"] = csum(mom)
    s2 = P.sigma2
    c2s = csum(c2)
    K["n_e"] = eta**2 * s2 * ((1 - 1 / Ns) * c2s)
    K["n_b"] = eta**2 * s2 * max(0.0, float(np.sum(c2s / Ns)) - float(c2.sum()) / N)
    K["n_m"] = eta**2 * s2 * float(c2.sum()) / N
    K["n_u"] = s2 * csum(P.rho**2)
    K["frac"] = np.sqrt(Ns / N)
    ref = math.sqrt(N) * float(np.linalg.norm(P.x_ref)) if P.x_ref is not None else 0.0
    K["fp_h"] = P.fp_gamma * P.fp_a  # δ = fp_h·‖X̂ − 1x_refᵀ‖ + fp_0
    K["fp_0"] = P.fp_gamma * (P.fp_a * ref + P.fp_c)
    K["fp_ref"] = ref
    K["multi"] = (P.sizes > 1).astype(np.float64)  # (I − J_s)R_s = 0 on a singleton
    P._cache.update(K)
    return K


def _intra_round(
    P: BoundProblem, K: dict, e: np.ndarray, e_tot: float, b: float, m: float,
    p: np.ndarray, u: np.ndarray,
) -> tuple[np.ndarray, float, float, float, np.ndarray, np.ndarray]:  # fmt: skip
    """One intra-cluster round of the bound recursion (all inputs are RMS bounds)."""
    eta = P.eta
    e_use = min(e_tot, float(np.sqrt(np.sum(e**2))))
    r = K["nu"] * p
    rt = float(np.sqrt(np.sum(r**2)))
    ut = float(np.sqrt(np.sum((K["omega"] * u) ** 2)))
    dl = _fp_delta(K, e_use, b, m)  # float64 rounding of this round (§7f)
    # Lemma 1 recursion, per cluster
    det_e = K["rho_e"] * e + eta * (K["g"] * (b + K["frac"] * m) + P.zeta_a + r + K["omega"] * u)
    det_e = det_e + dl * K["multi"]
    e_new = np.sqrt(det_e**2 + K["n_e"])
    # the same on the whole block-diagonal system
    det_t = (
        np.float64(K["rho_e"].max()) * e_use
        + eta * (K["g_max"] * math.hypot(b, m) + float(np.linalg.norm(P.zeta_a)) + rt + ut)
        + dl
    )
    et_new = math.sqrt(det_t**2 + K["n_e"].sum())
    # between-cluster disagreement and network average
    # numpy scalars: a diverged bound overflows to inf instead of raising (Python floats)
    det_b = (
        np.float64(K["q_b"] + eta * P.L_beta) * b
        + eta * (K["g_max"] * e_use + P.L_beta * m + P.zeta_b + rt + ut)
        + dl
    )
    b_new = math.sqrt(det_b**2 + K["n_b"]) if P.S > 1 else 0.0  # J_a = J when S = 1
    det_m = np.float64(K["q_m"]) * m + eta * (K["g_max"] * e_use + P.L_beta * b + rt + ut) + dl
    m_new = math.sqrt(det_m**2 + K["n_m"])
    if P.momentum_mode == "absorb":
        # deviation μ⁺ = ρ∘(μ + Ξ) + ρ∘S∘(G(X) − G(X⁺)), ‖G(X) − G(X⁺)‖ ≤ L‖X⁺ − X‖ (mom rows)
        r_rms = np.sqrt(u**2 + P.sigma2 * K["n_mom"])
        move = (1 - K["lam_min"]) * e + eta * (
            K["csL"] * (e + b + K["frac"] * m) + P.zeta_cs_mom + K["omega"] * r_rms
        )
        u_new = np.where(K["has_u"], K["r_u"] * r_rms + K["rsL"] * move, 0.0)
    else:
        # momentum memory ρ∘V⁺ = ρ∘(G(X) + Ξ + ρ∘V); ‖(X − 1x_cᵀ)_s‖ ≤ e_s + b + √(N_s/N) m
        det_u = K["rL_u"] * (e + b + K["frac"] * m) + P.zeta_u + K["r_u"] * u
        u_new = np.where(K["has_u"], np.sqrt(det_u**2 + K["n_u"]), 0.0)
    # distance travelled by prox devices: (X−A)⁺ = (I − ηcμ)(X−A) + (W_s − I)E_s − ηC(G + Ξ)
    det_p = (
        K["q_p"] * p
        + (1 - K["lam_min"]) * e
        + eta * (K["Lc_p"] * (e + b + K["frac"] * m) + P.zeta_p)
        + dl
    )
    p_new = np.where(K["has_p"], np.sqrt(det_p**2 + K["n_p"]), 0.0)
    # a diverged bound may produce 0·∞ = NaN where a constant is 0 (the term is absent): ∞ is
    # still a valid (vacuous) bound there
    return (
        _fix(np.minimum(e_new, et_new)), float(_fix(et_new)), float(_fix(b_new)),
        float(_fix(m_new)), _fix(p_new), _fix(u_new),
    )  # fmt: skip


def _fp_delta(K: dict, e: float, b: float, m: float) -> float:
    """Floating-point rounding added to the state in one round (``BoundProblem`` floor):
    ``fp_gamma·(fp_a·(‖X̂ − 1x_refᵀ‖ + √N‖x_ref‖) + fp_c)``; 0 for scalar-constant problems."""
    if K["fp_h"] == 0.0 and K["fp_0"] == 0.0:
        return 0.0
    with np.errstate(over="ignore"):
        return float(K["fp_h"] * np.sqrt(np.float64(e) ** 2 + b * b + m * m) + K["fp_0"])


def _fix(x: np.ndarray | float) -> Any:
    """NaN → +inf (a diverged bound stays a valid, vacuous bound); values are norms ≥ 0.
    Scalars stay scalars (the recursion's hot path)."""
    if isinstance(x, float):
        return math.inf if x != x else x
    a = np.asarray(x, dtype=np.float64)
    return np.where(np.isnan(a), np.inf, a) if np.isnan(a).any() else a


def run_bounds(P: BoundProblem, cycles: int, *, e0: np.ndarray, b0: float, m0: float) -> BoundTrace:
    """Iterate the bound recursion for ``cycles`` cycles from initial values
    ``e0[s] = ‖(I − J_s)X_s(0)‖``, ``b0 = ‖(J_a − J)X(0)‖``, ``m0 = √N‖x̄(0) − x_c‖`` (use
    :func:`initial_state` to compute them from ``X0``)."""
    if cycles < 0:
        raise SsdflError("cycles must be >= 0")
    K = recursion_constants(P)
    e = np.asarray(e0, dtype=np.float64).copy()
    if e.shape != (P.S,):
        raise SsdflError(f"e0 must have {P.S} entries")
    e_tot = float(np.sqrt(np.sum(e**2)))
    b, m = float(b0), float(m0)
    u = np.zeros(P.S)
    p = np.zeros(P.S)
    rows = [(e.copy(), e_tot, b, m, "start")]
    lam = P.lam_inter
    with np.errstate(over="ignore", invalid="ignore"):
        _cycles(P, K, cycles, e, e_tot, b, m, p, u, lam, rows)
    E = np.stack([r_[0] for r_ in rows])
    return BoundTrace(
        e=E,
        e_tot=np.array([r_[1] for r_ in rows]),
        b=np.array([r_[2] for r_ in rows]),
        m=np.array([r_[3] for r_ in rows]),
        phase=np.array([r_[4] for r_ in rows], dtype=object),
        sizes=P.sizes.astype(float),
        bias=P.bias,
        floor=_eval_floor(P, K, rows),
    )


def _eval_floor(P: BoundProblem, K: dict, rows: list) -> np.ndarray | None:
    """Per-round evaluation floor ``fp_eval·(‖X̂ − 1x_refᵀ‖ + √N‖x_ref‖)`` (None without one)."""
    if P.fp_eval == 0.0:
        return None
    with np.errstate(over="ignore", invalid="ignore"):
        nrm = np.array([math.sqrt(r_[1] ** 2 + r_[2] ** 2 + r_[3] ** 2) if math.isfinite(
            r_[1] + r_[2] + r_[3]) else math.inf for r_ in rows])  # fmt: skip
    return P.fp_eval * (nrm + K["fp_ref"])


def _cycles(
    P: BoundProblem, K: dict, cycles: int, e: np.ndarray, e_tot: float, b: float, m: float,
    p: np.ndarray, u: np.ndarray, lam: float, rows: list,
) -> None:  # fmt: skip
    for k in range(cycles):
        e, e_tot, b, m, u = _one_cycle(P, K, e, e_tot, b, m, u, k == 0, rows)


def _one_cycle(
    P: BoundProblem, K: dict, e: np.ndarray, e_tot: float, b: float, m: float, u: np.ndarray,
    first: bool, rows: list | None,
) -> tuple[np.ndarray, float, float, float, np.ndarray]:  # fmt: skip
    """One cycle of the bound recursion from the full state ``(e, e_tot, b, m, u)`` at a cycle
    start (``first``: the momentum buffers start at 0); appends every round to ``rows``."""
    absorb = P.momentum_mode == "absorb"
    lam = P.lam_inter
    p = np.zeros(P.S)  # anchors A ← X
    if absorb and (P.reset_momentum or first):
        # v = 0: the deviation is −ρ∘S∘G(X), ‖·‖ ≤ max ρsL ‖(X − 1x_cᵀ)_s‖ + ‖(ρSG*)_s‖
        u = np.where(K["has_u"], K["rsL"] * (e + b + K["frac"] * m) + P.zeta_u, 0.0)
    elif not absorb and P.reset_momentum:
        u = np.zeros(P.S)
    for _ in range(P.tau_a):
        e, e_tot, b, m, p, u = _intra_round(P, K, e, e_tot, b, m, p, u)
        if rows is not None:
            rows.append((e.copy(), e_tot, b, m, "intra"))
    f = math.hypot(e_tot, b)
    if absorb and not P.reset_momentum and P.tau_r > 0:
        # gradients are evaluated after gossip moved X by ‖(W^τ_r − I)(I−J)X‖ ≤ f (W ≽ 0)
        u = np.where(K["has_u"], u + K["rsL"] * f, 0.0)
    for _ in range(P.tau_r):
        # global gossip contracts ‖(I−J)X‖ = hypot(‖(I−J_a)X‖, b) by λ(W) and may move
        # energy between the two parts: (I−J_a)WX = (I−J_a)W E + (I−J_a)(W−I)B, etc.
        dl = _fp_delta(K, e_tot, b, m)
        f = f * lam + dl
        m = m + dl  # gossip keeps the mean exactly, float64 only up to δ
        if P.inter is not None:
            e, e_tot, b = _gossip_round(P.inter, e, e_tot, b, f, P.S > 1, dl)
        else:
            e = np.full(P.S, f)
            e_tot = f
            b = f
        if rows is not None:
            rows.append((e.copy(), e_tot, b, m, "inter"))
    return e, e_tot, b, m, u


def _gossip_round(
    it: dict[str, Any], e: np.ndarray, e_tot: float, b: float, f: float, several: bool,
    dl: float = 0.0,
) -> tuple[np.ndarray, float, float]:  # fmt: skip
    """One global gossip round of the recursion (``it`` = :func:`inter_constants`, ``f`` the
    contracted ``‖(I−J)X‖`` bound, ``several``: ``S > 1``, else ``b = 0``):
    ``(I−J_a)WX = (I−J_a)W E + (I−J_a)(W−I)B`` and likewise for ``B``."""
    e_in = min(e_tot, float(np.sqrt(np.sum(e**2))))
    e = np.minimum(it["lam_E_s"] * e_in + it["beta_s"] * b + dl, f)
    e_tot, b = (
        min(it["lam_E"] * e_in + it["beta"] * b + dl, f),
        min(it["beta"] * e_in + it["lam_B"] * b + dl, f),
    )
    e = _fix(np.minimum(e, e_tot))
    return e, float(_fix(e_tot)), float(_fix(b if several else 0.0))


def _pack(e: np.ndarray, e_tot: float, b: float, m: float, u: np.ndarray) -> np.ndarray:
    return np.concatenate([e, [e_tot, b, m], u])


def _cycle_map(P: BoundProblem, K: dict, y: np.ndarray) -> np.ndarray:
    """The steady-state cycle map ``T`` on packed states (a later cycle: ``first=False``)."""
    S = P.S
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            out = _one_cycle(
                P, K, y[:S].copy(), float(y[S]), float(y[S + 1]), float(y[S + 2]),
                y[S + 3 :].copy(), False, None,
            )  # fmt: skip
    except OverflowError:  # a Python-float square overflowed: the bound is vacuous there
        return np.full(len(y), np.inf)
    return _fix(_pack(*out))


def _opt(P: BoundProblem, y: np.ndarray) -> float:
    S = P.S
    with np.errstate(over="ignore"):
        return float((y[S] ** 2 + y[S + 1] ** 2 + y[S + 2] ** 2) / P.N)


@dataclass
class Radius:
    """Certified asymptotic radius of the Theorem-2 recursion at cycle ends.

    ``upper = opt(ȳ)`` for a state ``ȳ`` checked to satisfy ``T(ȳ) ≤ ȳ`` (a super-solution of
    the monotone cycle map ``T``); ``lower = opt(T^k(0))`` (increasing, below every fixed
    point). Every fixed point lies in ``[lower, upper]`` and the iterates from any start
    converge below ``upper`` (``docs/theory.md`` §7d). ``upper = inf`` when no super-solution
    exists within the budget (the bound does not converge: rate ≥ 1)."""

    upper: float
    lower: float
    cycles: int
    certified: bool


def _newton_fixed_point(
    tmap: Callable[[np.ndarray], np.ndarray], y: np.ndarray
) -> np.ndarray | None:
    """Approximate fixed point of the cycle map ``tmap`` by Newton's method on ``T(y) − y``
    with a finite-difference Jacobian (the state is small: ``2S + 3`` entries); ``None`` if it
    fails."""
    n = len(y)
    for _ in range(40):
        ty = tmap(y)
        F = ty - y
        if not np.all(np.isfinite(F)):
            return None
        if float(np.max(np.abs(F), initial=0.0)) <= 1e-15 * max(1.0, float(np.max(y))):
            return y
        J = np.empty((n, n))
        for j in range(n):
            h = 1e-7 * max(abs(float(y[j])), 1e-12)
            z = y.copy()
            z[j] += h
            J[:, j] = (tmap(z) - ty) / h
        try:
            dy = np.linalg.solve(J - np.eye(n), -F)
        except np.linalg.LinAlgError:
            return None
        y = np.maximum(y + dy, 0.0)
    return y


def certified_radius(
    P: BoundProblem, rtol: float = 1e-7, max_cycles: int = 200_000, rate: Rate | None = None
) -> Radius:
    """The limit of the Theorem-2 bound at cycle ends, to a certified relative tolerance
    ``rtol`` (see :class:`Radius`; the bracket is :func:`certify_fixed_point` on the cycle map
    of ``P``). Finite exactly when the rate (:func:`cycle_rate`, or ``rate``) is ``< 1``:
    then ``t·v`` (``v`` the rate's Collatz–Wielandt vector) is a super-solution for ``t`` large
    (:func:`super_solution`); ``rate ≥ 1`` gives ``upper = inf``."""
    K = recursion_constants(P)
    r = cycle_rate(P) if rate is None else rate

    def tmap(y: np.ndarray) -> np.ndarray:
        return _cycle_map(P, K, y)

    def opt(y: np.ndarray) -> float:
        return _opt(P, y)

    return certified_limit(tmap, opt, r, 2 * P.S + 3, rtol=rtol, max_cycles=max_cycles)


def super_solution(
    tmap: Callable[[np.ndarray], np.ndarray], v: np.ndarray, rate: float
) -> np.ndarray | None:
    """``t·v`` with ``T(t·v) ≤ t·v`` (checked), for the smallest ``t = 4^k ≥ 1`` found, or
    ``None``. For a monotone ``T`` whose homogeneous part satisfies ``T₀(v) ≤ rate·v`` with
    ``rate < 1`` and ``T(y) − T₀(y)`` growing slower than ``y``, such a ``t`` exists."""
    if not rate < 1:
        return None
    t = 1.0
    top = float(np.max(v, initial=0.0))
    for _ in range(400):
        y = t * v
        if not np.all(np.isfinite(y)) or t * top > 1e290:
            return None
        if np.all(tmap(y) <= y):
            return y
        t *= 4.0
    return None


def certified_limit(
    tmap: Callable[[np.ndarray], np.ndarray],
    opt: Callable[[np.ndarray], float],
    rate: Rate,
    dim: int,
    *,
    weights: np.ndarray | None = None,
    rtol: float = 1e-7,
    max_cycles: int = 200_000,
) -> Radius:
    """The one rule tying rate and radius together (used by :func:`certified_radius` and the
    planner): ``rate.upper ≥ 1`` → ``Radius(inf, …, certified=False)``; otherwise
    :func:`certify_fixed_point` started from the super-solution :func:`super_solution`
    ``(tmap, rate.vector, rate.upper)``."""
    if not rate.upper < 1:
        return Radius(math.inf, 0.0, 0, False)
    up0 = super_solution(tmap, rate.vector, rate.upper)
    return certify_fixed_point(tmap, opt, dim, weights=weights, rtol=rtol,
                               max_cycles=max_cycles, upper0=up0)  # fmt: skip


def certify_fixed_point(
    tmap: Callable[[np.ndarray], np.ndarray],
    opt: Callable[[np.ndarray], float],
    dim: int,
    *,
    weights: np.ndarray | None = None,
    rtol: float = 1e-7,
    max_cycles: int = 200_000,
    upper0: np.ndarray | None = None,
) -> Radius:
    """Certified bracket of ``opt`` at the fixed point of a monotone cycle map ``tmap`` on
    states of ``dim`` entries (:func:`certified_radius`; the planner calls it on its
    deduplicated state, ``weights`` = each entry's multiplicity in the vector norms). An
    approximate fixed point ``ŷ`` (Newton on ``T(y) = y`` from a few iterates of ``T`` from 0)
    is bracketed: ``ŷ(1+δ)`` is accepted as upper end once ``T(ȳ) ≤ ȳ`` (super-solution),
    ``ŷ(1−δ)`` as lower end once ``T(y) ≥ y`` (sub-solution, below the unique fixed point),
    for the smallest ``δ`` of a ladder. If that fails, the iterates ``T^k(0)`` (increasing,
    below every fixed point) run up to ``max_cycles`` while the same test is tried on their
    geometric extrapolation. ``upper0``: a known super-solution (``T(ȳ) ≤ ȳ``), the upper end
    until a tighter one is found."""

    def norm(x: np.ndarray) -> float:
        return float(np.linalg.norm(x)) if weights is None else math.sqrt(float(weights @ x**2))

    y = np.zeros(dim)
    for _ in range(20):
        y = tmap(y)
        if not np.all(np.isfinite(y)):
            return Radius(math.inf, 0.0, 20, False)
    lo = y.copy()
    k = 20

    def bracket(est: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
        up = dn = None
        for delta in (1e-12, 1e-10, 1e-8, 1e-6, 1e-4, 1e-2):
            c = est * (1.0 + delta) + 1e-300
            if np.all(tmap(c) <= c):
                up = c
                break
        for delta in (1e-12, 1e-10, 1e-8, 1e-6, 1e-4, 1e-2):
            c = est * (1.0 - delta)
            if np.all(tmap(c) >= c):
                dn = c
                break
        return up, dn

    est = _newton_fixed_point(tmap, y.copy())
    hi: np.ndarray | None = None if upper0 is None else np.asarray(upper0, dtype=np.float64)
    if est is not None:
        up_n, dn = bracket(est)
        if up_n is not None:
            hi = up_n if hi is None else np.minimum(hi, up_n)
        if dn is not None:
            lo = np.maximum(lo, dn)
    prev_step: np.ndarray | None = None
    while True:
        if hi is not None:
            up, down = opt(hi), opt(lo)
            if up - down <= rtol * max(up, 1e-300) or k >= max_cycles:
                return Radius(up, down, k, True)
        if k >= max_cycles:
            return Radius(math.inf, opt(lo), k, False)
        nxt = tmap(y)
        k += 1
        if not np.all(np.isfinite(nxt)):
            return Radius(math.inf, opt(lo), k, False)
        step, y = nxt - y, nxt
        lo = np.maximum(lo, y)
        if hi is not None:
            hi = np.minimum(hi, tmap(hi))  # T(ȳ) ≤ ȳ ⇒ T(T(ȳ)) ≤ T(ȳ)
        if float(np.max(np.abs(step), initial=0.0)) == 0.0:
            hi = y.copy() if hi is None else np.minimum(hi, y)
        elif prev_step is not None and k % 16 == 0:
            n1, n0 = norm(step), norm(prev_step)
            r = n1 / n0 if n0 > 0 else 1.0
            if r < 1:
                up_c, dn_c = bracket(y + step * (r / (1.0 - r)))
                if up_c is not None:
                    hi = up_c if hi is None else np.minimum(hi, up_c)
                if dn_c is not None:
                    lo = np.maximum(lo, dn_c)
        prev_step = step


def reference_point(P: BoundProblem, x_ref: np.ndarray | None = None) -> np.ndarray:
    """The point the bounds of ``P`` measure distances from. :func:`bound_problem` fixes it
    (``P.x_ref = x_c = argmin Σ c_i F_i``, with the momentum scales in ``"absorb"`` mode):
    ``x_ref`` may then be omitted, and a different one is refused — the constants
    (``ζ`` at ``x_c``) hold only there, so another point gives no bound (distances from
    ``x*`` follow by the triangle inequality with ``P.bias``, :mod:`ssdfl.theory.verify`).
    For :func:`generic_problem` (scalar constants, no model) ``x_ref`` is the optimum the
    caller's ``ζ`` were measured at and is required."""
    if P.x_ref is not None:
        ref = np.asarray(P.x_ref, dtype=np.float64)
        if x_ref is not None:
            x = np.asarray(x_ref, dtype=np.float64)
            tol = 1e-9 * max(1.0, float(np.linalg.norm(ref)))
            if x.shape != ref.shape or float(np.linalg.norm(x - ref)) > tol:
                raise SsdflError(
                    "x_ref differs from the reference point of this BoundProblem "
                    f"(P.x_ref = x_c = argmin Σ c_i F_i, ‖x_ref − x_c‖ = "
                    f"{float(np.linalg.norm(x - ref)) if x.shape == ref.shape else 'shape'}); "
                    "its constants hold only at P.x_ref: omit x_ref or pass P.x_ref"
                )
        return ref
    if x_ref is None:
        raise SsdflError("this BoundProblem has no reference point: pass x_ref (the optimum)")
    x = np.asarray(x_ref, dtype=np.float64)
    if x.ndim != 1 or not np.all(np.isfinite(x)):
        raise SsdflError(f"x_ref must be a finite 1-D point, got shape {x.shape}")
    return x


def initial_state(
    P: BoundProblem, X0: np.ndarray, x_ref: np.ndarray | None = None
) -> tuple[np.ndarray, float, float]:
    """``(e0, b0, m0)`` of ``X0`` (``(N, d)``) w.r.t. the reference point
    (:func:`reference_point`: ``P.x_ref`` when set)."""
    x_ref = reference_point(P, x_ref)
    X0 = np.asarray(X0, dtype=np.float64)
    e0, b0 = _disagreement(X0, P.labels)
    return e0, b0, math.sqrt(len(X0)) * float(np.linalg.norm(X0.mean(axis=0) - x_ref))


def _disagreement(X: np.ndarray, lab: np.ndarray) -> tuple[np.ndarray, float]:
    """``(e, b)`` of ``X``: ``e[s] = ‖(I − J_s)X_s‖_F`` per cluster (``np.unique`` order) and
    ``b = ‖(J_a − J)X‖_F = (Σ_s N_s‖x̄_s − x̄‖²)^{1/2}``."""
    e, b2 = [], 0.0
    xbar = X.mean(axis=0)
    for s in np.unique(lab):
        Xs = X[lab == s]
        e.append(float(np.linalg.norm(Xs - Xs.mean(0))))
        b2 += len(Xs) * float(np.sum((Xs.mean(0) - xbar) ** 2))
    return np.array(e), math.sqrt(b2)


# --------------------------------------------------------------------------- named statements
def intra_consensus_bound(
    P: BoundProblem, cycles: int, X0: np.ndarray, x_ref: np.ndarray | None = None
) -> np.ndarray:
    """**Lemma 1**: ``(T+1, S)`` bounds on ``E Γ_s(t)`` at every round."""
    e0, b0, m0 = initial_state(P, X0, x_ref)
    return run_bounds(P, cycles, e0=e0, b0=b0, m0=m0).gamma_s


def inter_consensus_bound(
    P: BoundProblem, cycles: int, X0: np.ndarray, x_ref: np.ndarray | None = None
) -> np.ndarray:
    """**Lemma 2**: ``(T+1,)`` bounds on the global gap ``E Γ(t) = (1/N) E‖(I−J)X_t‖²``."""
    e0, b0, m0 = initial_state(P, X0, x_ref)
    return run_bounds(P, cycles, e0=e0, b0=b0, m0=m0).gamma


@dataclass
class CycleBound:
    """**Theorem 2** summary: ``trace`` (every round); ``rate`` the certified per-cycle growth
    factor of the cycle map the bound iterates (:class:`Rate` ``upper``; ``rate_lower`` its
    lower end); ``radius`` the limit of the bound on ``(1/N)E‖X − 1x_cᵀ‖²`` at cycle ends,
    certified by :func:`certified_radius` — finite exactly when ``rate < 1``, ``inf``
    otherwise; ``bias = ‖x_c − x*‖``; ``radius_lower`` the lower end of the certified bracket;
    ``converges`` = ``rate < 1`` (a finite radius is certified); ``proves_convergence`` =
    ``converges`` and ``radius`` below the bound's starting value ``trace.opt[0]`` (the
    bound ends below where it starts)."""

    trace: BoundTrace
    rate: float
    radius: float
    bias: float
    radius_lower: float = 0.0
    converges: bool = False
    rate_lower: float = 0.0
    proves_convergence: bool = False


def noise_free(P: BoundProblem) -> BoundProblem:
    """A copy of ``P`` without noise, heterogeneity and the constant part of the float64 floor
    (``ζ = 0``, ``σ² = 0``, ``fp_c = 0``, ``x_ref = 0`` in the floor): its cycle
    map is the one whose growth :func:`cycle_rate` measures."""
    Q = BoundProblem(**{**P.__dict__, "_cache": {}})
    Q.zeta_a = np.zeros(P.S)
    Q.zeta_b = 0.0
    Q.zeta_p = np.zeros(P.S)
    Q.zeta_u = np.zeros(P.S)
    Q.sigma2 = 0.0
    if Q.zeta_cs_mom is not None:  # the absorbed heavy-ball devices' ζ (was left in: not
        Q.zeta_cs_mom = np.zeros(P.S)  # homogeneous, so the rate's brackets could cross)
    # the float64 floor keeps only its homogeneous part (γ_k·a·‖X̂ − 1x_refᵀ‖): no constant
    Q.fp_c = 0.0
    if Q.x_ref is not None:
        Q.x_ref = np.zeros_like(Q.x_ref)
    return Q


@dataclass
class Rate:
    """The per-cycle growth factor of the bound: the cone spectral radius ``r`` of the
    noise- and heterogeneity-free cycle map ``T₀`` (:func:`noise_free`), the same map
    :func:`certified_radius` iterates with the constants set to 0. ``T₀`` is monotone and
    positively homogeneous, so ``r`` is bracketed by Collatz–Wielandt ratios
    (``docs/theory.md`` §7e):

    - ``upper = max_i T₀(v)_i / v_i`` for a strictly positive ``v`` (``vector``):
      ``T₀(v) ≤ upper·v``, hence ``T₀^k(y) ≤ upper^k·max_i(y_i/v_i)·v`` from every start — this
      is *the* rate reported everywhere;
    - ``lower = min_{x_i > 0} T₀(x)_i / x_i`` for a non-zero ``x ≥ 0``: ``T₀^k(x) ≥ lower^k·x``.

    ``upper < 1`` certifies a finite radius (``t·v`` is a super-solution of the full map for
    ``t`` large); ``lower ≥ 1`` proves the bound does not converge."""

    upper: float
    lower: float
    vector: np.ndarray = field(repr=False)


def certified_rate(
    tmap0: Callable[[np.ndarray], np.ndarray],
    dim: int,
    *,
    weights: np.ndarray | None = None,
    iters: int = 400,
    rtol: float = 1e-9,
) -> Rate:
    """:class:`Rate` of a monotone, positively homogeneous map ``tmap0`` on states of ``dim``
    entries: power iteration from the all-ones state (norm weighted by ``weights``, each
    entry's multiplicity), with the Collatz–Wielandt bracket evaluated every few steps until
    its relative width is ``≤ rtol``, or ``iters`` steps ran and the bracket does not contain
    1 (else up to ``10·iters`` steps: slow mixing near rate 1). The upper ratio is taken at
    ``y + δ·max(y)`` for a ladder of ``δ`` (``v`` must be strictly positive; entries the map
    keeps at 0 give ratio 0)."""
    w = np.ones(dim) if weights is None else np.asarray(weights, dtype=np.float64)

    def norm(x: np.ndarray) -> float:
        return math.sqrt(float(w @ (x * x)))

    y = np.ones(dim)
    best = Rate(math.inf, 0.0, y.copy())

    def bracket(y: np.ndarray, best: Rate) -> Rate:
        up, vec = best.upper, best.vector
        top = float(y.max(initial=0.0))
        for delta in (0.0, 1e-12, 1e-9, 1e-6, 1e-3):
            v = y + delta * top
            if not np.all(v > 0):
                continue
            with np.errstate(over="ignore", invalid="ignore"):
                tv = tmap0(v)
            if not np.all(np.isfinite(tv)):
                continue
            r = float(np.max(tv / v))
            if r < up:
                up, vec = r, v
        lo = best.lower
        x = np.where(y > 1e-9 * top, y, 0.0)
        if top > 0:
            with np.errstate(over="ignore", invalid="ignore"):
                tx = tmap0(x)
            pos = x > 0
            ratio = tx[pos] / x[pos]
            r = float(np.min(np.where(np.isnan(ratio), np.inf, ratio)))
            lo = max(lo, r)
        return Rate(up, lo, vec)

    for k in range(1, 10 * iters + 1):
        with np.errstate(over="ignore", invalid="ignore"):
            z = tmap0(y)
        nz = norm(z)
        if nz == 0.0:  # nilpotent: every state is mapped to 0
            return Rate(0.0, 0.0, np.ones(dim))
        if not math.isfinite(nz):
            return Rate(math.inf, math.inf, np.ones(dim))
        y = z / nz
        if k % 8 == 0 or k == iters:
            best = bracket(y, best)
            if best.upper - best.lower <= rtol * max(best.upper, 1e-300):
                break
            if k >= iters and not (best.lower < 1.0 <= best.upper):
                break  # the verdict (rate < 1 or ≥ 1) is decided; only then stop early
    return best


def _cycle_rate(P: BoundProblem, iters: int = 400) -> Rate:
    """:func:`certified_rate` of the steady-state cycle map :func:`_cycle_map` (the map the
    bound iterates after its first cycle) of :func:`noise_free` ``(P)``."""
    Q = noise_free(P)
    KQ = recursion_constants(Q)
    return certified_rate(lambda y: _cycle_map(Q, KQ, y), 2 * P.S + 3, iters=iters)


def cycle_rate(P: BoundProblem) -> Rate:
    """The per-cycle rate of the Theorem-2 bound of ``P`` (:class:`Rate`; cached in ``P``)."""
    K = recursion_constants(P)
    if "_rate" not in K:
        K["_rate"] = _cycle_rate(P)
    return K["_rate"]


def global_cycle_bound(
    P: BoundProblem,
    cycles: int,
    X0: np.ndarray,
    x_ref: np.ndarray | None = None,
    radius_cycles: int = 200_000,
    rtol: float = 1e-7,
) -> CycleBound:
    """**Theorem 2**: bounds at every round, the per-cycle rate and the certified asymptotic
    radius (:func:`certified_radius`, at most ``radius_cycles`` cycle-map evaluations, relative
    bracket ``rtol``). ``x_ref`` is validated against ``P.x_ref`` (:func:`reference_point`)."""
    e0, b0, m0 = initial_state(P, X0, x_ref)
    tr = run_bounds(P, cycles, e0=e0, b0=b0, m0=m0)
    rate = cycle_rate(P)
    rad = certified_radius(P, rtol=rtol, max_cycles=radius_cycles, rate=rate)
    conv = bool(rate.upper < 1 and rad.certified)
    return CycleBound(
        tr, float(rate.upper), rad.upper if conv else math.inf, P.bias, rad.lower, conv,
        float(rate.lower), conv and rad.upper < float(tr.opt[0]),
    )  # fmt: skip


def formation_bound(
    g: GraphLike,
    labels: np.ndarray | Sequence[int],
    *,
    eta: float,
    tau_a: int,
    tau_r: int,
    L: float,
    mu: float,
    zeta2: np.ndarray | Sequence[float],
    zeta_b: float = 0.0,
    sigma2: float = 0.0,
    rule: str = "lazy-metropolis",
    cycles: int = 50,
    dist0: float = 1.0,
) -> float:
    """Scalar score of a formation for cluster search / formation optimization: the
    **Theorem 2** bound on ``(1/N)E‖X − 1x*ᵀ‖²`` after ``cycles`` cycles from a common start at
    distance ``dist0`` from the optimum (``e = b = 0``, ``m = √N·dist0``), for SGD devices with
    constants ``L``, ``μ``, per-cluster dissimilarity ``zeta2[s]`` and between-cluster
    ``zeta_b`` (see :func:`generic_problem`). Mixing matrices are built from ``g`` with
    ``rule`` (``W_s`` on each cluster's induced subgraph). Smaller is better; ``inf`` when the
    bound does not converge — its rate (:func:`cycle_rate`, the one definition) is ``≥ 1`` —
    whatever its value after ``cycles`` (a transient there, not a bound on the limit)."""

    lab = np.asarray(labels)
    Wa = block_mixing(g, lab, rule)
    Wr = mixing_matrix(g, rule).toarray()
    P = generic_problem(
        lab, Wa, Wr, eta, tau_a, tau_r, L=L, mu=mu, zeta2=zeta2, zeta_b=zeta_b, sigma2=sigma2
    )
    if not cycle_rate(P).upper < 1:
        return math.inf
    tr = run_bounds(P, cycles, e0=np.zeros(P.S), b0=0.0, m0=math.sqrt(P.N) * dist0)
    return float(tr.opt[-1])


def theorem1_rate(
    W: np.ndarray | sp.sparray,
    eta: float,
    h_min: float,
    h_max: float,
    optimizers: OptimizerPopulation | None = None,
) -> float:
    """**Theorem 1** contraction factor ``q = max(|1 − η h_min|, |λ_min(W) − η h_max|)`` of a
    gradient step on the effective loss, where ``h_min ≤ c_i(μ_i^F + μ_i)`` and
    ``h_max ≥ c_i(L_i + μ_i)`` over the devices (``μ_i^F`` strong convexity of ``F_i``,
    ``μ_i`` proximal coefficient). ``optimizers``, if given, must be covered by
    ``"theorem1"`` (SGD / prox)."""
    if optimizers is not None:
        optimizers.require("theorem1", "theorem1_rate")
    lam_min = float(np.linalg.eigvalsh(dense_matrix(W))[0])
    return max(abs(1 - eta * h_min), abs(lam_min - eta * h_max))


def intra_cluster_convergence(
    dist0_sq: float,
    q: float,
    t: int | np.ndarray,
    eta: float,
    sigma2: float = 0.0,
    c: np.ndarray | Sequence[float] | float = 1.0,
    n_devices: int = 1,
) -> np.ndarray:
    """**Theorem 1**: ``E‖X_t − X̃*‖_F² ≤ q^{2t}‖X_0 − X̃*‖² + η²σ²Σc_i² (1 − q^{2t})/(1 − q²)``
    for the intra rounds of a cycle (SGD / prox devices; ``X̃*`` the minimizer of the effective
    loss with the cycle's anchors, ``q`` from :func:`theorem1_rate`). ``c`` scalar is
    broadcast over ``n_devices``."""
    tt = np.asarray(t, dtype=np.float64)
    cc = np.broadcast_to(np.asarray(c, dtype=np.float64), (n_devices,))
    noise = eta**2 * sigma2 * float(np.sum(cc**2))
    q2 = q * q
    geo = tt if q2 == 1.0 else (1 - q2**tt) / (1 - q2)
    return q2**tt * dist0_sq + noise * geo


# --------------------------------------------------------------------------- non-convex
@dataclass
class StationarityBound:
    """**Theorem 3** (smooth non-convex, SGD devices): ``gamma_s`` ``(T+1, S)`` and ``gamma``
    ``(T+1,)`` bound ``E Γ_s`` and ``E Γ`` at every round; ``steps`` are the rounds ``t`` from
    which a local step is taken; ``grad_avg`` bounds ``(1/|steps|) Σ_{t∈steps} E‖∇F̄(x̄_t)‖²``
    (hence ``min_t E‖∇F̄(x̄_t)‖²``): ``2(F̄(x̄_0) − F_inf)/(η|steps|) + L² mean_t EΓ_t +
    Lησ²/N``."""

    gamma_s: np.ndarray
    gamma: np.ndarray
    steps: np.ndarray
    grad_avg: float


def nonconvex_bound(
    labels: np.ndarray | Sequence[int],
    W_intra: np.ndarray | sp.sparray,
    W_inter: np.ndarray | sp.sparray,
    eta: float,
    tau_a: int,
    tau_r: int,
    cycles: int,
    X0: np.ndarray,
    *,
    L: float,
    zeta2: np.ndarray | Sequence[float],
    zeta_b2: float,
    f_gap: float,
    sigma2: float = 0.0,
    optimizers: OptimizerPopulation | None = None,
) -> StationarityBound:
    """**Theorem 3**: SGD devices with ``L``-smooth (possibly non-convex) ``F_i``, uniform
    gradient dissimilarity ``zeta2[s] ≥ sup_x (1/N_s)Σ_{i∈C_s}‖∇F_i(x) − ∇F̄_s(x)‖²`` and
    ``zeta_b2 ≥ sup_x (1/N)Σ_s N_s‖∇F̄_s(x) − ∇F̄(x)‖²``, ``f_gap ≥ F̄(x̄_0) − inf F̄``,
    ``η ≤ 1/L``. Derivation in ``docs/theory.md`` §7b. ``optimizers``, if given, must be
    covered by ``"theorem3"`` (plain SGD)."""
    _check_common(eta, tau_a, tau_r)
    if optimizers is not None:
        optimizers.require("theorem3", "nonconvex_bound")
    if not (L > 0) or eta * L > 1:
        raise SsdflError("Theorem 3 needs L > 0 and eta <= 1/L")
    lab = check_labels(labels)
    n = len(lab)
    X0 = np.asarray(X0, dtype=np.float64)
    if X0.ndim != 2 or X0.shape[0] != n:
        raise SsdflError(f"X0 must have shape ({n}, d)")
    eigs, lam = _cluster_spectra(dense_matrix(W_intra), lab, dense_matrix(W_inter))
    it = inter_constants(W_inter, lab)
    clusters = [np.flatnonzero(lab == s) for s in np.unique(lab)]
    S = len(clusters)
    z2 = np.asarray(zeta2, dtype=np.float64)
    if z2.shape != (S,) or np.any(z2 < 0) or zeta_b2 < 0 or f_gap < 0 or sigma2 < 0:
        raise SsdflError("zeta2 (one per cluster), zeta_b2, f_gap, sigma2 must be >= 0")
    Ns = np.array([len(i) for i in clusters], dtype=float)
    za = np.sqrt(Ns * z2)
    zb = math.sqrt(n * zeta_b2)
    lam_s = np.array([_rho_W(e, np.zeros(2), eta) for e in eigs])  # second eigenvalue modulus
    n_e = eta**2 * sigma2 * (Ns - 1)
    n_b = eta**2 * sigma2 * (S - 1)
    e, b = _disagreement(X0, lab)
    e_tot = float(np.sqrt(np.sum(e**2)))
    rows = [(e.copy(), e_tot, b)]
    steps = []
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(cycles):
            for _ in range(tau_a):
                steps.append(len(rows) - 1)
                e_use = min(e_tot, float(np.sqrt(np.sum(e**2))))
                # (I−J_s)G(X_s) = (I−J_s)[G(X_s) − G(1x̄_s)] + (I−J_s)G(1x̄_s): ≤ L e_s + ζ_a,s
                e_new = np.sqrt(((lam_s + eta * L) * e + eta * za) ** 2 + n_e)
                et_new = math.sqrt(
                    ((lam_s.max() + eta * L) * e_use + eta * float(np.linalg.norm(za))) ** 2
                    + n_e.sum()
                )
                # (J_a−J)G(X) = (J_a−J)[G(X) − G(1x̄)] + (J_a−J)G(1x̄): ≤ L(e + b) + ζ_b
                b_new = (
                    math.sqrt(((1 + eta * L) * b + eta * (L * e_use + zb)) ** 2 + n_b)
                    if S > 1
                    else 0.0
                )
                e, e_tot, b = _fix(np.minimum(e_new, et_new)), float(_fix(et_new)), b_new
                rows.append((e.copy(), e_tot, b))
            f = math.hypot(e_tot, b)
            for _ in range(tau_r):
                f *= lam
                e, e_tot, b = _gossip_round(it, e, e_tot, b, f, S > 1)
                rows.append((e.copy(), e_tot, b))
        E = np.stack([r[0] for r in rows])
        et = np.array([r[1] for r in rows])
        B = np.array([r[2] for r in rows])
        gamma = (et**2 + B**2) / n
        st = np.array(steps, dtype=np.int64)
        if len(st):
            grad = 2 * f_gap / (eta * len(st)) + L**2 * float(np.mean(gamma[st]))
            grad += L * eta * sigma2 / n
        else:
            grad = math.inf
    return StationarityBound(E**2 / Ns, gamma, st, float(grad))


# --------------------------------------------------------------------------- Φ_min^S
def eps_S(S: int, eps: float) -> float:
    """Per-cluster consensus budget ``ε_S = ε`` for every ``S`` (derivation in
    ``docs/theory.md``): clusters contract independently, so after the intra phase
    ``‖(I−J_a)X(τ)‖² = Σ_s ‖(I−J_s)X_s(τ)‖² ≤ max_s λ_s^{2τ} Σ_s ‖(I−J_s)X_s(0)‖²``, and
    ``λ_s^τ ≤ ε`` for every cluster already meets the global budget ``ε``; an ``ε/√S`` share
    (the rule before the audit) is stricter than the bound needs. ``S`` is validated only."""
    if S < 1:
        raise SsdflError(f"S must be >= 1, got {S}")
    if not (0 < eps <= 1):
        raise SsdflError(f"eps must be in (0, 1], got {eps}")
    return float(eps)


def phi_min(S: int, tau_a: int, eps: float = 0.1) -> float:
    """Minimum conductance ``Φ_min^S = √(2(1 − ε_S^{1/τ_a}))`` with ``ε_S = ε``
    (:func:`eps_S`): a cluster with ``Φ(W_s) ≥ Φ_min^S`` has
    ``λ₂(W_s)^{τ_a} ≤ (1 − Φ²/2)^{τ_a} ≤ ε`` (Cheeger), and a formation of such clusters has
    ``‖(I−J_a)X(τ_a)‖ ≤ ε‖(I−J_a)X(0)‖`` for every ``S``."""
    if tau_a < 1:
        raise SsdflError(f"tau_a must be >= 1, got {tau_a}")
    e = eps_S(S, eps)
    return math.sqrt(2.0 * (1.0 - e ** (1.0 / tau_a)))


def phi_min_rule(tau_a: int, eps: float = 0.1) -> Callable[[int], float]:
    """``S ↦ phi_min(S, tau_a, eps)`` for the cluster search (``split_hierarchy(phi_min=…)``)."""
    phi_min(1, tau_a, eps)  # validate now

    def rule(S: int) -> float:
        return phi_min(S, tau_a, eps)

    return rule
