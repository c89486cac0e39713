"""Cut metrics and connectivity (networkx names, signatures and defaults; computed in Rust).

Definitions, for node sets ``S`` and ``T`` (default ``T = V∖S``) and edge weights ``w``:

- degree ``d_u = Σ_v w_uv``; volume ``vol(S) = Σ_{u∈S} d_u``;
- ``cut(S, T) = Σ w_uv`` over edges with one end in ``S`` and the other in ``T``;
- conductance ``cut(S, T) / min(vol S, vol T)``;
- normalized cut ``cut(S, T)·(1/vol S + 1/vol T)`` (networkx's ``normalized_cut_size``);
- edge expansion ``cut(S, T) / min(|S|, |T|)``.

``weight`` is as in networkx: ``None`` (the default, as in networkx's ``cut_size``,
``volume``, ``conductance``, ``edge_expansion``) counts every edge as 1; a string uses the
weights — the edge attribute of that name for a networkx graph, the stored weights for an
:class:`~ssdfl.Graph`. So ``ssdfl.conductance(G, S)`` equals ``nx.conductance(G, S)``, and
``ssdfl.conductance(G, S, weight="weight")`` is the weighted conductance. Node sets take node
indices or node names (:func:`~ssdfl.graphs.graph.as_mask`).
"""

from __future__ import annotations

import numpy as np

from ssdfl import _core
from ssdfl.errors import SsdflError
from ssdfl.graphs.graph import Graph, GraphLike, NodeSet, as_graph, as_mask

__all__ = [
    "conductance",
    "connected_components",
    "cut_size",
    "edge_expansion",
    "is_connected",
    "is_set_connected",
    "normalized_cut",
    "normalized_cut_size",
    "volume",
    "weighted_view",
]


def weighted_view(g: GraphLike, weight: str | None) -> Graph:
    """``g`` as a :class:`Graph` weighted as networkx's ``weight=`` says: ``None`` → every
    edge 1; a string → that edge attribute of a networkx graph (missing → 1), or the stored
    weights of any other input."""
    if not isinstance(g, Graph) and type(g).__module__.split(".")[0] == "networkx":
        return Graph.from_networkx(g, weight=weight)
    g = as_graph(g)
    return g.unweighted() if weight is None else g


def _other(g: Graph, s: np.ndarray, T: NodeSet | None) -> np.ndarray:
    return ~s if T is None else as_mask(g, T)


def volume(g: GraphLike, S: NodeSet, weight: str | None = None) -> float:
    """``vol(S) = Σ_{u∈S} d_u`` (``weight=None``: ``d_u`` is the number of neighbours)."""
    g = weighted_view(g, weight)
    return _core.volume(g._core, as_mask(g, S))


def cut_size(
    g: GraphLike, S: NodeSet, T: NodeSet | None = None, weight: str | None = None
) -> float:
    """Total weight of edges between ``S`` and ``T`` (default ``T = V∖S``), each edge once."""
    g = weighted_view(g, weight)
    s = as_mask(g, S)
    if T is None:
        return _core.cut_size(g._core, s)
    return _core.cut_between(g._core, s, as_mask(g, T))


def conductance(
    g: GraphLike, S: NodeSet, T: NodeSet | None = None, weight: str | None = None
) -> float:
    """``cut(S, T) / min(vol S, vol T)`` (networkx's ``conductance``, same defaults: unweighted).

    With ``T`` omitted, ``S`` must be a non-empty proper subset of nodes of positive volume.
    """
    g = weighted_view(g, weight)
    s = as_mask(g, S)
    if T is None:
        return _core.conductance(g._core, s)
    t = as_mask(g, T)
    den = min(_core.volume(g._core, s), _core.volume(g._core, t))
    if den <= 0:
        raise SsdflError("conductance is undefined: S or T has zero volume")
    return _core.cut_between(g._core, s, t) / den


def normalized_cut(
    g: GraphLike, S: NodeSet, T: NodeSet | None = None, weight: str | None = None
) -> float:
    """``cut(S, T)·(1/vol S + 1/vol T)`` (networkx's ``normalized_cut_size``)."""
    g = weighted_view(g, weight)
    s = as_mask(g, S)
    if T is None:
        return _core.normalized_cut(g._core, s)
    t = as_mask(g, T)
    vs, vt = _core.volume(g._core, s), _core.volume(g._core, t)
    if vs <= 0 or vt <= 0:
        raise SsdflError("normalized cut is undefined: S or T has zero volume")
    return _core.cut_between(g._core, s, t) * (1 / vs + 1 / vt)


normalized_cut_size = normalized_cut
"""networkx's name for :func:`normalized_cut`."""


def edge_expansion(
    g: GraphLike, S: NodeSet, T: NodeSet | None = None, weight: str | None = None
) -> float:
    """``cut(S, T) / min(|S|, |T|)`` (networkx's ``edge_expansion``)."""
    g = weighted_view(g, weight)
    s = as_mask(g, S)
    if T is None:
        return _core.edge_expansion(g._core, s)
    t = as_mask(g, T)
    den = min(int(s.sum()), int(t.sum()))
    if den == 0:
        raise SsdflError("edge expansion is undefined: S or T is empty")
    return _core.cut_between(g._core, s, t) / den


def connected_components(g: GraphLike) -> list[np.ndarray]:
    """Connected components as sorted arrays of node indices, ordered by smallest member
    (``Graph.names(c)`` gives a component's node names)."""
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
