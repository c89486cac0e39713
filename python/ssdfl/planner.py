"""Optimal SSD-FL cluster formation: candidates, scores, the set-partitioning MILP, the schedule.

Pipeline of :func:`plan_formation` (derivations and decisions in ``docs/formation.md``):

1. **Candidates.** Every cluster of the paper's iterative splitting (``split_hierarchy`` with
   the Cheeger threshold ``Φ_min^S`` and, for a richer pool, with threshold 0), of
   ``partition(g, k)`` for ``k = 2..k_max``, and every singleton; on graphs of at most
   ``all_subsets_n`` devices, every connected subset (so the MILP optimum is the optimum over
   all formations). All candidates are connected.
2. **Per-candidate numbers** for a cluster ``C`` (``N_C`` devices, lazy mixing matrix ``W_C`` of
   its induced subgraph with second eigenvalue modulus ``λ_C``): heterogeneity
   ``H_C = Δ_C + γΩ_C`` (label JSD or gradient dissimilarity, plus the optimizer term),
   between-cluster heterogeneity ``B_C = JSD(p̄_C ‖ p̄_V) + γ(ᾱ_C/ᾱ_V − 1)²`` (or
   ``‖ḡ_C − ḡ_V‖²/G²`` from gradients), and the Markov-chain conductance ``Φ(W_C)``.
3. **Admissibility** for a formation of ``S`` clusters: ``λ_C^{τ_a} ≤ ε_S`` (``"spectral"``,
   default: the exact contraction that Cheeger's inequality certifies) or
   ``Φ(W_C) ≥ Φ_min^S`` (``"cheeger"``, the paper's sufficient test), ``ε_S = ε/√S``.
4. **Objective** (per-device steady-state disagreement, decoupled Lemma 1 / Lemma 2 fixed
   points; every term is a sum over clusters or a max over clusters):

       Γ_C   = η²G²H_C/(1−λ_C)² + η²σ²(1 − 1/N_C)/(1−λ_C²)           (intra, Lemma 1)
       b_C   = κ_b [ (ητ_a)² G² N_C B_C + τ_a η²σ² ],  κ_b = 1/(1 − λ(W)^{2τ_r})   (Lemma 2)
       J(C)  = (1/N) Σ_C (N_C Γ_C + b_C)  +  max_C Γ_C

   minimised by :func:`ssdfl.setpartition.solve_set_partition` for every ``S`` (exact cover,
   epigraph for the max). Ties break towards smaller ``S`` and then faster mixing.
5. **Reports**: the MILP optimum vs the paper's greedy choice (best admissible formation of the
   iterative loop under the same objective), the full Theorem-2 bound of ``ssdfl.bounds`` for
   both, fastest-mixing (FMMC) weights per cluster, the schedule ``(τ_a, τ_r)`` minimising
   cycles × messages to reach a target, and the traffic per cycle and for initialization.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from ssdfl._atomic import atomic_write
from ssdfl.devices import DeviceTable, homogeneous_devices
from ssdfl.errors import DisconnectedGraphError, InfeasibleError, SsdflError
from ssdfl.formation import _jsonable, parse_tagged_json
from ssdfl.graph import Graph, GraphLike, as_graph
from ssdfl.mixing import block_mixing_matrix, mixing_matrix, second_eigenvalue
from ssdfl.simulate.clusters import cluster_labels
from ssdfl.simulate.comm import intra_cluster_edges

__all__ = [
    "PLAN_SCHEMA",
    "CandidateTable",
    "FormationPlan",
    "PlanConfig",
    "candidate_table",
    "generate_candidates",
    "plan_formation",
]

PLAN_SCHEMA = "ssdfl.plan/1"


@dataclass
class PlanConfig:
    """Parameters of :func:`plan_formation` (all documented in ``docs/formation.md``).

    ``eta`` step size; ``tau_a``/``tau_r`` intra/inter rounds per cycle; ``eps`` global
    consensus budget (``ε_S = ε/√S``); ``gamma`` weight of the optimizer term; ``grad_scale``
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
            if not getattr(self, name) >= 0:
                raise SsdflError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not 0 <= self.mu <= self.L:
            raise SsdflError(f"need 0 <= mu <= L, got mu={self.mu}, L={self.L}")
        if self.admissibility not in ("spectral", "cheeger"):
            raise SsdflError(
                f"admissibility must be 'spectral' or 'cheeger', got {self.admissibility!r}"
            )
        if self.target is not None and not self.target > 0:
            raise SsdflError(f"target must be > 0, got {self.target}")


# ------------------------------------------------------------------------------ candidates
def generate_candidates(
    g: Graph, cfg: PlanConfig, progress: Callable[[str], None] | None = None
) -> tuple[list[np.ndarray], list[list[np.ndarray]], list[list[np.ndarray]]]:
    """Candidate clusters (sorted node arrays, deduplicated), the paper's splitting sequence
    (``split_hierarchy`` with threshold 0: always split the weakest splittable cluster) and the
    same loop under the Cheeger threshold ``Φ_min^S`` (``measure="mixing"`` for both)."""
    from ssdfl.bounds import phi_min_rule
    from ssdfl.clustering import partition, split_hierarchy

    smax = cfg.max_clusters or (g.n if g.n <= 64 else 64)
    say = progress or (lambda _msg: None)
    say("paper's iterative splitting")
    full = split_hierarchy(g, 0.0, measure="mixing", mixing_rule=cfg.mixing_rule, max_clusters=smax)
    say("paper's iterative splitting under the Cheeger threshold Φ_min^S")
    strict = split_hierarchy(
        g, phi_min_rule(cfg.tau_a, cfg.eps), measure="mixing", mixing_rule=cfg.mixing_rule,
        max_clusters=smax,
    )  # fmt: skip
    pool: dict[tuple[int, ...], np.ndarray] = {}

    def add(c: np.ndarray) -> None:
        a = np.sort(np.asarray(c, dtype=np.int64))
        pool.setdefault(tuple(a.tolist()), a)

    for f in [*full, *strict]:
        for c in f.clusters:
            add(c)
    for k in range(2, min(cfg.k_max, g.n) + 1):
        say(f"partition k={k}")
        try:
            p = partition(g, k, objective="internal", measure="mixing", mixing_rule=cfg.mixing_rule)
        except SsdflError:
            continue
        for c in p.clusters:
            add(c)
    for u in range(g.n):
        add(np.array([u]))
    if g.n <= cfg.all_subsets_n:
        say(f"all connected subsets ({g.n} ≤ {cfg.all_subsets_n} devices)")
        for c in connected_subsets(g):
            add(c)
    cands = sorted(pool.values(), key=lambda a: (len(a), a.tolist()))
    return cands, [list(f.clusters) for f in full], [list(f.clusters) for f in strict]


def connected_subsets(g: Graph) -> list[np.ndarray]:
    """Every non-empty node set whose induced subgraph is connected (``2^n`` masks checked;
    for small graphs only)."""
    from ssdfl import _core

    if g.n > 20:
        raise SsdflError(f"enumerating connected subsets of {g.n} nodes is too large (max 20)")
    out = []
    for bits in range(1, 1 << g.n):
        mask = np.array([(bits >> u) & 1 for u in range(g.n)], dtype=bool)
        if _core.is_set_connected(g._core, mask):
            out.append(np.flatnonzero(mask))
    return out


@dataclass
class CandidateTable:
    """Per-candidate numbers (arrays aligned with ``clusters``); see the module docstring."""

    clusters: list[np.ndarray]
    size: np.ndarray
    lam: np.ndarray
    phi: np.ndarray
    phi_lower: np.ndarray
    phi_exact: np.ndarray
    H: np.ndarray
    B: np.ndarray
    gamma_intra: np.ndarray
    between: np.ndarray

    def admissible(self, S: int, cfg: PlanConfig) -> np.ndarray:
        """Mask of candidates admissible in a formation of ``S`` clusters."""
        from ssdfl.bounds import eps_S, phi_min

        if cfg.admissibility == "spectral":
            return self.lam**cfg.tau_a <= eps_S(S, cfg.eps) + 1e-12
        return (self.size == 1) | (self.phi_lower >= phi_min(S, cfg.tau_a, cfg.eps))

    def index(self) -> dict[tuple[int, ...], int]:
        return {tuple(c.tolist()): j for j, c in enumerate(self.clusters)}


def _label_dist(hist: np.ndarray) -> np.ndarray:
    tot = hist.sum(axis=-1, keepdims=True)
    return hist / tot


def candidate_table(
    g: Graph, candidates: list[np.ndarray], devices: DeviceTable, cfg: PlanConfig
) -> CandidateTable:
    """Compute the per-candidate numbers of the module docstring."""
    from ssdfl.clustering import cluster_measure
    from ssdfl.heterogeneity import jsd
    from ssdfl.simulate.devices import population_from_devices

    pop = population_from_devices(devices)
    alpha = pop.alphas(cfg.tau_a, cfg.eta)
    a_bar = float(alpha.mean())
    hist = devices.label_hist
    grads = devices.grads
    if hist is not None:
        p_all = _label_dist(hist.sum(axis=0))
    K = len(candidates)
    size = np.array([len(c) for c in candidates], dtype=np.int64)
    lam = np.zeros(K)
    phi = np.ones(K)
    phi_lo = np.ones(K)
    exact = np.ones(K, dtype=bool)
    H = np.zeros(K)
    B = np.zeros(K)
    W = mixing_matrix(g, cfg.mixing_rule)
    lam_w = second_eigenvalue(W) if g.n > 1 else 0.0
    for j, c in enumerate(candidates):
        if len(c) > 1:
            lam[j] = second_eigenvalue(mixing_matrix(g.subgraph(c), cfg.mixing_rule))
            v, lo, _hi, ex = cluster_measure(g, c, measure="mixing", mixing_rule=cfg.mixing_rule)
            phi[j], phi_lo[j], exact[j] = v, lo, ex
        a = alpha[c]
        omega = float(a.var() / a.mean() ** 2)
        omega_b = (float(a.mean()) / a_bar - 1.0) ** 2
        if grads is not None:
            gc = grads[c]
            zeta2 = float(np.mean(np.sum((gc - gc.mean(axis=0)) ** 2, axis=1)))
            H[j] = zeta2 / max(cfg.grad_scale, 1e-300) + cfg.gamma * omega
            B[j] = (
                float(np.sum((gc.mean(axis=0) - grads.mean(axis=0)) ** 2))
                / max(cfg.grad_scale, 1e-300)
                + cfg.gamma * omega_b
            )
        elif hist is not None:
            w = devices.n_samples[c] / devices.n_samples[c].sum()
            pc = _label_dist(hist[c])
            pbar = (w[:, None] * pc).sum(axis=0)
            delta = float(np.sum(w * jsd(pc, np.broadcast_to(pbar, pc.shape))))
            H[j] = delta + cfg.gamma * omega
            B[j] = float(jsd(pbar, p_all)) + cfg.gamma * omega_b
        else:
            H[j] = cfg.gamma * omega
            B[j] = cfg.gamma * omega_b
    eta, G2, s2 = cfg.eta, cfg.grad_scale, cfg.sigma2
    one_m = np.maximum(1.0 - lam, 1e-12)
    gamma_intra = eta**2 * G2 * H / one_m**2 + eta**2 * s2 * (1 - 1 / size) / np.maximum(
        1.0 - lam**2, 1e-12
    )
    kappa_b = 1.0 / max(1.0 - lam_w ** (2 * cfg.tau_r), 1e-12)
    between = kappa_b * ((eta * cfg.tau_a) ** 2 * G2 * size * B + cfg.tau_a * eta**2 * s2)
    return CandidateTable(
        clusters=list(candidates), size=size, lam=lam, phi=phi, phi_lower=phi_lo,
        phi_exact=exact, H=H, B=B, gamma_intra=gamma_intra, between=between,
    )  # fmt: skip


def objective_terms(t: CandidateTable, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``(additive cost, max-term)`` per candidate for the MILP of the module docstring."""
    cost = (t.size * t.gamma_intra + t.between) / n
    return cost, t.gamma_intra.copy()


def formation_objective(t: CandidateTable, chosen: list[int], n: int) -> float:
    """``J`` of the formation made of candidates ``chosen``."""
    cost, vmax = objective_terms(t, n)
    return float(cost[chosen].sum() + vmax[chosen].max())


# ------------------------------------------------------------------------------ the plan
@dataclass
class FormationPlan:
    """Result of :func:`plan_formation`. ``clusters`` is the chosen formation (sorted node
    arrays); ``per_cluster`` a list of dicts (size, λ, Φ, heterogeneity, mixing gains);
    ``by_S`` the objective of the best formation for every ``S`` (``None`` if infeasible);
    ``greedy`` the paper's greedy choice; ``bounds`` Theorem-2 numbers; ``schedule`` the grid
    search; ``traffic`` per-cycle and initialization traffic."""

    n: int
    labels: list[Any]
    clusters: list[np.ndarray]
    objective: float
    config: dict[str, Any]
    devices_source: str
    per_cluster: list[dict[str, Any]]
    by_S: list[dict[str, Any]]
    greedy: dict[str, Any]
    exhaustive: dict[str, Any] | None
    bounds: dict[str, Any]
    fastest_mixing: dict[str, Any] | None
    schedule: dict[str, Any] | None
    traffic: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    @property
    def S(self) -> int:
        return len(self.clusters)

    @property
    def assignment(self) -> np.ndarray:
        """Cluster index of every node."""
        lab = np.empty(self.n, dtype=np.int64)
        for i, c in enumerate(self.clusters):
            lab[c] = i
        return lab

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["clusters"] = [c.tolist() for c in self.clusters]
        d["schema"] = PLAN_SCHEMA
        d["S"] = self.S
        d["assignment"] = self.assignment.tolist()
        return _jsonable(d)

    def to_json(self, indent: int | None = 2) -> str:
        import json

        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> FormationPlan:
        d = parse_tagged_json(text, PLAN_SCHEMA)
        d = {k: v for k, v in d.items() if k not in ("schema", "S", "assignment")}
        try:
            d["clusters"] = [np.asarray(c, dtype=np.int64) for c in d["clusters"]]
            return cls(**d)
        except (KeyError, TypeError) as exc:
            raise SsdflError(f"malformed formation plan: {exc}") from None

    def save(self, path: str | os.PathLike[str]) -> Path:
        with atomic_write(path) as fh:
            fh.write(self.to_json())
        return Path(path)


def _problem(
    g: Graph, clusters: list[np.ndarray], t: CandidateTable, cfg: PlanConfig,
    tau_a: int, tau_r: int,
) -> Any:  # fmt: skip
    """Theorem-2 constants (``bounds.generic_problem``) of a formation: devices taken as
    ``μ``-strongly convex ``L``-smooth, heterogeneity ``ζ_s² = G²H_s`` and
    ``ζ_b² = G²Σ_s N_s B_s`` from the candidate table."""
    from ssdfl.bounds import generic_problem

    idx = t.index()
    js = [idx[tuple(c.tolist())] for c in clusters]
    labels = cluster_labels(clusters, g.n)
    return generic_problem(
        labels, block_mixing_matrix(g, labels, cfg.mixing_rule), mixing_matrix(g, cfg.mixing_rule),
        cfg.eta, tau_a, tau_r, L=cfg.L, mu=cfg.mu,
        zeta2=cfg.grad_scale * t.H[js],
        zeta_b=math.sqrt(cfg.grad_scale * float(np.sum(t.size[js] * t.B[js]))),
        sigma2=cfg.sigma2,
    )  # fmt: skip


def theorem2_numbers(
    g: Graph, clusters: list[np.ndarray], t: CandidateTable, cfg: PlanConfig, cycles: int = 60
) -> dict[str, Any]:
    """Theorem 2 of :mod:`ssdfl.bounds` for a formation, from unit initial distance
    (``(1/N)‖X_0 − 1x*ᵀ‖² = 1``, devices in consensus): the bound at every cycle end, the
    per-cycle rate and the asymptotic radius."""
    from ssdfl.bounds import global_cycle_bound

    P = _problem(g, clusters, t, cfg, cfg.tau_a, cfg.tau_r)
    cb = global_cycle_bound(P, cycles, np.zeros((g.n, 1)), np.ones(1), radius_cycles=300)
    ends = np.asarray(cb.trace.opt, dtype=np.float64)[:: P.tau_a + P.tau_r]
    return {
        "cycles": cycles,
        "bound_after_cycles": float(ends[-1]),
        "bound_by_cycle": ends.tolist(),
        "rate": float(cb.rate),
        "radius": float(cb.radius),
        "converges": bool(cb.rate < 1),
    }


def bound_by_cycle(
    g: Graph, clusters: list[np.ndarray], t: CandidateTable, cfg: PlanConfig,
    tau_a: int, tau_r: int, cycles: int,
) -> np.ndarray:  # fmt: skip
    """Theorem-2 bound on ``(1/N)E‖X − 1x*ᵀ‖²`` at cycle ends ``1..cycles`` (from 1, devices
    in consensus at the start) under the schedule ``(tau_a, tau_r)``."""
    from ssdfl.bounds import run_bounds

    P = _problem(g, clusters, t, cfg, tau_a, tau_r)
    tr = run_bounds(P, cycles, e0=np.zeros(len(clusters)), b0=0.0, m0=math.sqrt(g.n))
    return np.asarray(tr.opt, dtype=np.float64)[:: tau_a + tau_r][1:]


def _best_by_S(
    t: CandidateTable, n: int, cfg: PlanConfig, smax: int
) -> tuple[list[dict[str, Any]], dict[int, tuple[int, ...]]]:
    from ssdfl.setpartition import solve_set_partition

    cost, vmax = objective_terms(t, n)
    # tie-break (documented): a tiny weight on the worst intra contraction λ_C^{τ_a}
    tie = 1e-9 * (t.lam**cfg.tau_a)
    rows: list[dict[str, Any]] = []
    sols: dict[int, tuple[int, ...]] = {}
    for S in range(1, smax + 1):
        adm = t.admissible(S, cfg)
        try:
            r = solve_set_partition(n, t.clusters, cost, vmax + tie, adm, n_clusters=S)
        except InfeasibleError:
            rows.append({"S": S, "objective": None, "feasible": False})
            continue
        sols[S] = r.chosen
        rows.append({
            "S": S, "objective": formation_objective(t, list(r.chosen), n), "feasible": True,
            "clusters": [t.clusters[j].tolist() for j in r.chosen],
        })  # fmt: skip
    return rows, sols


def _exhaustive_check(
    t: CandidateTable, n: int, cfg: PlanConfig, smax: int, best: float
) -> dict[str, Any] | None:
    """Exhaustive search over the same candidates and objective (small instances only)."""
    from ssdfl.errors import TooLargeError
    from ssdfl.setpartition import exhaustive_set_partition

    if n > 14 or len(t.clusters) > 120:
        return None
    cost, vmax = objective_terms(t, n)
    vals = []
    for S in range(1, smax + 1):
        try:
            r = exhaustive_set_partition(
                n, t.clusters, cost, vmax, t.admissible(S, cfg), n_clusters=S, max_candidates=120
            )
            vals.append(r.objective)
        except (InfeasibleError, TooLargeError):
            continue
    if not vals:
        return None
    ex = min(vals)
    return {"objective": ex, "agrees": bool(abs(ex - best) <= 1e-9 * max(1.0, abs(ex)))}


def plan_formation(
    g: GraphLike,
    devices: DeviceTable | None = None,
    config: PlanConfig | None = None,
    progress: bool = False,
) -> FormationPlan:
    """Plan the SSD-FL formation of ``g`` for ``devices`` (default: homogeneous SGD, IID);
    see the module docstring for the pipeline and ``docs/formation.md`` for the derivation."""
    from ssdfl.metrics import is_connected

    cfg = config or PlanConfig()
    cfg.validate()
    g = as_graph(g)
    if g.n < 2:
        raise SsdflError("formation planning needs at least 2 devices")
    if not is_connected(g):
        raise DisconnectedGraphError(
            "the D2D graph is disconnected: SSD-FL needs one connected graph "
            "(plan each component separately)"
        )
    dev = devices or homogeneous_devices(g.n)
    if dev.n != g.n:
        raise SsdflError(f"{dev.n} device rows for a graph with {g.n} nodes")
    notes: list[str] = []
    if devices is None:
        notes.append("no devices file: homogeneous SGD devices with IID data assumed")
    if "adam" in dev.optimizer:
        notes.append("Adam devices are an extension: their α is taken as 1 and the bounds "
                     "do not cover them")  # fmt: skip
    say = _progress(progress)
    smax = min(cfg.max_clusters or (g.n if g.n <= 64 else 64), g.n)
    cands, greedy_seq, strict_seq = generate_candidates(g, cfg, say)
    say(f"scoring {len(cands)} candidate clusters")
    t = candidate_table(g, cands, dev, cfg)
    say("set-partitioning MILP for every S")
    by_S, sols = _best_by_S(t, g.n, cfg, smax)
    feasible = [r for r in by_S if r["feasible"]]
    if not feasible:
        raise InfeasibleError("no admissible formation for any S (singletons always are: bug)")
    best_row = min(feasible, key=lambda r: (round(r["objective"], 15), r["S"]))
    chosen = [t.clusters[j] for j in sols[best_row["S"]]]
    chosen.sort(key=lambda c: int(c[0]))
    obj = float(best_row["objective"])
    idx = t.index()
    # the paper's greedy choice: best admissible formation of the iterative loop
    greedy_rows = []
    for f in greedy_seq:
        js = [idx[tuple(np.sort(c).tolist())] for c in f]
        adm = t.admissible(len(f), cfg)
        greedy_rows.append(
            {"S": len(f), "objective": formation_objective(t, js, g.n),
             "admissible": bool(all(adm[j] for j in js))}
        )  # fmt: skip
    g_ok = [r for r in greedy_rows if r["admissible"]]
    greedy: dict[str, Any] = {"sequence": greedy_rows, "chosen_S": None, "objective": None}
    strict_last = strict_seq[-1]
    strict_adm = t.admissible(len(strict_last), cfg)
    greedy["cheeger_threshold_loop"] = {
        "S": len(strict_last),
        "admissible": bool(all(strict_adm[idx[tuple(np.sort(c).tolist())]] for c in strict_last)),
        "objective": formation_objective(
            t, [idx[tuple(np.sort(c).tolist())] for c in strict_last], g.n
        ),
    }
    if g_ok:
        gb = min(g_ok, key=lambda r: (r["objective"], r["S"]))
        greedy.update(chosen_S=gb["S"], objective=gb["objective"],
                      clusters=[np.sort(c).tolist() for c in greedy_seq[gb["S"] - 1]])  # fmt: skip
        greedy["milp_gain"] = gb["objective"] - obj
    exhaustive = _exhaustive_check(t, g.n, cfg, smax, obj)
    bounds: dict[str, Any] = {}
    if cfg.theorem2:
        say("Theorem-2 bounds")
        bounds["chosen"] = theorem2_numbers(g, chosen, t, cfg)
    if cfg.theorem2 and g_ok:
        gcl = [np.sort(c) for c in greedy_seq[greedy["chosen_S"] - 1]]
        bounds["greedy"] = theorem2_numbers(g, gcl, t, cfg)
    per_cluster = []
    for c in chosen:
        j = idx[tuple(c.tolist())]
        per_cluster.append({
            "nodes": c.tolist(), "size": int(t.size[j]), "lambda2": float(t.lam[j]),
            "phi": float(t.phi[j]), "phi_lower": float(t.phi_lower[j]),
            "phi_exact": bool(t.phi_exact[j]), "heterogeneity": float(t.H[j]),
            "between": float(t.B[j]), "gap_intra": float(t.gamma_intra[j]),
        })  # fmt: skip
    fm = _fastest_mixing(g, chosen, cfg, per_cluster, say, notes) if cfg.fastest_mixing else None
    schedule = _schedule(g, chosen, t, cfg, say) if cfg.schedule else None
    traffic = _traffic(g, chosen, dev, cfg)
    return FormationPlan(
        n=g.n, labels=g.node_names(), clusters=chosen, objective=obj, config=asdict(cfg),
        devices_source=dev.source, per_cluster=per_cluster, by_S=by_S, greedy=greedy,
        exhaustive=exhaustive, bounds=bounds, fastest_mixing=fm, schedule=schedule,
        traffic=traffic, notes=notes,
    )  # fmt: skip


def _progress(enabled: bool) -> Callable[[str], None]:
    if not enabled:
        return lambda _msg: None
    from rich.console import Console

    con = Console(stderr=True)

    def say(msg: str) -> None:
        con.log(f"[cyan]{msg}[/]")

    return say


def _fastest_mixing(
    g: Graph, clusters: list[np.ndarray], cfg: PlanConfig, per_cluster: list[dict[str, Any]],
    say: Callable[[str], None], notes: list[str],
) -> dict[str, Any]:  # fmt: skip
    from ssdfl.fastest_mixing import fastest_mixing

    say("fastest-mixing weights (FMMC) per cluster")
    out: dict[str, Any] = {"problem": "fmmc", "positive_definite": True, "clusters": []}
    for c, row in zip(clusters, per_cluster):
        if len(c) < 2:
            out["clusters"].append(None)
            continue
        if len(c) > 150:
            notes.append(f"cluster of {len(c)} devices: FMMC SDP skipped (too large)")
            out["clusters"].append(None)
            continue
        r = fastest_mixing(g.subgraph(c), "fmmc")
        row["lambda2_fmmc"] = r.slem
        row["gap_ratio_fmmc"] = r.gap_ratio
        Wc = sp.triu(r.W, k=1).tocoo()
        row["fmmc_weights"] = [  # edge weights [u, v, W_uv] in graph node indices
            [int(c[a]), int(c[b]), float(w)] for a, b, w in zip(Wc.row, Wc.col, Wc.data)
        ]
        out["clusters"].append({"slem": r.slem, "baseline_slem": r.baseline_slem,
                                "gap_ratio": r.gap_ratio})  # fmt: skip
    if g.n <= 150:
        say("fastest-mixing weights (FMMC) for the whole graph")
        r = fastest_mixing(g, "fmmc")
        out["graph"] = {"slem": r.slem, "baseline_slem": r.baseline_slem, "gap_ratio": r.gap_ratio}
    else:
        notes.append("whole-graph FMMC skipped (more than 150 devices)")
    return out


def _schedule(
    g: Graph, clusters: list[np.ndarray], t: CandidateTable, cfg: PlanConfig,
    say: Callable[[str], None],
) -> dict[str, Any]:  # fmt: skip
    """Grid search over ``(τ_a, τ_r)`` with the Theorem-2 bound at every cycle end over
    ``max_cycles`` cycles. Accuracy band: ``cfg.target`` or 1.1 × the best final bound on the
    grid. A schedule qualifies if its final bound is in the band; its cost is the messages
    sent until its bound stays within 10 % of its final value (settling time); the best
    schedule is the qualifying one with the fewest messages."""
    say("schedule search over (τ_a, τ_r)")
    m_intra = intra_cluster_edges(g, cluster_labels(clusters, g.n))
    curves = {}
    for ta in cfg.tau_a_grid:
        for tr in cfg.tau_r_grid:
            curves[(ta, tr)] = bound_by_cycle(g, clusters, t, cfg, ta, tr, cfg.max_cycles)
    finals = [float(c[-1]) for c in curves.values() if np.isfinite(c[-1])]
    target = cfg.target if cfg.target is not None else (1.1 * min(finals) if finals else None)
    rows = []
    for (ta, tr), c in curves.items():
        fin = float(c[-1])
        settled = None
        if np.isfinite(fin) and target is not None and fin <= target:
            off = np.flatnonzero(np.abs(c - fin) > 0.1 * fin)
            settled = int(off[-1]) + 2 if off.size else 1
            settled = min(settled, len(c))
        msgs = 2 * (ta * m_intra + tr * g.m)
        rows.append({"tau_a": ta, "tau_r": tr, "final_bound": fin, "settling_cycles": settled,
                     "messages_per_cycle": msgs,
                     "messages_to_settle": settled and settled * msgs})  # fmt: skip
    ok = [r for r in rows if r["messages_to_settle"] is not None]
    best = min(ok, key=lambda r: (r["messages_to_settle"], r["final_bound"])) if ok else None
    return {"target": target, "max_cycles": cfg.max_cycles, "grid": rows, "best": best}


def _traffic(
    g: Graph, clusters: list[np.ndarray], dev: DeviceTable, cfg: PlanConfig
) -> dict[str, Any]:
    from ssdfl.simulate.comm import flooding_traffic, record_bytes

    m_intra = intra_cluster_edges(g, cluster_labels(clusters, g.n))
    per_msg = 4 * cfg.model_params
    extra = 0
    if dev.label_hist is not None:
        extra = 4 * dev.label_hist.shape[1]
    elif dev.grads is not None:
        extra = 4 * dev.grads.shape[1]
    init = flooding_traffic(g, record_bytes(g, extra))
    intra = 2 * m_intra * cfg.tau_a
    inter = 2 * g.m * cfg.tau_r
    return {
        "model_params": cfg.model_params,
        "intra_messages_per_cycle": intra,
        "inter_messages_per_cycle": inter,
        "bytes_per_cycle": (intra + inter) * per_msg,
        "init_rounds": init.rounds,
        "init_messages": init.messages,
        "init_bytes": init.bytes,
    }
