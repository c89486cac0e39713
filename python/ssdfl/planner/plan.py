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

   minimised over every ``S = 1..N`` by one MILP
   (:func:`ssdfl.clusters.setpartition.solve_set_partition_all_S`; the objective-vs-``S``
   table solves one per ``S`` of :func:`ssdfl.planner.solve.best_formation`)
   (exact cover, epigraph for the max). Ties break towards smaller ``S`` and then faster mixing.
5. **Reports**: the MILP optimum vs the paper's greedy choice (best admissible formation of the
   iterative loop under the same objective), the full Theorem-2 bound of ``ssdfl.theory.bounds`` for
   both, fastest-mixing (FMMC) weights per cluster, the schedule ``(τ_a, τ_r)`` minimising
   cycles × messages to reach a target, and the traffic per cycle and for initialization.
"""

from __future__ import annotations

import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from ssdfl._atomic import atomic_write
from ssdfl._progress import get_logger, stage
from ssdfl.clusters.formation import _jsonable, parse_tagged_json
from ssdfl.errors import DisconnectedGraphError, SsdflError
from ssdfl.graphs.graph import GraphLike, as_graph
from ssdfl.planner.candidates import generate_candidates
from ssdfl.planner.config import PlanConfig
from ssdfl.planner.schedule import search_schedule, traffic_summary
from ssdfl.planner.scoring import candidate_table, formation_objective
from ssdfl.planner.solve import best_formation, exhaustive_check
from ssdfl.planner.theorem2 import FormationConstants, theorem2_numbers
from ssdfl.planner.weights import fastest_mixing_weights
from ssdfl.theory.devices import DeviceTable, homogeneous_devices

__all__ = ["PLAN_SCHEMA", "FormationPlan", "PlanConfig", "plan_formation"]

PLAN_SCHEMA = "ssdfl.plan/1"

log = get_logger(__name__)


@dataclass
class FormationPlan:
    """Result of :func:`plan_formation`. ``clusters`` is the chosen formation (sorted node
    arrays); ``per_cluster`` a list of dicts (size, λ, Φ, heterogeneity, mixing gains);
    ``by_S`` the objective of the best formation for the ``S`` of the table (``None`` if
    infeasible; the chosen ``S`` always has a row);
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
    recommendation: dict[str, Any] | None = None
    """The formation to run under the user objective (predicted device loss at a byte or cycle
    budget, ``planner/predict.py``): ``id``, ``S``, ``clusters``, ``budget``, ``verdict``;
    ``None`` when only the consensus objective ``J`` was planned. ``clusters`` above is J's
    optimum."""

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


def plan_formation(
    g: GraphLike,
    devices: DeviceTable | None = None,
    config: PlanConfig | None = None,
    progress: bool = False,
) -> FormationPlan:
    """Plan the SSD-FL formation of ``g`` for ``devices`` (default: homogeneous SGD, IID);
    see the module docstring for the pipeline and ``docs/formation.md`` for the derivation."""
    from ssdfl.graphs.metrics import is_connected

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
    uncovered = dev.population().coverage_note("recursion")
    if uncovered:
        notes.append(uncovered)
    if progress and not any(
        getattr(h, "_ssdfl", False) for h in logging.getLogger("ssdfl").handlers
    ):
        from ssdfl._progress import setup_logging

        setup_logging()  # the CLI sets logging up itself; library callers get INFO + bars
    smax = min(cfg.max_clusters or (g.n if g.n <= 64 else 64), g.n)
    with stage(log, "candidate clusters"):
        cands, greedy_seq, strict_seq = generate_candidates(g, cfg, log.info)
    with stage(log, f"scoring {len(cands)} candidate clusters"), threadpool_limits(1, "blas"):
        t = candidate_table(g, cands, dev, cfg)  # many small eigenproblems: one BLAS thread
    by_S, chosen_js, obj = best_formation(t, g.n, cfg)
    chosen = [t.clusters[j] for j in chosen_js]
    chosen.sort(key=lambda c: int(c[0]))
    idx = t.index()
    # the paper's greedy choice: best admissible formation of the iterative loop
    greedy_rows: list[dict[str, Any]] = []
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
    exhaustive = exhaustive_check(t, g.n, cfg, smax, obj)
    bounds: dict[str, Any] = {}
    forms = {"chosen": chosen}
    if g_ok:
        forms["greedy"] = [np.sort(c) for c in greedy_seq[greedy["chosen_S"] - 1]]
    consts = {k: FormationConstants(g, f, cfg) for k, f in forms.items()}
    if cfg.theorem2:
        with stage(log, "Theorem-2 bounds", total=len(forms)) as st:
            for k, f in forms.items():
                bounds[k] = theorem2_numbers(g, f, t, cfg, constants=consts[k])
                st.advance()
    per_cluster = []
    for c in chosen:
        j = idx[tuple(c.tolist())]
        per_cluster.append({
            "nodes": c.tolist(), "size": int(t.size[j]), "lambda2": float(t.lam[j]),
            "phi": float(t.phi[j]), "phi_lower": float(t.phi_lower[j]),
            "phi_exact": bool(t.phi_exact[j]), "heterogeneity": float(t.H[j]),
            "between": float(t.B[j]), "gap_intra": float(t.gamma_intra[j]),
        })  # fmt: skip
    fm = fastest_mixing_weights(g, chosen, cfg, per_cluster, notes) if cfg.fastest_mixing else None
    schedule = (
        search_schedule(g, chosen, t, cfg, constants=consts["chosen"]) if cfg.schedule else None
    )
    with stage(log, "traffic"):
        traffic = traffic_summary(g, chosen, dev, cfg)
    return FormationPlan(
        n=g.n, labels=g.node_names(), clusters=chosen, objective=obj, config=asdict(cfg),
        devices_source=dev.source, per_cluster=per_cluster, by_S=by_S, greedy=greedy,
        exhaustive=exhaustive, bounds=bounds, fastest_mixing=fm, schedule=schedule,
        traffic=traffic, notes=notes,
    )  # fmt: skip
