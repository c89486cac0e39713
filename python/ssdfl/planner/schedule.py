"""The ``(τ_a, τ_r)`` schedule search on the Theorem-2 bound, and traffic per cycle and for
the one-time initialization."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ssdfl.clusters.labels import cluster_labels, intra_cluster_edges
from ssdfl.graphs.graph import Graph
from ssdfl.planner.config import PlanConfig
from ssdfl.planner.scoring import CandidateTable
from ssdfl.planner.theorem2 import bound_by_cycle
from ssdfl.theory.devices import DeviceTable

__all__ = ["search_schedule", "traffic_summary"]


def search_schedule(
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


def traffic_summary(
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
