"""The ``(τ_a, τ_r)`` schedule search by predicted device loss, and traffic per cycle and for
the one-time initialization."""

from __future__ import annotations

import dataclasses
from dataclasses import fields
from typing import Any

import numpy as np

from ssdfl._progress import get_logger, stage
from ssdfl.clusters.flooding import flooding_traffic, flooding_traffic_sparse, record_bytes
from ssdfl.clusters.labels import cluster_labels, intra_cluster_edges
from ssdfl.errors import SsdflError
from ssdfl.graphs.graph import Graph
from ssdfl.planner.config import PlanConfig
from ssdfl.planner.predict import Budget, budget_units, predict_formations
from ssdfl.theory.devices import DeviceTable

__all__ = ["flooding_traffic_sparse", "make_budget", "search_schedule", "traffic_summary"]

log = get_logger(__name__)


def make_budget(cfg: PlanConfig) -> Budget:
    """The :class:`~ssdfl.planner.predict.Budget` of ``cfg`` (``budget``, ``cycles`` and, when
    given and supported, the time-budget link parameters)."""
    known = {f.name for f in fields(Budget)}
    kw: dict[str, Any] = {}
    for name, attr in (("bandwidth", "bandwidth"), ("latency", "latency"),
                       ("step_time", "compute")):  # fmt: skip
        v = getattr(cfg, name)
        if v is None:
            continue
        if attr not in known:
            raise SsdflError(f"--{name.replace('_', '-')} is not supported by this budget model")
        kw[attr] = v
    b = Budget(cfg.budget, cfg.cycles, **kw)
    b.validate()
    return b


def search_schedule(
    g: Graph, clusters: list[np.ndarray], dev: DeviceTable, cfg: PlanConfig,
    link_cost: np.ndarray | None = None,
) -> dict[str, Any]:  # fmt: skip
    """The ``(τ_a, τ_r)`` grid for the chosen formation, ranked by predicted device loss at the
    plan's budget (:func:`ssdfl.planner.predict.predict_formations`, the same predictor that
    chose the formation). A byte budget stays the one of the planned schedule (the same bytes
    for every grid point); a cycle budget gives every schedule ``cfg.cycles`` cycles. The best
    schedule has the lowest prediction (ties: fewer messages per cycle). Returns ``grid`` rows
    (``tau_a``, ``tau_r``, ``predicted``, ``cycles``, ``messages_per_cycle``), ``best`` and
    ``planned`` (the row of ``(cfg.tau_a, cfg.tau_r)``, ``None`` if off the grid), or
    ``{"error": message}`` when the predictor cannot rank schedules for this model."""
    grid = [(ta, tr) for ta in cfg.tau_a_grid for tr in cfg.tau_r_grid]
    if (cfg.tau_a, cfg.tau_r) not in grid:
        grid.append((cfg.tau_a, cfg.tau_r))
    labels = cluster_labels(clusters, g.n)
    m_intra = intra_cluster_edges(g, labels)
    rows = []
    with stage(log, f"schedule search over {len(grid)} (τ_a, τ_r) by predicted device loss"):
        try:
            b = make_budget(cfg)
            if b.kind == "bytes":
                b = dataclasses.replace(b, units=budget_units(g, b, cfg.tau_r, link_cost))
            for ta, tr in grid:
                p = predict_formations(g, [labels], dev, cfg.eta, ta, tr, b, link_cost,
                                       cfg.mixing_rule, cfg.model)[0]  # fmt: skip
                rows.append({"tau_a": ta, "tau_r": tr, "predicted": float(p["predicted"]),
                             "cycles": int(p["cycles"]),
                             "messages_per_cycle": 2 * (ta * m_intra + tr * g.m)})  # fmt: skip
        except SsdflError as exc:
            return {"error": str(exc), "grid": [], "best": None, "planned": None}
    ok = [r for r in rows if np.isfinite(r["predicted"])]
    best = (
        min(ok, key=lambda r: (round(r["predicted"], 12), r["messages_per_cycle"])) if ok else None
    )
    planned = next((r for r in rows if (r["tau_a"], r["tau_r"]) == (cfg.tau_a, cfg.tau_r)), None)
    return {"criterion": "predicted device loss", "budget": cfg.budget, "grid": rows,
            "best": best, "planned": planned}  # fmt: skip


def traffic_summary(
    g: Graph, clusters: list[np.ndarray], dev: DeviceTable, cfg: PlanConfig
) -> dict[str, Any]:
    m_intra = intra_cluster_edges(g, cluster_labels(clusters, g.n))
    per_msg = 4 * cfg.model_params
    extra = 0
    if dev.label_hist is not None:
        extra = 4 * dev.label_hist.shape[1]
    elif dev.grads is not None:
        extra = 4 * dev.grads.shape[1]
    init = flooding_traffic(g, record_bytes(g, extra))
    rounds, messages, nbytes = init.rounds, init.messages, init.bytes
    intra = 2 * m_intra * cfg.tau_a
    inter = 2 * g.m * cfg.tau_r
    return {
        "model_params": cfg.model_params,
        "intra_messages_per_cycle": intra,
        "inter_messages_per_cycle": inter,
        "bytes_per_cycle": (intra + inter) * per_msg,
        "init_rounds": rounds,
        "init_messages": messages,
        "init_bytes": nbytes,
    }
