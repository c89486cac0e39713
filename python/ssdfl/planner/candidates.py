"""Candidate clusters of the planner: the paper's iterative splitting (with threshold 0 and
under the Cheeger threshold ``Φ_min^S``), ``partition`` for ``k = 2..k_max``, singletons and, on
small graphs, every connected subset. All candidates are connected.

:func:`formation_candidates` lists whole formations for the user-facing objective of
:mod:`ssdfl.planner.predict`: ``S = 1``, ``S = N``, the paper's greedy pick, the splitting loop,
random connected clusters and the MILP picks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ssdfl import _core
from ssdfl.clusters.clustering import partition, split_hierarchy
from ssdfl.clusters.labels import cluster_labels
from ssdfl.clusters.partitions import random_connected_partition
from ssdfl.errors import SsdflError
from ssdfl.graphs.graph import Graph
from ssdfl.planner.config import PlanConfig
from ssdfl.theory.bounds import phi_min_rule

__all__ = ["connected_subsets", "formation_candidates", "generate_candidates"]


def generate_candidates(
    g: Graph, cfg: PlanConfig, progress: Callable[[str], None] | None = None
) -> tuple[list[np.ndarray], list[list[np.ndarray]], list[list[np.ndarray]]]:
    """Candidate clusters (sorted node arrays, deduplicated), the paper's splitting sequence
    (``split_hierarchy`` with threshold 0: always split the weakest splittable cluster) and the
    same loop under the Cheeger threshold ``Φ_min^S`` (``measure="mixing"`` for both)."""

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

    if g.n > 20:
        raise SsdflError(f"enumerating connected subsets of {g.n} nodes is too large (max 20)")
    out = []
    for bits in range(1, 1 << g.n):
        mask = np.array([(bits >> u) & 1 for u in range(g.n)], dtype=bool)
        if _core.is_set_connected(g._core, mask):
            out.append(np.flatnonzero(mask))
    return out


SPLIT_MAX_S = 256
"""Largest ``S`` for which :func:`formation_candidates` runs the paper's splitting loop."""


def formation_candidates(
    g: Graph,
    plan: Any | None = None,
    rng: np.random.Generator | int | None = 0,
    n_random: int = 2,
    s_values: list[int] | None = None,
) -> list[dict[str, Any]]:
    """Whole formations the user-facing objective chooses from (``docs/formation.md``): always
    ``S = 1`` (no clustering), ``S = N`` (every device alone: local steps plus inter-cluster
    gossip), the paper's greedy pick and the splitting loop's formations, ``n_random`` random
    connected partitions per ``S`` (``random_connected_partition``), and, given a
    :class:`~ssdfl.planner.plan.FormationPlan`, its MILP pick and MILP optimum per ``S``.
    ``s_values``: the ``S`` of the splitting/random formations (default: about 6 values
    spread over ``2..N−1``; the splitting loop only up to ``SPLIT_MAX_S``). Each entry:
    ``id``, ``S``, ``labels`` (``(N,)``), ``source``.
    A formation found twice keeps one entry whose id and source name both (``"milp-J S=2 =
    greedy S=2"``)."""

    n = g.n
    r = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    if s_values is None:
        s_values = sorted({round(float(x)) for x in np.geomspace(2, max(2, n - 1), 6)} - {1, n})
    out: list[dict[str, Any]] = []
    seen: dict[tuple[int, ...], dict[str, Any]] = {}

    def add(ident: str, labels: Any, source: str, yardstick: bool = False) -> None:
        lab = cluster_labels(labels, n)
        key = tuple(lab.tolist())
        if key in seen:
            if yardstick:  # a random draw equal to a formation already listed: nothing new
                return  # (and no seed-dependent id on a deterministic candidate)
            seen[key]["id"] += f" = {ident}"
            seen[key]["source"] += f"; {source}"
            return
        seen[key] = {"id": ident, "S": int(lab.max()) + 1, "labels": lab, "source": source,
                     "yardstick": yardstick}  # fmt: skip
        out.append(seen[key])

    add("S=1", np.zeros(n, dtype=np.int64), "no clustering")
    add("S=N", np.arange(n, dtype=np.int64), "every device alone")
    if plan is not None:
        jo = getattr(plan, "j_optimum", None)  # a final plan: J's optimum is not its pick
        if jo is not None and jo.get("clusters"):
            add(f"milp-J S={jo['S']}", [np.asarray(c) for c in jo["clusters"]],
                "MILP pick of the Lemma-1/2 objective J")  # fmt: skip
        else:
            add(f"milp-J S={plan.S}", plan.assignment, "MILP pick of the Lemma-1/2 objective J")
        gr = plan.greedy
        if gr.get("clusters"):
            add(f"greedy S={gr['chosen_S']}", [np.asarray(c) for c in gr["clusters"]],
                "paper's greedy pick")  # fmt: skip
    # the splitting loop costs one Fiedler split per step: run it only up to SPLIT_MAX_S
    # (larger S come from the MILP and from random partitions)
    split_to = min(max(s_values, default=1), SPLIT_MAX_S)
    seq = split_hierarchy(g, 0.0, measure="mixing", max_clusters=split_to)
    for f in seq:
        if len(f.clusters) in s_values:
            add(f"split S={len(f.clusters)}", list(f.clusters), "paper's splitting loop")
    if plan is not None:
        for row in plan.by_S:
            if row.get("feasible") and row["S"] in s_values and row.get("clusters"):
                add(f"milp S={row['S']}", [np.asarray(c) for c in row["clusters"]],
                    "MILP optimum of J for this S")  # fmt: skip
    for S in s_values:
        for j in range(n_random):
            add(
                f"random S={S} #{j + 1}",
                random_connected_partition(g, S, r),
                "random connected clusters (yardstick, never the pick)",
                yardstick=True,
            )
    return out
