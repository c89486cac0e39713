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
    assert ssdfl.cut_size(G, idx) == ssdfl.cut_size(G, S) == nx.cut_size(g, S)
    assert G.names(idx) == sorted(S, key=list(g.nodes).index)
    assert G.names(G.mask(S)) == G.names(S)
    assert ssdfl.is_set_connected(G, ["Myriel", "Napoleon"]) == nx.is_connected(g.subgraph(S))
    sub = G.subgraph(["Valjean", "Javert", "Fantine"])
    assert sorted(sub.node_names()) == ["Fantine", "Javert", "Valjean"]
    comps = ssdfl.connected_components(G)
    assert [set(G.names(c)) for c in comps] == [set(c) for c in nx.connected_components(g)]
    with pytest.raises(SsdflError, match="no node named 'Nobody'"):
        ssdfl.conductance(G, ["Myriel", "Nobody"])
    # integers stay node indices, also when mixed with names
    first, fifth = G.node_names()[0], G.node_names()[5]
    assert G.names([5, first]) == [first, fifth]


def test_cheeger_functions_take_names() -> None:
    g = nx.les_miserables_graph()
    G = ssdfl.Graph.from_networkx(g)
    comm = max(nx.community.louvain_communities(g, seed=1), key=len)
    by_name = ssdfl.internal_conductance(G, sorted(comm))
    by_index = ssdfl.internal_conductance(G, G.index(sorted(comm)))
    assert by_name.value == pytest.approx(by_index.value)


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
