"""Graph files: round trips for every format and cross-checks against independent readers
(networkx, scipy) and hand-written files."""

from __future__ import annotations

import gzip
import io
import json
import warnings
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
import scipy.io
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ssdfl
from conftest import weighted_graphs
from ssdfl.graphs.graph_io import detect_format

EXT = {
    "edgelist": ".edgelist",
    "mtx": ".mtx",
    "metis": ".graph",
    "json": ".json",
    "graphml": ".graphml",
}
LABEL_FORMATS = ("edgelist", "json", "graphml")  # formats that store node names


def weights_by_label(G: ssdfl.Graph) -> dict[frozenset, float]:
    names = G.node_names()
    s, d, w = G.edges()
    return {frozenset((names[a], names[b])): float(c) for a, b, c in zip(s, d, w)}


def nx_weights(g: nx.Graph) -> dict[frozenset, float]:
    return {frozenset((u, v)): float(d.get("weight", 1.0)) for u, v, d in g.edges(data=True)}


def random_graph(n: int, m: int, seed: int, weighted: bool, integer_weights: bool = False):
    rng = np.random.default_rng(seed)
    e = rng.integers(0, n, size=(m, 2))
    e = np.unique(np.sort(e[e[:, 0] != e[:, 1]], axis=1), axis=0)  # a simple graph
    if integer_weights:
        w = rng.integers(1, 9, size=len(e)).astype(float)
    else:
        w = rng.uniform(0.01, 10.0, size=len(e))
    return ssdfl.Graph.from_edges(e, n=n, weights=w if weighted else None)


# ---------------------------------------------------------------------- round trips
@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gz"])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("fmt", list(EXT))
def test_round_trip_every_format(tmp_path: Path, fmt: str, weighted: bool, gz: bool) -> None:
    # 60 nodes, some isolated (nodes 55..59 get no edges and some below 55 may have none)
    G = random_graph(55, 200, seed=7, weighted=weighted, integer_weights=(fmt == "metis"))
    G = ssdfl.Graph.from_edges(np.column_stack(G.edges()[:2]), n=60, weights=G.edges()[2])
    assert G.weighted == weighted
    path = tmp_path / f"g{EXT[fmt]}{'.gz' if gz else ''}"
    assert ssdfl.write_graph(G, path) == path
    if gz:
        assert path.read_bytes()[:2] == b"\x1f\x8b"
    H = ssdfl.read_graph(path)
    assert H == G  # same n, edges and bit-identical weights
    assert H.weighted == weighted
    assert H.labels is None
    # format= overrides the extension
    other = tmp_path / f"g.data{'.gz' if gz else ''}"
    ssdfl.write_graph(G, other, format=fmt)
    assert ssdfl.read_graph(other, format=fmt) == G


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(g=weighted_graphs(min_n=1, max_n=15), data=st.data())
def test_round_trip_random_graphs(tmp_path: Path, g: nx.Graph, data: st.DataObject) -> None:
    """Random weighted graphs (isolated nodes included) through every format, with random
    string labels for the formats that keep them; weights must come back bit-identical."""
    fmt = data.draw(st.sampled_from(list(EXT)))
    if fmt == "metis":  # METIS holds integer weights only
        for u, v in g.edges():
            g[u][v]["weight"] = float(round(g[u][v]["weight"] * 10) or 1)
    G = ssdfl.Graph.from_networkx(g)
    if fmt in LABEL_FORMATS:
        names = data.draw(
            st.lists(
                st.text("abcxyzé-_.0123456789", min_size=1, max_size=6),
                min_size=G.n,
                max_size=G.n,
                unique=True,
            )
        )
        names = ["n" + x for x in names]  # never all-digit (those would read back as ints)
        src, dst, w = G.edges()
        G = ssdfl.Graph.from_edges(np.column_stack([src, dst]), n=G.n, weights=w, labels=names)
    path = tmp_path / f"r{EXT[fmt]}{data.draw(st.sampled_from(['', '.gz']))}"
    ssdfl.write_graph(G, path)
    H = ssdfl.read_graph(path)
    assert H == G
    assert H.node_names() == G.node_names()


@pytest.mark.parametrize("fmt", LABEL_FORMATS)
def test_round_trip_string_labels(tmp_path: Path, fmt: str) -> None:
    labels = ["zeta", "alpha", "ünïcode", "b-2", "lonely", "x.y"]
    G = ssdfl.Graph.from_edges(
        [(0, 2), (1, 2), (3, 1), (2, 5)], n=6, weights=[1.5, 2.0, 0.125, 3.0], labels=labels
    )
    path = tmp_path / f"lab{EXT[fmt]}"
    ssdfl.write_graph(G, path)
    H = ssdfl.read_graph(path)
    assert H.labels.tolist() == labels  # node order survives, isolated node included
    assert H == G
    assert weights_by_label(H) == weights_by_label(G)


@pytest.mark.parametrize("fmt", LABEL_FORMATS)
def test_round_trip_integer_labels(tmp_path: Path, fmt: str) -> None:
    G = ssdfl.Graph.from_edges([(0, 1), (1, 2)], n=4, labels=[-5, 10, 20, 1000])
    path = tmp_path / f"int{EXT[fmt]}"
    ssdfl.write_graph(G, path)
    H = ssdfl.read_graph(path)
    assert H.labels.tolist() == [-5, 10, 20, 1000]
    assert H == G


def test_edgelist_integer_labels_are_sorted_on_reading(tmp_path: Path) -> None:
    """Documented rule: integer labels → node i is the i-th smallest label."""
    G = ssdfl.Graph.from_edges([(0, 1), (1, 2)], labels=[30, 10, 20])
    path = tmp_path / "u.edgelist"
    ssdfl.write_graph(G, path)
    H = ssdfl.read_graph(path)
    assert H.labels.tolist() == [10, 20, 30]
    assert weights_by_label(H) == weights_by_label(G)


def test_write_accepts_networkx_and_scipy(tmp_path: Path) -> None:
    g = nx.karate_club_graph()
    path = tmp_path / "k.mtx"
    ssdfl.write_graph(g, path)
    A = nx.to_scipy_sparse_array(g, weight="weight")
    np.testing.assert_array_equal(ssdfl.read_graph(path).to_scipy().toarray(), A.toarray())
    ssdfl.write_graph(A, tmp_path / "k.graph")
    np.testing.assert_array_equal(
        ssdfl.read_graph(tmp_path / "k.graph").to_scipy().toarray(), A.toarray()
    )


# ------------------------------------------------------------------ edge-list syntax
def test_edgelist_syntax(tmp_path: Path) -> None:
    text = (
        "\ufeff# comment line\n"
        "% another comment\n"
        "\n"
        "1 2\r\n"
        "2,3,0.5   # trailing comment\n"
        "  3\t4  2.5\n"
        "7\n"  # lone node
        "-1 1\n"
    )
    path = tmp_path / "s.txt"
    path.write_text(text, encoding="utf-8")
    G = ssdfl.read_graph(path)
    assert G.labels.tolist() == [-1, 1, 2, 3, 4, 7]
    assert weights_by_label(G) == {
        frozenset((1, 2)): 1.0,
        frozenset((2, 3)): 0.5,
        frozenset((3, 4)): 2.5,
        frozenset((-1, 1)): 1.0,
    }
    assert G.degrees[G.labels.tolist().index(7)] == 0.0


def test_edgelist_string_labels_first_appearance(tmp_path: Path) -> None:
    path = tmp_path / "s.edges"
    path.write_text("solo\nb a 2\na c\nc 5\n")
    G = ssdfl.read_graph(path)
    assert G.labels.tolist() == ["solo", "b", "a", "c", "5"]  # mixed → every label a string
    assert weights_by_label(G) == {
        frozenset(("a", "b")): 2.0,
        frozenset(("a", "c")): 1.0,
        frozenset(("c", "5")): 1.0,
    }


def test_edgelist_gzip_detected_by_content(tmp_path: Path) -> None:
    path = tmp_path / "hidden.edgelist"  # gzip data without a .gz suffix
    path.write_bytes(gzip.compress(b"0 1\n1 2 3\n"))
    G = ssdfl.read_graph(path)
    assert weights_by_label(G) == {frozenset((0, 1)): 1.0, frozenset((1, 2)): 3.0}


def test_edgelist_cross_check_networkx(tmp_path: Path) -> None:
    """A file written by hand (numpy formatting) read by ssdfl and by networkx; large enough
    (≈450 kB) that the Rust parser splits it into chunks of 256 kB."""
    rng = np.random.default_rng(11)
    n, m = 5000, 25_000
    e = rng.integers(0, n, size=(m, 2)) * 3 + 100  # sparse labels 100, 103, ...
    w = rng.integers(1, 1000, size=m) / 8.0
    path = tmp_path / "big.edgelist"
    with path.open("w") as fh:
        fh.write("# random multigraph\n")
        for (a, b), c in zip(e.tolist(), w.tolist()):
            fh.write(f"{a}\t{b}\t{c}\n")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ssdfl.SsdflWarning)
        G = ssdfl.read_graph(path)
    # networkx keeps the last weight of a repeated edge; build the summed reference by hand
    ref: dict[frozenset, float] = {}
    for (a, b), c in zip(e.tolist(), w.tolist()):
        if a != b:
            ref[frozenset((a, b))] = ref.get(frozenset((a, b)), 0.0) + c
    assert weights_by_label(G) == ref
    g = nx.read_edgelist(path, nodetype=int, data=[("weight", float)])
    assert sorted(g) == G.labels.tolist()  # same node set, sorted rule
    assert {frozenset(k) for k in g.edges() if k[0] != k[1]} == set(ref)
    # ours written, networkx read back
    out = tmp_path / "ours.edgelist"
    ssdfl.write_graph(G, out)
    h = nx.read_edgelist(out, nodetype=int, data=[("weight", float)])
    assert nx_weights(h) == ref


def test_edgelist_string_labels_cross_check_networkx(tmp_path: Path) -> None:
    g = nx.relabel_nodes(nx.les_miserables_graph(), lambda s: s.replace(" ", "_"))
    path = tmp_path / "lesmis.edgelist"
    nx.write_edgelist(g, path, data=["weight"])
    G = ssdfl.read_graph(path)
    h = nx.read_edgelist(path, data=[("weight", float)])
    assert set(G.labels.tolist()) == set(h)
    assert weights_by_label(G) == nx_weights(h) == nx_weights(g)


# --------------------------------------------------------------------- Matrix Market
def test_mtx_cross_check_scipy(tmp_path: Path) -> None:
    A = sp.random_array((40, 40), density=0.1, random_state=5, format="csr")
    A = sp.triu(A, k=1)
    A = (A + A.T).tocsr()
    src = tmp_path / "scipy.mtx"
    scipy.io.mmwrite(src, A)  # general, written by scipy
    G = ssdfl.read_graph(src)
    np.testing.assert_array_equal(G.to_scipy().toarray(), A.toarray())
    out = tmp_path / "ours.mtx.gz"
    ssdfl.write_graph(G, out)
    B = scipy.io.mmread(io.BytesIO(gzip.decompress(out.read_bytes())))
    np.testing.assert_array_equal(B.toarray(), A.toarray())
    assert "symmetric" in gzip.decompress(out.read_bytes()).decode().splitlines()[0]


def test_mtx_pattern_and_integer_fields(tmp_path: Path) -> None:
    path = tmp_path / "p.mtx"
    path.write_text(
        "%%MatrixMarket matrix coordinate pattern symmetric\n% a 4-cycle\n"
        "4 4 4\n2 1\n3 2\n4 3\n4 1\n"
    )
    G = ssdfl.read_graph(path)
    assert not G.weighted
    assert nx.is_isomorphic(G.to_networkx(), nx.cycle_graph(4))
    path.write_text("%%MatrixMarket matrix coordinate integer general\n3 3 2\n1 2 7\n2 1 7\n")
    assert weights_by_label(ssdfl.read_graph(path)) == {frozenset((0, 1)): 7.0}
    # dense layouts, checked against scipy's reader on the same text
    for text in (
        "%%MatrixMarket matrix array real general\n3 3\n0\n2\n0\n2\n0\n1.5\n0\n1.5\n0\n",
        "%%MatrixMarket matrix array real symmetric\n% lower triangle\n3 3\n0\n2\n0\n0\n1.5\n0\n",
    ):
        path.write_text(text)
        want = scipy.io.mmread(path)
        np.testing.assert_array_equal(ssdfl.read_graph(path).to_scipy().toarray(), want)
    # explicit zeros are no edge; a symmetric file's diagonal is a (dropped) self-loop
    path.write_text("%%MatrixMarket matrix coordinate real symmetric\n3 3 3\n2 1 0\n3 2 4\n3 3 9\n")
    with pytest.warns(ssdfl.SsdflWarning, match="1 self-loop"):
        G = ssdfl.read_graph(path)
    assert weights_by_label(G) == {frozenset((1, 2)): 4.0}


# ----------------------------------------------------------------------------- METIS
# The graph below, drawn by hand:   1 - 2 - 3      vertex 5 isolated
#                                   |   |
#                                   4 --+          edges {1,2} {2,3} {1,4} {2,4}
METIS_EXPECTED = np.array(
    [
        [0, 3, 0, 1, 0],
        [3, 0, 2, 5, 0],
        [0, 2, 0, 0, 0],
        [1, 5, 0, 0, 0],
        [0, 0, 0, 0, 0],
    ],
    dtype=float,
)


@pytest.mark.parametrize(
    "text",
    [
        # fmt 001: edge weights
        "% hand-written\n5 4 1\n2 3 4 1\n1 3 3 2 4 5\n2 2\n1 1 2 5\n\n",
        # fmt 011: vertex weights then edge weights; trailing blank lines ignored
        "5 4 011\n7 2 3 4 1\n1 1 3 3 2 4 5\n9 2 2\n1 1 1 2 5\n3\n\n\n",
        # fmt 111 with ncon = 2: vertex size, two vertex weights, then edge weights
        "5 4 111 2\n1 7 7 2 3 4 1\n1 1 1 1 3 3 2 4 5\n1 9 9 2 2\n1 1 1 1 1 2 5\n1 3 3\n",
        # comments anywhere; neighbours in any order
        "%c\n5 4 1\n%c\n4 1 2 3\n1 3 3 2 4 5\n%c\n2 2\n1 1 2 5\n\n",
    ],
)
def test_metis_hand_written(tmp_path: Path, text: str) -> None:
    path = tmp_path / "h.graph"
    path.write_text(text)
    G = ssdfl.read_graph(path)
    np.testing.assert_array_equal(G.to_scipy().toarray(), METIS_EXPECTED)


def test_metis_unweighted_and_written_form(tmp_path: Path) -> None:
    path = tmp_path / "u.graph"
    path.write_text("4 3\n2\n1 3\n2 4\n3\n")
    G = ssdfl.read_graph(path)
    assert not G.weighted
    assert G == ssdfl.Graph.from_networkx(nx.path_graph(4))
    path.write_text("3 1\n3\n\n1\n")  # vertex 2 isolated: an empty line in the middle
    assert ssdfl.read_graph(path) == ssdfl.Graph.from_edges([(0, 2)], n=3)
    # our writer's output, checked line by line against the METIS layout
    W = ssdfl.Graph.from_scipy(METIS_EXPECTED)
    out = tmp_path / "w.graph"
    ssdfl.write_graph(W, out)
    lines = [ln for ln in out.read_text().splitlines() if not ln.startswith("%")]
    assert lines == ["5 4 001", "2 3 4 1", "1 3 3 2 4 5", "2 2", "1 1 2 5", ""]


def test_metis_cross_check_networkx_graph(tmp_path: Path) -> None:
    """A METIS file generated from a networkx graph by an independent few-line writer."""
    g = nx.gnm_random_graph(80, 300, seed=4)
    for k, (u, v) in enumerate(g.edges()):
        g[u][v]["weight"] = 1 + k % 7
    lines = [f"{g.number_of_nodes()} {g.number_of_edges()} 001"]
    for u in range(g.number_of_nodes()):
        lines.append(" ".join(f"{v + 1} {g[u][v]['weight']}" for v in g.neighbors(u)))
    path = tmp_path / "nx.metis"
    path.write_text("\n".join(lines) + "\n")
    G = ssdfl.read_graph(path)
    A = nx.to_scipy_sparse_array(g, nodelist=range(80), weight="weight")
    np.testing.assert_array_equal(G.to_scipy().toarray(), A.toarray())


# -------------------------------------------------------------------- JSON / GraphML
def test_json_cross_check_networkx(tmp_path: Path) -> None:
    g = nx.les_miserables_graph()
    g.add_node("Nobody")  # isolated
    path = tmp_path / "lm.json"
    path.write_text(json.dumps(nx.node_link_data(g, edges="links")))  # D3 / older key
    G = ssdfl.read_graph(path)
    assert G.labels.tolist() == list(g.nodes)
    assert weights_by_label(G) == nx_weights(g)
    out = tmp_path / "ours.json"
    ssdfl.write_graph(G, out)
    h = nx.node_link_graph(json.loads(out.read_text()), edges="edges")
    assert list(h.nodes) == list(g.nodes)
    assert nx.utils.graphs_equal(h, g)


def test_json_multigraph_sums_and_simple_graph_keeps_last(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    mg = nx.MultiGraph()
    mg.add_edge(0, 1, weight=2.0)
    mg.add_edge(1, 0, weight=3.0)
    path.write_text(json.dumps(nx.node_link_data(mg)))
    assert weights_by_label(ssdfl.read_graph(path)) == {frozenset((0, 1)): 5.0}
    data = {
        "directed": False,
        "multigraph": False,
        "nodes": [{"id": "a"}, {"id": "b"}],
        "links": [
            {"source": "a", "target": "b", "weight": 2},
            {"source": "b", "target": "a", "weight": 7},
            {"source": "b", "target": "c"},  # unknown id: a new node, as in networkx
        ],
    }
    path.write_text(json.dumps(data))
    G = ssdfl.read_graph(path)
    h = nx.node_link_graph(data, edges="links")
    assert G.labels.tolist() == list(h.nodes) == ["a", "b", "c"]
    assert weights_by_label(G) == nx_weights(h) == {frozenset("ab"): 7.0, frozenset("bc"): 1.0}


def test_graphml_cross_check_networkx(tmp_path: Path) -> None:
    g = nx.davis_southern_women_graph()  # string node ids, unweighted
    g.graph.clear()  # graph attributes hold lists, which GraphML cannot store
    g.add_node("Isolated Person")
    for k, (u, v) in enumerate(g.edges()):
        g[u][v]["weight"] = 0.5 * (1 + k % 5)
    path = tmp_path / "davis.graphml"
    nx.write_graphml(g, path)
    G = ssdfl.read_graph(path)
    assert G.labels.tolist() == list(g.nodes)
    assert weights_by_label(G) == nx_weights(g)
    out = tmp_path / "ours.graphml.gz"
    ssdfl.write_graph(G, out)
    h = nx.read_graphml(io.BytesIO(gzip.decompress(out.read_bytes())))
    assert list(h.nodes) == list(g.nodes)
    assert nx_weights(h) == nx_weights(g)


def test_graphml_integer_ids_become_integer_labels(tmp_path: Path) -> None:
    g = nx.Graph([(0, 1), (1, 2)])
    path = tmp_path / "p.graphml"
    nx.write_graphml(g, path)  # ids written as strings "0", "1", "2"
    G = ssdfl.read_graph(path)
    assert G.labels is None  # 0..n-1 in order
    assert G == ssdfl.Graph.from_edges([(0, 1), (1, 2)])


# ------------------------------------------------------------------- misc behaviour
def test_detect_format() -> None:
    assert detect_format("a/b.EDGES.GZ") == "edgelist"
    assert detect_format("x.mtx.gz") == "mtx"
    assert detect_format("x.metis") == "metis"
    assert detect_format("graph.v2.graphml") == "graphml"
    with pytest.raises(ssdfl.SsdflError, match="cannot tell the format"):
        detect_format("x.gz")


def test_failed_write_leaves_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "keep.graph"
    path.write_text("2 1\n2\n1\n")
    frac = ssdfl.Graph.from_edges([(0, 1)], weights=[0.5])
    with pytest.raises(ssdfl.SsdflError, match="integer edge weights"):
        ssdfl.write_graph(frac, path)
    assert path.read_text() == "2 1\n2\n1\n"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.graph"]  # no temporary left


def test_unwritable_labels_are_refused(tmp_path: Path) -> None:
    G = ssdfl.Graph.from_edges([(0, 1)], labels=["has space", "b"])
    with pytest.raises(ssdfl.SsdflError, match="cannot be written to an edge list"):
        ssdfl.write_graph(G, tmp_path / "x.edgelist")
    T = ssdfl.Graph.from_networkx(nx.Graph([((0, 1), (1, 2))]))  # tuple node keys
    with pytest.raises(ssdfl.SsdflError, match="node-link JSON id"):
        ssdfl.write_graph(T, tmp_path / "x.json")


def test_format_registry_drives_detection_reading_and_cli_help(tmp_path) -> None:
    """One registry shape: a format registered here is detected, read and written through the
    public functions, and the CLI's help texts list exactly the registered extensions."""
    import re

    from typer.testing import CliRunner

    from ssdfl.cli import app
    from ssdfl.graphs import graph_io
    from ssdfl.graphs.graph_io import FORMATS, GraphFormat, format_help, register_format

    def read_pairs(p, limits=None):
        edges = [tuple(int(t) for t in ln.split("-")) for ln in p.read_text().split()]
        return ssdfl.Graph.from_edges(edges)

    def write_pairs(g):
        u, v, _ = g.edges()
        return "".join(f"{a}-{b}\n" for a, b in zip(u, v)).encode()

    register_format(GraphFormat("pairs", (".pairs",), read_pairs, write_pairs, "u-v per line"))
    try:
        path = tmp_path / "g.pairs"
        g = ssdfl.Graph.from_edges([(0, 1), (1, 2), (2, 3)])
        ssdfl.write_graph(g, path)
        assert graph_io.detect_format(path) == "pairs"
        assert ssdfl.read_graph(path) == g
        assert ".pairs" in format_help()
        with pytest.raises(ssdfl.SsdflError, match="already"):
            register_format(GraphFormat("pairs", (".pp",), read_pairs, write_pairs, ""))
    finally:
        FORMATS.pop("pairs")
    out = CliRunner().invoke(app, ["info", "--help"], env={"COLUMNS": "400"}).output
    listed = set(re.findall(r"\.[a-z]+(?=[,/;)])", out.split("docs/graphs.md")[0]))
    assert {e for f in FORMATS.values() for e in f.extensions} <= listed
