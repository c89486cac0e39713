"""Fastest-mixing (FMMC) weights per cluster and for the whole graph.

Method per problem (``docs/formation.md``): the SDP (cvxpy) for clusters of at most
:data:`ssdfl.graphs.fastest_mixing.SDP_MAX` devices when the formation has at most
:data:`SDP_CLUSTERS` such clusters, otherwise the warm-started projected subgradient method
of Boyd, Diaconis & Xiao (feasible, approximately optimal); the whole graph up to
:data:`WHOLE_GRAPH_MAX` devices."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from ssdfl._progress import get_logger, stage
from ssdfl.graphs.fastest_mixing import SDP_MAX, fastest_mixing
from ssdfl.graphs.graph import Graph, Positions
from ssdfl.planner.config import PlanConfig

__all__ = ["SDP_CLUSTERS", "WHOLE_GRAPH_MAX", "fastest_mixing_weights"]

log = get_logger(__name__)

SDP_CLUSTERS = 20
"""Formations with more clusters of ≥ 2 devices use the subgradient method for every cluster."""

WHOLE_GRAPH_MAX = 300
"""Whole-graph FMMC is skipped (with a note) above this many devices."""


def _iterations(size: int, n_clusters: int) -> int:
    """Subgradient steps per problem: each costs a dense eigendecomposition (``size³``) or two
    Lanczos runs, so larger problems and formations with many clusters get fewer."""
    if size <= 100 and n_clusters <= 50:
        return 300
    return 100 if size <= 400 else 50


def fastest_mixing_weights(
    g: Graph, clusters: list[np.ndarray], cfg: PlanConfig, per_cluster: list[dict[str, Any]],
    notes: list[str],
) -> dict[str, Any]:  # fmt: skip
    out: dict[str, Any] = {"problem": "fmmc", "positive_definite": True, "clusters": []}
    multi = [c for c in clusters if len(c) > 1]
    few = len(multi) <= SDP_CLUSTERS
    with stage(log, f"fastest-mixing weights (FMMC) for {len(multi)} clusters",
               total=len(multi)) as st:  # fmt: skip
        for c, row in zip(clusters, per_cluster):
            if len(c) < 2:
                out["clusters"].append(None)
                continue
            method = "sdp" if (few and len(c) <= SDP_MAX) else "subgradient"
            iters = _iterations(len(c), len(multi))
            r = fastest_mixing(g.subgraph(Positions(c)), "fmmc", method=method, max_iter=iters)
            row["lambda2_fmmc"] = r.slem
            row["gap_ratio_fmmc"] = r.gap_ratio
            Wc = sp.triu(r.W, k=1).tocoo()
            row["fmmc_weights"] = [  # edge weights [u, v, W_uv] in graph node indices
                [int(c[a]), int(c[b]), float(w)] for a, b, w in zip(Wc.row, Wc.col, Wc.data)
            ]
            out["clusters"].append({"slem": r.slem, "baseline_slem": r.baseline_slem,
                                    "gap_ratio": r.gap_ratio, "method": r.solver})  # fmt: skip
            st.advance()
    if g.n <= WHOLE_GRAPH_MAX:
        with stage(log, "fastest-mixing weights (FMMC) for the whole graph"):
            r = fastest_mixing(g, "fmmc", max_iter=_iterations(g.n, 1))
        out["graph"] = {"slem": r.slem, "baseline_slem": r.baseline_slem,
                        "gap_ratio": r.gap_ratio, "method": r.solver}  # fmt: skip
    else:
        notes.append(f"whole-graph FMMC skipped (more than {WHOLE_GRAPH_MAX} devices)")
    return out
