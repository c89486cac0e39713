"""Candidate clusters of the planner: the paper's iterative splitting (with threshold 0 and
under the Cheeger threshold ``Φ_min^S``), ``partition`` for ``k = 2..k_max``, singletons and, on
small graphs, every connected subset. All candidates are connected."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ssdfl.errors import SsdflError
from ssdfl.graphs.graph import Graph
from ssdfl.planner.config import PlanConfig

__all__ = ["connected_subsets", "generate_candidates"]


def generate_candidates(
    g: Graph, cfg: PlanConfig, progress: Callable[[str], None] | None = None
) -> tuple[list[np.ndarray], list[list[np.ndarray]], list[list[np.ndarray]]]:
    """Candidate clusters (sorted node arrays, deduplicated), the paper's splitting sequence
    (``split_hierarchy`` with threshold 0: always split the weakest splittable cluster) and the
    same loop under the Cheeger threshold ``Φ_min^S`` (``measure="mixing"`` for both)."""
    from ssdfl.clusters.clustering import partition, split_hierarchy
    from ssdfl.theory.bounds import phi_min_rule

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
