"""Cluster labels: the one validation of a formation given as labels, and the helpers every
layer above uses (theory, engines, planner).

A formation is ``(N,)`` integer labels (cluster id per device), a list of node-index arrays, or
any object with a ``labels`` or ``clusters`` attribute (e.g. :class:`~ssdfl.clusters.Formation`).
:func:`check_labels` validates labels as they are (ids kept); :func:`cluster_labels` turns
any of the forms into labels ``0..S-1`` numbered by first appearance.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ssdfl.errors import SsdflError
from ssdfl.graphs.graph import GraphLike, as_graph

__all__ = ["check_labels", "cluster_indices", "cluster_labels", "intra_cluster_edges"]


def check_labels(labels: Any, n: int | None = None, *, what: str = "cluster labels") -> np.ndarray:
    """``labels`` as a 1-D int64 array of ``n`` entries (any ``n`` if ``None``) or
    :class:`SsdflError`: one cluster id (an integer) per device."""
    lab = np.asarray(labels)
    if lab.ndim != 1 or lab.dtype.kind not in "iu" or (n is not None and lab.shape != (n,)):
        size = "" if n is None else f"{n} "
        raise SsdflError(
            f"{what} must be a 1-D array of {size}integers (one cluster id per device), "
            f"got shape {lab.shape} dtype {lab.dtype}"
        )
    return lab.astype(np.int64)


def cluster_indices(labels: np.ndarray) -> list[np.ndarray]:
    """Member indices of each cluster, in ``np.unique(labels)`` order."""
    lab = check_labels(labels)
    return [np.flatnonzero(lab == s) for s in np.unique(lab)]


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


def intra_cluster_edges(g: GraphLike, labels: np.ndarray) -> int:
    """Number of edges of ``g`` whose endpoints share a cluster label (``Σ_s m_s``)."""
    g = as_graph(g)
    lab = np.asarray(labels)
    if lab.shape != (g.n,):
        raise SsdflError(f"labels must have shape ({g.n},), got {lab.shape}")
    s, t, _ = g.edges()
    return int(np.count_nonzero(lab[s] == lab[t]))
