"""Reading and writing graph files.

Formats (chosen from the extension, or given as ``format=``); a trailing ``.gz`` is looked
through on reading and compresses on writing:

=============  ==========================  ==========================================
format         extensions                  notes
=============  ==========================  ==========================================
``edgelist``   .edgelist .edges .el .txt   ``u v [w]`` per line, ``#``/``%`` comments,
               .csv .tsv                   parsed in Rust. Integer labels: node ``i`` is
                                           the ``i``-th smallest; otherwise first appearance.
``mtx``        .mtx                        Matrix Market (scipy); symmetric or general.
``metis``      .graph .metis               METIS, 1-based, ``fmt`` flags for weights.
``json``       .json                       node-link JSON (networkx's layout).
``graphml``    .graphml                    GraphML (networkx); edge attribute ``weight``.
=============  ==========================  ==========================================

Every malformed file raises :class:`~ssdfl.GraphFormatError` whose message starts with the
path (and ``:line`` where a line is to blame); a missing file raises ``FileNotFoundError``.
Writes are atomic (temporary file + rename). The full rules are in ``docs/graphs.md``.

Resource limits (``docs/reliability.md``): gzip input is decompressed as a stream and refused
past ``max_bytes`` (default ``max(100 × compressed size, 1 MiB)``); a node count declared in a
header (Matrix Market size line) is refused past ``max_nodes`` (default
``max(2**20, bytes of text)``) before anything is allocated. Both raise
:class:`~ssdfl.TooLargeError` naming the limit; the environment variables
``SSDFL_MAX_GRAPH_BYTES`` / ``SSDFL_MAX_GRAPH_NODES`` set them process-wide.
"""

from __future__ import annotations

import gzip
import io
import json
import math
import os
import re
import warnings
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ssdfl import _core
from ssdfl._atomic import atomic_write
from ssdfl.errors import GraphFormatError, SsdflError, SsdflWarning, TooLargeError
from ssdfl.graphs.structure import Graph, _labels_array, _warn_loops, graph_from_object

__all__ = [
    "DIRECTED_MODES",
    "FORMATS",
    "GraphFormat",
    "ReadLimits",
    "detect_format",
    "format_help",
    "format_option_help",
    "read_graph",
    "register_format",
    "write_graph",
]


@dataclass(frozen=True)
class GraphFormat:
    """One graph file format: its ``name`` (``format=``), the file ``extensions`` that select it
    (lower case, with the dot), ``read(path, limits) -> Graph``, ``write(graph) -> bytes`` and a
    one-line ``help``. :func:`register_format` adds one; everything else (``read_graph``,
    ``write_graph``, ``detect_format``, the CLI's help texts) asks :data:`FORMATS`."""

    name: str
    extensions: tuple[str, ...]
    read: Callable[..., Graph]
    write: Callable[[Graph], bytes]
    help: str


FORMATS: dict[str, GraphFormat] = {}
"""The registered formats by name, in registration order."""


def register_format(fmt: GraphFormat) -> GraphFormat:
    """Add ``fmt`` to :data:`FORMATS` (refusing a name or an extension already taken)."""
    if fmt.name in FORMATS:
        raise SsdflError(f"graph format {fmt.name!r} is already registered")
    taken = {e for f in FORMATS.values() for e in f.extensions}
    clash = sorted(set(fmt.extensions) & taken)
    if clash:
        raise SsdflError(f"extension(s) {clash} already belong to another graph format")
    if not fmt.extensions or any(not e.startswith(".") or e != e.lower() for e in fmt.extensions):
        raise SsdflError(f"extensions must be lower-case and start with '.', got {fmt.extensions}")
    FORMATS[fmt.name] = fmt
    return fmt


def format_help(what: str = "Graph file") -> str:
    """``what`` followed by the registered extensions, e.g. for a command's help text."""
    exts = ", ".join("/".join(f.extensions) for f in FORMATS.values())
    return f"{what} ({exts}; a trailing .gz is read through) — docs/graphs.md"


def format_option_help() -> str:
    """Help text of a ``--format`` option: the registered format names."""
    return f"Override the graph format ({', '.join(FORMATS)})."


def _format_of(fmt: str) -> GraphFormat:
    try:
        return FORMATS[fmt]
    except KeyError:
        raise SsdflError(
            f"unknown graph format {fmt!r}; expected one of {tuple(FORMATS)}"
        ) from None


_MAX_NODES = 2**32 - 1  # node indices are u32 in the Rust CSR

GZIP_RATIO = 100
"""Default cap on gzip input: decompressed size at most this many times the compressed size…"""
GZIP_FLOOR = 1 << 20
"""…but never below this many bytes (small files)."""
NODES_FLOOR = 1 << 20
"""Declared node counts up to this are always accepted (beyond it: at most the text's bytes)."""
ENV_MAX_BYTES = "SSDFL_MAX_GRAPH_BYTES"
ENV_MAX_NODES = "SSDFL_MAX_GRAPH_NODES"
DIRECTED_MODES = ("merge", "sum", "error")
"""``directed=`` values of :func:`read_graph` for edge lists (see there)."""


class ReadLimits:
    """The resource limits of one :func:`read_graph` call (resolved from arguments and env)."""

    __slots__ = ("max_bytes", "max_nodes")

    def __init__(self, max_bytes: int | None = None, max_nodes: int | None = None) -> None:
        self.max_bytes = _limit(max_bytes, ENV_MAX_BYTES, "max_bytes")
        self.max_nodes = _limit(max_nodes, ENV_MAX_NODES, "max_nodes")

    def bytes_for(self, path: Path, compressed: int, gz: bool) -> int | None:
        """Cap on the text size of ``path`` (``None``: no cap, a plain file by default)."""
        if self.max_bytes is not None:
            return self.max_bytes
        return max(GZIP_RATIO * compressed, GZIP_FLOOR) if gz else None

    def nodes_for(self, text_bytes: int) -> int:
        """Cap on a declared node count for a text of ``text_bytes`` bytes."""
        if self.max_nodes is not None:
            return self.max_nodes
        return max(NODES_FLOOR, text_bytes)

    def check_nodes(self, where: str, n: int, text_bytes: int) -> None:
        """:class:`TooLargeError` if a header declares more than the node limit."""
        cap = self.nodes_for(text_bytes)
        if n > cap:
            how = (
                f"max_nodes={self.max_nodes}"
                if self.max_nodes is not None
                else f"max({NODES_FLOOR}, bytes of text = {text_bytes})"
            )
            raise TooLargeError(
                f"{where}: declares {n} nodes, above the limit {cap} ({how}); nothing was "
                f"allocated. Pass max_nodes= to read_graph or set {ENV_MAX_NODES} to raise it"
            )


def _limit(value: int | None, env: str, name: str) -> int | None:
    """An explicit limit, else the environment variable's (``none``/empty: no limit)."""
    if value is None:
        raw = os.environ.get(env, "").strip()
        if not raw or raw.lower() in ("none", "default"):
            return None
        try:
            value = int(raw)
        except ValueError:
            raise SsdflError(f"{env}={raw!r} is not an integer number of {name[4:]}") from None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise SsdflError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _short(x: Any, limit: int = 60) -> str:
    """``repr(x)`` cut to ``limit`` characters (error messages must stay readable)."""
    r = repr(x)
    return r if len(r) <= limit else r[: limit - 1] + "…"


def detect_format(path: str | os.PathLike[str]) -> str:
    """Format name from the file extension (a trailing ``.gz`` is looked through)."""
    p = Path(path)
    suffixes = [s.lower() for s in p.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    for f in FORMATS.values():
        if suffixes and suffixes[-1] in f.extensions:
            return f.name
    raise SsdflError(
        f"cannot tell the format of {str(path)!r} from its extension; pass format= one of "
        f"{tuple(FORMATS)}"
    )


def _read_bytes(path: Path, limits: ReadLimits | None = None) -> bytes:
    """The file's bytes, gzip decompressed as a stream and refused past the byte limit."""
    limits = limits or ReadLimits()
    if not path.exists():
        raise FileNotFoundError(f"graph file not found: {path}")
    if path.is_dir():
        raise GraphFormatError(f"{path} is a directory, not a graph file")
    size = path.stat().st_size
    with open(path, "rb") as fh:
        gz = path.suffix.lower() == ".gz" or fh.read(2) == b"\x1f\x8b"
        fh.seek(0)
        cap = limits.bytes_for(path, size, gz)
        if not gz:
            if cap is not None and size > cap:
                raise TooLargeError(
                    f"{path}: {size} bytes, above the limit max_bytes={cap}; pass max_bytes= "
                    f"to read_graph or set {ENV_MAX_BYTES} to raise it"
                )
            return fh.read()
        assert cap is not None
        try:
            with gzip.GzipFile(fileobj=fh, mode="rb") as z:
                raw = z.read(cap + 1)
        except (OSError, EOFError, zlib.error) as exc:
            raise GraphFormatError(f"{path}: corrupt gzip data ({exc})") from None
    if len(raw) > cap:
        how = (
            f"max_bytes={cap}"
            if limits.max_bytes is not None
            else f"{GZIP_RATIO} x the {size} compressed bytes, at least {GZIP_FLOOR}"
        )
        raise TooLargeError(
            f"{path}: decompresses to more than {cap} bytes, the limit ({how}); stopped there. "
            f"Pass max_bytes= to read_graph or set {ENV_MAX_BYTES} to raise it"
        )
    return raw


def _text(path: Path, limits: ReadLimits | None = None) -> str:
    try:
        return _read_bytes(path, limits).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise GraphFormatError(f"{path}: not UTF-8 text ({exc})") from None


def read_graph(
    path: str | os.PathLike[str],
    format: str | None = None,
    *,
    directed: str | None = None,
    max_bytes: int | None = None,
    max_nodes: int | None = None,
) -> Graph:
    """Read a graph file (format from the extension unless ``format`` is given).

    ``directed`` says what an edge list does with a node pair listed more than once (``u v``
    and ``v u``, as in SNAP's directed files): ``"merge"`` keeps one edge whose weight is the
    last one listed (networkx's ``read_edgelist``), ``"sum"`` adds the weights (the rule for
    undirected edge lists), ``"error"`` refuses the file. ``None`` (default): ``"sum"``, except
    for a file whose header comment says ``Directed graph`` — there repeated pairs are merged
    with a :class:`~ssdfl.SsdflWarning` saying how many.

    ``max_bytes`` caps the text read (for gzip input: the decompressed size; default
    ``max(100 × compressed size, 1 MiB)`` for gzip, no cap for plain files); ``max_nodes``
    caps a node count declared in a header (default ``max(2**20, bytes of text)``). Defaults
    come from ``SSDFL_MAX_GRAPH_BYTES`` / ``SSDFL_MAX_GRAPH_NODES`` when set.

    Raises ``FileNotFoundError`` for a missing file, :class:`~ssdfl.TooLargeError` past a limit
    (naming it), and :class:`~ssdfl.GraphFormatError` (a ``ValueError``) naming the file, and
    the line where there is one, for malformed content.
    """
    p = Path(path)
    fmt = (format or detect_format(p)).lower()
    reader = _format_of(fmt).read
    if directed is not None and directed not in DIRECTED_MODES:
        raise SsdflError(f"directed must be one of {DIRECTED_MODES} or None, got {directed!r}")
    if directed is not None and fmt != "edgelist":
        raise SsdflError(
            f"directed= applies to edge lists only ({fmt} files say whether they are directed)"
        )
    limits = ReadLimits(max_bytes, max_nodes)
    try:
        if directed is not None:  # edge lists only (checked above)
            return reader(p, limits, directed=directed)
        return reader(p, limits)
    except (GraphFormatError, FileNotFoundError, TooLargeError):
        raise
    except SsdflError as exc:
        raise GraphFormatError(f"{p}: {exc}") from None
    except MemoryError:
        raise TooLargeError(f"{p}: not enough memory to read this graph") from None


def write_graph(g: Any, path: str | os.PathLike[str], format: str | None = None) -> Path:
    """Write ``g`` (an in-memory graph :func:`ssdfl.as_graph` accepts: a :class:`Graph`, networkx,
    rustworkx, scipy or numpy) atomically; returns the path.

    A ``.gz`` suffix compresses the output. Formats that cannot hold a graph's labels or
    weights say so with an :class:`~ssdfl.SsdflError` rather than silently losing them
    (METIS: integer weights only; edge list: labels without whitespace, ``,``, ``#``, ``%``).
    """
    g = graph_from_object(g)
    p = Path(path)
    fmt = (format or detect_format(p)).lower()
    data = _format_of(fmt).write(g)
    if p.suffix.lower() == ".gz":
        data = gzip.compress(data, mtime=0)
    with atomic_write(p, "wb") as fh:
        fh.write(data)
    return p


# ------------------------------------------------------------------------ edge list
_DIRECTED_HEADER = re.compile(rb"(?<![a-z])directed\b", re.IGNORECASE)


def _says_directed(raw: bytes) -> bool:
    """True if a comment line before the first data line says ``directed`` (not
    ``undirected``), as SNAP's ``# Directed graph (each unordered pair …)`` header does."""
    for line in raw[:65536].splitlines()[:100]:
        s = line.strip()
        if not s:
            continue
        if s[:1] not in (b"#", b"%"):
            return False
        if _DIRECTED_HEADER.search(s):
            return True
    return False


def _core_error(p: Path, exc: SsdflError) -> Exception:
    if isinstance(exc, TooLargeError):
        return TooLargeError(f"{p}: {exc}")
    if isinstance(exc, GraphFormatError):
        return GraphFormatError(f"{p}:{exc}".replace(":line ", ":", 1))
    return GraphFormatError(f"{p}: {exc}")  # e.g. more nodes than the CSR index type holds


def _labels_from_core(labels: Any, n: int) -> np.ndarray | None:
    if isinstance(labels, np.ndarray):
        return None if np.array_equal(labels, np.arange(n)) else labels
    lab = np.empty(n, dtype=object)
    lab[:] = labels
    return lab


def _read_edgelist(p: Path, limits: ReadLimits | None = None, directed: str | None = None) -> Graph:
    raw = _read_bytes(p, limits)
    header_directed = _says_directed(raw)
    if directed is None and not header_directed:
        directed = "sum"
    if directed == "sum":
        try:
            r = _core.read_edge_list(raw)
            core, loops, labels = r.graph, r.self_loops, r.labels
        except SsdflError as exc:
            raise _core_error(p, exc) from None
        _warn_loops(loops, stacklevel=4)
        return Graph(core, _labels_from_core(labels, core.n))
    try:
        e = _core.parse_edge_list(raw)
        src, dst, w, weighted, labels = e.src, e.dst, e.weights, e.weighted, e.labels
    except SsdflError as exc:
        raise _core_error(p, exc) from None
    n = len(labels)
    lo, hi = np.minimum(src, dst), np.maximum(src, dst)
    order = np.lexsort((hi, lo))  # stable: lines of one pair stay in file order
    lo_s, hi_s = lo[order], hi[order]
    last = np.ones(len(order), dtype=bool)
    last[:-1] = (lo_s[1:] != lo_s[:-1]) | (hi_s[1:] != hi_s[:-1])
    repeated = int(len(order) - last.sum())
    if repeated:
        if directed == "error":
            k = int(np.flatnonzero(~last)[0])
            a, b = (labels[int(lo_s[k])], labels[int(hi_s[k])])
            raise GraphFormatError(
                f"{p}: nodes {a} and {b} are joined by more than one line (e.g. '{a} {b}' and "
                f"'{b} {a}' in a directed file); pass directed='merge' or 'sum' to accept it"
            )
        if directed is None:
            warnings.warn(
                f"{p}: the header says 'Directed graph' and {repeated} line(s) repeat a node "
                "pair (reciprocal edges); each pair became one edge with the last weight listed "
                "(directed='merge', as networkx's read_edgelist). Pass directed='sum' "
                "(ssdfl info: --directed sum) to add the weights, or 'error' to refuse the file",
                SsdflWarning,
                stacklevel=3,
            )
        keep = np.sort(order[last])
        src, dst, w = src[keep], dst[keep], w[keep]
    try:
        built = _core.CoreGraph.from_edges(n, src, dst, w if weighted else None)
        core, loops = built.graph, built.self_loops
    except SsdflError as exc:
        raise _core_error(p, exc) from None
    _warn_loops(loops, stacklevel=4)
    return Graph(core, _labels_from_core(labels, n))


def _edgelist_token(x: Any) -> str:
    s = str(x)
    if not s or any(c.isspace() or c in ",#%" for c in s) or s[0] == "\ufeff":
        raise SsdflError(
            f"label {_short(x)} cannot be written to an edge list (empty, or has whitespace , # %)"
        )
    return s


def _write_edgelist(g: Graph) -> bytes:
    s, d, w = g.edges()
    names = g.node_names()
    text = [_edgelist_token(x) for x in names]
    out = io.StringIO()
    out.write(f"# ssdfl edge list: {g.n} nodes, {g.m} edges\n")
    # The reader numbers integer labels in increasing order and other labels by first
    # appearance. Node order survives when the labels are increasing integers; with other
    # labels, list every node first (lone-node lines) unless the edges already show them in
    # order. Isolated nodes are always written as lone lines.
    ints = g.labels is None or (
        g.labels.dtype.kind in "iu"
        or all(isinstance(x, (int, np.integer)) and not isinstance(x, bool) for x in names)
    )
    if ints:
        in_order = g.labels is None or bool(np.all(np.diff(np.asarray(names, np.int64)) > 0))
    else:
        seq = np.column_stack([s, d]).ravel()
        has_edge = np.zeros(g.n, dtype=bool)
        has_edge[seq] = True
        _, first = np.unique(seq, return_index=True)
        order = np.concatenate([np.unique(seq)[np.argsort(first)], np.flatnonzero(~has_edge)])
        in_order = bool(np.array_equal(order, np.arange(g.n)))
    if not in_order and not ints:
        out.write("# node order\n")
        out.write("".join(f"{t}\n" for t in text))
    if g.weighted:
        out.writelines(
            f"{text[a]} {text[b]} {c!r}\n" for a, b, c in zip(s.tolist(), d.tolist(), w.tolist())
        )
    else:
        out.writelines(f"{text[a]} {text[b]}\n" for a, b in zip(s.tolist(), d.tolist()))
    if in_order or ints:
        deg = np.zeros(g.n, dtype=bool)
        deg[s] = True
        deg[d] = True
        out.writelines(f"{text[u]}\n" for u in np.flatnonzero(~deg).tolist())
    return out.getvalue().encode()


# --------------------------------------------------------------------- Matrix Market
_MM_BANNER = re.compile(
    r"%%matrixmarket\s+matrix\s+(coordinate|array)\s+(real|integer|pattern|complex)"
    r"\s+(general|symmetric|skew-symmetric|hermitian)",
    re.IGNORECASE,
)


def _read_mtx(p: Path, limits: ReadLimits | None = None) -> Graph:
    """Matrix Market reader (our own: scipy's C++ reader can crash on malformed input).

    ``coordinate`` (sparse) and ``array`` (dense) layouts; ``real``/``integer``/``pattern``
    fields; ``general`` (must be symmetric) or ``symmetric`` (one triangle listed) matrices.
    Explicit zeros are no edge; diagonal entries are self-loops (dropped with a warning).
    """
    limits = limits or ReadLimits()
    text = _text(p, limits)
    lines = text.splitlines()
    banner = _MM_BANNER.match(lines[0].strip()) if lines else None
    if banner is None:
        raise GraphFormatError(
            f"{p}:1: not a Matrix Market file (expected the banner "
            "'%%MatrixMarket matrix coordinate|array real|integer|pattern general|symmetric')"
        )
    layout, field, symmetry = (x.lower() for x in banner.groups())
    if field == "complex":
        raise GraphFormatError(f"{p}:1: complex Matrix Market values are not edge weights")
    if symmetry in ("skew-symmetric", "hermitian"):
        raise GraphFormatError(f"{p}:1: a {symmetry} matrix is not an adjacency matrix")
    if layout == "array" and field == "pattern":
        raise GraphFormatError(f"{p}:1: 'array pattern' is not a valid Matrix Market type")
    body = [
        (i, ln.split())
        for i, ln in enumerate(lines[1:], start=2)
        if ln.strip() and not ln.lstrip().startswith("%")
    ]
    if not body:
        raise GraphFormatError(f"{p}: missing the size line")
    sline, size = body[0]
    want = 3 if layout == "coordinate" else 2
    if len(size) != want or not all(re.fullmatch(r"[0-9]{1,19}", x) for x in size):
        what = "rows cols entries" if layout == "coordinate" else "rows cols"
        raise GraphFormatError(f"{p}:{sline}: size line must be '{what}' (non-negative integers)")
    rows, cols = int(size[0]), int(size[1])
    if rows != cols:
        raise GraphFormatError(f"{p}:{sline}: adjacency must be square, got shape ({rows}, {cols})")
    n = rows
    if n > _MAX_NODES:
        raise GraphFormatError(f"{p}:{sline}: {n} nodes exceed the maximum {_MAX_NODES}")
    limits.check_nodes(f"{p}:{sline}", n, len(text))
    entries = body[1:]
    if layout == "array":
        return _mtx_array(p, n, symmetry, sline, entries)
    nnz = int(size[2])
    if len(entries) != nnz:
        raise GraphFormatError(
            f"{p}:{sline}: size line announces {nnz} entries but {len(entries)} entry lines follow"
        )
    k = 2 if field == "pattern" else 3
    bad = next((ln for ln, t in entries if len(t) != k), None)
    if bad is not None:
        raise GraphFormatError(
            f"{p}:{bad}: expected {k} values per entry ('row col{'' if k == 2 else ' value'}')"
        )
    linenos = np.array([ln for ln, _ in entries], dtype=np.int64)
    flat = [x for _, t in entries for x in t]
    ij = []
    for off in (0, 1):
        toks = flat[off::k]
        try:
            ij.append(np.array(toks, dtype=np.int64) - 1)
        except (ValueError, OverflowError):
            j = next((j for j, x in enumerate(toks) if not _is_int(x)), 0)
            raise GraphFormatError(
                f"{p}:{linenos[j]}: index {_short(toks[j])} is not an integer"
            ) from None
    r, c = ij
    if k == 3:
        toks = flat[2::3]
        try:
            vals = np.array(toks, dtype=np.float64)
        except ValueError:
            j = next((j for j, x in enumerate(toks) if not _is_float(x)), 0)
            raise GraphFormatError(
                f"{p}:{linenos[j]}: value {_short(toks[j])} is not a number"
            ) from None
    else:
        vals = np.ones(len(r))
    bad_ix = np.flatnonzero((r < 0) | (r >= n) | (c < 0) | (c >= n))
    if bad_ix.size:
        j = int(bad_ix[0])
        raise GraphFormatError(
            f"{p}:{linenos[j]}: entry ({r[j] + 1}, {c[j] + 1}) is outside the {n} x {n} matrix"
        )
    bad_v = np.flatnonzero(~np.isfinite(vals) | (vals < 0))
    if bad_v.size:
        j = int(bad_v[0])
        raise GraphFormatError(
            f"{p}:{linenos[j]}: value {vals[j]:g} is not an edge weight (finite and > 0)"
        )
    keep = vals != 0  # explicit zeros: no edge
    r, c, vals = r[keep], c[keep], vals[keep]
    if symmetry == "symmetric":
        built = _core.CoreGraph.from_edges(
            n, r, c, None if field == "pattern" else np.ascontiguousarray(vals)
        )
        core, loops = built.graph, built.self_loops
        _warn_loops(loops, stacklevel=4)
        return Graph(core)
    import scipy.sparse as sp

    return Graph.from_scipy(sp.coo_array((vals, (r, c)), shape=(n, n)))


def _mtx_array(p: Path, n: int, symmetry: str, sline: int, entries: list) -> Graph:
    """Dense Matrix Market body: column-major values (lower triangle when symmetric)."""
    flat = [x for _, t in entries for x in t]
    count = n * n if symmetry == "general" else n * (n + 1) // 2
    if len(flat) != count:
        raise GraphFormatError(
            f"{p}:{sline}: a {symmetry} {n} x {n} array needs {count} values, found {len(flat)}"
        )
    try:
        vals = np.array(flat, dtype=np.float64)
    except ValueError:
        x = next((x for x in flat if not _is_float(x)), flat[0])
        raise GraphFormatError(f"{p}: value {_short(x)} is not a number") from None
    if symmetry == "general":
        A = vals.reshape(n, n, order="F")
    else:
        A = np.zeros((n, n))
        cols, rows = np.triu_indices(n)  # column-major order of the lower triangle
        A[rows, cols] = vals
        A[cols, rows] = vals
    return Graph.from_scipy(A)


def _write_mtx(g: Graph) -> bytes:
    import scipy.io
    import scipy.sparse as sp

    upper = sp.triu(g.to_scipy(), k=1, format="coo")
    buf = io.BytesIO()
    scipy.io.mmwrite(
        buf,
        upper + upper.T,
        symmetry="symmetric",
        field="real" if g.weighted else "integer",
        comment=f"ssdfl graph: {g.n} nodes, {g.m} edges",
    )
    return buf.getvalue()


# ----------------------------------------------------------------------------- METIS
def _read_metis(p: Path, limits: ReadLimits | None = None) -> Graph:
    rows: list[tuple[int, list[str]]] = []
    for i, line in enumerate(_text(p, limits).splitlines(), start=1):
        s = line.strip()
        if not s.startswith("%"):
            rows.append((i, s.split()))
    while rows and not rows[0][1]:
        rows.pop(0)
    if not rows:
        raise GraphFormatError(f"{p}: empty METIS file (no header line 'n m [fmt [ncon]]')")
    hline, header = rows[0]
    try:
        nums = [int(x) for x in header]
    except ValueError:
        raise GraphFormatError(f"{p}:{hline}: header must be integers 'n m [fmt [ncon]]'") from None
    if not 2 <= len(nums) <= 4:
        raise GraphFormatError(f"{p}:{hline}: header must be 'n m [fmt [ncon]]'")
    n, m = nums[0], nums[1]
    if n < 0 or m < 0:
        raise GraphFormatError(f"{p}:{hline}: negative vertex or edge count in the header")
    if n > _MAX_NODES:
        raise GraphFormatError(f"{p}:{hline}: {n} vertices exceed the maximum {_MAX_NODES}")
    fmt = f"{nums[2]:03d}" if len(nums) > 2 else "000"
    if len(fmt) != 3 or any(c not in "01" for c in fmt):
        raise GraphFormatError(f"{p}:{hline}: fmt must be up to three 0/1 digits, got {fmt}")
    has_vsize, has_vwgt, has_ewgt = (c == "1" for c in fmt)
    ncon = nums[3] if len(nums) > 3 else 1
    if len(nums) > 3 and (not has_vwgt or ncon < 1):
        raise GraphFormatError(f"{p}:{hline}: ncon needs vertex weights (fmt x1x) and ncon >= 1")
    body = rows[1:]
    # trailing blank lines are not vertices; inner blank lines are isolated vertices
    while len(body) > n and not body[-1][1]:
        body.pop()
    if len(body) != n:
        raise GraphFormatError(
            f"{p}: header (line {hline}) says {n} vertices but {len(body)} vertex lines follow"
        )
    skip = (1 if has_vsize else 0) + (ncon if has_vwgt else 0)
    step = 2 if has_ewgt else 1
    flat: list[str] = []
    counts = np.empty(n, dtype=np.int64)
    for u, (lineno, toks) in enumerate(body):
        if len(toks) < skip or (len(toks) - skip) % step:
            raise GraphFormatError(
                f"{p}:{lineno}: vertex {u + 1} needs {skip} vertex size/weight value(s) then "
                f"{'neighbour weight pairs' if has_ewgt else 'neighbours'}"
            )
        flat.extend(toks[skip:])
        counts[u] = (len(toks) - skip) // step
    linenos = np.array([ln for ln, _ in body], dtype=np.int64)
    row = np.repeat(np.arange(n, dtype=np.int64), counts)

    def where(k: int) -> str:
        return f"{p}:{linenos[row[k]]}"

    try:
        nbr = np.array(flat[::step], dtype=np.int64) - 1
    except (ValueError, OverflowError):
        k = next((k for k, x in enumerate(flat[::step]) if not _is_int(x)), 0)
        raise GraphFormatError(
            f"{where(k)}: neighbour {_short(flat[k * step])} is not an integer"
        ) from None
    if has_ewgt:
        try:
            w = np.array(flat[1::2], dtype=np.float64)
        except ValueError:
            k = next((k for k, x in enumerate(flat[1::2]) if not _is_float(x)), 0)
            raise GraphFormatError(
                f"{where(k)}: edge weight {_short(flat[2 * k + 1])} is not a number"
            ) from None
        bad = np.flatnonzero(~(np.isfinite(w) & (w > 0)))
        if bad.size:
            k = int(bad[0])
            raise GraphFormatError(
                f"{where(k)}: edge weight {flat[2 * k + 1]} must be finite and > 0"
            )
    else:
        w = np.ones(len(nbr))
    bad = np.flatnonzero((nbr < 0) | (nbr >= n))
    if bad.size:
        k = int(bad[0])
        raise GraphFormatError(f"{where(k)}: neighbour {nbr[k] + 1} is outside 1..{n}")
    loops = np.flatnonzero(nbr == row)
    if loops.size:
        k = int(loops[0])
        raise GraphFormatError(f"{where(k)}: self-loop on vertex {row[k] + 1} (METIS forbids them)")
    # every edge {u, v} must be listed by u and by v with the same weight, once each
    up = row < nbr
    a_up, b_up, w_up = row[up], nbr[up], w[up]
    a_lo, b_lo, w_lo = nbr[~up], row[~up], w[~up]
    o_up = np.lexsort((b_up, a_up))
    o_lo = np.lexsort((b_lo, a_lo))
    a_up, b_up, w_up = a_up[o_up], b_up[o_up], w_up[o_up]
    a_lo, b_lo, w_lo = a_lo[o_lo], b_lo[o_lo], w_lo[o_lo]
    for a, b, side in ((a_up, b_up, "upper"), (a_lo, b_lo, "lower")):
        dup = np.flatnonzero((a[1:] == a[:-1]) & (b[1:] == b[:-1]))
        if dup.size:
            k = int(dup[0])
            x, y = (a[k], b[k]) if side == "upper" else (b[k], a[k])
            raise GraphFormatError(
                f"{p}:{linenos[x]}: vertex {x + 1} lists neighbour {y + 1} twice "
                "(METIS has no parallel edges)"
            )
    same = (
        len(a_up) == len(a_lo)
        and np.array_equal(a_up, a_lo)
        and np.array_equal(b_up, b_lo)
        and np.array_equal(w_up, w_lo)
    )
    if not same:
        vertex, msg = _metis_asymmetry(a_up, b_up, w_up, a_lo, b_lo, w_lo)
        raise GraphFormatError(f"{p}:{linenos[vertex]}: {msg}")
    if len(a_up) != m:
        raise GraphFormatError(
            f"{p}:{hline}: header says {m} edges but the adjacency lists hold {len(a_up)}"
        )
    return Graph.from_edges(np.column_stack([a_up, b_up]), n=n, weights=w_up if has_ewgt else None)


def _is_int(x: str) -> bool:
    """A decimal integer that fits in int64 (the only form the numeric readers accept)."""
    return re.fullmatch(r"[+-]?[0-9]{1,19}", x) is not None and -(2**63) <= int(x) < 2**63


def _is_float(x: str) -> bool:
    try:
        float(x)
    except ValueError:
        return False
    return True


def _metis_asymmetry(
    a_up: np.ndarray,
    b_up: np.ndarray,
    w_up: np.ndarray,
    a_lo: np.ndarray,
    b_lo: np.ndarray,
    w_lo: np.ndarray,
) -> tuple[int, str]:
    """``(vertex, message)`` for the first edge listed by one endpoint only (or with two
    weights); ``vertex`` is the 0-based vertex whose line to blame."""
    upper = {(int(a), int(b)): float(c) for a, b, c in zip(a_up, b_up, w_up)}
    lower = {(int(a), int(b)): float(c) for a, b, c in zip(a_lo, b_lo, w_lo)}
    for (a, b), c in sorted(upper.items()):
        if (a, b) not in lower:
            return a, f"vertex {a + 1} lists {b + 1} but vertex {b + 1} does not list {a + 1}"
        if lower[(a, b)] != c:
            return a, (
                f"edge {{{a + 1}, {b + 1}}} has weight {c:g} in vertex {a + 1}'s list but "
                f"{lower[(a, b)]:g} in vertex {b + 1}'s"
            )
    a, b = min(set(lower) - set(upper))
    return b, f"vertex {b + 1} lists {a + 1} but vertex {a + 1} does not list {b + 1}"


def _write_metis(g: Graph) -> bytes:
    csr = g._core.csr()
    indptr, indices, data = csr.indptr, csr.indices, csr.data
    weighted = g.weighted
    if weighted and not np.all(data == np.round(data)):
        raise SsdflError("METIS stores integer edge weights only; this graph has fractional ones")
    if weighted and not np.all(data < 2**63):
        raise SsdflError("METIS stores 64-bit integer edge weights; this graph has larger ones")
    out = io.StringIO()
    out.write(f"% ssdfl graph: {g.n} vertices, {g.m} edges\n")
    out.write(f"{g.n} {g.m}{' 001' if weighted else ''}\n")
    nb = (indices + 1).tolist()
    ww = data.astype(np.int64).tolist()
    ptr = indptr.tolist()
    for u in range(g.n):
        s, e = ptr[u], ptr[u + 1]
        if weighted:
            out.write(" ".join(f"{a} {b}" for a, b in zip(nb[s:e], ww[s:e])))
        else:
            out.write(" ".join(map(str, nb[s:e])))
        out.write("\n")
    return out.getvalue().encode()


# -------------------------------------------------------------------------- node-link JSON
def _read_json(p: Path, limits: ReadLimits | None = None) -> Graph:
    text = _text(p, limits)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise GraphFormatError(f"{p}:{exc.lineno}: invalid JSON ({exc.msg})") from None
    except (RecursionError, ValueError) as exc:  # nesting depth; integers of > 4300 digits
        raise GraphFormatError(f"{p}: invalid JSON ({type(exc).__name__}: {exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("nodes"), list):
        raise GraphFormatError(f"{p}: not node-link JSON (needs a 'nodes' list)")
    if data.get("directed"):
        raise GraphFormatError(
            f"{p}: the file describes a directed graph; ssdfl graphs are undirected "
            "(convert it, e.g. networkx's G.to_undirected(), and save again)"
        )
    key = "edges" if "edges" in data else "links"
    links = data.get(key, [])
    if not isinstance(links, list):
        raise GraphFormatError(f"{p}: '{key}' must be a list")
    index: dict[Any, int] = {}
    names: list[Any] = []

    def node_id(x: Any, what: str) -> int:
        if isinstance(x, bool) or not isinstance(x, (int, str, float)):
            raise GraphFormatError(
                f"{p}: {what} has id {_short(x)}; ids must be numbers or strings"
            )
        if x not in index:
            index[x] = len(names)
            names.append(x)
        return index[x]

    for k, node in enumerate(data["nodes"]):
        if not isinstance(node, dict) or "id" not in node:
            raise GraphFormatError(f"{p}: node {k} is not an object with an 'id'")
        node_id(node["id"], f"node {k}")
    # networkx's node_link_graph: a file without "multigraph" is a multigraph
    multigraph = bool(data.get("multigraph", True))
    src = np.empty(len(links), dtype=np.int64)
    dst = np.empty(len(links), dtype=np.int64)
    w = np.ones(len(links), dtype=np.float64)
    hw = np.zeros(len(links), dtype=bool)
    for k, e in enumerate(links):
        if not isinstance(e, dict) or "source" not in e or "target" not in e:
            raise GraphFormatError(f"{p}: {key}[{k}] is not an object with 'source' and 'target'")
        src[k] = node_id(e["source"], f"{key}[{k}] source")
        dst[k] = node_id(e["target"], f"{key}[{k}] target")
        if "weight" in e:
            x = e["weight"]
            if isinstance(x, bool) or not isinstance(x, (int, float)):
                raise GraphFormatError(f"{p}: {key}[{k}] has non-numeric weight {_short(x)}")
            try:
                xf = float(x)
            except OverflowError:  # an integer beyond the float range
                xf = math.inf
            if not (math.isfinite(xf) and xf > 0):
                raise GraphFormatError(
                    f"{p}: {key}[{k}] has weight {_short(x)}; must be finite and > 0"
                )
            w[k] = xf
            hw[k] = True
    has_w = bool(hw.any())
    if not multigraph and len(links):
        # networkx's Graph.add_edge updates the pair's attributes: one edge per node pair whose
        # weight is the last one given; an entry without a weight keeps the earlier weight
        lo, hi = np.minimum(src, dst), np.maximum(src, dst)
        order = np.lexsort((hi, lo))  # stable: entries of one pair stay in file order
        lo_s, hi_s = lo[order], hi[order]
        start = np.ones(len(order), dtype=bool)
        start[1:] = (lo_s[1:] != lo_s[:-1]) | (hi_s[1:] != hi_s[:-1])
        gid = np.cumsum(start) - 1
        last_w = np.full(int(gid[-1]) + 1, -1, dtype=np.int64)
        sel = hw[order]
        np.maximum.at(last_w, gid[sel], np.flatnonzero(sel))
        first = order[start]
        weight = np.where(last_w >= 0, w[order][np.maximum(last_w, 0)], 1.0)
        by_file = np.argsort(first, kind="stable")
        src, dst, w = src[first][by_file], dst[first][by_file], weight[by_file]
    built = _core.CoreGraph.from_edges(len(names), src, dst, w if has_w else None)
    core, loops = built.graph, built.self_loops
    _warn_loops(loops, stacklevel=4)
    return Graph(core, _labels_array(names))


def _write_json(g: Graph) -> bytes:
    names = g.node_names()
    for x in names:
        if isinstance(x, bool) or not isinstance(x, (int, str, float)):
            raise SsdflError(
                f"label {_short(x)} cannot be a node-link JSON id (numbers or strings only)"
            )
    s, d, w = g.edges()
    if g.weighted:
        edges = [
            {"source": names[a], "target": names[b], "weight": c}
            for a, b, c in zip(s.tolist(), d.tolist(), w.tolist())
        ]
    else:
        edges = [{"source": names[a], "target": names[b]} for a, b in zip(s.tolist(), d.tolist())]
    data = {
        "directed": False,
        "multigraph": False,
        "graph": {},
        "nodes": [{"id": x} for x in names],
        "edges": edges,
    }
    return json.dumps(data).encode()


# ------------------------------------------------------------------------------- GraphML
def _read_graphml(p: Path, limits: ReadLimits | None = None) -> Graph:
    import networkx as nx

    raw = _read_bytes(p, limits)
    try:
        g = nx.read_graphml(io.BytesIO(raw))
    except Exception as exc:  # networkx/ElementTree raise many types on malformed XML
        raise GraphFormatError(f"{p}: malformed GraphML ({type(exc).__name__}: {exc})") from None
    if g.is_directed():
        raise GraphFormatError(
            f"{p}: the file describes a directed graph (edgedefault='directed'); ssdfl graphs "
            "are undirected (convert it, e.g. networkx's G.to_undirected(), and save again)"
        )
    # GraphML ids are strings; ids that are all decimal integers become integer labels
    keys = list(g.nodes)
    if keys and all(isinstance(k, str) and re.fullmatch(r"-?[0-9]{1,18}", k) for k in keys):
        g = nx.relabel_nodes(g, {k: int(k) for k in keys}, copy=True)
    return Graph.from_networkx(g)


def _write_graphml(g: Graph) -> bytes:
    import networkx as nx

    buf = io.BytesIO()
    nx.write_graphml(g.to_networkx(), buf)
    return buf.getvalue()


for _fmt in (
    GraphFormat("edgelist", (".edgelist", ".edges", ".el", ".txt", ".csv", ".tsv"),
                _read_edgelist, _write_edgelist, "u v [w] per line, # or % comments"),
    GraphFormat("mtx", (".mtx",), _read_mtx, _write_mtx, "Matrix Market, symmetric or general"),
    GraphFormat("metis", (".graph", ".metis"), _read_metis, _write_metis,
                "METIS, 1-based, fmt flags for weights"),
    GraphFormat("json", (".json",), _read_json, _write_json, "node-link JSON (networkx)"),
    GraphFormat("graphml", (".graphml",), _read_graphml, _write_graphml,
                "GraphML (networkx), edge attribute weight"),
):  # fmt: skip
    register_format(_fmt)
