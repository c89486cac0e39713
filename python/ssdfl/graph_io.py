"""Reading and writing graph files.

Formats (chosen from the extension, or given as ``format=``):

=============  =====================  ===============================================
format         extensions             notes
=============  =====================  ===============================================
``edgelist``   .edgelist .edges .txt  ``u v [w]`` per line, ``#``/``%`` comments; parsed in
               .el .csv (+ .gz)       Rust. Integer labels → node i is the i-th smallest.
``mtx``        .mtx (+ .gz)           Matrix Market (scipy); symmetric or general.
``metis``      .graph .metis          METIS/Chaco, 1-based, fmt flags for weights.
``json``       .json                  networkx node-link JSON.
``graphml``    .graphml               GraphML (networkx); attribute ``weight``.
=============  =====================  ===============================================

Writes are atomic (temporary file + rename).
"""

from __future__ import annotations

import gzip
import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from ssdfl import _core
from ssdfl._atomic import atomic_write
from ssdfl.errors import GraphFormatError, SsdflError
from ssdfl.graph import Graph, _warn_loops, as_graph

__all__ = ["FORMATS", "detect_format", "read_graph", "write_graph"]

FORMATS = ("edgelist", "mtx", "metis", "json", "graphml")

_EXT = {
    ".edgelist": "edgelist",
    ".edges": "edgelist",
    ".el": "edgelist",
    ".txt": "edgelist",
    ".csv": "edgelist",
    ".tsv": "edgelist",
    ".mtx": "mtx",
    ".graph": "metis",
    ".metis": "metis",
    ".json": "json",
    ".graphml": "graphml",
}


def detect_format(path: str | os.PathLike[str]) -> str:
    """Format name from the file extension (a trailing ``.gz`` is looked through)."""
    p = Path(path)
    suffixes = [s.lower() for s in p.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    if suffixes and suffixes[-1] in _EXT:
        return _EXT[suffixes[-1]]
    raise SsdflError(
        f"cannot tell the format of {str(path)!r} from its extension; pass format= one of {FORMATS}"
    )


def _read_bytes(path: Path) -> bytes:
    if not path.exists():
        raise FileNotFoundError(f"graph file not found: {path}")
    if path.is_dir():
        raise SsdflError(f"{path} is a directory, not a graph file")
    raw = path.read_bytes()
    if path.suffix.lower() == ".gz" or raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise GraphFormatError(f"{path}: corrupt gzip data ({exc})") from None
    return raw


def _text(path: Path) -> str:
    try:
        return _read_bytes(path).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise GraphFormatError(f"{path}: not UTF-8 text ({exc})") from None


def read_graph(path: str | os.PathLike[str], format: str | None = None) -> Graph:
    """Read a graph file; see the module docstring for the formats."""
    p = Path(path)
    fmt = (format or detect_format(p)).lower()
    if fmt not in FORMATS:
        raise SsdflError(f"unknown graph format {fmt!r}; expected one of {FORMATS}")
    try:
        return _READERS[fmt](p)
    except (GraphFormatError, FileNotFoundError):
        raise
    except SsdflError as exc:
        raise GraphFormatError(f"{p}: {exc}") from None


def write_graph(g: Any, path: str | os.PathLike[str], format: str | None = None) -> Path:
    """Write ``g`` (anything :func:`ssdfl.as_graph` accepts) atomically; returns the path."""
    g = as_graph(g)
    p = Path(path)
    fmt = (format or detect_format(p)).lower()
    if fmt not in FORMATS:
        raise SsdflError(f"unknown graph format {fmt!r}; expected one of {FORMATS}")
    data = _WRITERS[fmt](g)
    if p.suffix.lower() == ".gz":
        data = gzip.compress(data)
    with atomic_write(p, "wb") as fh:
        fh.write(data)
    return p


# ------------------------------------------------------------------------ edge list
def _read_edgelist(p: Path) -> Graph:
    try:
        core, loops, _merged, _weighted, labels = _core.read_edge_list(_read_bytes(p))
    except GraphFormatError as exc:
        raise GraphFormatError(f"{p}:{exc}".replace(":line ", ":", 1)) from None
    except SsdflError as exc:  # e.g. more nodes than the CSR index type holds
        raise GraphFormatError(f"{p}: {exc}") from None
    _warn_loops(loops)
    n = core.n
    if isinstance(labels, np.ndarray):
        lab = None if np.array_equal(labels, np.arange(n)) else labels
    else:
        lab = np.empty(n, dtype=object)
        lab[:] = labels
    return Graph(core, lab)


def _write_edgelist(g: Graph) -> bytes:
    s, d, w = g.edges()
    names = g.node_names()
    for x in names:
        if isinstance(x, str) and (not x or any(c.isspace() or c in ",#%" for c in x)):
            raise SsdflError(f"label {x!r} cannot be written to an edge list (whitespace , # %)")
    buf = io.StringIO()
    buf.write(f"# ssdfl edge list: {g.n} nodes, {g.m} edges\n")
    if g.weighted:
        for a, b, c in zip(s.tolist(), d.tolist(), w.tolist()):
            buf.write(f"{names[a]} {names[b]} {c!r}\n")
    else:
        for a, b in zip(s.tolist(), d.tolist()):
            buf.write(f"{names[a]} {names[b]}\n")
    deg = np.zeros(g.n, dtype=bool)
    deg[s] = True
    deg[d] = True
    for u in np.flatnonzero(~deg).tolist():  # isolated nodes as lone lines
        buf.write(f"{names[u]}\n")
    return buf.getvalue().encode()


# --------------------------------------------------------------------- Matrix Market
def _read_mtx(p: Path) -> Graph:
    import scipy.io

    try:
        mat = scipy.io.mmread(io.BytesIO(_read_bytes(p)))
    except (ValueError, IndexError, TypeError) as exc:
        raise GraphFormatError(f"{p}: malformed Matrix Market file ({exc})") from None
    return Graph.from_scipy(mat)


def _write_mtx(g: Graph) -> bytes:
    import scipy.io
    import scipy.sparse as sp

    buf = io.BytesIO()
    scipy.io.mmwrite(
        buf,
        sp.coo_matrix(sp.triu(g.to_scipy(), k=1) + sp.triu(g.to_scipy(), k=1).T),
        symmetry="symmetric",
        field="real" if g.weighted else "integer",
    )
    return buf.getvalue()


# ----------------------------------------------------------------------------- METIS
def _read_metis(p: Path) -> Graph:
    lines = _text(p).splitlines()
    rows: list[tuple[int, list[str]]] = []
    for i, line in enumerate(lines, start=1):
        s = line.strip()
        if s.startswith("%"):
            continue
        rows.append((i, s.split()))
    while rows and not rows[0][1]:
        rows.pop(0)
    if not rows:
        raise GraphFormatError(f"{p}: empty METIS file")
    hline, header = rows[0]
    try:
        nums = [int(x) for x in header]
    except ValueError:
        raise GraphFormatError(f"{p}:{hline}: header must be integers 'n m [fmt [ncon]]'") from None
    if len(nums) < 2 or len(nums) > 4:
        raise GraphFormatError(f"{p}:{hline}: header must be 'n m [fmt [ncon]]'")
    n, m = nums[0], nums[1]
    fmt = f"{nums[2]:03d}" if len(nums) > 2 else "000"
    if len(fmt) != 3 or any(c not in "01" for c in fmt):
        raise GraphFormatError(f"{p}:{hline}: fmt must be three 0/1 digits, got {fmt}")
    has_vsize, has_vwgt, has_ewgt = (c == "1" for c in fmt)
    ncon = nums[3] if len(nums) > 3 else (1 if has_vwgt else 0)
    body = rows[1:]
    # trailing blank lines are not vertices; inner blank lines are isolated vertices
    while len(body) > n and not body[-1][1]:
        body.pop()
    if len(body) != n:
        raise GraphFormatError(f"{p}: header says {n} vertices but {len(body)} vertex lines follow")
    src: list[int] = []
    dst: list[int] = []
    wts: list[float] = []
    skip = (1 if has_vsize else 0) + (ncon if has_vwgt else 0)
    step = 2 if has_ewgt else 1
    for u, (lineno, toks) in enumerate(body):
        rest = toks[skip:]
        if len(rest) % step:
            raise GraphFormatError(f"{p}:{lineno}: neighbour/weight pairs are incomplete")
        try:
            vals = [int(x) if k % step == 0 else float(x) for k, x in enumerate(rest)]
        except ValueError:
            raise GraphFormatError(f"{p}:{lineno}: non-numeric entry") from None
        for k in range(0, len(vals), step):
            v = int(vals[k]) - 1
            if not 0 <= v < n:
                raise GraphFormatError(f"{p}:{lineno}: neighbour {v + 1} is outside 1..{n}")
            w = vals[k + 1] if has_ewgt else 1.0
            if not (np.isfinite(w) and w > 0):
                raise GraphFormatError(f"{p}:{lineno}: edge weight {w} must be > 0")
            if u < v:
                src.append(u)
                dst.append(v)
                wts.append(w)
            elif u == v:
                raise GraphFormatError(f"{p}:{lineno}: self-loop on vertex {u + 1}")
    # symmetry check: every edge must appear in both rows
    adj = Graph.from_edges(
        np.column_stack([src, dst]) if src else np.zeros((0, 2)),
        n=n,
        weights=wts if has_ewgt else None,
    )
    lower = 0
    for u, (_lineno, toks) in enumerate(body):
        rest = toks[skip:]
        for k in range(0, len(rest), step):
            if int(rest[k]) - 1 < u:
                lower += 1
    if lower != len(src) or adj.m != len(src):
        raise GraphFormatError(
            f"{p}: adjacency lists are not symmetric ({len(src)} entries above the diagonal, "
            f"{lower} below, {adj.m} distinct edges)"
        )
    if adj.m != m:
        raise GraphFormatError(f"{p}:{hline}: header says {m} edges but the lists hold {adj.m}")
    return adj


def _write_metis(g: Graph) -> bytes:
    indptr, indices, data = g._core.csr()
    weighted = g.weighted
    if weighted and not np.all(data == np.round(data)):
        raise SsdflError("METIS stores integer edge weights only; this graph has fractional ones")
    buf = io.StringIO()
    buf.write(f"{g.n} {g.m}{' 001' if weighted else ''}\n")
    for u in range(g.n):
        nb = indices[indptr[u] : indptr[u + 1]] + 1
        if weighted:
            ww = data[indptr[u] : indptr[u + 1]].astype(np.int64)
            buf.write(" ".join(f"{a} {b}" for a, b in zip(nb.tolist(), ww.tolist())))
        else:
            buf.write(" ".join(map(str, nb.tolist())))
        buf.write("\n")
    return buf.getvalue().encode()


# ----------------------------------------------------------------- node-link JSON / GraphML
def _read_json(p: Path) -> Graph:
    import networkx as nx

    try:
        data = json.loads(_text(p))
    except json.JSONDecodeError as exc:
        raise GraphFormatError(f"{p}:{exc.lineno}: invalid JSON ({exc.msg})") from None
    if not isinstance(data, dict) or "nodes" not in data:
        raise GraphFormatError(f"{p}: not node-link JSON (no 'nodes' key)")
    key = "links" if "links" in data else "edges"
    try:
        g = nx.node_link_graph(data, edges=key)
    except (KeyError, TypeError, nx.NetworkXError) as exc:
        raise GraphFormatError(f"{p}: malformed node-link JSON ({exc!r})") from None
    return Graph.from_networkx(g)


def _write_json(g: Graph) -> bytes:
    import networkx as nx

    data = nx.node_link_data(g.to_networkx(), edges="links")
    return json.dumps(data, default=_json_default).encode()


def _json_default(x: Any) -> Any:
    if isinstance(x, np.generic):
        return x.item()
    raise TypeError(f"cannot serialise {type(x).__name__}")


def _read_graphml(p: Path) -> Graph:
    import xml.etree.ElementTree as ET

    import networkx as nx

    try:
        g = nx.read_graphml(io.BytesIO(_read_bytes(p)))
    except (ET.ParseError, nx.NetworkXError, KeyError, ValueError) as exc:
        raise GraphFormatError(f"{p}: malformed GraphML ({exc})") from None
    if g.is_directed():
        g = g.to_undirected()
    return Graph.from_networkx(g)


def _write_graphml(g: Graph) -> bytes:
    import networkx as nx

    buf = io.BytesIO()
    nxg = g.to_networkx()
    nx.write_graphml(nxg, buf)
    return buf.getvalue()


_READERS = {
    "edgelist": _read_edgelist,
    "mtx": _read_mtx,
    "metis": _read_metis,
    "json": _read_json,
    "graphml": _read_graphml,
}
_WRITERS = {
    "edgelist": _write_edgelist,
    "mtx": _write_mtx,
    "metis": _write_metis,
    "json": _write_json,
    "graphml": _write_graphml,
}
