"""The :class:`Graph` type: an undirected weighted graph held in Rust (CSR), plus interop.

Nodes are ``0..n-1``; ``labels`` (optional) keeps the names they had in the source (file
labels, networkx node keys, rustworkx payloads). Weights default to 1; parallel edges are
merged by summing their weights; self-loops are dropped with a :class:`SsdflWarning`.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias, Union

import numpy as np
import scipy.sparse as sp

from ssdfl import _core
from ssdfl.errors import SsdflError, SsdflWarning

if TYPE_CHECKING:
    import networkx as nx
    import rustworkx as rx

__all__ = ["Graph", "GraphLike", "NetworkxGraph", "NodeSet", "SparseAdjacency", "as_graph"]

NodeSet = Iterable[Any] | np.ndarray
"""A set of nodes: an iterable of node indices (integers) or node names (labels that are not
integers, e.g. ``["Myriel", "Napoleon"]``), or a boolean mask of length ``n``."""


def square_csr(matrix: Any, name: str) -> sp.csr_array:
    """A square matrix (scipy sparse or dense array-like) as a float64 CSR array; ``name`` is
    the argument named in the error (not 2-D, not square)."""
    if sp.issparse(matrix):
        a = sp.csr_array(matrix, dtype=np.float64)
    else:
        dense = np.asarray(matrix, dtype=np.float64)
        if dense.ndim != 2:
            raise SsdflError(f"{name} must be 2-D, got shape {dense.shape}")
        a = sp.csr_array(dense)
    if a.shape[0] != a.shape[1]:
        raise SsdflError(f"{name} must be square, got shape {a.shape}")
    return a


class Graph:
    """Undirected weighted graph on nodes ``0..n-1``.

    Build it with :meth:`from_edges`, :meth:`from_networkx`, :meth:`from_scipy`,
    :meth:`from_rustworkx` or :func:`ssdfl.read_graph`.
    """

    __slots__ = ("_core", "_index", "_labels")

    def __init__(self, core: _core.CoreGraph, labels: Sequence[Any] | np.ndarray | None = None):
        self._core = core
        self._index: dict[Any, int] | None = None
        if labels is not None:
            labels = np.asarray(labels) if not isinstance(labels, np.ndarray) else labels
            if labels.dtype.kind == "U":  # keep strings as Python objects, not fixed-width
                labels = labels.astype(object)
            if labels.shape != (core.n,):
                raise SsdflError(f"{labels.shape[0]} labels given for a graph with {core.n} nodes")
        self._labels = labels

    # ----------------------------------------------------------------- constructors
    @classmethod
    def from_edges(
        cls,
        edges: Iterable[tuple[int, int]] | np.ndarray,
        n: int | None = None,
        weights: Iterable[float] | np.ndarray | None = None,
        labels: Sequence[Any] | np.ndarray | None = None,
    ) -> Graph:
        """Graph from an ``(m, 2)`` integer array (or iterable of pairs) of node indices.

        ``n`` defaults to ``max index + 1`` (or ``len(labels)``); ``weights`` to 1.
        """
        arr = np.asarray(edges if isinstance(edges, np.ndarray) else list(edges))
        if arr.size == 0:
            arr = np.zeros((0, 2), dtype=np.int64)
        if arr.ndim != 2 or arr.shape[1] != 2:
            raise SsdflError(f"edges must have shape (m, 2), got {arr.shape}")
        if arr.dtype.kind not in "iub":
            if arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
                arr = arr.astype(np.int64)
            else:
                raise SsdflError(f"edge endpoints must be integer node indices, got {arr.dtype}")
        arr = arr.astype(np.int64, copy=False)
        if n is None:
            n = len(labels) if labels is not None else (int(arr.max()) + 1 if arr.size else 0)
        if n < 0:
            raise SsdflError(f"n must be >= 0, got {n}")
        w = None
        if weights is not None:
            w = np.ascontiguousarray(
                np.asarray(
                    list(weights) if not isinstance(weights, np.ndarray) else weights,
                    dtype=np.float64,
                )
            )
        built = _core.CoreGraph.from_edges(
            int(n), np.ascontiguousarray(arr[:, 0]), np.ascontiguousarray(arr[:, 1]), w
        )
        core, loops = built.graph, built.self_loops
        _warn_loops(loops)
        return cls(core, labels)

    @classmethod
    def from_scipy(cls, matrix: Any, labels: Sequence[Any] | None = None) -> Graph:
        """Graph from a symmetric adjacency matrix (scipy sparse or dense array-like).

        Entry ``(i, j)`` is the weight of edge ``{i, j}``; zeros mean no edge; the diagonal is
        ignored (with a warning). An asymmetric matrix is an error.
        """
        a = square_csr(matrix, "adjacency")
        a.sum_duplicates()
        built = _core.CoreGraph.from_csr(
            int(a.shape[0]),
            np.ascontiguousarray(a.indptr, dtype=np.int64),
            np.ascontiguousarray(a.indices, dtype=np.int64),
            np.ascontiguousarray(a.data, dtype=np.float64),
        )
        core, loops = built.graph, built.self_loops
        _warn_loops(loops)
        return cls(core, labels)

    @classmethod
    def from_networkx(cls, g: nx.Graph, weight: str | None = "weight") -> Graph:
        """Graph from a networkx (Multi)Graph; node order and keys are kept as labels.

        ``weight`` names the edge attribute holding weights (missing → 1); ``None`` ignores
        weights. Parallel edges of a MultiGraph are summed. Directed graphs are refused.
        """
        if g.is_directed():
            raise SsdflError("directed graphs are not supported; use g.to_undirected() first")
        nodes = list(g.nodes)
        index = {u: i for i, u in enumerate(nodes)}
        m = g.number_of_edges()
        src = np.empty(m, dtype=np.int64)
        dst = np.empty(m, dtype=np.int64)
        w = np.ones(m, dtype=np.float64)
        for k, (u, v, data) in enumerate(g.edges(data=True)):
            src[k] = index[u]
            dst[k] = index[v]
            if weight is not None:
                val = data.get(weight, 1.0)
                try:
                    w[k] = float(val)
                except (TypeError, ValueError):
                    msg = f"edge ({u!r}, {v!r}) has non-numeric {weight}={val!r}"
                    raise SsdflError(msg) from None
        built = _core.CoreGraph.from_edges(len(nodes), src, dst, None if weight is None else w)
        core, loops = built.graph, built.self_loops
        _warn_loops(loops)
        return cls(core, _labels_array(nodes))

    @classmethod
    def from_rustworkx(cls, g: Any, weight_fn: Any = None) -> Graph:
        """Graph from a ``rustworkx.PyGraph``; node payloads become labels.

        ``weight_fn(edge_payload) -> float`` gives weights; by default a numeric payload is the
        weight and anything else counts as 1.
        """
        try:
            import rustworkx as rx
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError("from_rustworkx needs rustworkx: pip install rustworkx") from exc
        if not isinstance(g, rx.PyGraph):
            raise SsdflError(f"expected a rustworkx.PyGraph, got {type(g).__name__}")
        idx = list(g.node_indices())
        pos = {u: i for i, u in enumerate(idx)}
        edges = g.weighted_edge_list()
        m = len(edges)
        src = np.empty(m, dtype=np.int64)
        dst = np.empty(m, dtype=np.int64)
        w = np.ones(m, dtype=np.float64)
        for k, (u, v, payload) in enumerate(edges):
            src[k], dst[k] = pos[u], pos[v]
            if weight_fn is not None:
                w[k] = float(weight_fn(payload))
            elif isinstance(payload, (int, float, np.number)) and not isinstance(payload, bool):
                w[k] = float(payload)
        built = _core.CoreGraph.from_edges(len(idx), src, dst, w)
        core, loops = built.graph, built.self_loops
        _warn_loops(loops)
        payloads = [g[u] for u in idx]
        labels = None if all(p is None for p in payloads) else _labels_array(payloads)
        return cls(core, labels)

    # -------------------------------------------------------------------- exports
    def to_scipy(self) -> sp.csr_array:
        """Symmetric weighted adjacency as a scipy CSR array (float64)."""
        c = self._core.csr()
        return sp.csr_array((c.data, c.indices, c.indptr), shape=(self.n, self.n))

    def to_networkx(self) -> nx.Graph:
        """networkx Graph with nodes = labels (or ``0..n-1``) and a ``weight`` attribute."""
        import networkx as nx

        g = nx.Graph()
        names = self.node_names()
        g.add_nodes_from(names)
        s, d, w = self.edges()
        g.add_weighted_edges_from(zip((names[i] for i in s), (names[j] for j in d), w.tolist()))
        return g

    def to_rustworkx(self) -> Any:
        """rustworkx PyGraph with label payloads on nodes and float weights on edges."""
        import rustworkx as rx

        g = rx.PyGraph(multigraph=False)
        g.add_nodes_from(self.node_names())
        s, d, w = self.edges()
        g.add_edges_from(list(zip(s.tolist(), d.tolist(), w.tolist())))
        return g

    # ------------------------------------------------------------------ properties
    @property
    def n(self) -> int:
        """Number of nodes."""
        return self._core.n

    @property
    def m(self) -> int:
        """Number of undirected edges."""
        return self._core.m

    @property
    def degrees(self) -> np.ndarray:
        """Weighted degrees ``d_u = Σ_v w_uv`` (float64 array)."""
        return self._core.degrees()

    @property
    def labels(self) -> np.ndarray | None:
        """Node labels from the source, or ``None`` if nodes were plain indices."""
        return self._labels

    @property
    def weighted(self) -> bool:
        """False when every weight is 1 by construction."""
        return not self._core.unit_weights

    def node_names(self) -> list[Any]:
        """Label of every node (its index when there are no labels), as Python objects."""
        if self._labels is None:
            return list(range(self.n))
        return self._labels.tolist()

    def edges(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(src, dst, weights)`` arrays of the undirected edges, ``src < dst``."""
        e = self._core.edges()
        return e.src, e.dst, e.weights

    def index(self, names: Iterable[Any]) -> np.ndarray:
        """Node indices of the nodes named ``names`` (labels; plain indices when the graph has
        none). An unknown name is an :class:`SsdflError`. Inverse of :meth:`names`."""
        if self._index is None:
            self._index = {x: i for i, x in enumerate(self.node_names())}
        items = list(names)
        out = np.empty(len(items), dtype=np.int64)
        for k, x in enumerate(items):
            key = x.item() if isinstance(x, np.generic) else x
            try:
                out[k] = self._index[key]
            except (KeyError, TypeError):
                raise SsdflError(
                    f"no node named {x!r} in this graph (node sets hold integer node indices "
                    "or node names)"
                ) from None
        return out

    def names(self, nodes: NodeSet) -> list[Any]:
        """Names (labels) of a node set, in increasing index order. Inverse of :meth:`index`."""
        names = self.node_names()
        return [names[i] for i in np.flatnonzero(as_mask(self, nodes)).tolist()]

    def unweighted(self) -> Graph:
        """The same graph with every edge weight 1 (labels kept; ``self`` if already so)."""
        if not self.weighted:
            return self
        s, d, _ = self.edges()
        return Graph(_core.CoreGraph.from_edges(self.n, s, d, None).graph, self._labels)

    def mask(self, nodes: NodeSet) -> np.ndarray:
        """Boolean mask of length ``n`` from a node set (indices or a mask); validated."""
        return as_mask(self, nodes)

    def subgraph(self, nodes: NodeSet) -> Graph:
        """Subgraph induced by ``nodes``, relabelled ``0..k-1`` in increasing node order;
        labels carried over (indices become labels when the graph had none)."""
        idx = np.flatnonzero(as_mask(self, nodes)).astype(np.int64)
        core = self._core.induced_subgraph(idx)
        labels = idx if self._labels is None else self._labels[idx]
        return Graph(core, labels)

    def __len__(self) -> int:
        return self.n

    def __repr__(self) -> str:
        kind = "weighted" if self.weighted else "unweighted"
        return f"Graph(n={self.n}, m={self.m}, {kind})"

    def __eq__(self, other: object) -> bool:
        """Same nodes, edges and weights (labels are not compared)."""
        if not isinstance(other, Graph):
            return NotImplemented
        if (self.n, self.m) != (other.n, other.m):
            return False
        a, b = self.edges(), other.edges()
        return all(np.array_equal(x, y) for x, y in zip(a, b))

    __hash__ = None  # type: ignore[assignment]  # unhashable: == compares contents

    def __getstate__(self) -> dict[str, Any]:
        s, d, w = self.edges()
        return {"n": self.n, "src": s, "dst": d, "w": w, "labels": self._labels}

    def __setstate__(self, st: dict[str, Any]) -> None:
        self._core = _core.CoreGraph.from_edges(st["n"], st["src"], st["dst"], st["w"]).graph
        self._index = None
        self._labels = st["labels"]


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
    if isinstance(obj, Graph):
        return obj
    if isinstance(obj, (str, os.PathLike)):
        from ssdfl.graphs.graph_io import read_graph

        return read_graph(obj)
    if sp.issparse(obj) or isinstance(obj, np.ndarray):
        return Graph.from_scipy(obj)
    mod = type(obj).__module__.split(".")[0]
    if mod == "networkx":
        return Graph.from_networkx(obj)
    if mod == "rustworkx":
        return Graph.from_rustworkx(obj)
    raise TypeError(
        f"cannot make a graph from {type(obj).__name__}: expected ssdfl.Graph, networkx or "
        "rustworkx graph, scipy sparse matrix, numpy array or a file path"
    )


def _is_bool(x: Any) -> bool:
    return isinstance(x, (bool, np.bool_))


def _is_index(x: Any) -> bool:
    return isinstance(x, (int, np.integer)) and not _is_bool(x)


def as_mask(g: Graph, nodes: NodeSet) -> np.ndarray:
    """Boolean mask of length ``g.n`` from node indices, node names or a boolean mask.

    Integers are node indices; a set holding any non-integer (e.g. strings) is a set of node
    names, looked up among the labels (:meth:`Graph.index`)."""
    if isinstance(nodes, np.ndarray) and nodes.dtype == bool:
        if nodes.shape != (g.n,):
            raise SsdflError(f"boolean mask has shape {nodes.shape}, expected ({g.n},)")
        return np.ascontiguousarray(nodes)
    if isinstance(nodes, (str, bytes)):
        nodes = [nodes]  # one name, not its characters
    if isinstance(nodes, np.ndarray) and nodes.dtype.kind in "iub":
        idx = nodes
    else:
        items = list(nodes)
        names = [k for k, x in enumerate(items) if not _is_index(x) and not _is_bool(x)]
        if names:  # names looked up among the labels; integers stay node indices
            found = g.index([items[k] for k in names])
            for k, i in zip(names, found.tolist()):
                items[k] = i
            idx = np.asarray(items, dtype=np.int64)
        else:
            idx = np.asarray(items)
    if idx.size == 0:
        return np.zeros(g.n, dtype=bool)
    if idx.dtype == bool:
        return as_mask(g, idx)
    if idx.dtype.kind not in "iu":
        raise SsdflError(f"node set must hold integer node indices, got dtype {idx.dtype}")
    idx = idx.ravel()
    bad = (idx < 0) | (idx >= g.n)
    if bad.any():
        raise SsdflError(
            f"node index {int(idx[bad][0])} is out of range for a graph with {g.n} nodes"
        )
    mask = np.zeros(g.n, dtype=bool)
    mask[idx] = True
    return mask


def _labels_array(values: Sequence[Any]) -> np.ndarray | None:
    """Labels as an int64 array when all are integers that fit, else an object array."""
    if all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) and -(2**63) <= v < 2**63
        for v in values
    ):
        arr = np.asarray(values, dtype=np.int64)
        return None if np.array_equal(arr, np.arange(len(arr))) else arr
    out = np.empty(len(values), dtype=object)
    out[:] = list(values)
    return out


def _warn_loops(loops: int, stacklevel: int = 3) -> None:
    """Warn that ``loops`` self-loops were dropped (``stacklevel`` as in ``warnings.warn``,
    counted from the caller of this function)."""
    if loops:
        warnings.warn(f"ignored {loops} self-loop(s)", SsdflWarning, stacklevel=stacklevel)
