"""Cluster search: split_hierarchy and partition, checked against brute force and networkx."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import adjusted_rand_score

import ssdfl
from conftest import weighted_graphs
from ssdfl import _core


# ------------------------------------------------------------------ brute force oracles
def _masks(n: int) -> np.ndarray:
    """All proper non-empty subsets with node n-1 outside: (2^(n-1) - 1, n) 0/1 matrix."""
    codes = np.arange(1, 2 ** (n - 1))
    return ((codes[:, None] >> np.arange(n)[None, :]) & 1).astype(float)


def brute_measure(G: nx.Graph, nodes: list[int], measure: str, rule: str) -> float:
    """Internal measure of the cluster by enumerating every cut (numpy, independent of Rust)."""
    H = G.subgraph(nodes)
    order = sorted(H.nodes)
    n = len(order)
    if n == 1:
        return 1.0
    if not nx.is_connected(H):
        return 0.0
    A = nx.to_numpy_array(H, nodelist=order, weight="weight")
    M = _masks(n)
    if measure == "graph":
        d = A.sum(1)
        cut = ((M @ A) * (1 - M)).sum(1)
        vs = M @ d
        return float(np.min(cut / np.minimum(vs, d.sum() - vs)))
    W = ssdfl.mixing_matrix(ssdfl.Graph.from_networkx(H.subgraph(order)), rule).toarray()
    W = W - np.diag(np.diag(W))
    cut = ((M @ W) * (1 - M)).sum(1)
    k = M.sum(1)
    return float(np.min(cut / np.minimum(k, n - k)))


def _connected(G: nx.Graph, c: np.ndarray) -> bool:
    return nx.is_connected(G.subgraph(c.tolist()))


def _unit(G: nx.Graph) -> nx.Graph:
    for u, v in G.edges:
        G[u][v]["weight"] = 1.0
    return G


# ------------------------------------------------------------------------ properties
@given(
    weighted_graphs(min_n=2, max_n=11, connected=True),
    st.sampled_from(["graph", "mixing"]),
    st.floats(0.0, 0.6),
)
@settings(max_examples=40)
def test_reported_measures_match_brute_force(G: nx.Graph, measure: str, phi: float) -> None:
    rule = "lazy-metropolis"
    fs = ssdfl.split_hierarchy(G, phi, measure=measure, mixing_rule=rule)
    for S, f in enumerate(fs, start=1):
        assert f.S == S
        for c, val, lo, hi, ex in zip(
            f.clusters, f.conductance, f.lower_bound, f.upper_bound, f.exact
        ):
            assert _connected(G, c)
            truth = brute_measure(G, c.tolist(), measure, rule)
            assert ex
            assert val == pytest.approx(truth, rel=1e-9, abs=1e-12)
            assert lo == val == hi
        if S > 1:
            t = f.info["split"]
            assert t["score"] >= phi
            before = {tuple(c.tolist()) for c in fs[S - 2].clusters}
            new = [i for i, c in enumerate(f.clusters) if tuple(c.tolist()) not in before]
            assert len(new) == 2
            assert t["score"] == pytest.approx(min(f.conductance[i] for i in new))


@given(weighted_graphs(min_n=3, max_n=10, connected=True), st.sampled_from(["graph", "mixing"]))
@settings(max_examples=30)
def test_bounds_bracket_the_truth(G: nx.Graph, measure: str) -> None:
    """With conductance="bounds" every non-singleton cluster is an estimate: the reported
    value is the measure of a real cut (>= truth) and λ₂/2 <= truth <= upper bound."""
    fs = ssdfl.split_hierarchy(G, 0.0, conductance="bounds", measure=measure, max_clusters=3)
    for f in fs:
        for c, val, lo, hi, ex in zip(
            f.clusters, f.conductance, f.lower_bound, f.upper_bound, f.exact
        ):
            truth = brute_measure(G, c.tolist(), measure, "lazy-metropolis")
            if len(c) == 1:
                assert ex and val == 1.0
                continue
            assert not ex
            assert lo <= truth + 1e-9
            assert truth <= hi + 1e-9
            assert val >= truth - 1e-9
            H = G.subgraph(c.tolist())
            if measure == "graph":
                L = nx.normalized_laplacian_matrix(H, weight="weight").toarray()
            else:
                W = ssdfl.mixing_matrix(ssdfl.Graph.from_networkx(H)).toarray()
                L = np.eye(len(c)) - W
            lam2 = np.linalg.eigvalsh(L)[1]
            assert lo == pytest.approx(min(lam2 / 2, hi), abs=1e-8)


@given(weighted_graphs(min_n=2, max_n=14, connected=True))
@settings(max_examples=30)
def test_phi_zero_splits_to_singletons_or_stops_cleanly(G: nx.Graph) -> None:
    fs = ssdfl.split_hierarchy(G, 0.0)
    assert [f.S for f in fs] == list(range(1, len(fs) + 1))
    last = fs[-1]
    for c in last.clusters:
        assert _connected(G, c)
        if len(c) == 1:
            continue
        # a non-singleton cluster left: no threshold of its Fiedler ordering has two
        # connected sides (recomputed with numpy + networkx)
        H = G.subgraph(c.tolist())
        order = sorted(H.nodes)
        L = nx.normalized_laplacian_matrix(H, nodelist=order, weight="weight").toarray()
        d = np.array([H.degree(u, weight="weight") for u in order])
        w, V = np.linalg.eigh(L)
        if w[2] - w[1] < 1e-6:
            continue  # degenerate Fiedler space: the ordering is not unique
        x = V[:, 1] / np.sqrt(d)
        perm = [order[i] for i in np.lexsort((np.arange(len(x)), x))]
        for k in range(1, len(perm)):
            a, b = perm[:k], perm[k:]
            assert not (nx.is_connected(G.subgraph(a)) and nx.is_connected(G.subgraph(b)))


def test_phi_above_one_never_splits() -> None:
    for G in [nx.path_graph(6), nx.barbell_graph(5, 1), nx.erdos_renyi_graph(20, 0.3, seed=1)]:
        for measure in ("graph", "mixing"):
            fs = ssdfl.split_hierarchy(G, 1.01, measure=measure)
            assert len(fs) == 1 and fs[0].S == 1


def test_path_splits_to_singletons() -> None:
    fs = ssdfl.split_hierarchy(nx.path_graph(9), 0.0)
    assert fs[-1].S == 9


@pytest.mark.parametrize(("a", "b"), [(6, 6), (10, 10), (5, 8), (7, 10), (12, 20)])
def test_two_cliques_first_split_is_the_bridge(a: int, b: int) -> None:
    """K_a and K_b joined by one edge. Mixing measure: the bridge always. Graph measure: the
    bridge for equal cliques; for unequal ones the max-min rule may instead move the bridge
    node of the larger clique across (Φ(K_m) = ⌈m/2⌉/(m−1) is larger for odd m), which we
    check against brute force."""
    G = nx.disjoint_union(nx.complete_graph(a), nx.complete_graph(b))
    G.add_edge(a - 1, a)
    bridge = [list(range(a)), list(range(a, a + b))]
    for measure in ("graph", "mixing"):
        fs = ssdfl.split_hierarchy(G, 0.1, measure=measure, max_clusters=2)
        assert fs[1].S == 2
        got = sorted(sorted(c.tolist()) for c in fs[1].clusters)
        if measure == "mixing" or a == b:
            assert got == bridge
        elif b <= 12:
            score = fs[1].info["split"]["score"]
            best_bridge = min(brute_measure(G, c, "graph", "") for c in bridge)
            assert score >= best_bridge
            assert score == pytest.approx(min(brute_measure(G, c, "graph", "") for c in got))


@pytest.mark.parametrize("n", [5, 8, 13, 30])
def test_complete_graph_is_not_split(n: int) -> None:
    """Φ(K_n) = ⌈n/2⌉/(n−1) (graph measure): K_n is admissible for every threshold up to that,
    so the admissibility-driven loop (until_admissible=True) never splits it."""
    G = nx.complete_graph(n)
    h = np.ceil(n / 2) / (n - 1)
    fs = ssdfl.split_hierarchy(G, h - 1e-12, until_admissible=True)
    assert len(fs) == 1
    assert fs[0].conductance[0] == pytest.approx(h)
    # without the admissibility rule the loop does split K_n when asked to (max-min objective)
    assert len(ssdfl.split_hierarchy(G, 0.0)) == n
    # mixing measure, lazy Metropolis: W_ij = 1/(2n), Φ = ⌈n/2⌉/(2n)
    fs = ssdfl.split_hierarchy(G, 0.25 - 1e-12, measure="mixing", until_admissible=True)
    assert len(fs) == 1
    assert fs[0].conductance[0] == pytest.approx(np.ceil(n / 2) / (2 * n))


def test_phi_min_callable() -> None:
    """A threshold depending on S (spec §3 form √(2(1 − ε_S^{1/τ})) with ε_S = ε/S)."""
    G = nx.barbell_graph(8, 0)

    def rule(S: int) -> float:
        return float(np.sqrt(2 * (1 - (0.5 / S) ** (1 / 20))))

    fs = ssdfl.split_hierarchy(G, rule, measure="mixing")
    for S, f in enumerate(fs[1:], start=2):
        assert f.info["split"]["phi_min"] == pytest.approx(rule(S))
        assert f.info["split"]["score"] >= rule(S)


@given(weighted_graphs(min_n=4, max_n=30, connected=True))
@settings(max_examples=20)
def test_deterministic(G: nx.Graph) -> None:
    a = [f.to_json() for f in ssdfl.split_hierarchy(G, 0.05)]
    b = [f.to_json() for f in ssdfl.split_hierarchy(G.copy(), 0.05)]
    assert a == b
    k = min(3, G.number_of_nodes())
    assert ssdfl.partition(G, k).to_json() == ssdfl.partition(G, k).to_json()


def test_large_clusters_use_bounds_and_are_connected() -> None:
    G = nx.random_geometric_graph(300, 0.12, seed=4)
    G = _unit(G.subgraph(max(nx.connected_components(G), key=len)).copy())
    G = nx.convert_node_labels_to_integers(G)
    fs = ssdfl.split_hierarchy(G, 0.01, max_clusters=6)
    assert fs[-1].S == 6
    assert not fs[0].exact[0] and fs[0].method[0] == "bounds"
    for f in fs:
        for c, v, lo, hi in zip(f.clusters, f.conductance, f.lower_bound, f.upper_bound):
            assert _connected(G, c)
            assert lo <= v + 1e-12 and hi <= v + 1e-12
            if len(c) > 1 and len(c) <= 16:
                assert v == pytest.approx(brute_measure(G, c.tolist(), "graph", ""), abs=1e-12)


# ------------------------------------------------------------------------ partition
@given(
    weighted_graphs(min_n=4, max_n=24, connected=True),
    st.integers(2, 4),
    st.sampled_from(["internal", "cut"]),
    st.integers(1, 3),
)
@settings(max_examples=30)
def test_partition_connected_sizes_and_measures(
    G: nx.Graph, k: int, objective: str, min_size: int
) -> None:
    n = G.number_of_nodes()
    if k * min_size > n:
        with pytest.raises(ssdfl.SsdflError):
            ssdfl.partition(G, k, objective=objective, min_size=min_size)
        return
    try:
        p = ssdfl.partition(G, k, objective=objective, min_size=min_size)
    except ssdfl.SsdflError as exc:  # Fiedler bisection cannot always reach k sides
        assert "cannot reach" in str(exc)
        return
    assert p.S == k and p.objective == objective
    assert np.all(p.sizes >= min_size)
    for c, val, cc in zip(p.clusters, p.conductance, p.cut_conductance):
        assert _connected(G, c)
        if len(c) <= 12:
            assert val == pytest.approx(brute_measure(G, c.tolist(), "graph", ""), abs=1e-9)
        assert cc == pytest.approx(nx.conductance(G, set(c.tolist()), weight="weight"))


def test_partition_recovers_planted_sbm() -> None:
    sizes = [40, 40, 40, 40]
    G = nx.stochastic_block_model(
        sizes, [[0.4 if i == j else 0.01 for j in range(4)] for i in range(4)], seed=7
    )
    truth = np.repeat(np.arange(4), sizes)
    for objective in ("internal", "cut"):
        p = ssdfl.partition(G, 4, objective=objective)
        assert adjusted_rand_score(truth, p.labels) >= 0.95


def test_refinement_improves_a_bad_start_in_rust() -> None:
    """Two 5-cliques joined by an edge; start with a clique node on the wrong side."""
    G = nx.barbell_graph(5, 0)
    g = ssdfl.Graph.from_networkx(G)
    lab = np.array([0] * 6 + [1] * 4, dtype=np.int64)
    for obj in ("cut", "internal"):
        r = _core.refine_partition(g._core, lab, 2, np.arange(10, dtype=float), obj)
        out, bad, moves, conv = r.labels, r.badness, r.moves, r.converged
        assert conv and moves >= 1
        assert out.tolist() == [0] * 5 + [1] * 5
        # cut conductance of a clique side 1/21; internal: -Φ(K_5) = -3/4
        assert bad.tolist() == pytest.approx([1 / 21] * 2 if obj == "cut" else [-0.75] * 2)


@given(
    weighted_graphs(min_n=2, max_n=12, connected=True),
    st.sampled_from(["graph", "mixing"]),
    st.sampled_from(["lazy-metropolis", "metropolis", "max-degree", "lazy-weighted-metropolis"]),
)
@settings(max_examples=30)
def test_cluster_measure_matches_brute_force(G: nx.Graph, measure: str, rule: str) -> None:
    nodes = sorted(G.nodes)[: max(2, G.number_of_nodes() - 1)]
    val, lo, hi, exact = ssdfl.cluster_measure(G, nodes, measure=measure, mixing_rule=rule)
    truth = brute_measure(G, nodes, measure, rule)
    assert exact and lo == val == hi
    assert val == pytest.approx(truth, rel=1e-9, abs=1e-12)
    # with bounds only: bracket and the value is a real cut's measure
    val, lo, hi, exact = ssdfl.cluster_measure(
        G, nodes, measure=measure, mixing_rule=rule, conductance="bounds"
    )
    if len(nodes) > 1 and nx.is_connected(G.subgraph(nodes)):
        assert not exact
        assert lo - 1e-9 <= truth <= hi + 1e-9 and val >= truth - 1e-9


def test_disconnected_cluster_measures_zero() -> None:
    P = nx.path_graph(4)
    for conductance in ("auto", "bounds", "exact"):
        assert ssdfl.cluster_measure(P, [0, 2, 3], conductance=conductance) == (0, 0, 0, True)


def test_partition_mixing_measure_recovers_blocks() -> None:
    G = nx.stochastic_block_model([12, 12, 12], _pmat3(), seed=2)
    truth = np.repeat(np.arange(3), 12)
    p = ssdfl.partition(G, 3, measure="mixing")
    assert p.measure == "mixing" and p.mixing_rule == "lazy-metropolis"
    assert adjusted_rand_score(truth, p.labels) >= 0.95
    for c, v in zip(p.clusters, p.conductance):
        assert v == pytest.approx(brute_measure(G, c.tolist(), "mixing", "lazy-metropolis"))


def _pmat3() -> list[list[float]]:
    return [[0.8 if i == j else 0.02 for j in range(3)] for i in range(3)]


def test_errors() -> None:
    G = nx.Graph([(0, 1), (2, 3)])
    with pytest.raises(ssdfl.DisconnectedGraphError):
        ssdfl.split_hierarchy(G, 0.1)
    with pytest.raises(ssdfl.DisconnectedGraphError):
        ssdfl.partition(G, 2)
    P = nx.path_graph(5)
    with pytest.raises(ssdfl.SsdflError, match="measure"):
        ssdfl.split_hierarchy(P, 0.1, measure="nope")
    with pytest.raises(ssdfl.SsdflError, match="conductance"):
        ssdfl.split_hierarchy(P, 0.1, conductance="nope")
    with pytest.raises(ssdfl.SsdflError, match="rule"):
        ssdfl.split_hierarchy(P, 0.1, measure="mixing", mixing_rule="nope")
    with pytest.raises(ssdfl.SsdflError, match="NaN"):
        ssdfl.split_hierarchy(P, float("nan"))
    with pytest.raises(ssdfl.SsdflError):
        ssdfl.partition(P, 6)
    with pytest.raises(ssdfl.SsdflError):
        ssdfl.partition(P, 0)
    with pytest.raises(ssdfl.SsdflError, match="objective"):
        ssdfl.partition(P, 2, objective="x")
    with pytest.raises(TypeError):
        ssdfl.split_hierarchy(object(), 0.1)
    with pytest.raises(ssdfl.TooLargeError):
        ssdfl.split_hierarchy(nx.path_graph(60), 0.1, conductance="exact")
