"""Bad input: every case raises a clear, documented exception (never a panic or a crash).

Files: missing, directory, malformed line (the message names file and line), bad weights,
corrupt gzip, METIS header/list mismatches, directed JSON/GraphML, and a fuzz test feeding
random and mutated bytes to every reader. Arrays: bad weights, out-of-range indices,
asymmetric / non-square matrices, empty S or S = V.
"""

from __future__ import annotations

import gzip
import os
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ssdfl
from ssdfl.graphs.graph_io import FORMATS

EXT = {
    "edgelist": ".edgelist",
    "mtx": ".mtx",
    "metis": ".graph",
    "json": ".json",
    "graphml": ".graphml",
}


def read_error(tmp_path: Path, name: str, data: bytes | str, match: str) -> str:
    """Write ``data`` to ``name``, read it, expect a GraphFormatError naming the file."""
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    with pytest.raises(ssdfl.GraphFormatError) as info:
        ssdfl.read_graph(path)
    msg = str(info.value)
    assert msg.startswith(str(path)), msg
    assert re.search(match, msg), msg
    return msg


# ------------------------------------------------------------------------ files
@pytest.mark.parametrize("fmt", FORMATS)
def test_missing_file(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"absent{EXT[fmt]}"
    with pytest.raises(FileNotFoundError, match=r"graph file not found: .*absent"):
        ssdfl.read_graph(path)


def test_directory(tmp_path: Path) -> None:
    d = tmp_path / "folder.edgelist"
    d.mkdir()
    with pytest.raises(ssdfl.GraphFormatError, match="is a directory"):
        ssdfl.read_graph(d)
    with pytest.raises(ssdfl.GraphFormatError, match="is a directory"):
        ssdfl.read_graph(tmp_path, format="mtx")


def test_unknown_extension_and_format(tmp_path: Path) -> None:
    path = tmp_path / "graph.foo"
    path.write_text("0 1\n")
    with pytest.raises(ssdfl.SsdflError, match=r"cannot tell the format .*graph\.foo"):
        ssdfl.read_graph(path)
    with pytest.raises(ssdfl.SsdflError, match="unknown graph format 'gml'"):
        ssdfl.read_graph(path, format="gml")
    G = ssdfl.Graph.from_edges([(0, 1)])
    with pytest.raises(ssdfl.SsdflError, match="cannot tell the format"):
        ssdfl.write_graph(G, tmp_path / "out.foo")
    with pytest.raises(ssdfl.SsdflError, match="unknown graph format"):
        ssdfl.write_graph(G, tmp_path / "out.txt", format="dot")
    assert ssdfl.read_graph(path, format="edgelist").m == 1  # format= rescues it


@pytest.mark.parametrize(
    ("text", "line", "match"),
    [
        ("0 1\n1 2 x\n", 2, r'weight "x" is not a number'),
        ("# c\n0 1\n\n1 2 3 4\n", 4, r"more than 3 fields"),
        ("0 1 -1\n", 1, r"weight -1 must be finite and > 0"),
        ("0 1\n0 1 nan\n", 2, r"weight nan must be finite"),
        ("0 1 inf\n", 1, r"weight inf must be finite"),
        ("0 1 -inf\n", 1, r"weight -inf must be finite"),
        ("0 1 0\n", 1, r"weight 0 must be finite and > 0"),
        ("0 1 0.0e5\n", 1, r"must be finite and > 0"),
        ("a b\nc d 1,5\n", 2, r"more than 3 fields"),  # comma is a separator
    ],
)
def test_edgelist_malformed_line_names_file_and_line(
    tmp_path: Path, text: str, line: int, match: str
) -> None:
    msg = read_error(tmp_path, "bad.edgelist", text, match)
    assert msg.startswith(f"{tmp_path / 'bad.edgelist'}:{line}: "), msg


def test_edgelist_line_numbers_deep_in_a_large_file(tmp_path: Path) -> None:
    """The parser works on chunks in parallel; the reported line is still the global one."""
    lines = [f"{k} {k + 1}" for k in range(120_000)]
    lines[100_000] = "5 6 seven"
    msg = read_error(tmp_path, "deep.edgelist", "\n".join(lines) + "\n", "not a number")
    assert "deep.edgelist:100001: " in msg


def test_edgelist_not_utf8(tmp_path: Path) -> None:
    read_error(tmp_path, "latin.edgelist", b"a b\nc \xe9t\xe9\n", r":2: label .* not valid UTF-8")


@pytest.mark.parametrize("fmt", FORMATS)
def test_corrupt_gzip(tmp_path: Path, fmt: str) -> None:
    read_error(tmp_path, f"x{EXT[fmt]}.gz", b"this is not gzip", "corrupt gzip data")
    whole = gzip.compress(b"0 1\n" * 1000)
    read_error(tmp_path, f"y{EXT[fmt]}.gz", whole[: len(whole) // 2], "corrupt gzip data")
    flipped = bytearray(whole)
    flipped[20] ^= 0xFF
    read_error(tmp_path, f"z{EXT[fmt]}.gz", bytes(flipped), "corrupt gzip data")


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("3 2\n2\n1 3\n", r"header \(line 1\) says 3 vertices but 2 vertex lines follow"),
        ("2 1\n2\n1\n1\n", r"says 2 vertices but 3 vertex lines"),
        ("3 5\n2\n1 3\n2\n", r":1: header says 5 edges but the adjacency lists hold 2"),
        ("3 2\n2\n3\n2\n", r":2: vertex 1 lists 2 but vertex 2 does not list 1"),
        ("3 1 1\n2 4\n1 5\n\n", r":2: edge \{1, 2\} has weight 4 in vertex 1's list but 5"),
        ("3 2\n2 3\n1\n1 4\n", r":4: neighbour 4 is outside 1\.\.3"),
        ("3 2\n2 0\n1\n1\n", r":2: neighbour 0 is outside"),
        ("2 1\n2 2\n1 1\n", r":2: vertex 1 lists neighbour 2 twice"),
        ("2 1\n1 2\n1\n", r":2: self-loop on vertex 1"),
        ("2 1 1\n2 -3\n1 -3\n", r":2: edge weight -3 must be finite and > 0"),
        ("2 1 1\n2 nan\n1 nan\n", r"edge weight nan must be finite"),
        ("2 1 1\n2 heavy\n1 heavy\n", r":2: edge weight 'heavy' is not a number"),
        ("2 1 1\n2\n1 1\n", r":2: vertex 1 needs 0 vertex size/weight value\(s\) then neighbour"),
        ("2 1\n2.5\n1\n", r":2: neighbour '2\.5' is not an integer"),
        ("x y\n", r":1: header must be integers"),
        ("5\n", r":1: header must be 'n m"),
        ("2 1 2\n2\n1\n", r":1: fmt must be up to three 0/1 digits, got 002"),
        ("2 1 0 2\n2\n1\n", r"ncon needs vertex weights"),
        ("-2 1\n", r"negative vertex or edge count"),
        ("% only a comment\n\n", r"empty METIS file"),
    ],
)
def test_metis_errors(tmp_path: Path, text: str, match: str) -> None:
    read_error(tmp_path, "bad.graph", text, match)


MM = "%%MatrixMarket matrix coordinate real "


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (MM + "general\n2 2 2\n1 2 1\n2 1 2\n", r"not symmetric: entry \(0, 1\) = 1 but"),
        (MM + "general\n2 2 1\n1 2 1\n", "not symmetric"),
        (MM + "general\n2 3 1\n1 2 1\n", r":2: adjacency must be square, got shape \(2, 3\)"),
        (MM + "symmetric\n2 2 1\n2 1 -1\n", r":3: value -1 is not an edge weight"),
        (MM + "symmetric\n2 2 1\n2 1 nan\n", r":3: value nan is not an edge weight"),
        (MM + "symmetric\n%c\n2 2 1\n2 1 inf\n", r":4: value inf is not an edge weight"),
        (MM + "symmetric\n2 2 1\n2 1 x\n", r":3: value 'x' is not a number"),
        (MM + "general\n2 2 1\n3 1 1\n", r":3: entry \(3, 1\) is outside the 2 x 2 matrix"),
        (MM + "general\n2 2 1\n1.5 1 1\n", r":3: index '1\.5' is not an integer"),
        (MM + "general\n2 2 2\n1 2 1\n", r":2: size line announces 2 entries but 1"),
        (MM + "general\n2 2\n", r":2: size line must be 'rows cols entries'"),
        (MM + "general\n", r"missing the size line"),
        (MM + "symmetric\n2 2 1\n2 1\n", r":3: expected 3 values per entry"),
        # scipy 1.17's C++ reader segfaults on this one (extra values on a last line
        # without a newline); ours must report it
        (MM + "symmetric\n5 5 4\n2 1 1\n3 1 3\n3 2 24 3 ", r"announces 4 entries but 3"),
        (MM + "symmetric\n5 5 3\n2 1 1\n3 1 3\n3 2 24 3 ", r":5: expected 3 values"),
        ("%%MatrixMarket matrix coordinate complex symmetric\n2 2 1\n2 1 1 1\n", "complex"),
        ("%%MatrixMarket matrix coordinate real skew-symmetric\n2 2 1\n2 1 1\n", "skew-sym"),
        ("%%MatrixMarket matrix array pattern general\n1 1\n", "not a valid Matrix Market"),
        ("%%MatrixMarket matrix array real general\n2 2\n0\n1\n1\n", r"needs 4 values, f"),
        ("%%MatrixMarket matrix array real general\n2 2\n0\n1\n2\n0\n", "not symmetric"),
        ("1 2 3\n", r":1: not a Matrix Market file"),
        ("", r":1: not a Matrix Market file"),
    ],
)
def test_mtx_errors(tmp_path: Path, text: str, match: str) -> None:
    read_error(tmp_path, "bad.mtx", text, match)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ('{"directed": true, "nodes": [{"id": 0}], "links": []}', "directed graph"),
        (
            '{"nodes": [{"id": 0}, {"id": 1}], "links": [{"source": 0, "target": 1, '
            '"weight": "a"}]}',
            r"links\[0\] has non-numeric weight 'a'",
        ),
        (
            '{"nodes": [{"id": 0}, {"id": 1}], "edges": [{"source": 0, "target": 1, '
            '"weight": -2}]}',
            r"edges\[0\] has weight -2; must be finite and > 0",
        ),
        ('{"nodes": [{"id": 0}], "links": [{"source": 0}]}', "'source' and 'target'"),
        (
            '{"nodes": [], "links": [{"source": 0, "target": 1, "weight": 1' + "0" * 400 + "}]}",
            r"links\[0\] has weight 10000.*…; must be finite",
        ),
        ('{"nodes": [{"name": 0}]}', r"node 0 is not an object with an 'id'"),
        ('{"nodes": [{"id": [1, 2]}]}', r"ids must be numbers or strings"),
        ('{"links": []}', r"needs a 'nodes' list"),
        ("[1, 2]", r"needs a 'nodes' list"),
        ('{"nodes": [', r":1: invalid JSON"),
        ('{"nodes": [{"id": ' + "7" * 5000 + "}]}", r"invalid JSON \(ValueError: Exceeds"),
        ("[" * 100_000 + "]" * 100_000, r"invalid JSON \(RecursionError"),
        ('{"nodes": [], "links": 5}', r"'links' must be a list"),
    ],
)
def test_json_errors(tmp_path: Path, text: str, match: str) -> None:
    read_error(tmp_path, "bad.json", text, match)


GRAPHML = (
    '<?xml version="1.0"?><graphml xmlns="http://graphml.graphdrawing.org/xmlns">'
    '<key id="w" for="edge" attr.name="weight" attr.type="double"/>'
    '<graph edgedefault="{kind}"><node id="a"/><node id="b"/>'
    '<edge source="a" target="b"><data key="w">{w}</data></edge></graph></graphml>'
)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (GRAPHML.format(kind="directed", w="1"), "directed graph"),
        (GRAPHML.format(kind="undirected", w="-1"), "invalid weight -1"),
        (GRAPHML.format(kind="undirected", w="nan"), "invalid weight NaN"),
        (GRAPHML.format(kind="undirected", w="heavy"), "malformed GraphML"),
        ("<graphml><graph", "malformed GraphML"),
        ("plain text", "malformed GraphML"),
    ],
)
def test_graphml_errors(tmp_path: Path, text: str, match: str) -> None:
    read_error(tmp_path, "bad.graphml", text, match)


def test_graphml_valid_template_reads() -> None:
    """The template above is valid when undirected with a good weight (so the error cases
    really test what they claim)."""
    import io

    import networkx as nx

    g = nx.read_graphml(io.StringIO(GRAPHML.format(kind="undirected", w="2.5")))
    assert dict(g.edges) == {("a", "b"): {"weight": 2.5}}


# ------------------------------------------------------------------------- fuzzing
def _valid_samples() -> dict[str, bytes]:
    G = ssdfl.Graph.from_edges([(0, 1), (1, 2), (2, 0), (2, 3)], n=5, weights=[1.0, 2.0, 3.0, 4.0])
    L = ssdfl.Graph.from_edges([(0, 1), (1, 2)], labels=["a", "b", "c"])
    out = {}
    for fmt in FORMATS:
        out[fmt] = FORMATS[fmt].write(G)
        if fmt in ("edgelist", "json", "graphml"):
            out[fmt + "-labels"] = FORMATS[fmt].write(L)
    return out


SAMPLES = _valid_samples()


@st.composite
def mutated(draw: st.DrawFn, base: bytes) -> bytes:
    """``base`` with a few random edits: byte replacements, short insertions, deletions,
    truncation."""
    data = bytearray(base)
    for _ in range(draw(st.integers(1, 6))):
        if not data:
            break
        op = draw(st.sampled_from(["replace", "insert", "delete", "truncate"]))
        i = draw(st.integers(0, len(data) - 1))
        if op == "replace":
            data[i] = draw(st.integers(0, 255))
        elif op == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=3))
        elif op == "delete":
            del data[i : i + draw(st.integers(1, 8))]
        else:
            del data[i:]
    return bytes(data)


def _read_cleanly(tmp_path: Path, name: str, fmt: str, data: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ssdfl.SsdflWarning)
        try:
            G = ssdfl.read_graph(path, format=fmt)
        except ssdfl.GraphFormatError as exc:
            assert str(exc).startswith(str(path)), str(exc)
            return
    assert isinstance(G, ssdfl.Graph)
    assert G.n >= 0
    assert len(G.degrees) == G.n


# The profile decides the number of examples; SSDFL_FUZZ_EXAMPLES=5000 runs a longer campaign.
_N = os.environ.get("SSDFL_FUZZ_EXAMPLES")
FUZZ = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    **({"max_examples": int(_N)} if _N else {}),
)


@pytest.mark.parametrize("fmt", FORMATS)
@FUZZ
@given(data=st.binary(max_size=300))
def test_fuzz_random_bytes(tmp_path: Path, fmt: str, data: bytes) -> None:
    """Random bytes: either a graph or a GraphFormatError naming the file — no other
    exception type (UnicodeDecodeError, IndexError, …), no panic, no crash."""
    _read_cleanly(tmp_path, f"fuzz{EXT[fmt]}", fmt, data)


@pytest.mark.parametrize("sample", sorted(SAMPLES))
@FUZZ
@given(data=st.data())
def test_fuzz_mutated_valid_files(tmp_path: Path, sample: str, data: st.DataObject) -> None:
    """Valid files with random edits reach deeper parser states than pure noise."""
    fmt = sample.split("-")[0]
    blob = data.draw(mutated(SAMPLES[sample]))
    _read_cleanly(tmp_path, f"mut{EXT[fmt]}", fmt, blob)
    if data.draw(st.booleans()):  # the same, gzip-compressed (content-sniffed)
        _read_cleanly(tmp_path, f"mut{EXT[fmt]}.gz", fmt, gzip.compress(blob))


# ------------------------------------------------------------------------- arrays
@pytest.mark.parametrize("w", [-1.0, 0.0, np.nan, np.inf, -np.inf])
def test_bad_weights_in_arrays(w: float) -> None:
    with pytest.raises(ssdfl.SsdflError, match=r"edge 1 \(1, 2\) has invalid weight"):
        ssdfl.Graph.from_edges([(0, 1), (1, 2)], weights=[1.0, w])
    A = np.array([[0.0, w], [w, 0.0]])
    if w != 0.0:  # a zero entry is simply no edge
        with pytest.raises(ssdfl.SsdflError, match=r"adjacency entry \(0, 1\)"):
            ssdfl.Graph.from_scipy(A)
        with pytest.raises(ssdfl.SsdflError, match=r"adjacency entry \(0, 1\)"):
            ssdfl.Graph.from_scipy(sp.csr_array(A))


def test_bad_weights_from_networkx() -> None:
    import networkx as nx

    g = nx.Graph()
    g.add_edge("a", "b", weight=-2.0)
    with pytest.raises(ssdfl.SsdflError, match="invalid weight -2"):
        ssdfl.Graph.from_networkx(g)


def test_out_of_range_indices() -> None:
    with pytest.raises(ssdfl.SsdflError, match="node index 3 is out of range for a graph with 3"):
        ssdfl.Graph.from_edges([(0, 1), (0, 3)], n=3)
    with pytest.raises(ssdfl.SsdflError, match="node index -1 is out of range"):
        ssdfl.Graph.from_edges([(0, -1)], n=3)
    with pytest.raises(ssdfl.SsdflError, match="n must be >= 0"):
        ssdfl.Graph.from_edges([], n=-1)
    with pytest.raises(ssdfl.SsdflError, match="exceed the supported maximum 4294967295"):
        ssdfl.Graph.from_edges([], n=10**12)
    G = ssdfl.Graph.from_edges([(0, 1), (1, 2)])
    for fn in (ssdfl.volume, ssdfl.cut_size, ssdfl.conductance, ssdfl.edge_expansion):
        with pytest.raises(ssdfl.SsdflError, match="node index 7 is out of range"):
            fn(G, [0, 7])
        with pytest.raises(ssdfl.SsdflError, match="node index -2 is out of range"):
            fn(G, [-2])
    with pytest.raises(ssdfl.SsdflError, match=r"boolean mask has shape \(2,\)"):
        ssdfl.volume(G, np.array([True, False]))


def test_malformed_arrays() -> None:
    with pytest.raises(ssdfl.SsdflError, match=r"edges must have shape \(m, 2\)"):
        ssdfl.Graph.from_edges([(0, 1, 2)])
    with pytest.raises(ssdfl.SsdflError, match="integer node indices"):
        ssdfl.Graph.from_edges([(0, 1.5)])
    with pytest.raises(ssdfl.SsdflError, match="integer node indices"):
        ssdfl.Graph.from_edges([("a", "b")])
    with pytest.raises(ssdfl.SsdflError, match="1 edges but 2 weights"):
        ssdfl.Graph.from_edges([(0, 1)], weights=[1.0, 2.0])
    with pytest.raises(ssdfl.SsdflError, match="2 labels given for a graph with 3 nodes"):
        ssdfl.Graph.from_edges([(0, 1)], n=3, labels=["a", "b"])


def test_empty_set_and_whole_vertex_set() -> None:
    G = ssdfl.Graph.from_edges([(0, 1), (1, 2), (2, 3)])
    for fn in (ssdfl.conductance, ssdfl.normalized_cut, ssdfl.edge_expansion):
        with pytest.raises(ssdfl.SsdflError, match="the set is empty"):
            fn(G, [])
        with pytest.raises(ssdfl.SsdflError, match="contains every node"):
            fn(G, [0, 1, 2, 3])
        with pytest.raises(ssdfl.SsdflError, match="contains every node"):
            fn(G, np.ones(4, dtype=bool))
    # volume and cut are defined (zero) for the empty set
    assert ssdfl.volume(G, []) == 0.0
    assert ssdfl.cut_size(G, []) == 0.0
    # a side with zero volume (isolated node) makes conductance undefined
    H = ssdfl.Graph.from_edges([(0, 1)], n=3)
    with pytest.raises(ssdfl.SsdflError, match="zero volume"):
        ssdfl.conductance(H, [2])


def test_asymmetric_and_non_square_matrices() -> None:
    with pytest.raises(
        ssdfl.SsdflError, match=r"not symmetric: entry \(0, 1\) = 1 but \(1, 0\) = 2"
    ):
        ssdfl.Graph.from_scipy(np.array([[0.0, 1.0], [2.0, 0.0]]))
    with pytest.raises(ssdfl.SsdflError, match="not symmetric"):
        ssdfl.Graph.from_scipy(sp.csr_array(np.array([[0.0, 1.0, 0.0], [0, 0, 0], [0, 0, 0]])))
    with pytest.raises(ssdfl.SsdflError, match=r"must be square, got shape \(2, 3\)"):
        ssdfl.Graph.from_scipy(np.zeros((2, 3)))
    with pytest.raises(ssdfl.SsdflError, match=r"must be square"):
        ssdfl.Graph.from_scipy(sp.csr_array((3, 2)))
    with pytest.raises(ssdfl.SsdflError, match="must be 2-D"):
        ssdfl.Graph.from_scipy(np.zeros((2, 2, 2)))


def test_type_errors() -> None:
    with pytest.raises(TypeError, match="cannot make a graph"):
        ssdfl.conductance(42, [0])
    with pytest.raises(ssdfl.SsdflError, match="directed"):
        import networkx as nx

        ssdfl.Graph.from_networkx(nx.DiGraph([(0, 1)]))
