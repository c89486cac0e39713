"""Theorem-2 numbers (rate, radius, bound by cycle) of a formation, with the smoothness,
strong-convexity and gradient-dissimilarity constants of the devices' own model
(:func:`model_constants`; "not covered" for non-convex models and uncovered optimizers).

The constants of :func:`ssdfl.theory.bounds.generic_problem` are computed here without dense
``N × N`` matrices (:class:`FormationConstants`, once per formation and reused by every
schedule of the grid):

- ``W_eigs[s]``: every eigenvalue of ``W_s`` for clusters of at most :data:`DENSE_CLUSTER`
  devices, else ``[λ_min, λ₂, 1]`` (the bounds only use the extremes of the non-consensus
  spectrum); ``λ(W)`` by Lanczos above :data:`DENSE_GRAPH` devices;
- the gossip-coupling constants of :func:`ssdfl.theory.bounds.inter_constants` through the
  cluster structure: with ``Q = C D^{-1/2}`` (orthonormal cluster indicators),
  ``‖(J_a−J)W(J_a−J)‖ = ‖(I−qqᵀ)QᵀWQ(I−qqᵀ)‖`` (an ``S × S`` matrix, ``q = √(N_s/N)``),
  ``‖(I−J_a)(W−I)J_a‖ = ‖(I−J_a)WQ‖`` (a sparse ``N × S`` matrix ``Z``; per cluster its rows),
  ``‖(I−J_a)W(I−J_a)‖`` by Lanczos, and per cluster ``‖R_s(I−J_a)W(I−J_a)‖`` from the columns
  of cluster ``s`` (supported on the clusters touching it).

The recursion itself (:func:`ssdfl.theory.bounds.run_bounds` for SGD devices: no proximal or
momentum state) runs on every schedule of the grid at once, on the distinct clusters only
(singletons, for instance, all follow the same recursion), instead of one Python call per
round and schedule. ``tests/test_planner_scale.py`` checks every number against
:mod:`ssdfl.theory.bounds` to 1e-9.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from ssdfl.clusters.batch import cluster_spectra, graph_slem
from ssdfl.clusters.labels import cluster_labels
from ssdfl.errors import SsdflError
from ssdfl.graphs.graph import Graph
from ssdfl.graphs.mixing import block_mixing_matrix, mixing_matrix
from ssdfl.planner.config import PlanConfig
from ssdfl.planner.pilot import resolve_model
from ssdfl.planner.scoring import CandidateTable
from ssdfl.theory import bounds as dense
from ssdfl.theory.bounds import (
    BoundProblem,
    Rate,
    bound_problem,
    certified_limit,
    certified_rate,
    global_cycle_bound,
    noise_free,
    recursion_constants,
    run_bounds,
    sgd_problem,
)
from ssdfl.theory.models import DeviceModel

if TYPE_CHECKING:
    from ssdfl.theory.devices import DeviceTable
    from ssdfl.theory.optimizers import OptimizerPopulation

__all__ = [
    "DENSE_CLUSTER",
    "DENSE_GRAPH",
    "DeviceConstants",
    "FormationConstants",
    "NotCovered",
    "bound_by_cycle",
    "bound_curves",
    "model_constants",
    "theorem2_numbers",
    "theorem2_problem",
]

DENSE_CLUSTER = 400
"""Clusters up to this size get dense LAPACK spectra; larger ones Lanczos."""

DENSE_GRAPH = 600
"""Graphs up to this size get ``λ(W)`` and ``‖(I−J_a)W(I−J_a)‖`` from dense LAPACK."""

_TOL = 1e-13


def _top_eig(op: spla.LinearOperator | np.ndarray | sp.sparray, n: int) -> float:
    """Largest eigenvalue modulus (the 2-norm) of a symmetric operator of size ``n``."""
    if n == 0:
        return 0.0
    if isinstance(op, np.ndarray) or n <= 3:
        A = op if isinstance(op, np.ndarray) else _materialize(op, n)
        return float(np.abs(np.linalg.eigvalsh(A)).max(initial=0.0))
    v0 = np.random.default_rng(0).standard_normal(n)
    if not np.any(op @ v0):  # the zero operator (ARPACK refuses it)
        return 0.0
    val = spla.eigsh(op, k=1, which="LM", return_eigenvectors=False, tol=_TOL, v0=v0,
                     maxiter=20 * n)  # fmt: skip
    return float(abs(val[0]))


def _materialize(op: Any, n: int) -> np.ndarray:
    if sp.issparse(op):
        return op.toarray()
    return np.column_stack([op @ e for e in np.eye(n)]) if n else np.zeros((0, 0))


def _sigma_max(Z: sp.sparray | np.ndarray) -> float:
    """Largest singular value of a (sparse) matrix through the smaller Gram matrix."""
    r, c = Z.shape
    if r == 0 or c == 0:
        return 0.0
    Zs = sp.csr_array(Z)
    G = (Zs.T @ Zs) if c <= r else (Zs @ Zs.T)
    k = G.shape[0]
    if k <= DENSE_CLUSTER:
        return math.sqrt(max(float(np.linalg.eigvalsh(G.toarray())[-1]), 0.0))
    return math.sqrt(_top_eig(sp.csr_array(G), k))


def _labels(clusters: list[np.ndarray], n: int) -> np.ndarray:
    """``cluster_labels`` (ids by first appearance) of a partition, vectorized."""
    sizes = np.array([len(c) for c in clusters])
    flat = np.concatenate(clusters) if clusters else np.zeros(0, dtype=np.int64)
    if len(flat) != n or np.any(np.bincount(flat, minlength=n) != 1):
        return cluster_labels(clusters, n)  # the reference raises the right error
    lab = np.empty(n, dtype=np.int64)
    lab[flat] = np.repeat(np.arange(len(clusters)), sizes)
    _, first, inv = np.unique(lab, return_index=True, return_inverse=True)
    return np.argsort(np.argsort(first))[inv].astype(np.int64)


class FormationConstants:
    """Everything of the Theorem-2 problem of a formation that does not depend on the schedule
    or the heterogeneity numbers: labels, sizes, cluster spectra, ``λ(W)``, inter constants."""

    def __init__(self, g: Graph, clusters: list[np.ndarray], cfg: PlanConfig) -> None:

        cl = [np.asarray(c, dtype=np.int64) for c in clusters]
        self.labels = _labels(cl, g.n)
        self.clusters = sorted(cl, key=lambda c: int(self.labels[c[0]]))
        self.sizes = np.array([len(c) for c in self.clusters])
        self.W_eigs = cluster_spectra(g, self.clusters, cfg.mixing_rule, dense_max=DENSE_CLUSTER)
        W = sp.csr_array(mixing_matrix(g, cfg.mixing_rule))
        self.lam_inter = graph_slem(g, cfg.mixing_rule, W=W, dense_max=DENSE_GRAPH)
        self.inter = inter_constants_sparse(W, self.labels, self.clusters)


def inter_constants_sparse(
    W: sp.csr_array, labels: np.ndarray, clusters: list[np.ndarray]
) -> dict[str, Any]:
    """:func:`ssdfl.theory.bounds.inter_constants` without ``N × N`` dense matrices (see the
    module docstring). ``clusters[s]`` holds the nodes labelled ``s``."""
    n = W.shape[0]
    S = len(clusters)
    lab = np.asarray(labels, dtype=np.int64)
    Ns = np.bincount(lab, minlength=S).astype(np.float64)
    # Q: orthonormal cluster indicators (N × S)
    Q = sp.csr_array((1.0 / np.sqrt(Ns[lab]), (np.arange(n), lab)), shape=(n, S))
    C = sp.csr_array((np.ones(n), (np.arange(n), lab)), shape=(n, S))

    def cluster_mean(X: Any) -> Any:  # J_a X
        return C @ ((C.T @ X) / Ns[:, None]) if X.ndim == 2 else C @ ((C.T @ X) / Ns)

    # λ_B: (I − qqᵀ) QᵀWQ (I − qqᵀ), S × S
    q = np.sqrt(Ns / n)
    MS = sp.csr_array(Q.T @ (W @ Q))
    if S <= DENSE_CLUSTER:
        P = np.eye(S) - np.outer(q, q)
        lam_B = float(np.linalg.norm(P @ MS.toarray() @ P, 2)) if S > 1 else 0.0
    else:

        def pb(x: np.ndarray) -> np.ndarray:
            y = x - q * (q @ x)
            y = MS @ y
            return y - q * (q @ y)

        lam_B = _top_eig(spla.LinearOperator((S, S), matvec=pb, dtype=np.float64), S)
    # Z = (I − J_a) W Q, sparse N × S
    Y = sp.csr_array(W @ Q)
    Z = sp.csr_array(Y - sp.csr_array(cluster_mean(Y)))
    Z.eliminate_zeros()
    beta = _sigma_max(Z)
    # λ_E = ‖(I − J_a) W (I − J_a)‖
    if n <= DENSE_GRAPH:
        Ja = (C @ sp.diags_array(1.0 / Ns) @ C.T).toarray()
        Pe = np.eye(n) - Ja
        lam_E = float(np.linalg.norm(Pe @ W.toarray() @ Pe, 2))
    else:

        def me(x: np.ndarray) -> np.ndarray:
            y = x - cluster_mean(x)
            y = W @ y
            return y - cluster_mean(y)

        lam_E = _top_eig(spla.LinearOperator((n, n), matvec=me, dtype=np.float64), n)
    lam_s = np.zeros(S)
    beta_s = np.zeros(S)
    Zr = sp.csr_array(Z)
    for s, rows in enumerate(clusters):
        ns = len(rows)
        if ns == 1:
            continue  # the row of (I − J_a) of a singleton is zero
        beta_s[s] = _sigma_max(Zr[rows])
        lam_s[s] = _lam_E_cluster(W, lab, Ns, rows, s, cluster_mean, n)
    return {"lam_E": lam_E, "lam_B": lam_B, "beta": beta, "lam_E_s": lam_s, "beta_s": beta_s}


def _lam_E_cluster(
    W: sp.csr_array, lab: np.ndarray, Ns: np.ndarray, rows: np.ndarray, s: int,
    cluster_mean: Any, n: int,
) -> float:  # fmt: skip
    """``‖R_s M‖`` with ``M = (I−J_a)W(I−J_a)`` symmetric, i.e. ``σ_max`` of ``M``'s columns of
    cluster ``s``; these live on the clusters touching ``s``."""
    ns = len(rows)
    if ns > DENSE_CLUSTER:

        def mm(x: np.ndarray) -> np.ndarray:  # R_s M M R_sᵀ x
            z = np.zeros(n)
            z[rows] = x
            for _ in range(2):
                z = z - cluster_mean(z)
                z = W @ z
                z = z - cluster_mean(z)
            return z[rows]

        return math.sqrt(_top_eig(spla.LinearOperator((ns, ns), matvec=mm, dtype=np.float64), ns))
    X = np.eye(ns) - 1.0 / ns  # (I − J_a) restricted to the columns of s (rows of s)
    Wc = sp.csc_array(W[:, rows])
    nb = np.unique(Wc.indices)  # rows touched by W(I − J_a)e_i
    touched = np.unique(lab[nb])
    U = np.flatnonzero(np.isin(lab, touched))
    WU = sp.csr_array(W[U][:, rows]).toarray() @ X  # (|U| × ns)
    labU = lab[U]
    _, inv = np.unique(labU, return_inverse=True)
    sums = np.zeros((len(touched), ns))
    np.add.at(sums, inv, WU)
    Y = WU - sums[inv] / Ns[labU][:, None]
    return float(np.linalg.norm(Y, 2))


@dataclass
class DeviceConstants:
    """What Theorem 2 (:func:`ssdfl.theory.bounds.sgd_problem`) needs of the devices, measured
    on their model: ``L = max_i L_i`` (every ``F_i`` is ``L``-smooth), ``mu = min_i μ_i`` (every
    ``F_i`` ``μ``-strongly convex), ``grads`` the ``(N, d)`` gradients ``∇F_i(x*)`` at the
    optimum ``x* = argmin Σ F_i`` (their cluster spread is ``ζ²``, :meth:`zeta`), ``source`` how
    ``L`` and ``μ`` were obtained; ``model`` and ``optimizers`` (proximal / heavy-ball devices:
    the full recursion :func:`ssdfl.theory.bounds.bound_problem` runs on the model). No
    heuristic score (``H``, ``γ``) enters."""

    L: float
    mu: float
    grads: np.ndarray = field(repr=False)
    source: str = ""
    model: Any = field(default=None, repr=False)
    optimizers: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not (0 < self.mu <= self.L < math.inf):
            raise SsdflError(f"need 0 < mu <= L < inf, got mu={self.mu}, L={self.L}")
        G = np.asarray(self.grads, dtype=np.float64)
        if G.ndim != 2 or not np.all(np.isfinite(G)):
            raise SsdflError("grads must be a finite (N, d) array")
        self.grads = G

    def zeta(self, labels: np.ndarray) -> tuple[np.ndarray, float]:
        """``(ζ²_s, ζ_b)`` of a formation: ``ζ²_s = (1/N_s)Σ_{i∈C_s}‖∇F_i(x*) − ḡ_s‖²`` and
        ``ζ_b = (Σ_s N_s‖ḡ_s‖²)^{1/2}`` with ``ḡ_s`` the cluster mean (``Σ_i∇F_i(x*) = 0``)."""
        lab = np.asarray(labels, dtype=np.int64)
        if len(lab) != len(self.grads):
            raise SsdflError(f"{len(lab)} labels for {len(self.grads)} devices")
        S = int(lab.max()) + 1
        Ns = np.bincount(lab, minlength=S).astype(np.float64)
        sums = np.zeros((S, self.grads.shape[1]))
        np.add.at(sums, lab, self.grads)
        means = sums / Ns[:, None]
        dev2 = np.sum((self.grads - means[lab]) ** 2, axis=1)
        z2 = np.bincount(lab, weights=dev2, minlength=S) / Ns
        return z2, math.sqrt(float(np.sum(Ns * np.sum(means**2, axis=1))))


@dataclass
class NotCovered:
    """Theorem 2 does not apply (``reason``): a non-convex model, an optimizer outside the
    theorem's coverage, or no device model to measure ``L``, ``μ``, ``ζ`` on."""

    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"covered": False, "reason": self.reason}


def model_constants(
    model: str | DeviceModel,
    *,
    devices: DeviceTable | None = None,
    optimizers: OptimizerPopulation | None = None,
    seed: int = 0,
) -> DeviceConstants | NotCovered:
    """Theorem-2 constants of the devices' model (``docs/theory.md`` §7g). ``model``: a
    :class:`~ssdfl.theory.models.DeviceModel` or a planner model name (``softmax``, ``mlp``,
    ``cnn``, ``package.module:factory``: the pilot's proxy model on data drawn from the
    devices' label histograms, :func:`ssdfl.planner.pilot.resolve_model`).

    - least squares / quadratics: ``L_i``, ``μ_i`` are the exact extreme Hessian eigenvalues;
    - softmax regression (``ℓ2 = λ``): ``μ_i = λ`` and ``L_i = ½λ_max(Z̃ᵀZ̃/n_i) + λ`` (Böhning's
      bound on the Hessian over the whole space, from the device's proxy data);
    - a model with ``μ_i = 0`` (MLP, CNN: non-convex) or no finite ``L_i``, optimizers outside
      ``"recursion"`` coverage (Adam), or a proxy data set that cannot be drawn:
      :class:`NotCovered` with the reason, never a number. SGD-only populations use the sparse
      scalar-constant form; proximal / heavy-ball devices the full recursion on the model
      (:func:`theorem2_numbers`, up to :data:`DENSE_GRAPH` devices)."""

    if optimizers is not None and not optimizers.covered_by("recursion"):
        try:
            optimizers.require("recursion", "Theorem 2")
        except SsdflError as exc:
            return NotCovered(str(exc))
    if isinstance(model, str):
        if model in ("mlp", "cnn"):
            return NotCovered(f"the {model} model is non-convex: Theorem 2 needs strongly convex "
                              "losses (Theorem 3, nonconvex_bound, covers smooth non-convex "
                              "SGD devices)")  # fmt: skip
        if devices is None:
            return NotCovered("no devices file: the proxy model needs the devices' label "
                              "histograms to measure L, μ and ζ on")  # fmt: skip

        try:
            m: DeviceModel = resolve_model(model).factory(devices, seed)
        except SsdflError as exc:
            return NotCovered(f"no proxy model for {model!r}: {exc}")
        name = model
    elif isinstance(model, DeviceModel):
        m, name = model, type(model).__name__
    else:
        raise SsdflError(f"model must be a DeviceModel or a model name, got {type(model).__name__}")
    L_i = np.asarray(m.L_i, dtype=np.float64)
    mu_i = np.asarray(m.mu_i, dtype=np.float64)
    if not np.all(np.isfinite(L_i)):
        return NotCovered(f"{name}: no global smoothness constant L (non-convex network)")
    if not np.all(mu_i > 0):
        return NotCovered(f"{name}: not strongly convex (μ = 0 on some device); Theorem 2 needs "
                          "μ > 0 (Theorem 3 covers smooth non-convex SGD devices)")  # fmt: skip
    x_star = m.optimum()
    G = m.grad(np.tile(x_star, (m.n_devices, 1)))
    how = ("exact Hessian eigenvalues" if hasattr(m, "hessians")
           else "Hessian eigenvalue bounds of the model (L_i, mu_i)")  # fmt: skip
    return DeviceConstants(float(L_i.max()), float(mu_i.min()), G, f"{name}: {how}", m,
                           optimizers)  # fmt: skip


def theorem2_problem(
    g: Graph, clusters: list[np.ndarray], t: CandidateTable | None, cfg: PlanConfig,
    tau_a: int, tau_r: int, constants: FormationConstants | None = None, *,
    device_constants: DeviceConstants,
) -> BoundProblem:  # fmt: skip
    """Theorem-2 constants (those of ``bounds.generic_problem``) of a formation: ``L``, ``μ``
    and ``ζ²_s``, ``ζ_b`` of the devices' model (:class:`DeviceConstants`, from
    :func:`model_constants`); step size, schedule and noise ``σ²`` from ``cfg``; matrices
    handled sparsely (:class:`FormationConstants`, pass it to reuse it across schedules).
    ``t`` (the candidate table) is not used: no heuristic score enters a theorem."""
    del t
    fc = constants or FormationConstants(g, clusters, cfg)
    dc = device_constants
    if len(dc.grads) != g.n:
        raise SsdflError(f"device constants for {len(dc.grads)} devices, the graph has {g.n}")
    z2, zb = dc.zeta(fc.labels)
    return sgd_problem(
        fc.labels, fc.sizes, fc.W_eigs, fc.lam_inter, fc.inter, cfg.eta, tau_a, tau_r,
        L=dc.L, mu=dc.mu, zeta2=z2, zeta_b=zb, sigma2=cfg.sigma2,
    )  # fmt: skip


# --------------------------------------------------------------------------- the recursion
def _groups(P: BoundProblem, K: dict) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Per-cluster coefficients of the SGD recursion, deduplicated: ``(coeffs, multiplicity)``."""
    it = _inter(P)
    cols = {
        "rho_e": K["rho_e"], "g": K["g"], "frac": K["frac"], "zeta_a": P.zeta_a,
        "n_e": K["n_e"], "lam_E_s": it["lam_E_s"], "beta_s": it["beta_s"],
    }  # fmt: skip
    M = np.column_stack(list(cols.values()))
    uniq, inv, mult = np.unique(M, axis=0, return_inverse=True, return_counts=True)
    del inv
    return {k: uniq[:, i] for i, k in enumerate(cols)}, mult.astype(np.float64)


def _inter(P: BoundProblem) -> dict[str, Any]:
    """``P.inter``, which every problem of the SGD fast path has (:func:`_is_sgd`)."""
    if P.inter is None:
        raise SsdflError("the SGD fast path needs the gossip-coupling constants P.inter")
    return P.inter


def _is_sgd(P: BoundProblem) -> bool:
    return (
        P.inter is not None and not np.any(P.mu > 0) and not np.any(P.rho > 0)
        and P.momentum_mode == "perturb" and P.reset_momentum
    )  # fmt: skip


def _run(
    P: BoundProblem, K: dict, ta: np.ndarray, tr: np.ndarray, cycles: int,
    e0: np.ndarray, b0: np.ndarray, m0: np.ndarray, record_all: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """The SGD recursion of :func:`ssdfl.theory.bounds.run_bounds` for ``B`` schedules
    ``(ta[i], tr[i])`` at once (same constants otherwise) from ``e0`` ``(B, G)`` (per distinct
    cluster), ``b0``, ``m0`` ``(B,)``. Returns ``opt`` at every cycle end ``(B, cycles + 1)``
    (start included) and the final ``(e, e_tot, b, m)`` as a tuple in the last slot."""
    cf, mult = _groups(P, K)
    eta, N = P.eta, float(P.sizes.sum())
    S1 = P.S > 1
    Bn = len(ta)
    rho_max, g_max, zn = float(K["rho_e"].max()), K["g_max"], float(np.linalg.norm(P.zeta_a))
    ne_sum = float(K["n_e"].sum())
    qb, qm, Lb, zb = K["q_b"], K["q_m"], P.L_beta, P.zeta_b
    n_b, n_m = K["n_b"], K["n_m"]
    lam = P.lam_inter
    it = _inter(P)
    e = np.array(e0, dtype=np.float64)
    b = np.array(b0, dtype=np.float64)
    m = np.array(m0, dtype=np.float64)
    e_tot = np.sqrt(np.sum(mult * e**2, axis=1))
    f = np.zeros(Bn)
    period = ta + tr
    T = cycles * period
    out = np.full((Bn, cycles + 1), np.nan)
    out[:, 0] = (e_tot**2 + b**2 + m**2) / N
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(int(T.max(initial=0))):
            live = k < T
            pos = k % period
            intra = live & (pos < ta)
            inter = live & (pos >= ta)
            e_use = np.minimum(e_tot, np.sqrt(np.sum(mult * e**2, axis=1)))
            if intra.any():
                det_e = cf["rho_e"] * e + eta * (
                    cf["g"] * (b[:, None] + cf["frac"] * m[:, None]) + cf["zeta_a"]
                )
                e_new = np.sqrt(det_e**2 + cf["n_e"])
                det_t = rho_max * e_use + eta * (g_max * np.hypot(b, m) + zn)
                et_new = np.sqrt(det_t**2 + ne_sum)
                det_b = (qb + eta * Lb) * b + eta * (g_max * e_use + Lb * m + zb)
                b_new = np.sqrt(det_b**2 + n_b) if S1 else np.zeros(Bn)
                det_m = qm * m + eta * (g_max * e_use + Lb * b)
                m_new = np.sqrt(det_m**2 + n_m)
                ei = _fix(np.minimum(e_new, et_new[:, None]))
                e = np.where(intra[:, None], ei, e)
                e_tot = np.where(intra, _fix(et_new), e_tot)
                b = np.where(intra, _fix(b_new), b)
                m = np.where(intra, _fix(m_new), m)
            if inter.any():
                first = inter & (pos == ta)
                f = np.where(first, np.hypot(e_tot, b), f)
                f = np.where(inter, f * lam, f)
                e_in = np.minimum(e_tot, np.sqrt(np.sum(mult * e**2, axis=1)))
                en = np.minimum(cf["lam_E_s"] * e_in[:, None] + cf["beta_s"] * b[:, None],
                                f[:, None])  # fmt: skip
                et2 = np.minimum(it["lam_E"] * e_in + it["beta"] * b, f)
                b2 = np.minimum(it["beta"] * e_in + it["lam_B"] * b, f)
                en = _fix(np.minimum(en, et2[:, None]))
                e = np.where(inter[:, None], en, e)
                e_tot = np.where(inter, _fix(et2), e_tot)
                b = np.where(inter, _fix(b2 if S1 else np.zeros(Bn)), b)
            ends = live & ((k + 1) % period == 0)
            if ends.any():
                c = (k + 1) // period
                out[ends, c[ends]] = ((e_tot**2 + b**2 + m**2) / N)[ends]
    return out, e, e_tot, np.stack([b, m])


def _fix(x: np.ndarray) -> np.ndarray:
    return np.where(np.isnan(x), np.inf, x)


def bound_curves(
    P: BoundProblem, schedules: list[tuple[int, int]], cycles: int, m0: float
) -> np.ndarray:
    """Theorem-2 bound on ``(1/N)E‖X − 1x*ᵀ‖²`` at cycle ends ``0..cycles`` for every schedule
    (rows), from consensus (``e = b = 0``) at ``m = m0``: equal to
    ``bounds.run_bounds(P_schedule, cycles, …).opt[::τ_a+τ_r]``."""
    if not _is_sgd(P):  # general devices: the reference recursion
        rows = []
        for ta, tr in schedules:
            Q = type(P)(**{**P.__dict__, "tau_a": ta, "tau_r": tr, "_cache": {}})
            o = run_bounds(Q, cycles, e0=np.zeros(P.S), b0=0.0, m0=m0).opt
            rows.append(np.asarray(o)[:: ta + tr])
        return np.array(rows)
    K = recursion_constants(P)
    cf, _ = _groups(P, K)
    B = len(schedules)
    tas = np.array([s[0] for s in schedules], dtype=np.int64)
    trs = np.array([s[1] for s in schedules], dtype=np.int64)
    out, *_ = _run(P, K, tas, trs, cycles, np.zeros((B, len(cf["g"]))), np.zeros(B),
                   np.full(B, float(m0)))  # fmt: skip
    return out


class _Cycle:
    """One cycle of ``run_bounds(P, 1, e0=e, b0=b, m0=m)`` on per-group values ``e`` (finite
    values; the rate and radius loops), with the group coefficients pre-multiplied."""

    def __init__(self, P: BoundProblem, K: dict) -> None:
        cf, self.mult = _groups(P, K)
        eta = P.eta
        self.rho_e, self.n_e = cf["rho_e"], cf["n_e"]
        self.g_eta, self.gf_eta = eta * cf["g"], eta * cf["g"] * cf["frac"]
        self.z_eta = eta * cf["zeta_a"]
        self.lam_s, self.beta_s = cf["lam_E_s"], cf["beta_s"]
        self.P, self.K = P, K
        self.N = float(P.sizes.sum())

    def __call__(
        self, e: np.ndarray, b: float, m: float, e_tot: float | None = None
    ) -> tuple[float, np.ndarray, float, float]:
        """From ``(e, b, m)`` with ``e_tot = ‖e‖`` (a fresh ``run_bounds``) or the given
        ``e_tot`` (``bounds._cycle_map``); returns ``(opt, e, b, m)``, ``e_tot`` in
        ``self.e_tot``."""
        P, K, mult = self.P, self.K, self.mult
        eta, S1 = P.eta, P.S > 1
        rho_max, g_max = float(K["rho_e"].max()), float(K["g_max"])
        zn = float(np.linalg.norm(P.zeta_a))
        ne_sum = float(K["n_e"].sum())
        qbl, qm, Lb, zb = K["q_b"] + eta * P.L_beta, K["q_m"], P.L_beta, P.zeta_b
        n_b, n_m = K["n_b"], K["n_m"]
        if e_tot is None:
            e_tot = math.sqrt(float(mult @ (e * e)))
        for _ in range(P.tau_a):
            e_use = min(e_tot, math.sqrt(float(mult @ (e * e))))
            det_e = self.rho_e * e + (self.g_eta * b + (self.gf_eta * m + self.z_eta))
            det_t = rho_max * e_use + eta * (g_max * math.hypot(b, m) + zn)
            et_new = math.sqrt(det_t * det_t + ne_sum)
            det_b = qbl * b + eta * (g_max * e_use + Lb * m + zb)
            det_m = qm * m + eta * (g_max * e_use + Lb * b)
            b = math.sqrt(det_b * det_b + n_b) if S1 else 0.0
            m = math.sqrt(det_m * det_m + n_m)
            e = np.minimum(np.sqrt(det_e * det_e + self.n_e), et_new)
            e_tot = et_new
        f = math.hypot(e_tot, b)
        it = _inter(P)
        for _ in range(P.tau_r):
            f *= P.lam_inter
            e_in = min(e_tot, math.sqrt(float(mult @ (e * e))))
            e = np.minimum(self.lam_s * e_in + self.beta_s * b, f)
            e_tot, b = (
                min(it["lam_E"] * e_in + it["beta"] * b, f),
                min(it["beta"] * e_in + it["lam_B"] * b, f),
            )
            e = np.minimum(e, e_tot)
            b = b if S1 else 0.0
        self.e_tot = e_tot
        return (e_tot**2 + b**2 + m**2) / self.N, e, b, m

    def map(self, y: np.ndarray) -> np.ndarray:
        """``bounds._cycle_map`` on the reduced packed state ``[e (groups), e_tot, b, m]``
        (SGD devices: the momentum part of the state stays 0)."""
        G = len(self.mult)
        try:
            with np.errstate(over="ignore", invalid="ignore"):
                _, e, b, m = self(y[:G].copy(), float(y[G + 1]), float(y[G + 2]), float(y[G]))
        except OverflowError:
            return np.full(len(y), np.inf)
        out = np.concatenate([e, [self.e_tot, b, m]])
        return np.where(np.isnan(out), np.inf, out)

    def opt(self, y: np.ndarray) -> float:
        G = len(self.mult)
        with np.errstate(over="ignore"):
            return float((y[G] ** 2 + y[G + 1] ** 2 + y[G + 2] ** 2) / self.N)


def cycle_rate(P: BoundProblem) -> Rate:
    """:func:`ssdfl.theory.bounds.cycle_rate` on the deduplicated state: the certified growth
    factor (:func:`ssdfl.theory.bounds.certified_rate`) of :meth:`_Cycle.map` — the same
    steady-state cycle map the radius iterates — on :func:`~ssdfl.theory.bounds.noise_free`
    ``(P)``; identical clusters stay identical under the map, so the Collatz–Wielandt ratios
    are those of the full state."""
    Q = noise_free(P)
    cyc = _Cycle(Q, recursion_constants(Q))
    G = len(cyc.mult)
    return certified_rate(cyc.map, G + 3, weights=np.concatenate([cyc.mult, [1.0, 1.0, 1.0]]))


def certified_radius(
    P: BoundProblem, K: dict, rtol: float = 1e-7, max_cycles: int = 200_000,
    rate: Rate | None = None,
) -> tuple[float, float, bool]:  # fmt: skip
    """``bounds.certified_radius`` on the deduplicated state (the same
    :func:`ssdfl.theory.bounds.certified_limit`, on :meth:`_Cycle.map`; vector norms weigh each
    group by its multiplicity). Returns ``(upper, lower, certified)``; ``upper = inf`` exactly
    when the rate (:func:`cycle_rate`) is ``≥ 1``."""
    cyc = _Cycle(P, K)
    G = len(cyc.mult)
    r = cycle_rate(P) if rate is None else rate
    rad = certified_limit(
        cyc.map, cyc.opt, r, G + 3, weights=np.concatenate([cyc.mult, [1.0, 1.0, 1.0]]),
        rtol=rtol, max_cycles=max_cycles,
    )  # fmt: skip
    return rad.upper, rad.lower, rad.certified


def theorem2_numbers(
    g: Graph, clusters: list[np.ndarray], t: CandidateTable | None, cfg: PlanConfig,
    cycles: int = 60, constants: FormationConstants | None = None, radius_cycles: int = 300,
    *, device_constants: DeviceConstants | NotCovered | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Theorem 2 of :mod:`ssdfl.theory.bounds` for a formation, from unit initial distance
    (``(1/N)‖X_0 − 1x*ᵀ‖² = 1``, devices in consensus): the bound at every cycle end, the
    per-cycle rate and the certified asymptotic radius (as ``bounds.global_cycle_bound`` with
    ``radius_cycles``), with ``L``, ``μ``, ``ζ`` of the devices' model (``device_constants``,
    :func:`model_constants`). Without them, or when the theorem does not cover the model or
    the optimizers, returns ``{"covered": False, "reason": …}`` instead of a number. Keys:
    ``rate`` (certified growth factor of the cycle map), ``radius`` (``inf`` exactly when
    ``rate ≥ 1``), ``converges`` (``rate < 1``), ``proves_convergence`` (``converges`` and the
    radius below the start, 1), ``L``, ``mu``, ``constants_source``."""
    if device_constants is None:
        device_constants = NotCovered(
            "no device model: Theorem 2 needs L, μ and ζ² measured on the devices' model "
            "(the heterogeneity score H is a heuristic and enters no theorem)"
        )
    if isinstance(device_constants, NotCovered):
        return device_constants.as_dict()
    dc: DeviceConstants = device_constants
    head = {"covered": True, "L": dc.L, "mu": dc.mu, "constants_source": dc.source}
    if dc.optimizers is not None and not dc.optimizers.covered_by("generic"):
        return {**head, **_recursion_numbers(g, clusters, cfg, cycles, radius_cycles, dc)}
    P = theorem2_problem(g, clusters, t, cfg, cfg.tau_a, cfg.tau_r, constants,
                         device_constants=dc)  # fmt: skip
    if not _is_sgd(P):
        cb = global_cycle_bound(P, cycles, np.zeros((g.n, 1)), np.ones(1),
                                radius_cycles=radius_cycles)  # fmt: skip
        ends = np.asarray(cb.trace.opt, dtype=np.float64)[:: P.tau_a + P.tau_r]
        rate, radius = float(cb.rate), float(cb.radius)
        lower, certified = float(cb.radius_lower), bool(cb.converges)
        rate_lower = float(cb.rate_lower)
    else:
        K = recursion_constants(P)
        cf, _ = _groups(P, K)
        out, *_ = _run(
            P, K, np.array([P.tau_a]), np.array([P.tau_r]), cycles,
            np.zeros((1, len(cf["g"]))), np.zeros(1), np.full(1, math.sqrt(g.n)),
        )  # fmt: skip
        ends = out[0]
        r = cycle_rate(P)
        rate, rate_lower = float(r.upper), float(r.lower)
        radius, lower, certified = certified_radius(P, K, max_cycles=radius_cycles, rate=r)
    converges = bool(rate < 1 and certified)
    return {
        **head,
        "cycles": cycles,
        "bound_after_cycles": float(ends[-1]),
        "bound_by_cycle": ends.tolist(),
        "rate": float(rate),
        "rate_lower": rate_lower,
        "radius": float(radius) if converges else math.inf,
        "radius_lower": float(lower),
        "radius_certified": bool(certified),
        "converges": converges,
        "start": float(ends[0]),
        "proves_convergence": bool(converges and radius < float(ends[0])),
    }


def _recursion_numbers(
    g: Graph, clusters: list[np.ndarray], cfg: PlanConfig, cycles: int, radius_cycles: int,
    dc: DeviceConstants,
) -> dict[str, Any]:  # fmt: skip
    """Theorem 2 with proximal / heavy-ball devices: :func:`ssdfl.theory.bounds.bound_problem`
    on the devices' model (dense ``N × N`` mixing constants, so at most :data:`DENSE_GRAPH`
    devices; buffers kept across cycles as in the simulator), from unit distance to the
    reference point ``x_c`` in consensus. Same keys as :func:`theorem2_numbers`."""

    if g.n > DENSE_GRAPH:
        return NotCovered(f"proximal / heavy-ball devices need the dense recursion, run up to "
                          f"{DENSE_GRAPH} devices (this graph has {g.n})").as_dict()  # fmt: skip
    lab = _labels([np.asarray(c, dtype=np.int64) for c in clusters], g.n)
    Wa = block_mixing_matrix(g, lab, cfg.mixing_rule).toarray()
    Wr = mixing_matrix(g, cfg.mixing_rule).toarray()
    P = bound_problem(dc.model, lab, Wa, Wr, dc.optimizers, cfg.eta, cfg.tau_a, cfg.tau_r,
                      sigma=math.sqrt(cfg.sigma2), reset_momentum=False)  # fmt: skip
    tr = run_bounds(P, cycles, e0=np.zeros(P.S), b0=0.0, m0=math.sqrt(g.n))
    ends = np.asarray(tr.opt, dtype=np.float64)[:: P.tau_a + P.tau_r]
    r = dense.cycle_rate(P)
    rad = dense.certified_radius(P, max_cycles=radius_cycles, rate=r)
    converges = bool(r.upper < 1 and rad.certified)
    radius = rad.upper if converges else math.inf
    return {
        "cycles": cycles, "bound_after_cycles": float(ends[-1]), "bound_by_cycle": ends.tolist(),
        "rate": float(r.upper), "rate_lower": float(r.lower), "radius": float(radius),
        "radius_lower": float(rad.lower), "radius_certified": bool(rad.certified),
        "converges": converges, "start": float(ends[0]),
        "proves_convergence": bool(converges and radius < float(ends[0])),
        "reference": "x_c = argmin Σ c_i F_i (momentum steady-state scales)",
    }  # fmt: skip


def bound_by_cycle(
    g: Graph, clusters: list[np.ndarray], t: CandidateTable | None, cfg: PlanConfig,
    tau_a: int, tau_r: int, cycles: int, constants: FormationConstants | None = None, *,
    device_constants: DeviceConstants,
) -> np.ndarray:  # fmt: skip
    """Theorem-2 bound on ``(1/N)E‖X − 1x*ᵀ‖²`` at cycle ends ``1..cycles`` (from 1, devices
    in consensus at the start) under the schedule ``(tau_a, tau_r)``."""
    P = theorem2_problem(g, clusters, t, cfg, tau_a, tau_r, constants,
                         device_constants=device_constants)  # fmt: skip
    return bound_curves(P, [(tau_a, tau_r)], cycles, math.sqrt(g.n))[0, 1:]
