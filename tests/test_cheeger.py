"""Cheeger constants: closed forms, brute force, certified bounds, sweeps, conventions."""

from __future__ import annotations

import itertools
import math

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings

import ssdfl
from conftest import weighted_graphs
from ssdfl import _core
from ssdfl.errors import SsdflError, TooLargeError


def brute_force(g: nx.Graph, normalization: str = "volume") -> float:
    """Straightforward enumeration with networkx cut/volume (independent of the Rust code)."""
    nodes = list(g.nodes)
    n = len(nodes)
    best = math.inf
    for k in range(1, n):
        for S in itertools.combinations(nodes, k):
            cut = nx.cut_size(g, S, weight="weight")
            if normalization == "volume":
                rest = set(nodes) - set(S)
                den = min(nx.volume(g, S, weight="weight"), nx.volume(g, rest, weight="weight"))
                if den == 0:
                    continue
            else:
                den = min(k, n - k)
            best = min(best, cut / den)
    return best


# ------------------------------------------------------------------ closed forms
@pytest.mark.parametrize("n", [3, 4, 5, 8, 11, 16, 21])
def test_cycle(n: int) -> None:
    # C_n, volume: best set = an arc of ⌊n/2⌋ nodes, cut 2, volume 2⌊n/2⌋ → 1/⌊n/2⌋.
    g = nx.cycle_graph(n)
    r = ssdfl.cheeger_constant(g, method="exact")
    assert r.exact and r.method == "exact"
    assert r.value == pytest.approx(1 / (n // 2), rel=1e-12)
    assert len(r.set) == n // 2
    assert ssdfl.conductance(g, r.set, weight="weight") == pytest.approx(r.value, rel=1e-12)
    # size normalization: cut 2 over ⌊n/2⌋ nodes → 2/⌊n/2⌋.
    s = ssdfl.cheeger_constant(g, method="exact", normalization="size")
    assert s.value == pytest.approx(2 / (n // 2), rel=1e-12)


@pytest.mark.parametrize("n", [2, 3, 4, 7, 10, 15])
def test_complete_graph(n: int) -> None:
    # K_n, volume: cut |S|(n−|S|) over |S|(n−1) is minimal at |S| = ⌊n/2⌋ → ⌈n/2⌉/(n−1)
    # (the closed form is the *volume* normalization).
    g = nx.complete_graph(n)
    r = ssdfl.cheeger_constant(g, method="exact")
    assert r.value == pytest.approx(math.ceil(n / 2) / (n - 1), rel=1e-12)
    # size normalization: |S|(n−|S|)/min(|S|, n−|S|) = max(|S|, n−|S|) ≥ ⌈n/2⌉.
    s = ssdfl.cheeger_constant(g, method="exact", normalization="size")
    assert s.value == pytest.approx(math.ceil(n / 2), rel=1e-12)


def test_petersen() -> None:
    # Petersen graph: edge expansion 1 (a 5-cycle has 5 edges out); 3-regular so h = 1/3.
    g = nx.petersen_graph()
    assert ssdfl.cheeger_constant(g).value == pytest.approx(1 / 3, rel=1e-12)
    assert ssdfl.cheeger_constant(g, normalization="size").value == pytest.approx(1, rel=1e-12)


@pytest.mark.parametrize("n", [2, 3, 6, 9, 14])
def test_path(n: int) -> None:
    # P_n: cut the middle edge; volume of the half with ⌊n/2⌋ nodes is 2⌊n/2⌋ − 1.
    g = nx.path_graph(n)
    r = ssdfl.cheeger_constant(g)
    assert r.value == pytest.approx(1 / (2 * (n // 2) - 1), rel=1e-12)
    s = ssdfl.cheeger_constant(g, normalization="size")
    assert s.value == pytest.approx(1 / (n // 2), rel=1e-12)


@pytest.mark.parametrize(("m1", "m2"), [(3, 0), (4, 1), (5, 2), (4, 3)])
def test_barbell(m1: int, m2: int) -> None:
    # barbell: two K_m1 joined by a path of m2 nodes (m2 + 1 chain edges). Cutting the chain
    # edge with ⌊m2/2⌋ path edges on the lighter side: cut 1, volume
    # m1(m1−1) + 2⌊m2/2⌋ + 1 (clique edges twice, path edges twice, the cut edge once).
    g = nx.barbell_graph(m1, m2)
    r = ssdfl.cheeger_constant(g)
    assert r.value == pytest.approx(1 / (m1 * (m1 - 1) + 2 * (m2 // 2) + 1), rel=1e-12)
    assert r.value == pytest.approx(brute_force(g), rel=1e-12)


def test_weighted_example_by_hand() -> None:
    # square 0-1-2-3-0 with a heavy diagonal 0-2: best cut separates {1} or {3}
    g = nx.Graph()
    g.add_weighted_edges_from([(0, 1, 1.0), (1, 2, 1.0), (2, 3, 1.0), (3, 0, 1.0), (0, 2, 5.0)])
    r = ssdfl.cheeger_constant(g)
    # S={1}: cut 2, vol 2 → 1;  S={0,1}: cut 1+5+1=7, vol(0,1)=7+2=9 → 7/9
    assert r.value == pytest.approx(7 / 9, rel=1e-12)


# ------------------------------------------------------------------ brute force
@given(weighted_graphs(min_n=2, max_n=9, connected=True))
def test_exact_matches_brute_force(g: nx.Graph) -> None:
    for norm in ("volume", "size"):
        r = ssdfl.cheeger_constant(g, method="exact", normalization=norm)
        assert r.value == pytest.approx(brute_force(g, norm), rel=1e-9, abs=1e-12)
        gg = ssdfl.Graph.from_networkx(g)
        f = ssdfl.conductance if norm == "volume" else ssdfl.edge_expansion
        assert f(gg, r.set, weight="weight") == pytest.approx(r.value, rel=1e-12)


def test_exact_matches_brute_force_disconnected_and_weighted_larger() -> None:
    rng = np.random.default_rng(3)
    for n in (12, 14):
        g = nx.gnp_random_graph(n, 0.35, seed=int(rng.integers(1000)))
        g.add_edges_from(zip(range(n - 1), range(1, n)))
        for u, v in g.edges:
            g[u][v]["weight"] = float(rng.uniform(0.1, 5))
        assert ssdfl.cheeger_constant(g).value == pytest.approx(brute_force(g), rel=1e-9)


def test_rust_enumeration_at_n20_matches_meet_in_the_middle_numpy() -> None:
    # n = 20 exercises several parallel chunks; check against a vectorized numpy enumeration.
    n = 20
    rng = np.random.default_rng(11)
    A = np.triu(rng.uniform(0.1, 3, (n, n)) * (rng.random((n, n)) < 0.3), 1)
    A[np.arange(n - 1), np.arange(1, n)] += 0.5
    A = A + A.T
    d = A.sum(1)
    codes = np.arange(1, 2 ** (n - 1), dtype=np.int64)
    best = np.inf
    for lo in range(0, len(codes), 1 << 18):
        c = codes[lo : lo + (1 << 18)]
        X = ((c[:, None] >> np.arange(n)) & 1).astype(np.float64)
        cut = X @ d - np.einsum("ij,jk,ik->i", X, A, X)
        vol = X @ d
        best = min(best, float(np.min(cut / np.minimum(vol, d.sum() - vol))))
    r = ssdfl.cheeger_constant(A, method="exact")
    assert r.value == pytest.approx(best, rel=1e-10)


# ------------------------------------------------------------------ bounds & sweeps
@given(weighted_graphs(min_n=3, max_n=12, connected=True))
def test_cheeger_inequality_and_sweep(g: nx.Graph) -> None:
    exact = ssdfl.cheeger_constant(g, method="exact")
    lam = nx.algebraic_connectivity(g, normalized=True, method="tracemin_lu", tol=1e-12)
    lo, hi = ssdfl.cheeger_bounds(g)
    assert lo == pytest.approx(lam / 2, rel=1e-6, abs=1e-10)
    assert hi == pytest.approx(math.sqrt(2 * lam), rel=1e-6)
    assert lo - 1e-9 <= exact.value <= hi + 1e-9
    sw = ssdfl.cheeger_constant(g, method="sweep")
    assert not sw.exact and sw.method == "sweep"
    assert sw.value >= exact.value - 1e-12  # any set is an upper bound
    assert sw.value <= math.sqrt(2 * lam) + 1e-9  # constructive Cheeger
    assert sw.lower_bound <= exact.value + 1e-9 <= sw.upper_bound + 2e-9
    gg = ssdfl.Graph.from_networkx(g)
    assert ssdfl.conductance(gg, sw.set, weight="weight") == pytest.approx(sw.value, rel=1e-12)


@given(weighted_graphs(min_n=3, max_n=11, connected=True))
def test_size_bounds(g: nx.Graph) -> None:
    exact = ssdfl.cheeger_constant(g, method="exact", normalization="size")
    sw = ssdfl.cheeger_constant(g, method="sweep", normalization="size")
    assert sw.value >= exact.value - 1e-12
    assert sw.lower_bound - 1e-9 <= exact.value <= sw.upper_bound + 1e-9


def test_auto_switches_to_sweep_with_certified_bracket() -> None:
    g = nx.random_geometric_graph(400, 0.1, seed=2)
    g = g.subgraph(max(nx.connected_components(g), key=len)).copy()
    r = ssdfl.cheeger_constant(g)
    assert r.method == "sweep" and not r.exact
    assert 0 < r.lower_bound <= r.upper_bound <= r.value + 1e-15
    gg = ssdfl.Graph.from_networkx(g)
    assert ssdfl.conductance(gg, r.set, weight="weight") == pytest.approx(r.value, rel=1e-12)
    small = nx.cycle_graph(20)
    assert ssdfl.cheeger_constant(small).exact


def test_sweep_cut_and_profile_against_networkx() -> None:
    g = nx.connected_watts_strogatz_graph(300, 6, 0.1, seed=4)
    gg = ssdfl.Graph.from_networkx(g)
    x = np.random.default_rng(0).standard_normal(300)
    prof = ssdfl.sweep_profile(gg, x)
    order = np.argsort(x, kind="stable")
    assert np.array_equal(prof.order, order)
    for k in (0, 10, 149, 298):
        S = set(order[: k + 1].tolist())
        assert prof.cut[k] == pytest.approx(nx.cut_size(g, S))
        assert prof.volume[k] == pytest.approx(nx.volume(g, S))
    assert prof.cut[-1] == 0 and prof.size[-1] == 300
    sw = ssdfl.sweep_cut(gg, x)
    assert sw.value == pytest.approx(prof.conductance().min(), rel=1e-12)
    assert sw.value == pytest.approx(nx.conductance(g, set(sw.set.tolist())), rel=1e-12)
    sz = ssdfl.sweep_cut(gg, x, normalization="size")
    assert sz.value == pytest.approx(prof.expansion().min(), rel=1e-12)
    assert len(sz.set) <= 150
    # default vector: D^{-1/2}·Fiedler
    v = ssdfl.fiedler_vector(gg, normalized=True)
    d = gg.degrees
    assert ssdfl.sweep_cut(gg).value == pytest.approx(ssdfl.sweep_cut(gg, v / np.sqrt(d)).value)


# ------------------------------------------------------------------ internal conductance
def test_internal_conductance_is_cheeger_of_induced_subgraph() -> None:
    g = nx.barbell_graph(6, 3)
    cluster = list(range(6))  # one K_6 bell
    r = ssdfl.internal_conductance(g, cluster)
    assert r.value == pytest.approx(3 / 5)  # K_6: ⌈6/2⌉/(6−1)
    assert set(r.set.tolist()) <= set(cluster)
    # a path through the bridge
    cl = [4, 5, 6, 7, 8, 9]
    sub = g.subgraph(cl)
    ref = brute_force(nx.convert_node_labels_to_integers(sub))
    assert ssdfl.internal_conductance(g, cl).value == pytest.approx(ref)
    # disconnected induced subgraph → 0, single node → error
    assert ssdfl.internal_conductance(g, [0, 14]).value == 0.0
    with pytest.raises(SsdflError):
        ssdfl.internal_conductance(g, [0])


# ------------------------------------------------------------------ conventions, errors
def test_disconnected_is_zero_with_a_component() -> None:
    g = nx.disjoint_union(nx.complete_graph(4), nx.path_graph(3))
    for method in ("auto", "exact", "sweep"):
        r = ssdfl.cheeger_constant(g, method=method)
        assert r.value == 0 and r.lower_bound == 0 and r.upper_bound == 0
        assert r.method == "components"
        assert ssdfl.cut_size(g, r.set) == 0
        assert set(r.set.tolist()) in ({0, 1, 2, 3}, {4, 5, 6})
    iso = nx.Graph()
    iso.add_nodes_from(range(3))
    iso.add_edge(0, 1)
    assert ssdfl.cheeger_constant(iso).value == 0


def test_errors() -> None:
    with pytest.raises(SsdflError, match="at least 2"):
        ssdfl.cheeger_constant(nx.empty_graph(1))
    with pytest.raises(TooLargeError, match="max_exact"):
        ssdfl.cheeger_constant(nx.cycle_graph(40), method="exact")
    with pytest.raises(TooLargeError):
        ssdfl.cheeger_constant(nx.cycle_graph(60), method="exact", max_exact=100)
    with pytest.raises(SsdflError, match="normalization"):
        ssdfl.cheeger_constant(nx.cycle_graph(5), normalization="vol")
    with pytest.raises(SsdflError, match="method"):
        ssdfl.cheeger_constant(nx.cycle_graph(5), method="fast")
    g = ssdfl.Graph.from_networkx(nx.cycle_graph(5))
    with pytest.raises(SsdflError):
        ssdfl.sweep_cut(g, np.array([0.0, 1.0, np.nan, 2.0, 3.0]))
    with pytest.raises(SsdflError):
        ssdfl.sweep_cut(g, np.zeros(4))
    with pytest.raises(SsdflError):
        _core.exact_cheeger(g._core, "volume", 3)


def test_raised_limit_allows_bigger_exact() -> None:
    g = nx.circulant_graph(13, [1, 2])
    with pytest.raises(TooLargeError, match="limit 12"):
        ssdfl.cheeger_constant(g, method="exact", max_exact=12)
    r = ssdfl.cheeger_constant(g, method="exact", max_exact=13)
    # circulant C_13(1,2), 4-regular: an arc of 6 nodes cuts 1 + 2 = 3 edges at each end → 6,
    # volume 24
    assert r.value == pytest.approx(6 / 24)
    assert r.value == pytest.approx(brute_force(g))


@settings(max_examples=15)
@given(weighted_graphs(min_n=2, max_n=8, connected=True))
def test_result_set_is_the_lighter_side(g: nx.Graph) -> None:
    r = ssdfl.cheeger_constant(g)
    gg = ssdfl.Graph.from_networkx(g)
    rest = np.setdiff1d(np.arange(gg.n), r.set)
    w = "weight"
    assert ssdfl.volume(gg, r.set, weight=w) <= ssdfl.volume(gg, rest, weight=w) + 1e-12


def test_ctrl_c_interrupts_the_enumeration() -> None:
    # SIGINT 0.2 s into an enumeration of 2^35 cuts (minutes): the binding polls for signals
    # from the calling thread every 10 ms, so KeyboardInterrupt arrives long before the end.
    # (A functional check with a wide margin, not a performance claim: CPU time of the process,
    # all threads, so a loaded machine does not break it; the whole enumeration costs ~20 CPU-s.)
    import os
    import signal
    import threading
    import time

    g = nx.circulant_graph(36, [1, 2, 5])
    timer = threading.Timer(0.2, lambda: os.kill(os.getpid(), signal.SIGINT))
    c0 = time.process_time()
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        ssdfl.cheeger_constant(g, method="exact", max_exact=36)
    timer.join()
    assert time.process_time() - c0 < 5
