"""Cluster formations for the simulator: normalization, random connected partitions (cSTC),
block-diagonal intra-cluster mixing, and an adapter to the cluster search.

A formation is given as ``(N,)`` integer labels (cluster id per device), a list of node-index
arrays, or any object with a ``labels`` or ``clusters`` attribute (e.g. the cluster search's
``Formation``); :func:`cluster_labels` turns each into labels ``0..S-1`` numbered by first
appearance.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

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


def cluster_labels(clusters: Any, n: int) -> np.ndarray:
    """``(n,)`` int64 labels ``0..S-1`` (numbered by first appearance) from labels, a list of
    node arrays, or an object with ``labels`` / ``clusters``. Every node must be covered
    exactly once."""
    obj = clusters
    if hasattr(obj, "labels") and not isinstance(obj, np.ndarray):
        obj = obj.labels
    elif hasattr(obj, "clusters") and not isinstance(obj, np.ndarray):
        obj = obj.clusters
    if isinstance(obj, np.ndarray) and obj.ndim == 1 and obj.dtype.kind in "iu":
        lab = obj.astype(np.int64)
        if lab.shape != (n,):
            raise SsdflError(f"cluster labels must have shape ({n},), got {lab.shape}")
    elif isinstance(obj, Sequence) and len(obj) > 0 and not np.isscalar(obj[0]):
        lab = np.full(n, -1, dtype=np.int64)
        for s, members in enumerate(obj):
            idx = np.asarray(members, dtype=np.int64).ravel()
            if idx.size == 0:
                raise SsdflError(f"cluster {s} is empty")
            if idx.min() < 0 or idx.max() >= n:
                raise SsdflError(f"cluster {s} has a node outside 0..{n - 1}")
            if np.any(lab[idx] >= 0) or len(np.unique(idx)) != len(idx):
                raise SsdflError(f"cluster {s} overlaps another cluster")
            lab[idx] = s
        if np.any(lab < 0):
            raise SsdflError(f"the clusters do not cover node {int(np.flatnonzero(lab < 0)[0])}")
    else:
        arr = np.asarray(obj)
        if arr.shape != (n,) or arr.dtype.kind not in "iu":
            raise TypeError(
                "clusters must be (N,) integer labels, a list of node arrays, or an object "
                "with .labels / .clusters"
            )
        lab = arr.astype(np.int64)
    _, first, inv = np.unique(lab, return_index=True, return_inverse=True)
    order = np.argsort(np.argsort(first))  # renumber by first appearance
    return order[inv].astype(np.int64)


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
    """
    g = as_graph(g)
    r = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    if not (1 <= n_clusters <= g.n):
        raise SsdflError(f"n_clusters must be in 1..{g.n}, got {n_clusters}")
    if not is_connected(g):
        raise DisconnectedGraphError("random connected partitions need a connected graph")
    s, t, _ = g.edges()
    lab = np.full(g.n, -1, dtype=np.int64)
    lab[r.choice(g.n, size=n_clusters, replace=False)] = np.arange(n_clusters)
    for _ in range(g.n - n_clusters):
        a, b = lab[s] >= 0, lab[t] >= 0
        frontier = np.flatnonzero(a != b)
        e = frontier[r.integers(len(frontier))]
        if a[e]:
            lab[t[e]] = lab[s[e]]
        else:
            lab[s[e]] = lab[t[e]]
    return lab


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
