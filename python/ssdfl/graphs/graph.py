"""The public graph entry point: :class:`Graph` (defined in :mod:`ssdfl.graphs.structure`) and
:func:`as_graph`, which turns anything graph-like — a networkx or rustworkx graph, a scipy or
numpy adjacency, or a graph file path (read by :mod:`ssdfl.graphs.graph_io`) — into a
:class:`Graph`. Public functions call :func:`as_graph` once on entry and pass the
:class:`Graph` inward.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias, Union

import numpy as np

from ssdfl.graphs.graph_io import read_graph
from ssdfl.graphs.structure import (
    Graph,
    NodeSet,
    Positions,
    as_mask,
    graph_from_object,
    square_csr,
)

if TYPE_CHECKING:
    import rustworkx as rx

__all__ = [
    "Graph",
    "GraphLike",
    "NetworkxGraph",
    "NodeSet",
    "Positions",
    "SparseAdjacency",
    "as_graph",
    "as_mask",
    "square_csr",
]


class SparseAdjacency(Protocol):
    """Structural type of a scipy sparse adjacency (array or matrix). scipy ships no type
    information, so naming ``sp.sparray`` here would make the whole union ``Any``."""

    @property
    def shape(self) -> tuple[int, ...]: ...

    def tocsr(self) -> Any: ...


class NetworkxGraph(Protocol):
    """Structural type of a networkx ``Graph`` (networkx ships no type information)."""

    def number_of_nodes(self) -> int: ...

    def is_directed(self) -> bool: ...

    def is_multigraph(self) -> bool: ...


GraphLike: TypeAlias = Union[  # quoted: rustworkx is not imported at runtime
    Graph,
    NetworkxGraph,
    "rx.PyGraph",
    SparseAdjacency,
    np.ndarray,
    str,
    "os.PathLike[str]",
]
"""Anything :func:`as_graph` accepts: an ssdfl :class:`Graph`, a networkx graph, a rustworkx
``PyGraph``, a scipy sparse array or matrix, a dense numpy adjacency, or a graph file path."""


def as_graph(obj: GraphLike) -> Graph:
    """Coerce ``obj`` to a :class:`Graph`: a Graph, a networkx graph, a rustworkx PyGraph, a
    scipy sparse matrix, a dense numpy adjacency, or a path to a graph file."""
    if isinstance(obj, (str, os.PathLike)):
        return read_graph(obj)
    return graph_from_object(obj)
