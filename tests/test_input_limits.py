"""Resource limits and wrong-acceptance fixes of the graph readers (issue 11, items 2 and 3).

Each test reproduces an audit finding: declared sizes checked before allocating, gzip
decompressed as a stream under a cap, allocation failures as errors (no abort), overflowing
merged weights refused, node-link JSON as networkx reads it, ``\\r`` line endings.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import tempfile
import textwrap
import time
import zlib
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ssdfl
from ssdfl.errors import GraphFormatError, SsdflError, TooLargeError
from ssdfl.graphs import graph_io


def _weights(g: ssdfl.Graph) -> dict[frozenset, float]:
    names = g.node_names()
    s, d, w = g.edges()
    return {frozenset((names[a], names[b])): float(c) for a, b, c in zip(s, d, w)}


def _nx_weights(h: nx.Graph) -> dict[frozenset, float]:
    if h.is_multigraph():
        out: dict[frozenset, float] = {}
        for u, v, data in h.edges(data=True):
            k = frozenset((u, v))
            out[k] = out.get(k, 0.0) + float(data.get("weight", 1.0))
        return out
    return {frozenset((u, v)): float(d.get("weight", 1.0)) for u, v, d in h.edges(data=True)}


def _bomb(path: Path, line: bytes, total: int) -> int:
    """Write ``total`` bytes of repeated ``line`` gzip-compressed; returns the compressed size."""
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = line * (65536 // len(line))
    parts = [c.compress(block) for _ in range(total // len(block))]
    parts.append(c.flush())
    path.write_bytes(b"".join(parts))
    return path.stat().st_size


# ------------------------------------------------------------------ declared sizes
def test_mtx_declaring_1e8_nodes_is_refused_before_allocating(tmp_path: Path) -> None:
    p = tmp_path / "big.mtx"
    p.write_text("%%MatrixMarket matrix coordinate pattern symmetric\n100000000 100000000 0\n")
    assert p.stat().st_size < 80
    t = time.process_time()
    with pytest.raises(TooLargeError, match=r"big\.mtx:2: declares 100000000 nodes.*1048576"):
        ssdfl.read_graph(p)
    assert time.process_time() - t < 1.0  # CPU-s (load-proof); audit: 9.4 s, 2.4 GB before the fix


def test_declared_nodes_limit_is_configurable(tmp_path: Path, monkeypatch) -> None:
    p = tmp_path / "iso.mtx"
    p.write_text("%%MatrixMarket matrix coordinate pattern symmetric\n3000 3000 1\n2 1\n")
    g = ssdfl.read_graph(p)  # 3000 ≤ 2**20: isolated nodes are fine by default
    assert (g.n, g.m) == (3000, 1)
    with pytest.raises(TooLargeError, match="max_nodes=2999"):
        ssdfl.read_graph(p, max_nodes=2999)
    monkeypatch.setenv(graph_io.ENV_MAX_NODES, "100")
    with pytest.raises(TooLargeError, match="max_nodes=100"):
        ssdfl.read_graph(p)
    assert ssdfl.read_graph(p, max_nodes=3000).n == 3000  # the argument beats the env
    monkeypatch.setenv(graph_io.ENV_MAX_NODES, "lots")
    with pytest.raises(SsdflError, match="SSDFL_MAX_GRAPH_NODES='lots'"):
        ssdfl.read_graph(p)
    with pytest.raises(SsdflError, match="max_nodes must be a positive integer"):
        ssdfl.read_graph(p, max_nodes=0)


# ------------------------------------------------------------------ gzip cap
@pytest.mark.parametrize(
    ("name", "line"),
    [("e.edgelist.gz", b"0 1\n"), ("m.graph.gz", b"\n"), ("j.json.gz", b" "), ("x.mtx.gz", b"%\n")],
)
def test_gzip_bomb_stops_at_the_cap(tmp_path: Path, name: str, line: bytes) -> None:
    p = tmp_path / name
    size = _bomb(p, line, 64 << 20)  # 64 MiB of text in a few tens of KB
    cap = max(graph_io.GZIP_RATIO * size, graph_io.GZIP_FLOOR)
    assert cap < 64 << 20
    t = time.process_time()
    with pytest.raises(TooLargeError, match=rf"more than {cap} bytes.*{graph_io.GZIP_RATIO} x"):
        ssdfl.read_graph(p)
    assert time.process_time() - t < 2.0


def test_gzip_cap_is_configurable_and_exact(tmp_path: Path, monkeypatch) -> None:
    g = nx.karate_club_graph()
    p = tmp_path / "k.edgelist.gz"
    ssdfl.write_graph(g, p)
    text = gzip.decompress(p.read_bytes())
    assert ssdfl.read_graph(p) == ssdfl.read_graph(p, max_bytes=len(text))
    with pytest.raises(TooLargeError, match=f"max_bytes={len(text) - 1}"):
        ssdfl.read_graph(p, max_bytes=len(text) - 1)
    monkeypatch.setenv(graph_io.ENV_MAX_BYTES, str(len(text) - 1))
    with pytest.raises(TooLargeError, match="SSDFL_MAX_GRAPH_BYTES"):
        ssdfl.read_graph(p)
    # a plain file is capped only when a limit is set
    plain = tmp_path / "k.edgelist"
    plain.write_bytes(text)
    with pytest.raises(TooLargeError, match=rf"{len(text)} bytes, above the limit"):
        ssdfl.read_graph(plain)
    monkeypatch.delenv(graph_io.ENV_MAX_BYTES)
    assert ssdfl.read_graph(plain).m == g.number_of_edges()


def test_multi_member_gzip_is_read_whole(tmp_path: Path) -> None:
    p = tmp_path / "two.edgelist.gz"
    p.write_bytes(gzip.compress(b"0 1\n1 2\n") + gzip.compress(b"2 3\n"))
    assert ssdfl.read_graph(p).m == 3


def test_allocation_failure_is_an_error_not_an_abort() -> None:
    """Under an address-space limit the edge-list parser reports TooLargeError (audit: SIGABRT)."""
    code = textwrap.dedent(
        """
        import resource
        import ssdfl
        from ssdfl import _core
        data = b"0 1\\n" * 60_000_000  # 240 MB of text, ~1.4 GB of parsed arrays
        resource.setrlimit(resource.RLIMIT_AS, (1_200_000_000, 1_200_000_000))
        for f in (_core.parse_edge_list, _core.read_edge_list):
            try:
                f(data)
            except ssdfl.TooLargeError as e:
                assert "not enough memory" in str(e), e
                print("ok")
        """
    )
    # the limit is set after import (the interpreter's own mappings need room)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, (r.returncode, r.stderr[-2000:])
    assert r.stdout.split() == ["ok", "ok"]


# ------------------------------------------------------------------ wrong acceptance
def test_overflowing_merged_weights_are_refused(tmp_path: Path) -> None:
    p = tmp_path / "ovf.txt"
    p.write_text("0 1 1e308\n1 0 1e308\n1 2\n")
    with pytest.raises(GraphFormatError, match=r"ovf\.txt: weights overflow"):
        ssdfl.read_graph(p)
    with pytest.raises(SsdflError, match="weights overflow"):
        ssdfl.Graph.from_edges([(0, 1), (0, 2)], weights=[1e308, 1e308])
    # just below the overflow: accepted, and the total volume is finite
    g = ssdfl.Graph.from_edges([(0, 1), (1, 0)], weights=[4e307, 4e307])
    assert np.isfinite(g.degrees.sum())


def test_lone_cr_line_endings(tmp_path: Path) -> None:
    g = nx.les_miserables_graph()
    lines = [
        f"{u.replace(' ', '_')} {v.replace(' ', '_')} {d['weight']}"
        for u, v, d in g.edges(data=True)
    ]
    for ending in ("\n", "\r\n", "\r"):
        p = tmp_path / f"e{len(ending)}{ending == chr(13)}.edgelist"
        p.write_bytes(ending.join(lines).encode() + ending.encode())
        G = ssdfl.read_graph(p)
        assert _weights(G) == {
            frozenset(x.replace(" ", "_") for x in k): w for k, w in _nx_weights(g).items()
        }


node_ids = st.one_of(st.integers(0, 3), st.sampled_from(["a", "b", 2**63, 2**64 + 1]))
entries = st.lists(
    st.tuples(node_ids, node_ids, st.one_of(st.none(), st.integers(1, 9))), max_size=12
)


@settings(max_examples=150, deadline=None)
@given(entries, st.sampled_from([True, False, None]))
def test_node_link_json_matches_networkx(edges: list, multigraph: bool | None) -> None:
    data: dict = {"directed": False, "graph": {}, "nodes": [{"id": "a"}]}
    if multigraph is not None:
        data["multigraph"] = multigraph
    data["edges"] = [
        {"source": u, "target": v, **({} if w is None else {"weight": w})}
        for u, v, w in edges
        if u != v
    ]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "nl.json"
        path.write_text(json.dumps(data))
        G = ssdfl.read_graph(path)
    h = nx.node_link_graph(data, edges="edges")
    assert G.node_names() == list(h.nodes)
    assert _weights(G) == _nx_weights(h)


def test_repeated_unweighted_json_edge_keeps_weight(tmp_path: Path) -> None:
    data = {
        "multigraph": False,
        "nodes": [{"id": 0}, {"id": 1}],
        "edges": [{"source": 0, "target": 1, "weight": 5}, {"source": 1, "target": 0}],
    }
    p = tmp_path / "r.json"
    p.write_text(json.dumps(data))
    assert _weights(ssdfl.read_graph(p)) == {frozenset((0, 1)): 5.0}  # audit: reset to 1


def test_huge_json_node_ids_are_kept(tmp_path: Path) -> None:
    data = {
        "multigraph": False,
        "nodes": [{"id": 2**63}, {"id": -(2**70)}, {"id": 3}],
        "edges": [{"source": 2**63, "target": 3}],
    }
    p = tmp_path / "big_ids.json"
    p.write_text(json.dumps(data))
    G = ssdfl.read_graph(p)  # audit: raw OverflowError
    assert G.node_names() == [2**63, -(2**70), 3]
    out = tmp_path / "again.json"
    ssdfl.write_graph(G, out)
    assert ssdfl.read_graph(out).node_names() == G.node_names()


def test_metis_writer_refuses_weights_beyond_int64(tmp_path: Path) -> None:
    """Fuzz finding: a weight of 1e300 is integral as a float but was cast to garbage."""
    g = ssdfl.Graph.from_edges([(0, 1)], weights=[1e300])
    with pytest.raises(SsdflError, match="64-bit integer edge weights"):
        ssdfl.write_graph(g, tmp_path / "w.graph")
    ok = ssdfl.Graph.from_edges([(0, 1)], weights=[2.0**62])
    ssdfl.write_graph(ok, tmp_path / "ok.graph")
    assert ssdfl.read_graph(tmp_path / "ok.graph").edges()[2].tolist() == [2.0**62]
