"""Ready-made formations as cluster labels: random connected partitions (the cSTC yardstick
and the planner's random baselines) and the ``S``-cluster formation of the cluster search.

Both return ``(N,)`` labels ``0..S-1`` (:mod:`ssdfl.clusters.labels`). Used by the simulator
(:mod:`ssdfl.simulate`) and the planner; they simulate nothing, so they live in this layer.
"""

from __future__ import annotations

import numpy as np

from ssdfl import _core
from ssdfl.clusters import clustering
from ssdfl.clusters.labels import cluster_labels
from ssdfl.errors import DisconnectedGraphError, SsdflError
from ssdfl.graphs.graph import GraphLike, as_graph
from ssdfl.graphs.metrics import _is_connected

__all__ = ["form_clusters", "random_connected_partition"]


def random_connected_partition(
    g: GraphLike, n_clusters: int, rng: np.random.Generator | int | None = None
) -> np.ndarray:
    """Random partition of a connected graph into ``n_clusters`` connected clusters.

    ``S`` distinct seed nodes are drawn uniformly; then, until every node is assigned, an edge
    is drawn uniformly among the edges joining an assigned and an unassigned node and the
    unassigned end joins the other end's cluster. Every cluster is connected by construction
    (it grows along edges). Returns labels ``0..S-1`` (cluster ``s`` contains seed ``s``).

    Deterministic for a given seed: ``rng`` draws the seeds and a 63-bit integer that seeds
    the growth (Rust, xorshift64*). The frontier is maintained incrementally (``O(n + m)``
    expected; the first implementation rescanned every edge per step, ``O(n·m)``).
    """
    g = as_graph(g)
    r = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    if isinstance(n_clusters, bool) or not isinstance(n_clusters, (int, np.integer)):
        raise SsdflError(f"n_clusters must be an integer, got {n_clusters!r}")
    if not (1 <= n_clusters <= g.n):
        raise SsdflError(f"n_clusters must be in 1..{g.n}, got {n_clusters}")
    if not _is_connected(g):
        raise DisconnectedGraphError("random connected partitions need a connected graph")
    seeds = r.choice(g.n, size=int(n_clusters), replace=False).astype(np.int64)
    growth = int(r.integers(0, 2**63))
    return np.asarray(_core.random_connected_partition(g._core, seeds, growth), dtype=np.int64)


def form_clusters(
    g: GraphLike,
    n_clusters: int,
    how: str = "hierarchy",
    seed: int | None = 0,
    phi_min: float = 0.0,
) -> np.ndarray:
    """Clusters for SSD-FL from the cluster search (:mod:`ssdfl.clusters.clustering`): ``how`` is
    ``"partition"`` (``partition(g, S, objective="internal")``: S connected clusters maximizing
    the minimum internal conductance) or ``"hierarchy"`` (the formation with ``S`` clusters of
    ``split_hierarchy(g, phi_min)``; an error if the hierarchy stops earlier). ``S = 1``
    returns one cluster."""
    g = as_graph(g)
    if not (1 <= n_clusters <= g.n):
        raise SsdflError(f"n_clusters must be in 1..{g.n}, got {n_clusters}")
    if n_clusters == 1:
        return np.zeros(g.n, dtype=np.int64)
    if how == "partition":
        return cluster_labels(
            clustering.partition(g, n_clusters, objective="internal", seed=seed), g.n
        )
    if how == "hierarchy":
        for f in clustering.split_hierarchy(g, phi_min):
            lab = cluster_labels(f, g.n)
            if lab.max() + 1 == n_clusters:
                return lab
        raise SsdflError(f"split_hierarchy(phi_min={phi_min}) never reached {n_clusters} clusters")
    raise SsdflError(f"unknown cluster formation {how!r}; expected 'partition' or 'hierarchy'")
