"""Fastest-mixing (FMMC) weights per cluster and for the whole graph."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp

from ssdfl.graphs.graph import Graph
from ssdfl.planner.config import PlanConfig

__all__ = ["fastest_mixing_weights"]


def fastest_mixing_weights(
    g: Graph, clusters: list[np.ndarray], cfg: PlanConfig, per_cluster: list[dict[str, Any]],
    say: Callable[[str], None], notes: list[str],
) -> dict[str, Any]:  # fmt: skip
    from ssdfl.graphs.fastest_mixing import fastest_mixing

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
