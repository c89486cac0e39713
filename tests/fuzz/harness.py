"""Fuzz harness for every graph reader: targets, seed inputs, mutations, the oracle, the corpus.

A *target* is one way bytes reach a reader (a format, plain or gzip, an edge-list ``directed=``
mode, or the Rust parser called directly). :func:`check` runs one input through one target and
raises :class:`Finding` for anything that is not an allowed outcome:

- a :class:`ssdfl.Graph` whose invariants hold (finite positive weights, finite degrees and
  total volume, a symmetric CSR, one label per node), or
- :class:`ssdfl.GraphFormatError` whose message starts with the file's path, or
- :class:`ssdfl.TooLargeError` (a limit, named in the message),

within :data:`TIME_LIMIT` seconds. Node-link JSON that ssdfl accepts is also read with
networkx (``node_link_graph``) and must give the same nodes and weights (a differential oracle).

Findings are saved under ``tests/fuzz/corpus/<target>/<sha1>.bin`` by :func:`save`; the test
``test_corpus_replays_cleanly`` replays every file there, so a crash once found stays fixed.
Used by ``tests/fuzz/test_fuzz_readers.py`` (short, in CI) and ``scripts/fuzz.py`` (long runs).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import math
import random
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

import ssdfl
from ssdfl import _core
from ssdfl.errors import GraphFormatError, TooLargeError
from ssdfl.graphs.graph_io import FORMATS

CORPUS = Path(__file__).resolve().parent / "corpus"
TIME_LIMIT = 10.0
"""Seconds one input may take (inputs are at most a few KB: anything slower is a finding)."""

EXT = {
    "edgelist": ".edgelist",
    "mtx": ".mtx",
    "metis": ".graph",
    "json": ".json",
    "graphml": ".graphml",
}
TARGETS = (
    *EXT,
    *(f"{f}.gz" for f in EXT),
    "edgelist-merge",
    "edgelist-error",
    "core-parse",
    "devices",
)
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


class Finding(AssertionError):
    """An input on which a reader misbehaved (crash, wrong exception, broken invariant, slow)."""


# ------------------------------------------------------------------------- seeds
def _seed_graphs() -> list[ssdfl.Graph]:
    import networkx as nx

    out = [
        ssdfl.Graph.from_edges([(0, 1), (1, 2), (2, 0), (2, 3)], n=5, weights=[1.0, 2.0, 3.0, 4.0]),
        ssdfl.Graph.from_edges([(0, 1), (1, 2)], labels=["a", "b", "c"]),
        ssdfl.Graph.from_networkx(nx.karate_club_graph()),
        ssdfl.Graph.from_edges([(0, 1)], weights=[1e300], labels=[-5, 2**40]),
    ]
    return out


def seeds(target: str) -> list[bytes]:
    """Valid files for ``target`` (what mutations start from), plus hand-written edge cases."""
    if target == "devices":
        return [(EXAMPLES / "er30-devices.csv").read_bytes(), b"id,n_samples\n0,5\n", b"id\n"]
    fmt = target.split(".")[0].split("-")[0]
    fmt = "edgelist" if fmt == "core" else fmt
    out: list[bytes] = []
    for g in _seed_graphs():
        try:
            out.append(FORMATS[fmt].write(g))
        except ssdfl.SsdflError:  # e.g. METIS cannot hold fractional weights
            pass
    extra = {
        "edgelist": [
            b"# Directed graph (each unordered pair of nodes is saved once)\n0\t1\n1\t0\n1\t2\n",
            b"a,b,1.5\r\nb,c\r\n% comment\r\nd\r\n",
            b"0 1\r1 2\r",
            b"0 1 1e308\n1 0 1e308\n",
        ],
        "mtx": [
            b"%%MatrixMarket matrix coordinate real general\n2 2 2\n1 2 1.5\n2 1 1.5\n",
            b"%%MatrixMarket matrix array real symmetric\n2 2\n0\n1\n0\n",
        ],
        "metis": [b"% c\n3 2 001\n2 5\n1 5 3 1\n2 1\n", b"3 1 011 2\n1 1 2 7\n1 1 1 7\n1 1\n"],
        "json": [
            b'{"nodes": [{"id": 0}, {"id": "a"}], "links": [{"source": 0, "target": "a"}]}',
            b'{"multigraph": false, "nodes": [], "edges": [{"source": 1, "target": 2, '
            b'"weight": 2}, {"source": 2, "target": 1}]}',
        ],
        "graphml": [],
    }
    return out + extra[fmt]


# ------------------------------------------------------------------------- mutations
_TOKENS = [
    b"\n",
    b"\r",
    b"\r\n",
    b" ",
    b"\t",
    b",",
    b"#",
    b"%",
    b"-",
    b"+",
    b".",
    b"e",
    b"0",
    b"1",
    b"9" * 20,
    b"1e308",
    b"nan",
    b"inf",
    b"-1",
    b"4294967296",
    b"9223372036854775808",
    b"\xef\xbb\xbf",
    b"\xff",
    b"\x00",
    b'"',
    b"{",
    b"}",
    b"[",
    b"]",
    b":",
    b"<",
    b">",
    b"%%MatrixMarket matrix coordinate real symmetric\n",
    b"# Directed graph\n",
    b'"weight": 1e308',
    b'"multigraph": false',
    b'"directed": true',
    b"100000000",
]


def mutate(data: bytes, rng: random.Random, rounds: int | None = None) -> bytes:
    """``data`` with a few random edits: byte flips, token insertions, deletions, duplication
    of a slice, truncation (a dictionary of format tokens steers toward parser edge cases)."""
    buf = bytearray(data)
    for _ in range(rounds or rng.choice((1, 1, 1, 1, 2, 2, 3, 5, 8))):
        i = rng.randint(0, len(buf)) if buf else 0
        op = rng.randrange(6)
        if op == 0 and buf:
            buf[min(i, len(buf) - 1)] = rng.randrange(256)
        elif op == 1:
            buf[i:i] = rng.choice(_TOKENS)
        elif op == 2 and buf:
            del buf[i : i + rng.randint(1, 16)]
        elif op == 3 and buf:
            j = rng.randint(0, len(buf))
            a, b = min(i, j), max(i, j)
            buf[b:b] = buf[a:b][:256]
        elif op == 4:
            del buf[i:]
        else:
            buf[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 4)))
    return bytes(buf[:8192])


# ------------------------------------------------------------------------- oracle
def _check_graph(g: ssdfl.Graph, where: str) -> None:
    if not isinstance(g, ssdfl.Graph):
        raise Finding(f"{where}: returned {type(g).__name__}, not a Graph")
    s, d, w = g.edges()
    deg = g.degrees
    if len(deg) != g.n or (g.labels is not None and len(g.labels) != g.n):
        raise Finding(f"{where}: {g.n} nodes but {len(deg)} degrees / labels")
    if len(s) != g.m or np.any(s >= d) or (len(s) and (s.min() < 0 or d.max() >= g.n)):
        raise Finding(f"{where}: malformed edge arrays")
    if not (np.all(np.isfinite(w)) and np.all(w > 0)):
        raise Finding(f"{where}: a weight that is not finite and > 0")
    if not (np.all(np.isfinite(deg)) and math.isfinite(float(deg.sum()))):
        raise Finding(f"{where}: a degree or the total volume is not finite")
    A = g.to_scipy()
    if (A - A.T).count_nonzero():
        raise Finding(f"{where}: the adjacency is not symmetric")


def _differential_json(data: bytes, g: ssdfl.Graph, where: str) -> None:
    """ssdfl accepted a node-link file: networkx must read the same nodes and weights."""
    import networkx as nx

    doc = json.loads(data.decode("utf-8-sig"))
    key = "edges" if "edges" in doc else "links"
    doc.setdefault(key, [])  # known difference: ssdfl reads a file without an edge list
    try:
        h = nx.node_link_graph(doc, edges=key)
    except Exception as exc:  # networkx fails where ssdfl succeeded: report it
        msg = f"{where}: ssdfl read it, networkx raised {type(exc).__name__}: {exc}"
        raise Finding(msg) from exc
    h.remove_edges_from(list(nx.selfloop_edges(h)))
    if g.node_names() != list(h.nodes):
        raise Finding(f"{where}: nodes differ from networkx's")
    ref: dict[frozenset, float] = {}
    for u, v, attrs in h.edges(data=True):
        k = frozenset((u, v))
        ref[k] = ref.get(k, 0.0) + float(attrs.get("weight", 1.0))
    names = g.node_names()
    s, d, w = g.edges()
    ours = {frozenset((names[a], names[b])): float(c) for a, b, c in zip(s, d, w)}
    if ours.keys() != ref.keys() or any(
        not math.isclose(ours[k], ref[k], rel_tol=1e-12) for k in ours
    ):
        raise Finding(f"{where}: edge weights differ from networkx's")


def _read(target: str, path: Path) -> ssdfl.Graph:
    base = target.split("-")[0]
    fmt = base.split(".")[0]
    directed = target.split("-")[1] if "-" in target else None
    return ssdfl.read_graph(path, format=fmt, directed=directed)


def check(target: str, data: bytes, workdir: Path | None = None) -> str:
    """Run ``data`` through ``target``; return the outcome (``graph``, ``GraphFormatError``,
    ``TooLargeError``) or raise :class:`Finding`."""
    if target not in TARGETS:
        raise ValueError(f"unknown target {target!r}; one of {TARGETS}")
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SsdflWarning, networkx UserWarnings: not findings
        if target == "core-parse":
            outcome = _check_core(data)
        elif target == "devices":
            with tempfile.TemporaryDirectory(dir=workdir) as tmp:
                path = Path(tmp) / "devices.csv"
                path.write_bytes(data)
                outcome = _check_devices(path)
        else:
            with tempfile.TemporaryDirectory(dir=workdir) as tmp:
                fmt = target.split("-")[0].split(".")[0]
                gz = target.endswith(".gz")
                path = Path(tmp) / f"fuzz{EXT[fmt]}{'.gz' if gz else ''}"
                path.write_bytes(gzip.compress(data, mtime=0) if gz else data)
                outcome = _check_file(target, path, data)
    dt = time.perf_counter() - t0
    if dt > TIME_LIMIT:
        raise Finding(f"{target}: {len(data)} bytes took {dt:.1f} s")
    return outcome


def _check_core(data: bytes) -> str:
    try:
        e = _core.parse_edge_list(data)
        src, dst, w, labels = e.src, e.dst, e.weights, e.labels
    except (GraphFormatError, TooLargeError):
        return "error"
    except Exception as exc:  # anything else is the finding (Ctrl-C still stops a run)
        raise Finding(f"core-parse raised {type(exc).__name__}: {exc}") from exc
    n = len(labels)
    if not (len(src) == len(dst) == len(w)) or (
        len(src) and (min(src.min(), dst.min()) < 0 or max(src.max(), dst.max()) >= n)
    ):
        raise Finding("core-parse: endpoints outside the label range")
    if not np.all(np.isfinite(w) & (w > 0)):
        raise Finding("core-parse: a weight that is not finite and > 0")
    return "graph"


_DEVICE_GRAPH: list[ssdfl.Graph] = []


def _check_devices(path: Path) -> str:
    """The devices CSV reader, against the example graph ``er30``."""
    from ssdfl.theory.devices import DeviceFileError, read_devices

    if not _DEVICE_GRAPH:
        _DEVICE_GRAPH.append(ssdfl.read_graph(EXAMPLES / "er30.edgelist"))
    try:
        table = read_devices(path, _DEVICE_GRAPH[0])
    except DeviceFileError as exc:
        if not str(exc).startswith(str(path)):
            raise Finding(f"devices: DeviceFileError without the path: {exc}") from exc
        return "DeviceFileError"
    except Exception as exc:  # anything else is the finding
        raise Finding(f"devices raised {type(exc).__name__}: {exc}") from exc
    if table is None:
        raise Finding("devices: read_devices returned None")
    return "graph"


def _check_file(target: str, path: Path, data: bytes) -> str:
    try:
        g = _read(target, path)
    except GraphFormatError as exc:
        if not str(exc).startswith(str(path)):
            raise Finding(f"{target}: GraphFormatError without the path: {exc}") from exc
        return "GraphFormatError"
    except TooLargeError:
        return "TooLargeError"
    except Exception as exc:  # anything else is the finding (Ctrl-C still stops a run)
        raise Finding(f"{target} raised {type(exc).__name__}: {exc}") from exc
    _check_graph(g, target)
    if target == "json":
        _differential_json(data, g, target)
    return "graph"


# ------------------------------------------------------------------------- corpus
def save(target: str, data: bytes) -> Path:
    """Keep a finding as a regression case: ``corpus/<target>/<sha1>.bin``."""
    d = CORPUS / target
    d.mkdir(parents=True, exist_ok=True)
    p = d / f"{hashlib.sha1(data).hexdigest()[:16]}.bin"
    p.write_bytes(data)
    return p


def corpus_files() -> list[tuple[str, Path]]:
    """Every ``(target, file)`` kept under ``corpus/``."""
    if not CORPUS.is_dir():
        return []
    return [
        (d.name, p)
        for d in sorted(CORPUS.iterdir())
        if d.is_dir() and d.name in TARGETS
        for p in sorted(d.iterdir())
        if p.is_file()
    ]


def checked(target: str, data: bytes, keep: bool = True) -> str:
    """:func:`check`, saving the input to the corpus first when it is a finding."""
    try:
        return check(target, data)
    except Finding:
        if keep:
            save(target, data)
        raise
