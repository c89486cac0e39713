"""Functions sharing a networkx name take networkx's ``weight=`` and defaults; node names are
accepted wherever node sets are; SNAP-style directed edge lists (issue 16, item 3)."""

from __future__ import annotations

import warnings
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ssdfl
from conftest import weighted_graphs
from ssdfl.errors import GraphFormatError, SsdflError, SsdflWarning
from ssdfl.graphs.graph import Graph, Positions


def test_karate_defaults_equal_networkx() -> None:
    g = nx.karate_club_graph()  # weighted (edge attribute "weight")
    S = [n for n, d in g.nodes(data=True) if d["club"] == "Mr. Hi"]
    G = ssdfl.Graph.from_networkx(g)
    assert ssdfl.conductance(G, S) == pytest.approx(nx.conductance(g, S), rel=1e-12)
    assert ssdfl.conductance(G, S, weight="weight") == pytest.approx(
        nx.conductance(g, S, weight="weight"), rel=1e-12
    )
    assert ssdfl.algebraic_connectivity(g) == pytest.approx(
        nx.algebraic_connectivity(g, method="tracemin_lu", tol=1e-12), rel=1e-6
    )  # weighted, unnormalized: issue said ssdfl 0.110 vs nx 1.187
    assert ssdfl.algebraic_connectivity(g, normalized=True) == pytest.approx(
        np.linalg.eigvalsh(nx.normalized_laplacian_matrix(g).toarray())[1], rel=1e-9
    )
    assert ssdfl.algebraic_connectivity(g, weight=None) == pytest.approx(
        nx.algebraic_connectivity(g, weight=None, method="tracemin_lu", tol=1e-12), rel=1e-6
    )


@settings(max_examples=40, deadline=None)
@given(g=weighted_graphs(min_n=3, max_n=12, connected=True), data=st.data())
def test_every_default_matches_networkx(g: nx.Graph, data: st.DataObject) -> None:
    n = g.number_of_nodes()
    S = data.draw(st.sets(st.integers(0, n - 1), min_size=1, max_size=n - 1))
    T = data.draw(st.sets(st.integers(0, n - 1), min_size=1, max_size=n - 1))
    G = ssdfl.Graph.from_networkx(g)
    for src in (g, G):  # a networkx graph and an ssdfl.Graph give the same numbers
        for w in (None, "weight"):
            kw = {} if w is None else {"weight": w}  # None: the default
            assert ssdfl.volume(src, S, **kw) == pytest.approx(nx.volume(g, S, **kw))
            assert ssdfl.cut_size(src, S, **kw) == pytest.approx(nx.cut_size(g, S, **kw))
            assert ssdfl.cut_size(src, S, T, **kw) == pytest.approx(nx.cut_size(g, S, T, **kw))
            assert ssdfl.edge_expansion(src, S, **kw) == pytest.approx(
                nx.edge_expansion(g, S, **kw)
            )
            assert ssdfl.edge_expansion(src, S, T, **kw) == pytest.approx(
                nx.edge_expansion(g, S, T, **kw)
            )
            assert ssdfl.conductance(src, S, **kw) == pytest.approx(nx.conductance(g, S, **kw))
            assert ssdfl.conductance(src, S, T, **kw) == pytest.approx(
                nx.conductance(g, S, T, **kw)
            )
            assert ssdfl.normalized_cut(src, S, **kw) == pytest.approx(
                nx.normalized_cut_size(g, S, **kw)
            )
            assert ssdfl.normalized_cut(src, S, T, **kw) == pytest.approx(
                nx.normalized_cut_size(g, S, T, **kw)
            )
    for kw in ({}, {"weight": None}, {"normalized": True}, {"weight": None, "normalized": True}):
        ref = nx.algebraic_connectivity(g, method="tracemin_lu", tol=1e-12, **kw)
        assert ssdfl.algebraic_connectivity(g, **kw) == pytest.approx(ref, rel=1e-6, abs=1e-9)
        v = ssdfl.fiedler_vector(G, **kw)
        L = (nx.normalized_laplacian_matrix if kw.get("normalized") else nx.laplacian_matrix)(
            g, nodelist=range(n), weight=kw.get("weight", "weight")
        ).toarray()
        assert np.allclose(L @ v, ref * v, atol=1e-5)


def test_node_names_are_accepted_and_returned() -> None:
    g = nx.les_miserables_graph()
    G = ssdfl.Graph.from_networkx(g)
    S = ["Myriel", "Napoleon"]
    assert ssdfl.conductance(G, S) == pytest.approx(nx.conductance(g, S))
    assert ssdfl.conductance(G, S, weight="weight") == pytest.approx(
        nx.conductance(g, S, weight="weight")
    )
    assert ssdfl.volume(G, "Valjean") == nx.volume(g, ["Valjean"])
    idx = G.index(S)
    assert G.node_names()[idx[0]] == "Myriel"
    assert ssdfl.cut_size(G, Positions(idx)) == ssdfl.cut_size(G, S) == nx.cut_size(g, S)
    assert G.names(Positions(idx)) == sorted(S, key=list(g.nodes).index)
    assert G.names(G.mask(S)) == G.names(S)
    assert ssdfl.is_set_connected(G, ["Myriel", "Napoleon"]) == nx.is_connected(g.subgraph(S))
    sub = G.subgraph(["Valjean", "Javert", "Fantine"])
    assert sorted(sub.node_names()) == ["Fantine", "Javert", "Valjean"]
    comps = ssdfl.connected_components(G)
    assert [set(c) for c in comps] == [set(c) for c in nx.connected_components(g)]
    assert [set(G.names(c)) for c in comps] == [set(c) for c in comps]
    with pytest.raises(SsdflError, match="no node named 'Nobody'"):
        ssdfl.conductance(G, ["Myriel", "Nobody"])
    # integers are names too: positions are said explicitly
    first, fifth = G.node_names()[0], G.node_names()[5]
    assert G.names(Positions([5, 0])) == [first, fifth]
    with pytest.raises(SsdflError, match="no node named 5"):
        G.names([5, first])


def test_cheeger_functions_take_names() -> None:
    g = nx.les_miserables_graph()
    G = ssdfl.Graph.from_networkx(g)
    comm = max(nx.community.louvain_communities(g, seed=1), key=len)
    by_name = ssdfl.internal_conductance(G, sorted(comm))
    by_index = ssdfl.internal_conductance(G, Positions(G.index(sorted(comm))))
    assert by_name.value == pytest.approx(by_index.value)


# ------------------------------------------------------ node keys of any type and order
ER30 = Path(__file__).resolve().parent.parent / "examples" / "er30.edgelist"


def test_issue21_repro_int_keys_not_in_order() -> None:
    """Issue 21: integer keys not 0..n-1 in insertion order are keys, not positions."""
    g = nx.read_edgelist(ER30, nodetype=int)
    assert list(g.nodes)[:3] != [0, 1, 2]
    S = [0, 1, 2, 3, 4]
    ref = nx.conductance(g, S)
    assert ref == 1.0
    G = ssdfl.as_graph(g)
    for src in (g, G, G.to_networkx()):
        assert ssdfl.conductance(src, S) == ref
        assert ssdfl.conductance(src, np.array(S)) == ref
        assert ssdfl.conductance(src, set(S)) == ref
    # positions say so: the first five nodes of g.nodes
    first5 = list(g.nodes)[:5]
    assert ssdfl.conductance(g, Positions(range(5))) == pytest.approx(nx.conductance(g, first5))
    assert ssdfl.conductance(G, G.mask(first5)) == pytest.approx(nx.conductance(g, first5))


def _relabel(g: nx.Graph, keys: list, order: list[int]) -> nx.Graph:
    """``g`` with node ``i`` renamed ``keys[i]``, nodes inserted in ``order``, edges shuffled."""
    h = nx.Graph()
    h.add_nodes_from(keys[i] for i in order)
    edges = list(g.edges(data=True))
    rank = {u: r for r, u in enumerate(order)}
    edges.sort(key=lambda e: (rank[e[0]] * 7 + rank[e[1]] * 3) % (len(order) + 1))
    h.add_edges_from((keys[u], keys[v], d) for u, v, d in edges)
    return h


@st.composite
def relabelled_graphs(draw: st.DrawFn, connected: bool) -> nx.Graph:
    """Random weighted graphs whose node keys are shuffled distinct ints (negative, large, not
    0..n-1, inserted in random order) or strings."""
    g = draw(weighted_graphs(min_n=3, max_n=12, connected=connected))
    n = g.number_of_nodes()
    ints = draw(st.lists(st.integers(-(10**6), 10**6), min_size=n, max_size=n, unique=True))
    kind = draw(st.sampled_from(["int", "str", "permutation"]))
    if kind == "str":
        keys: list = [f"v{k}" for k in ints]
    elif kind == "permutation":  # keys 0..n-1 but in shuffled order: positions ≠ keys
        keys = draw(st.permutations(list(range(n))))
    else:
        keys = ints
    order = draw(st.permutations(list(range(n))))
    return _relabel(g, keys, order)


def _sets(h: nx.Graph, data: st.DataObject) -> tuple[list, list]:
    nodes = list(h.nodes)
    sets = st.lists(st.sampled_from(nodes), min_size=1, max_size=len(nodes) - 1, unique=True)
    return data.draw(sets), data.draw(sets)


@settings(max_examples=60, deadline=None)
@given(h=relabelled_graphs(connected=False), data=st.data())
def test_set_functions_equal_networkx_on_any_keys(h: nx.Graph, data: st.DataObject) -> None:
    S, T = _sets(h, data)
    Sd = [x for x in T if x not in set(S)] or None  # networkx's T: disjoint from S
    G = ssdfl.as_graph(h)
    forms = (S, set(S), np.array(S), tuple(S))
    for src in (h, G):
        for w in (None, "weight"):
            kw = {} if w is None else {"weight": w}
            for SS in forms:
                assert ssdfl.volume(src, SS, **kw) == pytest.approx(nx.volume(h, S, **kw))
                assert ssdfl.cut_size(src, SS, **kw) == pytest.approx(nx.cut_size(h, S, **kw))
                assert ssdfl.edge_expansion(src, SS, **kw) == pytest.approx(
                    nx.edge_expansion(h, S, **kw)
                )
            vs = nx.volume(h, S, **kw)
            vr = nx.volume(h, set(h) - set(S), **kw)
            if vs > 0 and vr > 0:
                assert ssdfl.conductance(src, S, **kw) == pytest.approx(nx.conductance(h, S, **kw))
                assert ssdfl.normalized_cut(src, S, **kw) == pytest.approx(
                    nx.normalized_cut_size(h, S, **kw)
                )
            else:
                with pytest.raises(SsdflError, match="zero volume"):
                    ssdfl.conductance(src, S, **kw)
            if Sd is not None:
                assert ssdfl.cut_size(src, S, Sd, **kw) == pytest.approx(
                    nx.cut_size(h, S, Sd, **kw)
                )
                assert ssdfl.edge_expansion(src, S, Sd, **kw) == pytest.approx(
                    nx.edge_expansion(h, S, Sd, **kw)
                )
                if nx.volume(h, Sd, **kw) > 0 and vs > 0:
                    assert ssdfl.conductance(src, S, Sd, **kw) == pytest.approx(
                        nx.conductance(h, S, Sd, **kw)
                    )
                    assert ssdfl.normalized_cut(src, S, Sd, **kw) == pytest.approx(
                        nx.normalized_cut_size(h, S, Sd, **kw)
                    )
        assert ssdfl.is_set_connected(src, S) == nx.is_connected(h.subgraph(S))
        comps = ssdfl.connected_components(src)
        assert [set(c.tolist()) for c in comps] == [set(c) for c in nx.connected_components(h)]
        assert ssdfl.is_connected(src) == nx.is_connected(h)
        assert ssdfl.component_labels(src).tolist() == [
            next(k for k, c in enumerate(comps) if u in set(c.tolist())) for u in h.nodes
        ]
    sub = G.subgraph(S)
    assert nx.utils.graphs_equal(sub.to_networkx(), h.subgraph(S))
    assert nx.utils.graphs_equal(G.to_networkx(), h)
    assert G.names(S) == [u for u in h.nodes if u in set(S)]
    assert G.index(S).tolist() == [list(h.nodes).index(u) for u in S]


@settings(max_examples=30, deadline=None)
@given(h=relabelled_graphs(connected=True))
def test_spectral_functions_equal_networkx_on_any_keys(h: nx.Graph) -> None:
    G = ssdfl.as_graph(h)
    for normalized in (False, True):
        lap = nx.normalized_laplacian_matrix if normalized else nx.laplacian_matrix
        for w in (None, "weight"):
            kw = {} if w == "weight" else {"weight": None}  # "weight" is the default
            L = lap(h, weight=w).toarray()  # rows in h.nodes order
            ev = np.linalg.eigvalsh(L)
            for src in (h, G):
                lam = ssdfl.algebraic_connectivity(src, normalized=normalized, **kw)
                assert lam == pytest.approx(ev[1], rel=1e-6, abs=1e-9)
                if not normalized:
                    ref = nx.algebraic_connectivity(h, weight=w, method="tracemin_lu", tol=1e-12)
                    assert lam == pytest.approx(ref, rel=1e-6, abs=1e-9)
                v = ssdfl.fiedler_vector(src, normalized=normalized, **kw)
                assert np.allclose(L @ v, ev[1] * v, atol=1e-6)
                if ev[2] - ev[1] > 1e-3:  # simple λ₂: the vector is unique up to sign
                    ref_v = nx.fiedler_vector(
                        h, weight=w, normalized=normalized, method="tracemin_lu", tol=1e-12
                    )
                    assert min(np.abs(v - ref_v).max(), np.abs(v + ref_v).max()) < 1e-5
        for src in (h, G):  # laplacian: networkx's weight="weight" default
            ours = ssdfl.laplacian(src, normalized=normalized).toarray()
            assert np.allclose(ours, lap(h).toarray())


def test_names_convert_in_bulk_without_a_python_call_per_integer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Integer node sets go through one vectorized step (range check or binary search), never
    the per-name dict pass; other names through that one pass."""
    calls: list[int] = []
    real = Graph._lookup

    def spy(self: Graph, items: object) -> np.ndarray:
        calls.append(1)
        return real(self, items)  # type: ignore[arg-type]

    monkeypatch.setattr(Graph, "_lookup", spy)
    rng = np.random.default_rng(3)
    n = 5000
    e = rng.integers(0, n, size=(4 * n, 2))
    e = e[e[:, 0] != e[:, 1]]
    plain = Graph.from_edges(e, n=n)
    keys = rng.permutation(10 * n)[:n] - 7 * n  # distinct ints, negative too, shuffled
    named = Graph.from_edges(e, n=n, labels=keys)  # spread out: binary search
    dense_keys = rng.permutation(n) + 100
    dense = Graph.from_edges(e, n=n, labels=dense_keys)  # a dense name → position table
    S = rng.choice(n, size=n // 3, replace=False)
    for G, names in ((plain, S), (named, keys[S]), (dense, dense_keys[S])):
        for form in (names, names.tolist(), names.astype(np.int32)):
            mask = G.mask(form)
            assert np.flatnonzero(mask).tolist() == sorted(S.tolist())
            assert G.index(form).tolist() == S.tolist()  # in the order given
    assert calls == []
    for G, bad in ((dense, 99), (dense, n + 100), (named, int(keys.min()) - 1)):
        with pytest.raises(SsdflError, match=f"no node named {bad}"):
            G.index([G.node_names()[0], bad])
    strs = Graph.from_edges(e, n=n, labels=[f"x{k}" for k in keys])
    assert np.flatnonzero(strs.mask([f"x{k}" for k in keys[S]])).tolist() == sorted(S.tolist())
    assert calls == [1]
    with pytest.raises(SsdflError, match=f"no node named {keys.max() + 1}"):
        named.mask([int(keys[0]), int(keys.max()) + 1])
    with pytest.raises(SsdflError, match="no node named 1000000000"):
        ssdfl.volume(named, np.array([keys[0], 10**9]))


def test_duplicate_names_are_refused_but_positions_work() -> None:
    G = Graph.from_edges([(0, 1), (1, 2)], labels=[7, 7, 9])
    with pytest.raises(SsdflError, match="not unique"):
        ssdfl.volume(G, [7])
    assert ssdfl.volume(G, Positions([0, 1])) == 3
    H = Graph.from_edges([(0, 1), (1, 2)], labels=["a", "a", "b"])
    with pytest.raises(SsdflError, match="not unique"):
        ssdfl.volume(H, ["b"])


def test_positions_and_masks_are_checked() -> None:
    G = Graph.from_edges([(0, 1), (1, 2)], labels=[10, 20, 30])
    assert ssdfl.volume(G, [10, 30]) == ssdfl.volume(G, Positions([0, 2])) == 2
    assert ssdfl.volume(G, [True, False, True]) == 2  # a list of booleans is a mask
    assert ssdfl.volume(G, 20) == 2  # one name
    with pytest.raises(SsdflError, match="out of range"):
        ssdfl.volume(G, Positions([3]))
    with pytest.raises(SsdflError, match="integer node positions"):
        Positions(["a"])
    with pytest.raises(SsdflError, match="mask has shape"):
        ssdfl.volume(G, np.array([True, False]))
    with pytest.raises(SsdflError, match="no node named"):
        ssdfl.volume(G, [[1, 2]])  # unhashable: not a name
    assert repr(Positions([1, 2])) == "Positions([1, 2])"


def test_weight_none_builds_no_unweighted_copy(monkeypatch: pytest.MonkeyPatch) -> None:
    """``weight=None`` on a weighted Graph: the kernels count edges as 1 (no copy), equal to
    the metrics of an unweighted rebuild; spectral functions reuse one cached view."""
    g = nx.les_miserables_graph()
    G = ssdfl.as_graph(g)
    assert G.weighted
    U = ssdfl.Graph.from_edges(np.column_stack(G.edges()[:2]), n=G.n, labels=G.labels)
    S, T = ["Myriel", "Napoleon", "Valjean"], ["Javert", "Fantine"]
    expected = {
        "volume": ssdfl.volume(U, S),
        "cut": ssdfl.cut_size(U, S),
        "cutT": ssdfl.cut_size(U, S, T),
        "cond": ssdfl.conductance(U, S),
        "condT": ssdfl.conductance(U, S, T),
        "ncut": ssdfl.normalized_cut(U, S),
        "ncutT": ssdfl.normalized_cut(U, S, T),
        "exp": ssdfl.edge_expansion(U, S),
    }
    assert expected["volume"] == nx.volume(g, S)  # U really is unweighted
    built = G.unweighted()
    assert G.unweighted() is built  # kept on the graph
    monkeypatch.setattr(Graph, "unweighted", lambda self: pytest.fail("unweighted copy"))
    got = {
        "volume": ssdfl.volume(G, S),
        "cut": ssdfl.cut_size(G, S),
        "cutT": ssdfl.cut_size(G, S, T),
        "cond": ssdfl.conductance(G, S),
        "condT": ssdfl.conductance(G, S, T),
        "ncut": ssdfl.normalized_cut(G, S),
        "ncutT": ssdfl.normalized_cut(G, S, T),
        "exp": ssdfl.edge_expansion(G, S),
    }
    assert got == pytest.approx(expected, rel=1e-15)


# ------------------------------------------------------------------ SNAP directed files
SNAP = (
    "# Directed graph (each unordered pair of nodes is saved once): toy.txt\n"
    "# FromNodeId\tToNodeId\n"
)


def _snap(tmp_path: Path, body: str, header: str = SNAP) -> Path:
    p = tmp_path / "toy.txt"
    p.write_text(header + body)
    return p


def test_snap_directed_reciprocal_edges_warn_and_merge(tmp_path: Path) -> None:
    body = "0\t1\n1\t0\n1\t2\n2\t3\n3\t2\n"
    p = _snap(tmp_path, body)
    with pytest.warns(SsdflWarning, match=r"Directed graph.*2 line\(s\) repeat a node pair"):
        G = ssdfl.read_graph(p)
    ref = nx.read_edgelist(p, nodetype=int)  # networkx: one edge per pair
    assert not G.weighted
    assert G.m == ref.number_of_edges() == 3
    with pytest.warns(SsdflWarning):
        assert ssdfl.read_graph(p, directed=None) == G
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ssdfl.read_graph(p, directed="merge") == G
        summed = ssdfl.read_graph(p, directed="sum")
    assert summed.edges()[2].tolist() == [2.0, 1.0, 2.0]
    with pytest.raises(GraphFormatError, match=r"nodes 0 and 1 are joined by more than one"):
        ssdfl.read_graph(p, directed="error")


def test_merge_keeps_last_weight_like_networkx(tmp_path: Path) -> None:
    p = _snap(tmp_path, "a b 2\nb a 5\nb c 1\n")
    G = ssdfl.read_graph(p, directed="merge")
    ref = nx.read_edgelist(p, data=[("weight", float)])
    names = G.node_names()
    s, d, w = G.edges()
    ours = {frozenset((names[x], names[y])): c for x, y, c in zip(s, d, w)}
    assert ours == {frozenset((u, v)): dd["weight"] for u, v, dd in ref.edges(data=True)}


def test_undirected_header_and_no_header_sum_silently(tmp_path: Path) -> None:
    for header in ("# Undirected graph: toy\n", ""):
        p = _snap(tmp_path, "0 1\n1 0\n", header)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            G = ssdfl.read_graph(p)
        assert G.edges()[2].tolist() == [2.0]
    # a directed header without repeated pairs: nothing to say
    p = _snap(tmp_path, "0 1\n1 2\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ssdfl.read_graph(p).m == 2


def test_directed_argument_is_checked(tmp_path: Path) -> None:
    p = _snap(tmp_path, "0 1\n")
    with pytest.raises(SsdflError, match="directed must be one of"):
        ssdfl.read_graph(p, directed="max")
    q = tmp_path / "g.json"
    ssdfl.write_graph(nx.path_graph(3), q)
    with pytest.raises(SsdflError, match="edge lists only"):
        ssdfl.read_graph(q, directed="merge")
