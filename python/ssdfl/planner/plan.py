"""SSD-FL cluster formation: the plan is ONE formation, the recommendation.

:func:`plan_formation` returns the formation with the lowest predicted device loss at the
user's budget (:func:`ssdfl.planner.predict.choose_formation`, ``PlanConfig.objective =
"predicted"``, the default) and ranks the alternatives it was chosen from: the paper's
consensus objective ``J``'s MILP optimum (labelled as such), ``S = 1``, ``S = N``, the greedy
loop, partitions; random partitions are yardsticks only. Everything the plan carries —
per-cluster numbers, Theorem-2 bounds, fastest-mixing weights, the schedule, traffic — is about
that formation. ``objective = "J"`` plans for the paper's objective alone.

The paper's objective ``J`` (still computed: its optimum is one alternative) comes from:

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
   ``Φ(W_C) ≥ Φ_min^S`` (``"cheeger"``, the paper's sufficient test), ``ε_S = ε``
   (:func:`~ssdfl.theory.bounds.eps_S`).
4. **Objective** (per-device steady-state disagreement, decoupled Lemma 1 / Lemma 2 fixed
   points; every term is a sum over clusters or a max over clusters):

       Γ_C   = η²G²H_C/(1−λ_C)² + η²σ²(1 − 1/N_C)/(1−λ_C²)           (intra, Lemma 1)
       b_C   = κ_b [ (ητ_a)² G² N_C B_C + τ_a η²σ² ],  κ_b = 1/(1 − λ(W)^{2τ_r})   (Lemma 2)
       J(C)  = (1/N) Σ_C (N_C Γ_C + b_C)  +  max_C Γ_C

   minimised over every ``S = 1..N`` by one MILP
   (:func:`ssdfl.clusters.setpartition.solve_set_partition_all_S`; the objective-vs-``S``
   table solves one per ``S`` of :func:`ssdfl.planner.solve.best_formation`)
   (exact cover, epigraph for the max). Ties break towards smaller ``S`` and then faster mixing.
5. **For the chosen formation**: the Theorem-2 bound of ``ssdfl.theory.bounds``, fastest-mixing
   (FMMC) weights per cluster, the schedule ``(τ_a, τ_r)`` with the lowest predicted device loss
   at the same budget, and the traffic per cycle and for initialization.

``formation.json`` (schema ``ssdfl.plan/2``, ``docs/formation.schema.json``) holds the one
formation by node name; :mod:`ssdfl.planner.formation_io` reads and validates it (and
``ssdfl.plan/1`` files).
"""

from __future__ import annotations

import inspect
import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

import ssdfl.planner.theorem2 as t2
from ssdfl._atomic import atomic_write
from ssdfl._progress import get_logger, setup_logging, stage
from ssdfl.clusters.formation import _jsonable
from ssdfl.errors import DisconnectedGraphError, FormationFileError, SsdflError
from ssdfl.graphs.graph import GraphLike, as_graph
from ssdfl.graphs.metrics import _is_connected
from ssdfl.planner.candidates import generate_candidates
from ssdfl.planner.config import PlanConfig
from ssdfl.planner.estimate import check_plan_size
from ssdfl.planner.formation_io import (
    LEGACY_PLAN_SCHEMA,
    PLAN_SCHEMA,
    load_formation_json,
    parse_formation,
)
from ssdfl.planner.predict import choose_formation
from ssdfl.planner.schedule import make_budget, search_schedule, traffic_summary
from ssdfl.planner.scoring import candidate_table, formation_objective
from ssdfl.planner.solve import best_formation, exhaustive_check
from ssdfl.planner.theorem2 import FormationConstants, theorem2_numbers
from ssdfl.planner.weights import fastest_mixing_weights
from ssdfl.theory.devices import DeviceTable, homogeneous_devices

__all__ = ["LEGACY_PLAN_SCHEMA", "PLAN_SCHEMA", "FormationPlan", "PlanConfig", "plan_formation"]

log = get_logger(__name__)

J_LABEL = "the paper's objective J"
"""How J's MILP optimum is labelled among the alternatives."""


@dataclass
class FormationPlan:
    """Result of :func:`plan_formation`: ONE formation.

    ``clusters`` the chosen formation (sorted node-index arrays; the recommendation under the
    user objective, or J's optimum with ``config["objective"] == "J"``); ``objective`` the
    paper's ``J`` of that formation; ``per_cluster`` its clusters' numbers (size, λ, Φ,
    heterogeneity, FMMC weights); ``recommendation`` why it was chosen (``id``, ``S``,
    ``source``, ``predicted``, ``spread``, ``cycles``, ``budget``, ``model``, ``verdict``,
    ``ties``, ``baselines``; ``None`` when planned for ``J`` alone); ``alternatives`` the
    ranked other formations (``id``, ``S``, ``source``, ``role`` — ``"the paper's objective
    J"``, ``"alternative"`` or ``"yardstick"`` for random partitions —, ``predicted``,
    ``spread``, ``cycles``, ``clusters``); ``j_optimum`` J's MILP optimum (``S``,
    ``objective``, ``clusters``); ``by_S`` J of the best formation for the ``S`` of the table
    (``None`` if infeasible); ``greedy`` the paper's greedy choice under J; ``bounds``
    Theorem-2 numbers (``"chosen"``, and ``"J's optimum"`` when it differs); ``schedule`` the
    schedule grid by predicted device loss; ``traffic`` per-cycle and initialization traffic;
    ``choice`` the full output of :func:`~ssdfl.planner.predict.choose_formation` (written to
    choice.json by the CLI, not to formation.json)."""

    n: int
    labels: list[Any]
    clusters: list[np.ndarray]
    objective: float | None
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
    alternatives: list[dict[str, Any]] = field(default_factory=list)
    j_optimum: dict[str, Any] | None = None
    choice: dict[str, Any] | None = field(default=None, repr=False, compare=False)

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

    @property
    def j_uninformative(self) -> bool:
        """``J`` is 0 for every formation of the table (no heterogeneity and σ² = 0), so it
        cannot rank formations."""
        vals = [r["objective"] for r in self.by_S if r.get("feasible")]
        return bool(vals) and all(abs(v) <= 1e-300 for v in vals)

    # ------------------------------------------------------------------ formation.json
    def to_dict(self) -> dict[str, Any]:
        """The ``ssdfl.plan/2`` document (``docs/formation.schema.json``): every cluster by
        node name."""
        names = [_name(x) for x in self.labels]

        def by_name(cl: Any) -> list[list[Any]]:
            return [[names[int(u)] for u in c] for c in cl]

        rec = dict(self.recommendation or {})
        formation = {
            "id": rec.get("id", f"milp-J S={self.S}"),
            "S": self.S,
            "source": rec.get("source", "MILP optimum of the paper's objective J"),
            "clusters": by_name(self.clusters),
            "objective_J": self.objective,
        }  # fmt: skip
        for k, v in rec.items():  # predicted, spread, cycles, verdict, ties, baselines, …
            if k not in formation and k not in ("budget", "model", "cluster"):
                formation[k] = v
        per = []
        for row in self.per_cluster:
            r = dict(row)
            r["nodes"] = [names[int(u)] for u in row["nodes"]]
            if r.get("fmmc_weights"):
                r["fmmc_weights"] = [[names[int(u)], names[int(v)], float(w)]
                                     for u, v, w in row["fmmc_weights"]]  # fmt: skip
            per.append(r)
        alts = []
        for a in self.alternatives:
            r = {k: v for k, v in a.items() if k != "clusters"}
            r["clusters"] = by_name(a["clusters"])
            alts.append(r)
        greedy = dict(self.greedy)
        if greedy.get("clusters"):
            greedy["clusters"] = by_name(greedy["clusters"])
        by_S = [{**r, "clusters": by_name(r["clusters"])} if r.get("clusters") else dict(r)
                for r in self.by_S]  # fmt: skip
        jo = None
        if self.j_optimum is not None:
            jo = {**self.j_optimum, "clusters": by_name(self.j_optimum["clusters"])}
        d = {
            "schema": PLAN_SCHEMA,
            "n": self.n,
            "nodes": names,
            "user_objective": None if self.recommendation is None else {
                "kind": "predicted device loss", "budget": rec.get("budget"),
                "model": rec.get("model"),
            },
            "formation": formation,
            "assignment": self.assignment.tolist(),
            "per_cluster": per,
            "alternatives": alts,
            "j_optimum": jo,
            "by_S": by_S,
            "greedy": greedy,
            "exhaustive": self.exhaustive,
            "bounds": self.bounds,
            "fastest_mixing": self.fastest_mixing,
            "schedule": self.schedule,
            "traffic": self.traffic,
            "config": self.config,
            "devices_source": self.devices_source,
            "notes": self.notes,
        }  # fmt: skip
        return _jsonable(d)

    def to_json(self, indent: int | None = 2) -> str:
        import json

        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    @classmethod
    def from_json(cls, text: str, where: str = "formation.json") -> FormationPlan:
        """Read a ``formation.json`` (``ssdfl.plan/2``, or ``ssdfl.plan/1``) validated by
        :mod:`ssdfl.planner.formation_io`."""
        d = load_formation_json(text, where)
        rec = parse_formation(d, where)
        pos = {str(x): i for i, x in enumerate(rec.names)}

        def idx(cl: Any) -> list[list[int]]:
            try:
                return [[pos[str(u)] for u in c] for c in cl]
            except (KeyError, TypeError):
                raise FormationFileError(f"{where}: a cluster names an unknown node") from None

        try:
            if rec.schema == LEGACY_PLAN_SCHEMA:
                per = [dict(r) for r in d.get("per_cluster") or []]
                return cls(
                    n=rec.n, labels=rec.names, clusters=rec.clusters,
                    objective=d.get("objective"), config=dict(d.get("config") or {}),
                    devices_source=str(d.get("devices_source", "")), per_cluster=per,
                    by_S=list(d.get("by_S") or []), greedy=dict(d.get("greedy") or {}),
                    exhaustive=d.get("exhaustive"), bounds=dict(d.get("bounds") or {}),
                    fastest_mixing=d.get("fastest_mixing"), schedule=d.get("schedule"),
                    traffic=dict(d.get("traffic") or {}), notes=list(d.get("notes") or []),
                    recommendation=d.get("recommendation"),
                )  # fmt: skip
            f = d["formation"]
            per = []
            for row, fm in zip(d.get("per_cluster") or [], rec.fmmc):
                r = dict(row)
                r["nodes"] = [pos[str(u)] for u in row.get("nodes", [])]
                if "fmmc_weights" in r:
                    r["fmmc_weights"] = None if fm is None else [list(x) for x in fm]
                per.append(r)
            recommendation = None
            if d.get("user_objective") is not None:
                uo = d["user_objective"]
                recommendation = {k: v for k, v in f.items()
                                  if k not in ("clusters", "objective_J")}  # fmt: skip
                recommendation.update(budget=uo.get("budget"), model=uo.get("model"))
            alts = [{**a, "clusters": idx(a.get("clusters", []))}
                    for a in d.get("alternatives") or []]  # fmt: skip
            greedy = dict(d.get("greedy") or {})
            if greedy.get("clusters"):
                greedy["clusters"] = idx(greedy["clusters"])
            by_S = [{**r, "clusters": idx(r["clusters"])} if r.get("clusters") else dict(r)
                    for r in d.get("by_S") or []]  # fmt: skip
            jo = d.get("j_optimum")
            if jo is not None:
                jo = {**jo, "clusters": idx(jo.get("clusters", []))}
            return cls(
                n=rec.n, labels=rec.names, clusters=rec.clusters,
                objective=f.get("objective_J"), config=dict(d.get("config") or {}),
                devices_source=str(d.get("devices_source", "")), per_cluster=per, by_S=by_S,
                greedy=greedy, exhaustive=d.get("exhaustive"),
                bounds=dict(d.get("bounds") or {}), fastest_mixing=d.get("fastest_mixing"),
                schedule=d.get("schedule"), traffic=dict(d.get("traffic") or {}),
                notes=list(d.get("notes") or []), recommendation=recommendation,
                alternatives=alts, j_optimum=jo,
            )  # fmt: skip
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise FormationFileError(f"{where}: malformed formation plan ({exc!r})") from None

    def save(self, path: str | os.PathLike[str]) -> Path:
        with atomic_write(path) as fh:
            fh.write(self.to_json())
        return Path(path)


def _name(x: Any) -> Any:
    return x.item() if isinstance(x, np.generic) else x


# ---------------------------------------------------------------------------- the choice
def choose(
    g: Any, dev: DeviceTable, cfg: PlanConfig, link_cost: np.ndarray | None, jplan: Any
) -> dict[str, Any]:
    """:func:`~ssdfl.planner.predict.choose_formation` with ``cfg``'s budget, model, seed and
    pilot budget (passed when the function takes them)."""
    params = inspect.signature(choose_formation).parameters
    kw: dict[str, Any] = {"seed": cfg.seed, "model": cfg.model}
    if cfg.pilot_budget is not None:
        if "pilot_budget" not in params:
            raise SsdflError("--pilot-budget is not supported by this version of the choice")
        kw["pilot_budget"] = cfg.pilot_budget
    return choose_formation(g, dev, cfg.eta, cfg.tau_a, cfg.tau_r, make_budget(cfg), link_cost,
                            jplan, cfg.mixing_rule, **kw)  # fmt: skip


def _role(row: dict[str, Any]) -> str:
    if row["id"].startswith("random") or "random connected" in str(row.get("source", "")):
        return "yardstick"
    if "milp-J" in row["id"]:
        return J_LABEL
    return "alternative"


def _alternatives(choice: dict[str, Any]) -> list[dict[str, Any]]:
    """The candidates other than the pick, ranked by predicted device loss (random partitions
    after the rest: they are yardsticks)."""
    ties = set(choice.get("ties") or [])
    rows = []
    for r in choice["candidates"]:
        if r["id"] == choice["pick"]:
            continue
        role = _role(r)
        rows.append({
            "id": r["id"], "S": int(r["S"]), "source": r.get("source", ""), "role": role,
            "predicted": r.get("predicted"), "spread": r.get("spread"),
            "cycles": r.get("cycles"), "tie": r["id"] in ties,
            "clusters": [list(map(int, c)) for c in r["clusters"]],
        })  # fmt: skip
    rows.sort(key=lambda r: (r["role"] == "yardstick", _num(r["predicted"]), r["S"]))
    for k, r in enumerate(rows, 1):
        r["rank"] = k + 1  # the recommendation is rank 1
    return rows


def _num(x: Any) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return float("inf")
    return v if np.isfinite(v) else float("inf")


def _bound_constants(
    cfg: PlanConfig, devices: DeviceTable | None, dev: DeviceTable
) -> dict[str, Any]:
    """``device_constants`` for :func:`~ssdfl.planner.theorem2.theorem2_numbers`: ``L``, ``μ``,
    ``ζ`` of ``cfg.model`` measured on the devices' proxy data (or "not covered"), when
    :mod:`ssdfl.planner.theorem2` provides :func:`model_constants`."""
    mc = getattr(t2, "model_constants", None)
    if mc is None:
        return {}
    pop = dev.population() if hasattr(dev, "population") else None
    return {"device_constants": mc(cfg.model, devices=devices, optimizers=pop, seed=cfg.seed)}


def _per_cluster(t: Any, clusters: list[np.ndarray], adm: np.ndarray) -> list[dict[str, Any]]:
    idx = t.index()
    out = []
    for c in clusters:
        j = idx[tuple(c.tolist())]
        out.append({
            "nodes": c.tolist(), "size": int(t.size[j]), "lambda2": float(t.lam[j]),
            "phi": float(t.phi[j]), "phi_lower": float(t.phi_lower[j]),
            "phi_exact": bool(t.phi_exact[j]), "heterogeneity": float(t.H[j]),
            "between": float(t.B[j]), "gap_intra": float(t.gamma_intra[j]),
            "admissible": bool(adm[j]),
        })  # fmt: skip
    return out


def plan_formation(
    g: GraphLike,
    devices: DeviceTable | None = None,
    config: PlanConfig | None = None,
    progress: bool = False,
    link_cost: np.ndarray | None = None,
) -> FormationPlan:
    """Plan the SSD-FL formation of ``g`` for ``devices`` (default: homogeneous SGD, IID): the
    formation with the lowest predicted device loss at ``config``'s budget, with ranked
    alternatives (module docstring; ``docs/formation.md``). ``link_cost``: per-edge costs
    aligned with ``g.edges()`` (:func:`ssdfl.planner.predict.link_costs`)."""
    cfg = config or PlanConfig()
    cfg.validate()
    g = as_graph(g)
    if g.n < 2:
        raise SsdflError("formation planning needs at least 2 devices")
    if not _is_connected(g):
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
        setup_logging()  # the CLI sets logging up itself; library callers get INFO + bars
    check_plan_size(g.n, g.m, cfg.max_edges, log)  # refuse before the work; log the estimate
    smax = min(cfg.max_clusters or (g.n if g.n <= 64 else 64), g.n)
    with stage(log, "candidate clusters"):
        cands, greedy_seq, strict_seq = generate_candidates(g, cfg, log.info)
    with stage(log, f"scoring {len(cands)} candidate clusters"), threadpool_limits(1, "blas"):
        t = candidate_table(g, cands, dev, cfg)  # many small eigenproblems: one BLAS thread
    by_S, chosen_js, obj = best_formation(t, g.n, cfg)
    j_clusters = sorted((t.clusters[j] for j in chosen_js), key=lambda c: int(c[0]))
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
    j_opt = {"S": len(j_clusters), "objective": obj, "clusters": [c.tolist() for c in j_clusters],
             "label": J_LABEL}  # fmt: skip
    # J's optimum as a plan: what the choice reads (its S, assignment, greedy pick, by_S rows)
    jplan = FormationPlan(
        n=g.n, labels=g.node_names(), clusters=j_clusters, objective=obj, config=asdict(cfg),
        devices_source=dev.source, per_cluster=[], by_S=by_S, greedy=greedy,
        exhaustive=exhaustive, bounds={}, fastest_mixing=None, schedule=None, traffic={},
    )  # fmt: skip
    choice: dict[str, Any] | None = None
    alternatives: list[dict[str, Any]] = []
    recommendation: dict[str, Any] | None = None
    if cfg.objective == "predicted":
        with stage(log, f"choosing the formation at a {cfg.budget} budget ({cfg.model})"):
            choice = choose(g, dev, cfg, link_cost, jplan)
        pick = next(r for r in choice["candidates"] if r["id"] == choice["pick"])
        chosen = sorted((np.sort(np.asarray(c, dtype=np.int64)) for c in choice["clusters"]),
                        key=lambda c: int(c[0]))  # fmt: skip
        recommendation = {
            "id": choice["pick"], "S": int(choice["S"]), "source": pick.get("source", ""),
            "predicted": pick.get("predicted"), "spread": pick.get("spread"),
            "cycles": pick.get("cycles"), "budget": choice.get("budget"),
            "model": choice.get("model", cfg.model), "verdict": choice["verdict"],
            "ties": list(choice.get("ties") or []), "baselines": choice.get("baselines"),
            "cluster": bool(choice.get("cluster", choice["S"] > 1)),
        }  # fmt: skip
        alternatives = _alternatives(choice)
    else:
        chosen = list(j_clusters)
        alternatives = [
            {"id": f"milp S={r['S']}", "S": r["S"], "source": "MILP optimum of J for this S",
             "role": "alternative", "objective_J": r["objective"], "clusters": r["clusters"]}
            for r in by_S if r.get("feasible") and r["S"] != len(j_clusters)
        ]  # fmt: skip
    # everything below is about the chosen formation
    with threadpool_limits(1, "blas"):
        tc = candidate_table(g, chosen, dev, cfg)
    J_chosen = formation_objective(tc, list(range(len(chosen))), g.n)
    per_cluster = _per_cluster(tc, chosen, tc.admissible(len(chosen), cfg))
    same_as_j = [c.tolist() for c in chosen] == j_opt["clusters"]
    bounds: dict[str, Any] = {}
    consts = FormationConstants(g, chosen, cfg)
    if cfg.theorem2:
        forms: dict[str, tuple[list[np.ndarray], Any, Any]] = {"chosen": (chosen, tc, consts)}
        if not same_as_j:
            forms["J's optimum"] = (j_clusters, t, None)
        kw = _bound_constants(cfg, devices, dev)
        with stage(log, "Theorem-2 bounds", total=len(forms)) as st:
            for k, (f, tt, cc) in forms.items():
                bounds[k] = theorem2_numbers(g, f, tt, cfg, constants=cc, **kw)
                st.advance()
    fm = fastest_mixing_weights(g, chosen, cfg, per_cluster, notes) if cfg.fastest_mixing else None
    schedule = search_schedule(g, chosen, dev, cfg, link_cost) if cfg.schedule else None
    with stage(log, "traffic"):
        traffic = traffic_summary(g, chosen, dev, cfg)
    return FormationPlan(
        n=g.n, labels=g.node_names(), clusters=chosen, objective=J_chosen, config=asdict(cfg),
        devices_source=dev.source, per_cluster=per_cluster, by_S=by_S, greedy=greedy,
        exhaustive=exhaustive, bounds=bounds, fastest_mixing=fm, schedule=schedule,
        traffic=traffic, notes=notes, recommendation=recommendation, alternatives=alternatives,
        j_optimum=j_opt, choice=choice,
    )  # fmt: skip
