"""Cluster formations for the simulator: normalization, random connected partitions (cSTC),
block-diagonal intra-cluster mixing, and an adapter to the cluster search.

A formation is given as ``(N,)`` integer labels (cluster id per device), a list of node-index
arrays, or any object with a ``labels`` or ``clusters`` attribute (e.g. the cluster search's
``Formation``); :func:`cluster_labels` (defined in :mod:`ssdfl.clusters.labels`, re-exported
here) turns each into labels ``0..S-1`` numbered by first appearance.
"""

from __future__ import annotations

import numpy as np

from ssdfl import _core
from ssdfl.clusters.labels import cluster_labels
from ssdfl.errors import DisconnectedGraphError, SsdflError
from ssdfl.graphs.graph import GraphLike, as_graph
from ssdfl.graphs.metrics import is_connected
from ssdfl.graphs.mixing import block_mixing_matrix

__all__ = [
    "cluster_labels",
    "cluster_mixing",
    "form_clusters",
    "random_connected_partition",
]


cluster_mixing = block_mixing_matrix
"""Alias of :func:`ssdfl.graphs.mixing.block_mixing_matrix` (the simulator's name for it)."""


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
    if not is_connected(g):
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
    from ssdfl.clusters import clustering

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
