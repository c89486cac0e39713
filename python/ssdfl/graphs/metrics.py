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
``ssdfl.conductance(G, S, weight="weight")`` is the weighted conductance. ``weight=None`` on a
weighted :class:`~ssdfl.Graph` costs what ``weight="weight"`` costs: the Rust kernels count
each edge as 1 (no unweighted copy). Node sets hold node names, as networkx's node keys;
positions are passed as :class:`~ssdfl.graphs.graph.Positions` or a boolean mask
(:func:`~ssdfl.graphs.graph.as_mask`).
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
    weights of any other input. The unweighted view of a weighted :class:`Graph` is built once
    and kept on it (:meth:`Graph.unweighted`)."""
    if not isinstance(g, Graph) and type(g).__module__.split(".")[0] == "networkx":
        return Graph.from_networkx(g, weight=weight)
    g = as_graph(g)
    return g.unweighted() if weight is None else g


def _unit_view(g: GraphLike, weight: str | None) -> tuple[Graph, bool]:
    """``(graph, unit)`` for the metric kernels: ``unit`` asks them to count every edge as 1
    (networkx's ``weight=None``) on the graph as it is, without an unweighted copy."""
    if not isinstance(g, Graph) and type(g).__module__.split(".")[0] == "networkx":
        return Graph.from_networkx(g, weight=weight), False
    h = as_graph(g)
    return h, weight is None and h.weighted


def volume(g: GraphLike, S: NodeSet, weight: str | None = None) -> float:
    """``vol(S) = Σ_{u∈S} d_u`` (``weight=None``: ``d_u`` is the number of neighbours)."""
    h, unit = _unit_view(g, weight)
    return _core.volume(h._core, as_mask(h, S), unit)


def cut_size(
    g: GraphLike, S: NodeSet, T: NodeSet | None = None, weight: str | None = None
) -> float:
    """Total weight of edges between ``S`` and ``T`` (default ``T = V∖S``), each edge once."""
    h, unit = _unit_view(g, weight)
    s = as_mask(h, S)
    if T is None:
        return _core.cut_size(h._core, s, unit)
    return _core.cut_between(h._core, s, as_mask(h, T), unit)


def conductance(
    g: GraphLike, S: NodeSet, T: NodeSet | None = None, weight: str | None = None
) -> float:
    """``cut(S, T) / min(vol S, vol T)`` (networkx's ``conductance``, same defaults: unweighted).

    With ``T`` omitted, ``S`` must be a non-empty proper subset of nodes of positive volume.
    """
    h, unit = _unit_view(g, weight)
    s = as_mask(h, S)
    if T is None:
        return _core.conductance(h._core, s, unit)
    t = as_mask(h, T)
    den = min(_core.volume(h._core, s, unit), _core.volume(h._core, t, unit))
    if den <= 0:
        raise SsdflError("conductance is undefined: S or T has zero volume")
    return _core.cut_between(h._core, s, t, unit) / den


def normalized_cut(
    g: GraphLike, S: NodeSet, T: NodeSet | None = None, weight: str | None = None
) -> float:
    """``cut(S, T)·(1/vol S + 1/vol T)`` (networkx's ``normalized_cut_size``)."""
    h, unit = _unit_view(g, weight)
    s = as_mask(h, S)
    if T is None:
        return _core.normalized_cut(h._core, s, unit)
    t = as_mask(h, T)
    vs, vt = _core.volume(h._core, s, unit), _core.volume(h._core, t, unit)
    if vs <= 0 or vt <= 0:
        raise SsdflError("normalized cut is undefined: S or T has zero volume")
    return _core.cut_between(h._core, s, t, unit) * (1 / vs + 1 / vt)


normalized_cut_size = normalized_cut
"""networkx's name for :func:`normalized_cut`."""


def edge_expansion(
    g: GraphLike, S: NodeSet, T: NodeSet | None = None, weight: str | None = None
) -> float:
    """``cut(S, T) / min(|S|, |T|)`` (networkx's ``edge_expansion``)."""
    h, unit = _unit_view(g, weight)
    s = as_mask(h, S)
    if T is None:
        return _core.edge_expansion(h._core, s, unit)
    t = as_mask(h, T)
    den = min(int(s.sum()), int(t.sum()))
    if den == 0:
        raise SsdflError("edge expansion is undefined: S or T is empty")
    return _core.cut_between(h._core, s, t, unit) / den


def connected_components(g: GraphLike) -> list[np.ndarray]:
    """Connected components as arrays of node names (networkx's node keys; positions
    ``0..n-1`` when the graph has no labels) in increasing position order, ordered by their
    first node's position. As sets they equal networkx's ``connected_components``;
    :meth:`Graph.index` turns a component into positions."""
    h = as_graph(g)
    labels, count = _core.connected_components(h._core)
    order = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[order], np.arange(count + 1))
    names = h.labels
    comps = [order[bounds[i] : bounds[i + 1]] for i in range(count)]
    return comps if names is None else [names[c] for c in comps]


def component_labels(g: GraphLike) -> np.ndarray:
    """Component label of every node, by position (``0..c-1``, numbered by first member)."""
    g = as_graph(g)
    return _core.connected_components(g._core)[0]


def is_connected(g: GraphLike) -> bool:
    """True if the graph is non-empty and has one connected component."""
    return _is_connected(as_graph(g))


def _is_connected(g: Graph) -> bool:
    """:func:`is_connected` of a :class:`Graph` (package-internal: converted at the entry)."""
    return g.n > 0 and _core.connected_components(g._core)[1] == 1


def is_set_connected(g: GraphLike, S: NodeSet) -> bool:
    """True if the subgraph induced by ``S`` is connected (``False`` for an empty set)."""
    return _is_set_connected(as_graph(g), S)


def _is_set_connected(g: Graph, S: NodeSet) -> bool:
    """:func:`is_set_connected` of a :class:`Graph` (package-internal)."""
    return _core.is_set_connected(g._core, as_mask(g, S))
