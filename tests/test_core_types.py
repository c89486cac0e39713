"""Named result types of the binding ``ssdfl._core``: every field checked against an
independent computation (networkx, numpy, brute force), and every type's ``repr``."""

from __future__ import annotations

import itertools
from collections import Counter

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp

import ssdfl
from ssdfl import _core


def _weighted_graph(n: int = 10, p: float = 0.45, seed: int = 3) -> nx.Graph:
    rng = np.random.default_rng(seed)
    while True:
        G = nx.gnp_random_graph(n, p, seed=int(rng.integers(1 << 30)))
        if nx.is_connected(G):
            break
    for u, v in G.edges():
        G[u][v]["weight"] = float(rng.integers(1, 6)) / 2.0  # exact in binary: no rounding ties
    return G


def _core_graph(G: nx.Graph) -> _core.CoreGraph:
    return ssdfl.Graph.from_networkx(G)._core


def _nodes(mask: np.ndarray) -> list[int]:
    return np.flatnonzero(mask).tolist()


def test_cheeger_cut_fields_match_networkx_and_brute_force() -> None:
    G = _weighted_graph()
    r = _core.exact_cheeger(_core_graph(G), "volume")
    assert isinstance(r, _core.CheegerCut)
    S = _nodes(r.mask)
    T = sorted(set(G) - set(S))
    assert r.mask.dtype == np.bool_ and r.mask.shape == (G.number_of_nodes(),)
    assert r.value == pytest.approx(nx.conductance(G, S, weight="weight"))
    assert r.cut == pytest.approx(nx.cut_size(G, S, weight="weight"))
    assert r.mass == pytest.approx(nx.volume(G, S, weight="weight"))
    assert r.complement_mass == pytest.approx(nx.volume(G, T, weight="weight"))
    brute = min(
        nx.conductance(G, list(c), weight="weight")
        for k in range(1, len(G))
        for c in itertools.combinations(G, k)
    )
    assert r.value == pytest.approx(brute)


def test_chain_conductance_fields_match_brute_force() -> None:
    rng = np.random.default_rng(7)
    n = 8
    W = rng.random((n, n))
    W = (W + W.T) / 2
    r = _core.exact_chain_conductance(W)
    assert isinstance(r, _core.CheegerCut)
    S = _nodes(r.mask)
    T = sorted(set(range(n)) - set(S))
    cut = W[np.ix_(S, T)].sum()
    assert r.cut == pytest.approx(cut)
    assert (r.mass, r.complement_mass) == (len(S), len(T))
    assert r.value == pytest.approx(cut / len(S))
    brute = min(
        W[np.ix_(c, [j for j in range(n) if j not in c])].sum() / len(c)
        for k in range(1, n // 2 + 1)
        for c in map(list, itertools.combinations(range(n), k))
    )
    assert r.value == pytest.approx(brute)


def _sweep_order(x: np.ndarray) -> np.ndarray:
    return np.lexsort((np.arange(len(x)), x))


def test_sweep_cut_fields_match_a_numpy_sweep() -> None:
    G = _weighted_graph(14, 0.3, seed=11)
    x = np.random.default_rng(5).standard_normal(len(G))
    r = _core.sweep_cut(_core_graph(G), x, "volume")
    assert isinstance(r, _core.SweepCut)
    order = _sweep_order(x)
    phis = [nx.conductance(G, order[:k].tolist(), weight="weight") for k in range(1, len(G))]
    best = int(np.argmin(phis))
    assert r.order.tolist() == order.tolist()
    assert r.value == pytest.approx(phis[best])
    assert r.prefix_len == best + 1
    # the mask is the lighter side of the best split
    assert set(_nodes(r.mask)) in ({*order[: best + 1].tolist()}, {*order[best + 1 :].tolist()})
    S = _nodes(r.mask)
    assert r.cut == pytest.approx(nx.cut_size(G, S, weight="weight"))
    assert r.mass == pytest.approx(nx.volume(G, S, weight="weight"))
    assert r.mass + r.complement_mass == pytest.approx(2 * G.size(weight="weight"))


def test_sweep_profile_fields_match_a_numpy_sweep() -> None:
    G = _weighted_graph(12, 0.35, seed=2)
    x = np.random.default_rng(1).standard_normal(len(G))
    p = _core.sweep_profile(_core_graph(G), x)
    assert isinstance(p, _core.SweepProfile)
    order = _sweep_order(x)
    A = nx.to_numpy_array(G, nodelist=range(len(G)), weight="weight")
    deg = A.sum(axis=1)
    cut = [A[np.ix_(order[: k + 1], order[k + 1 :])].sum() for k in range(len(G))]
    assert p.order.tolist() == order.tolist()
    np.testing.assert_allclose(p.cut, cut, atol=1e-12)
    np.testing.assert_allclose(p.volume, np.cumsum(deg[order]))
    assert p.total_volume == pytest.approx(deg.sum())


def test_threshold_profile_fields_match_networkx() -> None:
    G = nx.connected_watts_strogatz_graph(16, 4, 0.3, seed=4)
    order = np.random.default_rng(0).permutation(16).astype(np.int64)
    t = _core.threshold_profile(_core_graph(G), order)
    assert isinstance(t, _core.ThresholdProfile)
    ks = range(1, len(G))
    pre = [nx.is_connected(G.subgraph(order[:k].tolist())) for k in ks]
    suf = [nx.is_connected(G.subgraph(order[k:].tolist())) for k in ks]
    cut = [nx.cut_size(G, order[:k].tolist()) for k in ks]
    assert t.prefix_connected.tolist() == pre
    assert t.suffix_connected.tolist() == suf
    np.testing.assert_allclose(t.cut, cut)


def _part_sweep(G: nx.Graph, part: list[int]) -> float:
    """Smallest conductance of the prefixes of ``part`` inside its induced subgraph."""
    H = G.subgraph(part)
    return min(nx.conductance(H, part[:j]) for j in range(1, len(part)))


def test_split_candidates_fields_match_networkx() -> None:
    G = nx.Graph()
    G.add_nodes_from(range(34))
    G.add_edges_from(nx.karate_club_graph().edges())  # unweighted, nodes in index order
    L = nx.normalized_laplacian_matrix(G, nodelist=range(len(G))).toarray()
    _, vec = np.linalg.eigh(L)
    order = _sweep_order(vec[:, 1]).astype(np.int64)
    c = _core.split_candidates(_core_graph(G), order, "graph", min_size=2)
    assert isinstance(c, _core.SplitCandidates)
    want = [
        k
        for k in range(2, len(G) - 1)
        if nx.is_connected(G.subgraph(order[:k].tolist()))
        and nx.is_connected(G.subgraph(order[k:].tolist()))
    ]
    assert c.k.tolist() == want and want
    for k, a, b in zip(c.k.tolist(), c.est_prefix, c.est_suffix, strict=True):
        assert a == pytest.approx(_part_sweep(G, order[:k].tolist()))
        assert b == pytest.approx(_part_sweep(G, order[k:].tolist()))


def test_refinement_fields_match_networkx() -> None:
    G = nx.barbell_graph(6, 2)  # two 6-cliques joined by a 2-node path
    g = _core_graph(G)
    lab = np.array([0] * 9 + [1] * 5, dtype=np.int64)  # a clique node on the wrong side
    r = _core.refine_partition(g, lab, 2, np.arange(14, dtype=float), "cut")
    assert isinstance(r, _core.Refinement)
    assert isinstance(r.moves, int) and isinstance(r.evals, int)
    assert isinstance(r.converged, bool)
    assert r.moves >= 1 and r.evals >= r.moves
    assert sorted(set(r.labels.tolist())) == [0, 1]
    for c in range(2):
        S = _nodes(r.labels == c)
        assert nx.is_connected(G.subgraph(S))
        assert r.badness[c] == pytest.approx(nx.conductance(G, S))


def test_built_graph_counts_loops_and_merges() -> None:
    edges = [(0, 1), (1, 0), (0, 1), (2, 2), (1, 2), (3, 3), (2, 3)]
    w = np.array([1.0, 2.0, 0.5, 9.0, 1.5, 4.0, 2.5])
    src = np.array([e[0] for e in edges], dtype=np.int64)
    dst = np.array([e[1] for e in edges], dtype=np.int64)
    b = _core.CoreGraph.from_edges(4, src, dst, w)
    assert isinstance(b, _core.BuiltGraph) and isinstance(b.graph, _core.CoreGraph)
    pairs = Counter(frozenset(e) for e in edges if e[0] != e[1])
    assert b.self_loops == sum(u == v for u, v in edges)
    assert b.merged == sum(k - 1 for k in pairs.values())
    e = b.graph.edges()
    assert isinstance(e, _core.EdgeArrays)
    want: dict[tuple[int, int], float] = {}
    for (u, v), x in zip(edges, w, strict=True):
        if u != v:
            key = (min(u, v), max(u, v))
            want[key] = want.get(key, 0.0) + x
    got = {(s, d): x for s, d, x in zip(e.src.tolist(), e.dst.tolist(), e.weights.tolist())}
    assert got == want


def test_csr_arrays_and_from_csr_match_scipy() -> None:
    G = _weighted_graph(9, 0.5, seed=8)
    A = nx.to_scipy_sparse_array(G, nodelist=range(len(G)), weight="weight", format="csr")
    A.sort_indices()
    b = _core.CoreGraph.from_csr(
        A.shape[0],
        A.indptr.astype(np.int64),
        A.indices.astype(np.int64),
        A.data.astype(np.float64),
    )
    assert (b.self_loops, b.merged) == (0, 0)
    c = b.graph.csr()
    assert isinstance(c, _core.CsrArrays)
    B = sp.csr_array((c.data, c.indices, c.indptr), shape=A.shape)
    np.testing.assert_array_equal(B.toarray(), A.toarray())
    assert c.indptr.dtype == np.int64 and c.data.dtype == np.float64


def test_parsed_edges_and_edge_list_graph_match_networkx() -> None:
    text = "a b 2\nb c 1.5\n# comment\nc a 3\nd c 0.5\n"
    lines = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
    p = _core.parse_edge_list(text)
    assert isinstance(p, _core.ParsedEdges)
    assert p.weighted is True
    labels = list(p.labels)
    got = [(labels[s], labels[d], w) for s, d, w in zip(p.src, p.dst, p.weights, strict=True)]
    assert got == [(u, v, float(w)) for u, v, w in (ln.split() for ln in lines)]

    r = _core.read_edge_list(text.encode())
    assert isinstance(r, _core.EdgeListGraph)
    assert (r.self_loops, r.merged, r.weighted) == (0, 0, True)
    ref = nx.parse_edgelist(lines, data=(("weight", float),))
    names = list(r.labels)
    e = r.graph.edges()
    mine = {
        (frozenset((names[s], names[d])), w)
        for s, d, w in zip(e.src.tolist(), e.dst.tolist(), e.weights.tolist())
    }
    assert mine == {(frozenset((u, v)), d["weight"]) for u, v, d in ref.edges(data=True)}

    q = _core.parse_edge_list(b"10 20\n20 30\n")
    assert q.weighted is False and q.labels.dtype == np.int64
    assert [(int(q.labels[s]), int(q.labels[d])) for s, d in zip(q.src, q.dst)] == [
        (10, 20),
        (20, 30),
    ]


def _all_results() -> list[object]:
    G = _weighted_graph(12, 0.4, seed=9)
    g = _core_graph(G)
    x = np.linspace(0.0, 1.0, len(G))
    order = np.arange(len(G), dtype=np.int64)
    return [
        _core.exact_cheeger(g),
        _core.exact_chain_conductance(np.ones((4, 4))),
        _core.sweep_cut(g, x),
        _core.sweep_profile(g, x),
        _core.threshold_profile(g, order),
        _core.split_candidates(g, order),
        _core.refine_partition(
            _core_graph(nx.barbell_graph(6, 0)), np.array([0] * 7 + [1] * 5), 2, x, "cut"
        ),
        _core.CoreGraph.from_edges(3, np.array([0, 1]), np.array([1, 2])),
        g.csr(),
        g.edges(),
        _core.parse_edge_list("x y\n"),
        _core.read_edge_list("1 2\n2 3 \n"),
    ]


FIELDS = {
    "CheegerCut": ["value", "mask", "cut", "mass", "complement_mass"],
    "SweepCut": ["value", "mask", "cut", "mass", "complement_mass", "prefix_len", "order"],
    "SweepProfile": ["order", "cut", "volume", "total_volume"],
    "ThresholdProfile": ["prefix_connected", "suffix_connected", "cut"],
    "SplitCandidates": ["k", "est_prefix", "est_suffix"],
    "Refinement": ["labels", "badness", "moves", "evals", "converged"],
    "BuiltGraph": ["graph", "self_loops", "merged"],
    "CsrArrays": ["indptr", "indices", "data"],
    "EdgeArrays": ["src", "dst", "weights"],
    "ParsedEdges": ["src", "dst", "weights", "weighted", "labels"],
    "EdgeListGraph": ["graph", "self_loops", "merged", "weighted", "labels"],
}


def test_repr_lists_every_field_and_fields_are_read_only() -> None:
    seen = set()
    for r in _all_results():
        name = type(r).__name__
        seen.add(name)
        text = repr(r)
        assert text.startswith(f"{name}(") and text.endswith(")")
        positions = [text.index(f"{f}=") for f in FIELDS[name]]
        assert positions == sorted(positions)  # fields in declaration order
        assert "\n" not in text
        for f in FIELDS[name]:
            with pytest.raises(AttributeError):
                setattr(r, f, 0)
        assert type(r).__module__ == "ssdfl._core"
    assert seen == set(FIELDS)


def test_repr_summarises_long_arrays_and_shows_short_ones() -> None:
    g = _core_graph(nx.path_graph(20))
    x = np.arange(20, dtype=float)
    assert "order=array(dtype=int64, len=20)" in repr(_core.sweep_cut(g, x))
    small = _core.CoreGraph.from_edges(2, np.array([0]), np.array([1])).graph
    assert repr(small.edges()) == (
        "EdgeArrays(src=array([0]), dst=array([1]), weights=array([1.]))"
    )
    assert repr(_core.parse_edge_list("u v\n")).endswith("weighted=False, labels=['u', 'v'])")


def test_result_types_cannot_be_built_or_subclassed_from_python() -> None:
    with pytest.raises(TypeError):
        _core.CheegerCut()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        type("Sub", (_core.SweepCut,), {})
