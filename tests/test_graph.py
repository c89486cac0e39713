"""The Graph type: constructors, exports and properties against networkx / scipy / rustworkx."""

from __future__ import annotations

import copy
import pickle
import warnings

import networkx as nx
import numpy as np
import pytest
import rustworkx as rx
import scipy.sparse as sp
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import ssdfl
from conftest import EXAMPLES, weighted_graphs
from ssdfl.graphs.graph import Positions


def nx_weights(g: nx.Graph, names: list) -> dict[frozenset, float]:
    """Edge weights of a networkx graph keyed by frozenset of endpoint labels."""
    return {frozenset((u, v)): float(d.get("weight", 1.0)) for u, v, d in g.edges(data=True)}


def ours_weights(G: ssdfl.Graph) -> dict[frozenset, float]:
    names = G.node_names()
    s, d, w = G.edges()
    return {frozenset((names[a], names[b])): float(c) for a, b, c in zip(s, d, w)}


# ------------------------------------------------------------------------ from_edges
def test_from_edges_pairs_and_defaults() -> None:
    G = ssdfl.Graph.from_edges([(0, 1), (1, 2), (3, 1)])
    assert (G.n, G.m) == (4, 3)
    assert not G.weighted
    assert G.labels is None
    np.testing.assert_array_equal(G.degrees, [1.0, 3.0, 1.0, 1.0])
    s, d, w = G.edges()
    np.testing.assert_array_equal(s, [0, 1, 1])
    np.testing.assert_array_equal(d, [1, 2, 3])
    np.testing.assert_array_equal(w, [1.0, 1.0, 1.0])
    assert len(G) == 4
    assert repr(G) == "Graph(n=4, m=3, unweighted)"


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint16, np.uint64, np.float64])
def test_from_edges_numpy_dtypes(dtype: type) -> None:
    arr = np.array([[0, 1], [2, 1], [2, 3]], dtype=dtype)
    G = ssdfl.Graph.from_edges(arr, weights=np.array([0.5, 2.0, 4.0], dtype=np.float32))
    ref = nx.Graph()
    ref.add_weighted_edges_from([(0, 1, 0.5), (2, 1, 2.0), (2, 3, 4.0)])
    assert ours_weights(G) == nx_weights(ref, list(ref))
    np.testing.assert_array_equal(G.degrees, [d for _, d in sorted(ref.degree(weight="weight"))])
    assert G.weighted


def test_from_edges_generator_n_and_isolated_nodes() -> None:
    G = ssdfl.Graph.from_edges(((k, k + 1) for k in range(3)), n=6)
    assert (G.n, G.m) == (6, 3)
    np.testing.assert_array_equal(G.degrees, [1, 2, 2, 1, 0, 0])
    E = ssdfl.Graph.from_edges([], n=3)
    assert (E.n, E.m) == (3, 0)
    assert ssdfl.Graph.from_edges([]).n == 0


def test_from_edges_labels() -> None:
    G = ssdfl.Graph.from_edges([(0, 1), (1, 2)], labels=["a", "b", "c"])
    assert G.n == 3
    assert G.labels.tolist() == ["a", "b", "c"]
    assert G.labels.dtype == object  # Python strings, not fixed-width numpy strings
    assert G.node_names() == ["a", "b", "c"]
    assert set(G.to_networkx().edges()) == {("a", "b"), ("b", "c")}
    # labels fix n when n is not given (a trailing isolated node)
    H = ssdfl.Graph.from_edges([(0, 1)], labels=[10, 20, 30])
    assert H.n == 3
    assert H.labels.tolist() == [10, 20, 30]


def test_parallel_edges_are_summed() -> None:
    G = ssdfl.Graph.from_edges([(0, 1), (1, 0), (0, 1), (1, 2)], weights=[1.0, 2.0, 3.5, 1.0])
    assert G.m == 2
    assert ours_weights(G) == {frozenset((0, 1)): 6.5, frozenset((1, 2)): 1.0}
    U = ssdfl.Graph.from_edges([(0, 1), (1, 0)])
    assert U.m == 1
    assert U.weighted  # the merged edge has weight 2
    np.testing.assert_array_equal(U.degrees, [2.0, 2.0])


def test_unit_weights_make_an_unweighted_graph() -> None:
    assert not ssdfl.Graph.from_edges([(0, 1), (1, 2)], weights=[1.0, 1.0]).weighted
    assert ssdfl.Graph.from_edges([(0, 1), (1, 2)], weights=[1.0, 3.0]).weighted


def test_self_loops_dropped_with_warning() -> None:
    with pytest.warns(ssdfl.SsdflWarning, match="ignored 2 self-loop") as rec:
        G = ssdfl.Graph.from_edges([(0, 0), (0, 1), (1, 1)], weights=[5.0, 2.0, 7.0])
    assert rec[0].filename == __file__  # the warning points at the caller
    assert G.m == 1
    np.testing.assert_array_equal(G.degrees, [2.0, 2.0])
    with pytest.warns(ssdfl.SsdflWarning, match="1 self-loop"):
        ssdfl.Graph.from_scipy(np.array([[3.0, 1.0], [1.0, 0.0]]))
    g = nx.Graph([(0, 1), (1, 1)])
    with pytest.warns(ssdfl.SsdflWarning, match="1 self-loop"):
        assert ssdfl.Graph.from_networkx(g).m == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ssdfl.Graph.from_edges([(0, 1)])  # no loop, no warning


@given(
    n=st.integers(1, 30),
    data=st.data(),
)
def test_from_edges_matches_scipy_coo_sum(n: int, data: st.DataObject) -> None:
    """Duplicates summed and loops dropped: reference = scipy COO (sums duplicates)."""
    m = data.draw(st.integers(0, 80))
    edges = data.draw(hnp.arrays(np.int64, (m, 2), elements=st.integers(0, n - 1)))
    w = data.draw(hnp.arrays(np.float64, m, elements=st.sampled_from([0.25, 0.5, 1.0, 1.5, 3.0])))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ssdfl.SsdflWarning)
        G = ssdfl.Graph.from_edges(edges, n=n, weights=w)
    keep = edges[:, 0] != edges[:, 1]
    e, ww = edges[keep], w[keep]
    A = sp.coo_array((ww, (e[:, 0], e[:, 1])), shape=(n, n))
    A = (A + A.T).toarray()
    np.testing.assert_array_equal(G.to_scipy().toarray(), A)
    np.testing.assert_array_equal(G.degrees, A.sum(axis=1))
    assert G.m == np.count_nonzero(np.triu(A))


# ---------------------------------------------------------------------------- networkx
@given(g=weighted_graphs(min_n=1, max_n=25))
def test_networkx_round_trip_and_degrees(g: nx.Graph) -> None:
    G = ssdfl.Graph.from_networkx(g)
    assert (G.n, G.m) == (g.number_of_nodes(), g.number_of_edges())
    nodes = list(g.nodes)
    want = np.array([g.degree(u, weight="weight") for u in nodes])
    np.testing.assert_allclose(G.degrees, want, rtol=1e-15, atol=0)
    back = G.to_networkx()
    assert list(back.nodes) == nodes
    assert nx.utils.graphs_equal(back, g)
    A = nx.to_scipy_sparse_array(g, nodelist=nodes, weight="weight")
    np.testing.assert_array_equal(G.to_scipy().toarray(), A.toarray())


def test_from_networkx_string_keys_and_order() -> None:
    g = nx.Graph()
    g.add_nodes_from(["z", "a", "m", "lonely"])
    g.add_edge("a", "z", weight=2.0)
    g.add_edge("m", "a", weight=0.5)
    G = ssdfl.Graph.from_networkx(g)
    assert G.labels.tolist() == ["z", "a", "m", "lonely"]  # networkx node order kept
    np.testing.assert_array_equal(G.degrees, [2.0, 2.5, 0.5, 0.0])
    assert ours_weights(G) == nx_weights(g, list(g))
    # non-contiguous integer keys are kept as labels; 0..n-1 in order means no labels
    h = nx.Graph([(10, 3), (3, 7)])
    H = ssdfl.Graph.from_networkx(h)
    assert H.labels.tolist() == [10, 3, 7]
    assert ssdfl.Graph.from_networkx(nx.path_graph(4)).labels is None


def test_from_networkx_multigraph_sums_parallel_edges() -> None:
    g = nx.MultiGraph()
    g.add_edge("a", "b", weight=2.0)
    g.add_edge("a", "b", weight=3.0)
    g.add_edge("b", "a")  # no weight attribute: 1
    g.add_edge("b", "c", weight=0.25)
    G = ssdfl.Graph.from_networkx(g)
    ref = {}
    for u, v, d in g.edges(data=True):
        key = frozenset((u, v))
        ref[key] = ref.get(key, 0.0) + d.get("weight", 1.0)
    assert ours_weights(G) == ref == {frozenset("ab"): 6.0, frozenset("bc"): 0.25}
    np.testing.assert_array_equal(G.degrees, [6.0, 6.25, 0.25])


def test_from_networkx_weight_options() -> None:
    g = nx.Graph()
    g.add_edge(0, 1, w=3.0, weight=9.0)
    g.add_edge(1, 2)
    assert ours_weights(ssdfl.Graph.from_networkx(g, weight="w")) == {
        frozenset((0, 1)): 3.0,
        frozenset((1, 2)): 1.0,
    }
    G = ssdfl.Graph.from_networkx(g, weight=None)
    assert not G.weighted
    np.testing.assert_array_equal(G.degrees, [1.0, 2.0, 1.0])
    g[1][2]["weight"] = "heavy"
    with pytest.raises(ssdfl.SsdflError, match="non-numeric weight='heavy'"):
        ssdfl.Graph.from_networkx(g)
    with pytest.raises(ssdfl.SsdflError, match="directed"):
        ssdfl.Graph.from_networkx(nx.DiGraph([(0, 1)]))


# ------------------------------------------------------------------------------ scipy
@given(g=weighted_graphs(min_n=1, max_n=20))
def test_scipy_sparse_and_dense_round_trip(g: nx.Graph) -> None:
    A = nx.to_scipy_sparse_array(g, nodelist=sorted(g), weight="weight", format="csr")
    for M in (A, A.tocoo(), sp.csc_matrix(A), A.toarray(), A.toarray().tolist()):
        G = ssdfl.Graph.from_scipy(M)
        assert G.n == g.number_of_nodes()
        np.testing.assert_array_equal(G.to_scipy().toarray(), A.toarray())
    B = ssdfl.Graph.from_scipy(A).to_scipy()
    assert isinstance(B, sp.csr_array)
    assert B.dtype == np.float64
    assert (abs(B - B.T)).nnz == 0


def test_from_scipy_explicit_zeros_and_duplicates() -> None:
    # COO with a duplicated entry pair (summed by scipy) and an explicit zero (no edge)
    rows = np.array([0, 1, 0, 1, 1, 2])
    cols = np.array([1, 0, 1, 0, 2, 1])
    vals = np.array([1.0, 2.0, 1.0, 0.0, 0.0, 0.0])
    G = ssdfl.Graph.from_scipy(sp.coo_array((vals, (rows, cols)), shape=(3, 3)))
    assert ours_weights(G) == {frozenset((0, 1)): 2.0}
    assert G.n == 3


# -------------------------------------------------------------------------- rustworkx
def test_rustworkx_round_trip() -> None:
    rg = rx.undirected_gnp_random_graph(40, 0.15, seed=3)
    for k, (u, v) in enumerate(rg.edge_list()):
        rg.update_edge(u, v, 0.5 + k % 4)
    G = ssdfl.Graph.from_rustworkx(rg)
    assert (G.n, G.m) == (rg.num_nodes(), rg.num_edges())
    assert G.labels is None  # payloads are None
    want = {frozenset((u, v)): w for u, v, w in rg.weighted_edge_list()}
    assert ours_weights(G) == want
    back = G.to_rustworkx()
    assert {frozenset((u, v)): w for u, v, w in back.weighted_edge_list()} == want
    assert back.nodes() == list(range(40))
    assert ssdfl.Graph.from_rustworkx(back) == G
    assert ssdfl.Graph.from_rustworkx(back).labels is None
    # degrees: rustworkx counts neighbours; weighted degree = sum of incident payloads
    for u in range(40):
        assert sum(rg.get_edge_data(u, v) for v in rg.neighbors(u)) == G.degrees[u]


def test_from_rustworkx_payloads_holes_and_weight_fn() -> None:
    rg = rx.PyGraph()
    rg.add_nodes_from(["x", "y", "z", "w"])
    rg.add_edges_from([(0, 1, {"cost": 2.5}), (1, 2, {"cost": 1.0}), (2, 3, {"cost": 4.0})])
    rg.remove_node(1)  # index 1 becomes a hole
    G = ssdfl.Graph.from_rustworkx(rg, weight_fn=lambda p: p["cost"])
    assert G.labels.tolist() == ["x", "z", "w"]
    assert ours_weights(G) == {frozenset(("z", "w")): 4.0}
    # non-numeric payloads without weight_fn count as 1
    assert not ssdfl.Graph.from_rustworkx(rg).weighted
    rm = rx.PyGraph()  # multigraph by default: parallel edges summed
    rm.add_nodes_from([None, None])
    rm.add_edges_from([(0, 1, 2.0), (0, 1, 3.0)])
    assert ours_weights(ssdfl.Graph.from_rustworkx(rm)) == {frozenset((0, 1)): 5.0}
    with pytest.raises(ssdfl.SsdflError, match=r"rustworkx\.PyGraph"):
        ssdfl.Graph.from_rustworkx(nx.Graph())


# ------------------------------------------------------------------- subgraph, pickle
@given(g=weighted_graphs(min_n=2, max_n=15), data=st.data())
def test_subgraph_matches_networkx(g: nx.Graph, data: st.DataObject) -> None:
    n = g.number_of_nodes()
    S = sorted(data.draw(st.sets(st.integers(0, n - 1), min_size=1)))
    G = ssdfl.Graph.from_networkx(g)
    H = G.subgraph(S)
    ref = g.subgraph(S)
    assert H.labels.tolist() == S  # original indices become labels
    assert nx.utils.graphs_equal(H.to_networkx(), ref)
    mask = np.zeros(n, dtype=bool)
    mask[S] = True
    assert G.subgraph(mask) == H


def test_subgraph_keeps_labels() -> None:
    G = ssdfl.Graph.from_edges([(0, 1), (1, 2), (2, 3)], labels=["a", "b", "c", "d"])
    H = G.subgraph(["d", "b", "c"])  # node names, as networkx's G.subgraph
    assert H.labels.tolist() == ["b", "c", "d"]
    assert set(H.to_networkx().edges()) == {("b", "c"), ("c", "d")}
    assert G.subgraph(Positions([3, 1, 2])) == H
    assert G.subgraph(Positions([3, 1, 2])).labels.tolist() == ["b", "c", "d"]
    with pytest.raises(ssdfl.SsdflError, match="out of range"):
        G.subgraph(Positions([4]))
    with pytest.raises(ssdfl.SsdflError, match="no node named 3"):
        G.subgraph([3])  # an integer is a name, and this graph's names are strings


@pytest.mark.parametrize(
    "G",
    [
        ssdfl.Graph.from_edges([(0, 1), (1, 2)], n=4),
        ssdfl.Graph.from_edges([(0, 1), (1, 2)], weights=[0.1, 0.7], labels=["p", "q", "r"]),
        ssdfl.Graph.from_edges([], n=0),
    ],
)
def test_pickle_and_deepcopy(G: ssdfl.Graph) -> None:
    for H in (pickle.loads(pickle.dumps(G)), copy.deepcopy(G)):
        assert H == G
        assert H.weighted == G.weighted
        assert H.node_names() == G.node_names()
        np.testing.assert_array_equal(H.degrees, G.degrees)


def test_equality_compares_structure_not_labels() -> None:
    a = ssdfl.Graph.from_edges([(0, 1)], weights=[2.0])
    assert a == ssdfl.Graph.from_edges([(1, 0)], weights=[2.0], labels=["u", "v"])
    assert a != ssdfl.Graph.from_edges([(0, 1)], weights=[2.5])
    assert a != ssdfl.Graph.from_edges([(0, 1)], n=3, weights=[2.0])
    assert a != "graph"
    with pytest.raises(TypeError):
        hash(a)


# --------------------------------------------------------------------------- as_graph
def test_as_graph_accepts_every_source() -> None:
    g = nx.read_edgelist(EXAMPLES / "karate.edgelist", nodetype=int, data=[("weight", float)])
    assert sorted(g) == list(range(34))
    want = ssdfl.Graph.from_edges(
        list(g.edges()), weights=[w for _, _, w in g.edges(data="weight")]
    )
    for obj in (
        EXAMPLES / "karate.edgelist",
        str(EXAMPLES / "karate.edgelist"),
        nx.to_scipy_sparse_array(g, nodelist=sorted(g)),
        nx.to_numpy_array(g, nodelist=sorted(g)),
    ):
        assert ssdfl.as_graph(obj) == want
    G = ssdfl.as_graph(g)
    assert G.labels.tolist() == list(g.nodes)
    assert ssdfl.as_graph(want) is want
    rg = rx.PyGraph()
    rg.add_nodes_from([None] * 3)
    rg.add_edges_from([(0, 1, 1.0), (1, 2, 1.0)])
    assert ssdfl.as_graph(rg) == ssdfl.Graph.from_edges([(0, 1), (1, 2)])
    with pytest.raises(TypeError, match="cannot make a graph from dict"):
        ssdfl.as_graph({0: [1]})


def test_bundled_examples_match_networkx() -> None:
    for path in sorted(EXAMPLES.glob("*.edgelist")):
        g = nx.read_edgelist(path, nodetype=int, data=[("weight", float)])
        G = ssdfl.read_graph(path)
        nodes = sorted(g)
        assert G.n == len(nodes), path
        assert (G.labels is None and nodes == list(range(G.n))) or G.labels.tolist() == nodes
        A = nx.to_scipy_sparse_array(g, nodelist=nodes, weight="weight")
        np.testing.assert_array_equal(G.to_scipy().toarray(), A.toarray())
