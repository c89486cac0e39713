"""Incremental re-formation after devices leave or join (``ssdfl form … --update``).

Given the old formation (cluster members by node *name*) and the new graph, :func:`repair_formation`
touches only the affected clusters:

1. **Departures.** Each old cluster keeps its present members; if they no longer induce a
   connected subgraph, the cluster splits into its connected fragments.
2. **Joiners.** A new device joins the neighbouring cluster it has the most edges to (ties:
   the smaller cluster, then the smaller cluster id), in rounds until no joiner with an assigned
   neighbour is left; joiners adjacent only to joiners form clusters of their own (connected
   components of the joiners' subgraph).
3. **Admissibility.** Every changed cluster is checked with the planner's test for the current
   ``S`` (``λ_C^{τ_a} ≤ ε_S``, or ``Φ(W_C) ≥ Φ_min^S`` with ``admissibility="cheeger"``); an
   inadmissible one is split along the paper's splitting loop (``split_hierarchy`` on its
   induced subgraph) at the first step where every part is admissible.
4. **Merging.** Changed clusters smaller than ``merge_below`` join the neighbouring cluster
   they share most edges with, when the union stays admissible.

Every step keeps clusters connected (fragments are components, a joiner attaches along an edge,
merges follow an edge, splits come from the cluster search, whose clusters are connected).

**Traffic** (counted like the initialization, :mod:`ssdfl.clusters.flooding`): each joiner sends
its record to its neighbours and each neighbour answers with its cluster id (8 bytes); the
devices of every changed cluster flood their records inside that cluster (closed form
:func:`~ssdfl.clusters.flooding.flooding_traffic` on the cluster's final induced subgraph; a merged
or re-split cluster floods as its final union) and run the deterministic repair; then each
affected device tells its neighbours outside the affected set its new cluster id (8 bytes per
edge). A full re-formation floods every record over the whole graph (per connected component).

**Rule** (:class:`RepairRule`): re-form from scratch when more than ``max_changed`` of the old
devices left or joined, or (off by default) when more than ``max_affected`` of the new graph's
devices are in changed clusters; otherwise repair; and (``--update``) re-form when the repaired
formation's predicted device loss at the plan's budget (:mod:`ssdfl.planner.predict`, the
analytic predictor) is more than ``max_degradation`` above that of the better simple formation
on the new graph (``S = 1`` or ``S = N``): a repair must not be predicted to train worse than
not clustering at all. The paper's objective ``J`` is not compared. Measured in
``docs/churn.md``.

The old ``formation.json`` is read by :func:`ssdfl.planner.formation_io.read_formation` (the
same validator as ``ssdfl export``; schema ``ssdfl.plan/2`` or the older ``ssdfl.plan/1``).
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.csgraph as csg

from ssdfl._atomic import atomic_write
from ssdfl.clusters.clustering import cluster_measure, split_hierarchy
from ssdfl.clusters.flooding import flooding_traffic, record_bytes
from ssdfl.errors import DisconnectedGraphError, FormationUpdateError, SsdflError
from ssdfl.graphs.graph import Graph, GraphLike, Positions, as_graph
from ssdfl.graphs.metrics import is_connected
from ssdfl.graphs.mixing import mixing_matrix, second_eigenvalue
from ssdfl.planner.config import PlanConfig
from ssdfl.planner.formation_io import FormationFileError, read_formation
from ssdfl.planner.plan import FormationPlan, make_budget, plan_formation
from ssdfl.planner.predict import predict_formations
from ssdfl.planner.report import write_report
from ssdfl.planner.schedule import traffic_summary
from ssdfl.planner.scoring import candidate_table, formation_objective
from ssdfl.theory.bounds import eps_S, phi_min
from ssdfl.theory.devices import DeviceTable, homogeneous_devices

__all__ = [
    "OldFormation",
    "RepairResult",
    "RepairRule",
    "full_reformation",
    "read_old_formation",
    "repair_formation",
    "repaired_plan",
    "update_formation",
]

ID_BYTES = 8  # a cluster-id notification or answer: node id + cluster id


@dataclass(frozen=True)
class OldFormation:
    """The old formation by node name: ``names[i]`` is node ``i``; ``clusters`` index
    ``names``."""

    names: list[Any]
    clusters: list[np.ndarray]
    objective: float | None = None
    """Unused (the re-formation rule no longer compares ``J``); kept for old callers."""


@dataclass(frozen=True)
class RepairRule:
    """Repair when at most ``max_changed`` of the old devices left or joined and at most
    ``max_affected`` of the new devices are in changed clusters; else re-form from scratch.
    With ``--update``, a repair whose predicted device loss exceeds the better of ``S = 1`` and
    ``S = N`` on the new graph by more than ``max_degradation`` (relative) is replaced by a
    full re-formation."""

    max_changed: float = 0.3
    max_affected: float = 1.0
    max_degradation: float = 0.05

    def decide(self, changed_fraction: float, affected_fraction: float) -> str:
        if changed_fraction > self.max_changed or affected_fraction > self.max_affected:
            return "full"
        return "repair"

    def degraded(self, predicted_repair: float, predicted_reference: float | None) -> bool:
        """The repaired formation's predicted device loss exceeds the reference's (the better
        of ``S = 1`` and ``S = N`` on the new graph) by more than ``max_degradation``."""
        return (
            predicted_reference is not None
            and math.isfinite(predicted_reference)
            and predicted_reference > 0
            and predicted_repair > (1 + self.max_degradation) * predicted_reference
        )


@dataclass
class RepairResult:
    """Result of :func:`repair_formation`: ``clusters`` (sorted node arrays of the new graph,
    ordered by first node), ``mode`` (``"repair"`` or ``"full"``), ``changes`` (what happened),
    ``traffic`` (bytes and messages of the update vs a full re-formation), ``seconds``."""

    clusters: list[np.ndarray]
    mode: str
    changes: dict[str, Any]
    traffic: dict[str, Any]
    seconds: float
    rule: str
    affected: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0, dtype=bool))

    @property
    def labels(self) -> np.ndarray:
        n = sum(len(c) for c in self.clusters)
        lab = np.empty(n, dtype=np.int64)
        for i, c in enumerate(self.clusters):
            lab[c] = i
        return lab


# ------------------------------------------------------------------------------ helpers


def _key(name: Any) -> str:
    return str(name)


def _adj(g: Graph) -> sp.csr_array:
    s, t, _ = g.edges()
    A = sp.coo_array((np.ones(len(s)), (s, t)), shape=(g.n, g.n))
    return (A + A.T).tocsr()


def _components(A: sp.csr_array, nodes: np.ndarray) -> list[np.ndarray]:
    if len(nodes) == 1:
        return [nodes]
    k, lab = csg.connected_components(A[nodes][:, nodes], directed=False)
    return [nodes[lab == i] for i in range(k)]


def _admissible(g: Graph, c: np.ndarray, S: int, cfg: PlanConfig) -> bool:
    if len(c) <= 1:
        return True
    if cfg.admissibility == "cheeger":
        _v, lo, _hi, _ex = cluster_measure(g, c, measure="mixing", mixing_rule=cfg.mixing_rule)
        return bool(lo >= phi_min(S, cfg.tau_a, cfg.eps))
    lam = second_eigenvalue(mixing_matrix(g.subgraph(Positions(c)), cfg.mixing_rule))
    return bool(lam**cfg.tau_a <= eps_S(S, cfg.eps) + 1e-12)


def _split_until_admissible(
    g: Graph, c: np.ndarray, S_other: int, cfg: PlanConfig
) -> list[np.ndarray]:
    """Split ``c`` along the paper's loop on its induced subgraph at the first step where
    every part is admissible (singletons always are)."""
    sub = g.subgraph(Positions(c))
    for f in split_hierarchy(sub, 0.0, measure="mixing", mixing_rule=cfg.mixing_rule):
        parts = [c[np.sort(np.asarray(p, dtype=np.int64))] for p in f.clusters]
        if len(parts) == 1:
            continue
        if all(_admissible(g, p, S_other + len(parts), cfg) for p in parts):
            return parts
    return [np.array([u]) for u in c]


def _sorted_clusters(clusters: list[np.ndarray]) -> list[np.ndarray]:
    out = [np.sort(np.asarray(c, dtype=np.int64)) for c in clusters if len(c)]
    out.sort(key=lambda a: int(a[0]))
    return out


def _flood_components(g: Graph, A: sp.csr_array, nodes: np.ndarray, R: np.ndarray) -> dict:
    """Flooding traffic inside every connected component of ``g[nodes]``."""
    rounds = msgs = byts = 0
    if len(nodes) == 0:
        return {"rounds": 0, "messages": 0, "bytes": 0}
    for comp in _components(A, np.sort(nodes)):
        if len(comp) < 2:
            continue
        tr = flooding_traffic(g.subgraph(Positions(comp)), R[comp])
        rounds = max(rounds, tr.rounds)
        msgs += tr.messages
        byts += tr.bytes
    return {"rounds": rounds, "messages": msgs, "bytes": byts}


def _extra_bytes(dev: DeviceTable | None) -> int:
    if dev is None:
        return 0
    if dev.label_hist is not None:
        return 4 * int(dev.label_hist.shape[1])
    if dev.grads is not None:
        return 4 * int(dev.grads.shape[1])
    return 0


# ------------------------------------------------------------------------------ main


def full_reformation(
    g: GraphLike, devices: DeviceTable | None = None, config: PlanConfig | None = None
) -> list[np.ndarray]:
    """The planner's formation of every connected component of ``g`` (singleton components
    are their own cluster); the planner needs a connected graph, a churned graph may not be."""
    g = as_graph(g)
    cfg = config or PlanConfig(fastest_mixing=False, schedule=False, theorem2=False)
    dev = devices or homogeneous_devices(g.n)
    out: list[np.ndarray] = []
    for comp in _components(_adj(g), np.arange(g.n)):
        if len(comp) == 1:
            out.append(comp)
            continue
        sub = g.subgraph(Positions(comp))
        p = plan_formation(sub, dev.subset(comp), cfg)
        out.extend(comp[c] for c in p.clusters)
    return _sorted_clusters(out)


def repair_formation(
    old: OldFormation,
    g_new: GraphLike,
    devices: DeviceTable | None = None,
    config: PlanConfig | None = None,
    rule: RepairRule | None = None,
    *,
    merge_below: int | None = None,
    force: str | None = None,
) -> RepairResult:
    """Repair ``old`` for the new graph (nodes matched by name; see the module docstring).
    ``force="repair"``/``"full"`` overrides the rule; ``merge_below`` defaults to a third of
    the old median cluster size (at least 2)."""
    t0 = time.perf_counter()
    g = as_graph(g_new)
    cfg = config or PlanConfig(fastest_mixing=False, schedule=False, theorem2=False)
    cfg.validate()
    rule = rule or RepairRule()
    if force not in (None, "repair", "full"):
        raise SsdflError(f"force must be 'repair' or 'full', got {force!r}")
    new_names = [_key(x) for x in g.node_names()]
    pos = {k: i for i, k in enumerate(new_names)}
    if len(pos) != g.n:
        raise FormationUpdateError("the new graph has duplicate node names")
    old_keys = [_key(x) for x in old.names]
    kept = [k for k in old_keys if k in pos]
    if not kept:
        raise FormationUpdateError(
            f"no device of the old formation ({len(old_keys)} devices, e.g. "
            f"{old_keys[:3]}) is a node of the new graph (e.g. {new_names[:3]}): the old "
            "formation is from another graph"
        )
    left = [k for k in old_keys if k not in pos]
    old_set = set(old_keys)
    joined = [k for k in new_names if k not in old_set]
    A = _adj(g)
    R = record_bytes(g, _extra_bytes(devices))
    changed_frac = (len(left) + len(joined)) / max(len(old_keys), 1)

    # 1. departures: present members, split into connected fragments
    clusters: list[np.ndarray] = []
    changed: list[bool] = []
    n_split = 0
    for c in old.clusters:
        members = np.array(sorted(pos[old_keys[u]] for u in c if old_keys[u] in pos),
                           dtype=np.int64)  # fmt: skip
        if len(members) == 0:
            continue
        frags = _components(A, members)
        lost = len(members) < len(c)
        n_split += len(frags) > 1
        for f in frags:
            clusters.append(f)
            changed.append(lost or len(frags) > 1)
    # 2. joiners: to the neighbouring cluster with the most edges, in rounds
    lab = np.full(g.n, -1, dtype=np.int64)
    for i, c in enumerate(clusters):
        lab[c] = i
    pending = [pos[k] for k in joined]
    n_attached = 0
    while pending:
        nxt = []
        assign: list[tuple[int, int]] = []
        for u in pending:
            nb = A.indices[A.indptr[u] : A.indptr[u + 1]]
            nl = lab[nb]
            nl = nl[nl >= 0]
            if len(nl) == 0:
                nxt.append(u)
                continue
            ids, cnt = np.unique(nl, return_counts=True)
            sizes = np.array([len(clusters[i]) for i in ids])
            best = sorted(zip(-cnt, sizes, ids))[0][2]
            assign.append((u, int(best)))
        if not assign:
            break
        for u, i in assign:
            clusters[i] = np.append(clusters[i], u)
            lab[u] = i
            changed[i] = True
            n_attached += 1
        pending = nxt
    n_joiner_clusters = 0
    if pending:  # joiners adjacent only to joiners: their own connected clusters
        for comp in _components(A, np.array(sorted(pending), dtype=np.int64)):
            clusters.append(comp)
            changed.append(True)
            n_joiner_clusters += 1
    affected_nodes = np.zeros(g.n, dtype=bool)
    for c, ch in zip(clusters, changed):
        if ch:
            affected_nodes[c] = True
    affected_frac = float(affected_nodes.mean()) if g.n else 0.0
    mode = force or rule.decide(changed_frac, affected_frac)
    full_flood = _flood_components(g, A, np.arange(g.n), R)
    base = {
        "joined": joined, "left": left, "changed_fraction": changed_frac,
        "affected_fraction": affected_frac, "old_clusters": len(old.clusters),
    }  # fmt: skip
    rule_txt = (
        f"full re-formation if > {rule.max_changed:.0%} of the devices changed or > "
        f"{rule.max_affected:.0%} are in changed clusters"
    )
    if mode == "full":
        new = full_reformation(g, devices, cfg)
        tr = {"mode": "full", **full_flood, "full_bytes": full_flood["bytes"],
              "full_messages": full_flood["messages"]}  # fmt: skip
        changes = {**base, "clusters_before": len(old.clusters), "clusters_after": len(new)}
        return RepairResult(new, "full", changes, tr, time.perf_counter() - t0, rule_txt,
                            np.ones(g.n, dtype=bool))  # fmt: skip

    # 3. admissibility of the changed clusters
    S = len(clusters)
    n_resplit = 0
    out: list[np.ndarray] = []
    out_changed: list[bool] = []
    for c, ch in zip(clusters, changed):
        if ch and len(c) > 1 and not _admissible(g, c, S, cfg):
            parts = _split_until_admissible(g, np.sort(c), S - 1, cfg)
            n_resplit += 1
            S += len(parts) - 1
            out.extend(parts)
            out_changed.extend([True] * len(parts))
        else:
            out.append(np.sort(c))
            out_changed.append(ch)
    # 4. merge changed clusters that became too small
    old_sizes = [len(c) for c in old.clusters]
    mb = merge_below if merge_below is not None else max(2, math.ceil(np.median(old_sizes) / 3))
    n_merged = 0
    lab = np.empty(g.n, dtype=np.int64)
    for i, c in enumerate(out):
        lab[c] = i
    alive = [True] * len(out)
    order = sorted((len(c), i) for i, c in enumerate(out) if out_changed[i] and len(c) < mb)
    for _, i in order:
        if not alive[i] or len(out[i]) >= mb:
            continue
        c = out[i]
        nb = np.concatenate([A.indices[A.indptr[u] : A.indptr[u + 1]] for u in c])
        nl = lab[nb]
        nl = nl[(nl != i)]
        if len(nl) == 0:
            continue
        ids, cnt = np.unique(nl, return_counts=True)
        S_now = sum(alive)
        for _, j in sorted(zip(-cnt, ids)):
            union = np.sort(np.concatenate([out[j], c]))
            if _admissible(g, union, S_now - 1, cfg):
                out[j] = union
                lab[c] = j
                alive[i] = False
                out_changed[j] = True
                n_merged += 1
                break
    final = _sorted_clusters([c for c, a in zip(out, alive) if a])
    aff = np.zeros(g.n, dtype=bool)
    for c, a, ch in zip(out, alive, out_changed):
        if a and ch:
            aff[c] = True
    aff |= affected_nodes
    # traffic: hellos of joiners, flooding inside the affected region, notifications
    jn = np.array([pos[k] for k in joined], dtype=np.int64)
    deg = np.diff(A.indptr)
    hello_msgs = int(2 * deg[jn].sum()) if len(jn) else 0
    hello_bytes = int((deg[jn] * (R[jn] + ID_BYTES)).sum()) if len(jn) else 0
    flood = {"rounds": 0, "messages": 0, "bytes": 0}
    for c, a, chg in zip(out, alive, out_changed):
        if a and chg and len(c) > 1:
            ft = flooding_traffic(g.subgraph(Positions(c)), R[c])
            flood["rounds"] = max(flood["rounds"], ft.rounds)
            flood["messages"] += ft.messages
            flood["bytes"] += ft.bytes
    cut = int(A[aff][:, ~aff].sum()) if aff.any() and (~aff).any() else 0
    tr = {
        "mode": "repair",
        "rounds": flood["rounds"] + (1 if len(jn) else 0) + (1 if cut else 0),
        "messages": hello_msgs + flood["messages"] + cut,
        "bytes": hello_bytes + flood["bytes"] + cut * ID_BYTES,
        "hello_messages": hello_msgs, "flood_messages": flood["messages"],
        "notify_messages": cut, "full_bytes": full_flood["bytes"],
        "full_messages": full_flood["messages"],
    }  # fmt: skip
    changes = {
        **base, "clusters_before": len(old.clusters), "clusters_after": len(final),
        "split_disconnected": n_split, "joiners_attached": n_attached,
        "joiner_clusters": n_joiner_clusters,
        "resplit_inadmissible": n_resplit, "merged_small": n_merged,
        "affected_devices": int(aff.sum()), "merge_below": mb,
    }  # fmt: skip
    return RepairResult(final, "repair", changes, tr, time.perf_counter() - t0, rule_txt, aff)


# ------------------------------------------------------------------------------ files / CLI


def read_old_formation(path: str | os.PathLike[str]) -> OldFormation:
    """Read an old ``formation.json`` (``ssdfl.plan/2`` or ``ssdfl.plan/1``) with
    :func:`~ssdfl.planner.formation_io.read_formation`; every problem is a
    :class:`FormationUpdateError` naming the file."""
    try:
        rec = read_formation(path)
    except FormationFileError as exc:
        raise FormationUpdateError(str(exc)) from None
    return OldFormation(list(rec.names), list(rec.clusters))


def predicted_losses(
    g: Graph, res_clusters: list[np.ndarray], devices: DeviceTable | None, cfg: PlanConfig
) -> dict[str, float] | None:
    """Analytic predicted device loss (:func:`ssdfl.planner.predict.predict_formations`) of the
    repaired formation, ``S = 1`` and ``S = N`` on ``g`` at ``cfg``'s budget; ``None`` when the
    predictor does not know ``cfg.model``."""
    dev = devices or homogeneous_devices(g.n)
    lab = np.empty(g.n, dtype=np.int64)
    for i, c in enumerate(res_clusters):
        lab[c] = i
    forms = [lab, np.zeros(g.n, dtype=np.int64), np.arange(g.n, dtype=np.int64)]
    try:
        p = predict_formations(g, forms, dev, cfg.eta, cfg.tau_a, cfg.tau_r, make_budget(cfg),
                               None, cfg.mixing_rule, cfg.model)  # fmt: skip
    except SsdflError:
        return None
    return {"formation": float(p[0]["predicted"]), "S=1": float(p[1]["predicted"]),
            "S=N": float(p[2]["predicted"]), "cycles": int(p[0]["cycles"]),
            "cycles S=1": int(p[1]["cycles"]), "cycles S=N": int(p[2]["cycles"])}  # fmt: skip


def repaired_plan(
    g: Graph,
    res: RepairResult,
    devices: DeviceTable | None,
    cfg: PlanConfig,
    notes: list[str] | None = None,
    predicted: dict[str, float] | None = None,
) -> Any:
    """A :class:`~ssdfl.planner.plan.FormationPlan` (same ``formation.json`` schema) whose one
    formation is the repaired (or re-formed) clusters, with the planner's per-cluster numbers,
    its ``J`` (for information), and — given ``predicted`` (:func:`predicted_losses`) — its
    predicted device loss next to ``S = 1`` and ``S = N`` as alternatives."""
    from dataclasses import asdict

    dev = devices or homogeneous_devices(g.n)
    t = candidate_table(g, res.clusters, dev, cfg)
    J = formation_objective(t, list(range(len(res.clusters))), g.n)
    adm = t.admissible(len(res.clusters), cfg)
    per = [
        {"nodes": c.tolist(), "size": int(t.size[j]), "lambda2": float(t.lam[j]),
         "phi": float(t.phi[j]), "phi_lower": float(t.phi_lower[j]),
         "phi_exact": bool(t.phi_exact[j]), "heterogeneity": float(t.H[j]),
         "between": float(t.B[j]), "gap_intra": float(t.gamma_intra[j]),
         "admissible": bool(adm[j])}
        for j, c in enumerate(res.clusters)
    ]  # fmt: skip
    traffic = traffic_summary(g, res.clusters, dev, cfg)
    traffic["update"] = res.traffic
    S = len(res.clusters)
    what = "repair of the old formation" if res.mode == "repair" else (
        "full re-formation (the planner's recommendation for the new graph)")  # fmt: skip
    rec: dict[str, Any] = {
        "id": "repair" if res.mode == "repair" else "full re-formation", "S": S,
        "source": what, "budget": {"kind": cfg.budget, "cycles": cfg.cycles},
        "model": cfg.model, "ties": [], "baselines": None, "cluster": S > 1,
    }  # fmt: skip
    alts: list[dict[str, Any]] = []
    if predicted is not None:
        rec.update(predicted=predicted["formation"], cycles=predicted["cycles"])
        rec["verdict"] = (
            f"Updated formation ({what}): S = {S}, predicted device loss "
            f"{predicted['formation']:.4g} at this {cfg.budget} budget (analytic predictor) vs "
            f"{predicted['S=1']:.4g} for S = 1 and {predicted['S=N']:.4g} for S = N; "
            f"rule: {res.rule}."
        )
        alts = [
            {"id": "S=1", "S": 1, "source": "no clustering", "role": "alternative",
             "predicted": predicted["S=1"], "cycles": predicted["cycles S=1"],
             "clusters": [list(range(g.n))], "rank": 2},
            {"id": "S=N", "S": g.n, "source": "every device alone", "role": "alternative",
             "predicted": predicted["S=N"], "cycles": predicted["cycles S=N"],
             "clusters": [[u] for u in range(g.n)], "rank": 3},
        ]  # fmt: skip
    else:
        rec["verdict"] = f"Updated formation ({what}): S = {S}; rule: {res.rule}."
    return FormationPlan(
        n=g.n, labels=g.node_names(), clusters=res.clusters, objective=J, config=asdict(cfg),
        devices_source=dev.source, per_cluster=per,
        by_S=[{"S": S, "objective": J, "feasible": True,
               "clusters": [c.tolist() for c in res.clusters]}],
        greedy={"sequence": [], "chosen_S": None, "objective": None}, exhaustive=None,
        bounds={}, fastest_mixing=None, schedule=None, traffic=traffic,
        notes=[*(notes or []), f"updated formation ({res.mode}) from an old formation.json"],
        recommendation=rec, alternatives=alts, j_optimum=None,
    )  # fmt: skip


def update_formation(
    g: Graph,
    old_path: str | os.PathLike[str],
    devices: DeviceTable | None,
    cfg: PlanConfig,
    out: str | os.PathLike[str],
    graph_name: str = "graph",
) -> tuple[Any, RepairResult, Path]:
    """``ssdfl form NEW_GRAPH --update OLD/formation.json``: read, repair (or re-form by the
    rule, including the predicted-loss check against ``S = 1`` / ``S = N``), write
    ``formation.json`` and ``report.md`` (with a section on what changed and what it cost)
    into ``out``."""
    old = read_old_formation(old_path)
    if g.n > 1 and not is_connected(g):
        raise DisconnectedGraphError(
            "the new D2D graph is disconnected: SSD-FL needs one connected graph"
        )
    cfg_fast = PlanConfig(**{**cfg.__dict__, "fastest_mixing": False, "schedule": False,
                             "theorem2": False})  # fmt: skip
    rule = RepairRule()
    res = repair_formation(old, g, devices, cfg_fast, rule)
    pred = predicted_losses(g, res.clusters, devices, cfg)
    if res.mode == "repair" and pred is not None:
        ref = min(pred["S=1"], pred["S=N"])
        if rule.degraded(pred["formation"], ref):
            p_rep = pred["formation"]
            res = repair_formation(old, g, devices, cfg_fast, rule, force="full")
            res.rule += (
                f"; the repair's predicted device loss {p_rep:.4g} was > "
                f"{1 + rule.max_degradation:.2f} × {ref:.4g}, the better of S = 1 and S = N"
            )
            pred = predicted_losses(g, res.clusters, devices, cfg)
    plan = repaired_plan(g, res, devices, cfg, predicted=pred)
    report = write_report(plan, g, out, graph_name=graph_name)
    ch, tr = res.changes, res.traffic

    def names(xs: list[str]) -> str:
        return ", ".join(xs[:12]) + (" …" if len(xs) > 12 else "") if xs else "none"

    lines = [
        "", "## Update from the old formation", "",
        f"- old formation: `{old_path}` ({len(old.names)} devices, {ch['old_clusters']} clusters)",
        f"- left ({len(ch['left'])}): {names(ch['left'])}",
        f"- joined ({len(ch['joined'])}): {names(ch['joined'])}",
        f"- changed devices: {ch['changed_fraction']:.1%} of the old ones; devices in changed "
        f"clusters: {ch['affected_fraction']:.1%}",
        f"- rule: {res.rule} → **{res.mode}**",
    ]  # fmt: skip
    if res.mode == "repair":
        lines += [
            f"- clusters: {ch['clusters_before']} → {ch['clusters_after']} "
            f"({ch['split_disconnected']} split because disconnected, "
            f"{ch['joiners_attached']} joiners attached to a neighbouring cluster, "
            f"{ch['resplit_inadmissible']} re-split as inadmissible, {ch['merged_small']} "
            f"small clusters merged)",
            f"- cost: {tr['messages']} D2D messages, {tr['bytes'] / 1e3:.1f} kB in "
            f"{tr['rounds']} rounds ({tr['hello_messages']} hello/answer, "
            f"{tr['flood_messages']} flooding in the affected region, {tr['notify_messages']} "
            f"notifications) vs {tr['full_messages']} messages, {tr['full_bytes'] / 1e3:.1f} kB "
            "for a full re-formation",
        ]  # fmt: skip
    else:
        lines.append(
            f"- cost: {tr['messages']} D2D messages, {tr['bytes'] / 1e3:.1f} kB "
            f"({tr['rounds']} rounds), the full initialization flooding"
        )
    lines.append(f"- compute: {res.seconds:.2f} s")
    text = report.read_text(encoding="utf-8") + "\n".join(lines) + "\n"
    with atomic_write(report) as fh:
        fh.write(text)
    return plan, res, report
