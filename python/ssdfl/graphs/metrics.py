"""Cut metrics and connectivity (networkx semantics, weighted; computed in Rust).

Definitions, for a node set ``S`` with complement ``S̄ = V∖S``:

- weighted degree ``d_u = Σ_v w_uv``; volume ``vol(S) = Σ_{u∈S} d_u``;
- ``cut(S, T) = Σ w_uv`` over edges with one end in ``S`` and the other in ``T``;
  ``cut(S) = cut(S, S̄)``;
- conductance ``cut(S) / min(vol S, vol S̄)``;
- normalized cut ``cut(S)·(1/vol S + 1/vol S̄)``;
- edge expansion ``cut(S) / min(|S|, |S̄|)``.
"""

from __future__ import annotations

import numpy as np

from ssdfl import _core
from ssdfl.graphs.graph import GraphLike, NodeSet, as_graph, as_mask

__all__ = [
    "conductance",
    "connected_components",
    "cut_size",
    "edge_expansion",
    "is_connected",
    "is_set_connected",
    "normalized_cut",
    "volume",
]


def volume(g: GraphLike, S: NodeSet) -> float:
    """``vol(S) = Σ_{u∈S} d_u`` with weighted degrees."""
    g = as_graph(g)
    return _core.volume(g._core, as_mask(g, S))


def cut_size(g: GraphLike, S: NodeSet, T: NodeSet | None = None) -> float:
    """Total weight of edges between ``S`` and ``T`` (default ``T = V∖S``), each edge once."""
    g = as_graph(g)
    s = as_mask(g, S)
    if T is None:
        return _core.cut_size(g._core, s)
    return _core.cut_between(g._core, s, as_mask(g, T))


def conductance(g: GraphLike, S: NodeSet) -> float:
    """``cut(S) / min(vol S, vol S̄)``; ``S`` must be a non-empty proper subset."""
    g = as_graph(g)
    return _core.conductance(g._core, as_mask(g, S))


def normalized_cut(g: GraphLike, S: NodeSet) -> float:
    """``cut(S)·(1/vol S + 1/vol S̄)``."""
    g = as_graph(g)
    return _core.normalized_cut(g._core, as_mask(g, S))


def edge_expansion(g: GraphLike, S: NodeSet) -> float:
    """``cut(S) / min(|S|, |S̄|)``."""
    g = as_graph(g)
    return _core.edge_expansion(g._core, as_mask(g, S))


def connected_components(g: GraphLike) -> list[np.ndarray]:
    """Connected components as sorted arrays of node indices, ordered by smallest member."""
    g = as_graph(g)
    labels, count = _core.connected_components(g._core)
    order = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[order], np.arange(count + 1))
    return [order[bounds[i] : bounds[i + 1]] for i in range(count)]


def component_labels(g: GraphLike) -> np.ndarray:
    """Component label of every node (``0..c-1``, numbered by smallest member)."""
    g = as_graph(g)
    return _core.connected_components(g._core)[0]


def is_connected(g: GraphLike) -> bool:
    """True if the graph is non-empty and has one connected component."""
    g = as_graph(g)
    return g.n > 0 and _core.connected_components(g._core)[1] == 1


def is_set_connected(g: GraphLike, S: NodeSet) -> bool:
    """True if the subgraph induced by ``S`` is connected (``False`` for an empty set)."""
    g = as_graph(g)
    return _core.is_set_connected(g._core, as_mask(g, S))
