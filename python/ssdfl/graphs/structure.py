"""The :class:`Graph` data structure: an undirected weighted graph held in Rust (CSR), its
node sets (:class:`Positions`, :func:`as_mask`) and its interop constructors.

Nodes are ``0..n-1``; ``labels`` (optional) keeps the names they had in the source (file
labels, networkx node keys, rustworkx payloads). Weights default to 1; parallel edges are
merged by summing their weights; self-loops are dropped with a :class:`SsdflWarning`.
Coercion of anything graph-like (including a file path) is :func:`ssdfl.graphs.graph.as_graph`,
one level up, because it reads files through :mod:`ssdfl.graphs.graph_io`, which builds on this
module.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

import numpy as np
import scipy.sparse as sp

from ssdfl import _core
from ssdfl.errors import SsdflError, SsdflWarning

if TYPE_CHECKING:
    import networkx as nx

__all__ = ["Graph", "NodeSet", "Positions", "as_mask", "graph_from_object", "square_csr"]


class Positions:
    """Node *positions* ``0..n-1`` (the rows of a :class:`Graph`; the order of ``G.nodes`` for
    a networkx graph), given where a node set is expected.

    A node set holds node *names* (networkx's node keys; a graph without names is named
    ``0..n-1``). ``Positions`` says "these integers are positions, not names":
    ``ssdfl.conductance(G, Positions([0, 1, 2]))`` is the conductance of the first three nodes
    of ``G`` whatever their keys. :meth:`Graph.index` turns names into positions.
    """

    __slots__ = ("array",)

    def __init__(self, positions: Iterable[int] | np.ndarray) -> None:
        arr = np.asarray(positions if isinstance(positions, np.ndarray) else list(positions))
        if arr.size == 0:
            arr = np.zeros(0, dtype=np.int64)
        if arr.dtype.kind not in "iu" or arr.ndim != 1:
            raise SsdflError(
                f"Positions takes a 1-D sequence of integer node positions, got dtype "
                f"{arr.dtype} and shape {arr.shape} (a boolean mask is positional already)"
            )
        self.array: np.ndarray = arr.astype(np.int64, copy=False)
        """The positions (1-D int64 array)."""

    def __len__(self) -> int:
        return len(self.array)

    def __iter__(self) -> Any:
        return iter(self.array.tolist())

    def __repr__(self) -> str:
        return f"Positions({self.array.tolist()!r})"


NodeSet = Iterable[Any] | np.ndarray | Positions
"""A set of nodes: an iterable (list, set, numpy array, …) of node names, a single name that
is a string, a boolean mask of length ``n``, or :class:`Positions`. Names are the graph's
labels (networkx node keys, file labels); a graph without labels is named ``0..n-1``, so
there names and positions coincide."""


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

    __slots__ = ("_core", "_index", "_labels", "_sorted", "_unit")

    def __init__(self, core: _core.CoreGraph, labels: Sequence[Any] | np.ndarray | None = None):
        self._core = core
        self._index: dict[Any, int] | None = None  # name -> position (built on first use)
        # integer names: (argsort, sorted labels, dense name→position table or None)
        self._sorted: tuple[np.ndarray, np.ndarray, np.ndarray | None] | None = None
        self._unit: Graph | None = None  # the unweighted view (built on first use)
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

    def index(self, names: Iterable[Any] | str) -> np.ndarray:
        """Positions (int64 array, in the order given) of the nodes named ``names``: node
        labels, or ``0..n-1`` when the graph has none. An unknown name is an
        :class:`SsdflError`. Inverse of :meth:`names`; wrap the result in :class:`Positions`
        to pass it where a node set is expected.

        Integer names (numpy integer arrays, lists of ints) are converted in one vectorized
        step (a range check, or a binary search among integer labels); other names in one
        dict lookup pass."""
        if isinstance(names, (str, bytes)) or not isinstance(names, Iterable):
            names = [names]  # one name (a string is a name, not its characters)
        items = names if isinstance(names, (np.ndarray, list)) else list(names)
        arr = items if isinstance(items, np.ndarray) else _int_array(items)
        labels = self._labels
        if arr is not None and arr.ndim == 1 and arr.dtype.kind in "iu":
            if labels is None:
                return self._check_range(arr.astype(np.int64, copy=False), arr)
            if labels.dtype.kind == "i":
                return self._lookup_ints(arr)
        return self._lookup(items)

    def _check_range(self, pos: np.ndarray, asked: Any) -> np.ndarray:
        bad = (pos < 0) | (pos >= self.n)
        if bad.any():
            x = asked[int(np.flatnonzero(bad)[0])]
            raise SsdflError(f"node index {x} is out of range for a graph with {self.n} nodes")
        return pos

    def _lookup_ints(self, arr: np.ndarray) -> np.ndarray:
        """Positions of integer names among integer labels, vectorized: a dense table
        ``name − min → position`` when the labels span at most ``8n`` values, else a binary
        search of the sorted names among the sorted labels."""
        if self._sorted is None:
            labels = self._labels
            assert labels is not None
            order = np.argsort(labels, kind="stable")
            keys = labels[order]
            if keys.size > 1 and bool((keys[1:] == keys[:-1]).any()):
                dup = keys[1:][keys[1:] == keys[:-1]][0]
                raise SsdflError(
                    f"node name {dup!r} is not unique: names are ambiguous in this graph; "
                    "pass Positions(...) or a boolean mask"
                )
            table = None
            if keys.size and int(keys[-1]) - int(keys[0]) < 8 * keys.size + 1024:
                table = np.full(int(keys[-1]) - int(keys[0]) + 1, -1, dtype=np.int64)
                table[keys - keys[0]] = order
            self._sorted = (order, keys, table)
        order, keys, table = self._sorted
        if keys.size == 0 or arr.size == 0:
            if arr.size:
                _no_such_node(arr[0], self.n)
            return np.zeros(0, dtype=np.int64)
        if arr.dtype.kind == "u" and int(arr.max()) > np.iinfo(np.int64).max:
            _no_such_node(int(arr.max()), self.n)
        want = arr.astype(np.int64, copy=False)
        if table is not None:
            off = want - keys[0]
            inside = (off >= 0) & (off < table.size)
            pos = np.where(inside, table[np.where(inside, off, 0)], -1)
        else:
            q = np.argsort(want)
            at = np.searchsorted(keys, want[q])  # sorted queries: cache-friendly
            at_c = np.minimum(at, keys.size - 1)
            hit = keys[at_c] == want[q]
            pos = np.empty(len(want), dtype=np.int64)
            pos[q] = np.where(hit, order[at_c], -1)
        missing = np.flatnonzero(pos < 0)
        if missing.size:
            _no_such_node(arr[int(missing[0])], self.n)
        return pos

    def _lookup(self, items: Sequence[Any] | np.ndarray) -> np.ndarray:
        """Positions of arbitrary (hashable) names: one dict lookup pass."""
        if self._index is None:
            index = {x: i for i, x in enumerate(self.node_names())}
            if len(index) != self.n:
                raise SsdflError(
                    "node names are not unique in this graph; pass Positions(...) or a boolean mask"
                )
            self._index = index
        get = self._index.get
        seq = items.tolist() if isinstance(items, np.ndarray) else items
        try:
            out = np.fromiter((get(x, -1) for x in seq), dtype=np.int64, count=len(seq))
        except TypeError:  # an unhashable item
            bad = next(x for x in seq if not _hashable(x))
            _no_such_node(bad, self.n)
        missing = np.flatnonzero(out < 0)
        if missing.size:
            _no_such_node(seq[int(missing[0])], self.n)
        return out

    def names(self, nodes: NodeSet) -> list[Any]:
        """Names (labels) of a node set, in increasing position order. Inverse of :meth:`index`."""
        names = self.node_names()
        return [names[i] for i in np.flatnonzero(as_mask(self, nodes)).tolist()]

    def unweighted(self) -> Graph:
        """The same graph with every edge weight 1 (labels kept; ``self`` if already so).

        Built once and kept: graphs are immutable, so later calls return the same object."""
        if not self.weighted:
            return self
        if self._unit is None:
            s, d, _ = self.edges()
            unit = Graph(_core.CoreGraph.from_edges(self.n, s, d, None).graph, self._labels)
            unit._index, unit._sorted = self._index, self._sorted
            self._unit = unit
        return self._unit

    def mask(self, nodes: NodeSet) -> np.ndarray:
        """Boolean mask of length ``n`` (by position) of a node set; validated."""
        return as_mask(self, nodes)

    def subgraph(self, nodes: NodeSet) -> Graph:
        """Subgraph induced by ``nodes``, positions ``0..k-1`` in increasing position order;
        names carried over (as networkx's ``G.subgraph``: positions become the names when the
        graph had none)."""
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
        self._sorted = None
        self._unit = None
        self._labels = st["labels"]


def graph_from_object(obj: Any) -> Graph:
    """Coerce an in-memory graph to a :class:`Graph`: a Graph (returned as is), a networkx
    graph, a rustworkx PyGraph, a scipy sparse matrix or a dense numpy adjacency. File paths are
    :func:`ssdfl.graphs.graph.as_graph`'s (it reads them with :mod:`ssdfl.graphs.graph_io`)."""
    if isinstance(obj, Graph):
        return obj
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


def _int_array(items: Sequence[Any]) -> np.ndarray | None:
    """``items`` as a numpy array when numpy reads them as numbers or booleans (one C-level
    pass), else ``None`` (names of other types: strings, tuples, mixed)."""
    try:
        arr = np.asarray(items)
    except (ValueError, TypeError, OverflowError):  # ragged or odd items: names
        return None
    if len(items) == 0:
        return np.zeros(0, dtype=np.int64)
    return arr if arr.dtype.kind in "iub" else None


def _hashable(x: Any) -> bool:
    try:
        hash(x)
    except TypeError:
        return False
    return True


def _no_such_node(x: Any, n: int) -> NoReturn:
    x = x.item() if isinstance(x, np.generic) else x
    raise SsdflError(
        f"no node named {x!r} in this graph ({n} nodes; a node set holds node names — the "
        "labels, or 0..n-1 when there are none; pass positions with Positions(...) or a "
        "boolean mask)"
    )


def as_mask(g: Graph, nodes: NodeSet) -> np.ndarray:
    """Boolean mask (by position) of length ``g.n`` from a node set.

    A node set holds node *names* (:meth:`Graph.index`: the labels, e.g. networkx's node keys
    whatever their type and order; ``0..n-1`` when the graph has no labels). A boolean numpy
    mask of length ``n`` and :class:`Positions` are read by position."""
    if isinstance(nodes, Positions):
        pos = g._check_range(nodes.array, nodes.array)
    elif isinstance(nodes, np.ndarray) and nodes.dtype == bool:
        if nodes.shape != (g.n,):
            raise SsdflError(f"boolean mask has shape {nodes.shape}, expected ({g.n},)")
        return np.ascontiguousarray(nodes)
    else:
        if isinstance(nodes, list) and nodes and all(type(x) is bool for x in nodes[:1]):
            arr = np.asarray(nodes)
            if arr.dtype == bool:  # a list of booleans: a mask
                return as_mask(g, arr)
        pos = g.index(nodes)
    mask = np.zeros(g.n, dtype=bool)
    mask[pos] = True
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
