"""Laplacians, algebraic connectivity and Fiedler vectors vs numpy / scipy / networkx."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given

import ssdfl
from conftest import weighted_graphs
from ssdfl.errors import DisconnectedGraphError, SsdflError


@given(weighted_graphs(min_n=2, max_n=12))
def test_laplacians_match_networkx(g: nx.Graph) -> None:
    L = ssdfl.laplacian(g)
    assert sp.issparse(L) and L.format == "csr"
    ref = nx.laplacian_matrix(g, nodelist=range(g.number_of_nodes())).toarray()
    assert np.allclose(L.toarray(), ref)
    N = ssdfl.laplacian(g, normalized=True).toarray()
    refn = nx.normalized_laplacian_matrix(g, nodelist=range(g.number_of_nodes())).toarray()
    assert np.allclose(N, refn)


@given(weighted_graphs(min_n=2, max_n=12, connected=True))
def test_lambda2_matches_eigvalsh_and_networkx(g: nx.Graph) -> None:
    for normalized in (True, False):
        M = ssdfl.laplacian(g, normalized=normalized).toarray()
        ref = np.linalg.eigvalsh(M)[1]
        lam = ssdfl.algebraic_connectivity(g, normalized=normalized)
        assert lam == pytest.approx(ref, rel=1e-9, abs=1e-12)
        nxl = nx.algebraic_connectivity(g, normalized=normalized, method="tracemin_lu", tol=1e-12)
        assert lam == pytest.approx(nxl, rel=1e-6, abs=1e-10)
        lam2, v = ssdfl.graphs.spectral.fiedler_pair(g, normalized=normalized)
        assert np.linalg.norm(v) == pytest.approx(1.0)
        assert np.allclose(M @ v, lam2 * v, atol=1e-9)


@pytest.mark.parametrize("n", [5, 8, 13])
def test_closed_forms(n: int) -> None:
    # path P_n: λ₂(L) = 2 − 2cos(π/n); cycle C_n: λ₂(𝓛) = 1 − cos(2π/n); K_n: λ₂(𝓛) = n/(n−1)
    assert ssdfl.algebraic_connectivity(nx.path_graph(n), normalized=False) == pytest.approx(
        2 - 2 * math.cos(math.pi / n)
    )
    # normalized=True explicit: the default became networkx's (normalized=False), issue 16
    assert ssdfl.algebraic_connectivity(nx.cycle_graph(n), normalized=True) == pytest.approx(
        1 - math.cos(2 * math.pi / n)
    )
    assert ssdfl.algebraic_connectivity(nx.complete_graph(n), normalized=True) == pytest.approx(
        n / (n - 1)
    )


def test_fiedler_sign_is_deterministic_and_splits_a_path() -> None:
    g = nx.path_graph(11)
    v = ssdfl.fiedler_vector(g, normalized=False)
    assert v[0] > 0  # first significant entry positive
    # P_n Fiedler vector ∝ cos(π(i + 1/2)/n)
    ref = np.cos(np.pi * (np.arange(11) + 0.5) / 11)
    assert np.allclose(v, ref / np.linalg.norm(ref), atol=1e-9)
    assert np.array_equal(ssdfl.fiedler_vector(g), ssdfl.fiedler_vector(g))
    # same sign from the sparse path
    vs = ssdfl.fiedler_vector(g, normalized=False, method="sparse", tol=1e-12)
    assert np.allclose(vs, v, atol=1e-6)


@pytest.mark.parametrize("normalized", [True, False])
def test_sparse_path_matches_dense(normalized: bool) -> None:
    g = nx.connected_watts_strogatz_graph(700, 6, 0.2, seed=1)
    for u, v in g.edges:
        g[u][v]["weight"] = 1.0 + ((u * 7 + v * 13) % 5)
    lam_d, v_d = ssdfl.graphs.spectral.fiedler_pair(g, normalized, method="dense")
    lam_s, v_s = ssdfl.graphs.spectral.fiedler_pair(g, normalized, method="sparse", tol=1e-10)
    assert lam_s == pytest.approx(lam_d, rel=1e-7)
    assert abs(v_s @ v_d) == pytest.approx(1.0, abs=1e-5)
    ref = np.linalg.eigvalsh(ssdfl.laplacian(g, normalized).toarray())[1]
    assert lam_d == pytest.approx(ref, rel=1e-9)


def test_auto_uses_sparse_above_threshold() -> None:
    n = ssdfl.graphs.spectral.DENSE_MAX + 200
    g = nx.cycle_graph(n)
    nx_lam = 1 - math.cos(2 * math.pi / n)
    assert ssdfl.algebraic_connectivity(g, normalized=True) == pytest.approx(nx_lam, rel=1e-6)
    # a graph whose λ₂ is simple: random regular
    h = nx.random_regular_graph(4, n, seed=2)
    ref = np.linalg.eigvalsh(ssdfl.laplacian(h, normalized=True).toarray())[1]
    assert ssdfl.algebraic_connectivity(h, normalized=True) == pytest.approx(ref, rel=1e-7)


def test_disconnected_and_errors() -> None:
    g = nx.disjoint_union(nx.path_graph(3), nx.cycle_graph(4))
    assert ssdfl.algebraic_connectivity(g) == 0.0
    assert ssdfl.algebraic_connectivity(g, normalized=False) == 0.0
    assert ssdfl.cheeger_bounds(g) == (0.0, 0.0)
    with pytest.raises(DisconnectedGraphError, match="components"):
        ssdfl.fiedler_vector(g)
    with pytest.raises(SsdflError):
        ssdfl.algebraic_connectivity(nx.empty_graph(1))
    with pytest.raises(SsdflError, match="method"):
        ssdfl.fiedler_vector(nx.path_graph(4), method="magic")
    # isolated node: normalized Laplacian has a zero row (networkx convention)
    iso = nx.Graph()
    iso.add_nodes_from(range(3))
    iso.add_edge(0, 1)
    N = ssdfl.laplacian(iso, normalized=True).toarray()
    assert np.allclose(N, nx.normalized_laplacian_matrix(iso).toarray())


@pytest.mark.parametrize("path", ["probe", "amg", "shift-invert"])
def test_fallbacks_when_lanczos_stalls(monkeypatch: pytest.MonkeyPatch, path: str) -> None:
    # a 2-D grid (small clustered λ₂); "probe": the λ₂ probe routes it to AMG-LOBPCG directly
    # (threshold lowered to this size); otherwise force the fallback with a 1-restart budget
    g = nx.convert_node_labels_to_integers(nx.grid_2d_graph(25, 28))
    if path == "probe":
        monkeypatch.setattr(ssdfl.graphs.spectral, "AMG_MIN_N", 50)
        monkeypatch.setattr(ssdfl.graphs.spectral, "LANCZOS_BUDGET", 0)  # would raise if reached
    else:
        monkeypatch.setattr(ssdfl.graphs.spectral, "LANCZOS_BUDGET", 1)
    if path == "shift-invert":
        monkeypatch.setattr(ssdfl.graphs.spectral, "_amg_lobpcg", lambda *a: None)
    for normalized in (True, False):
        ref = np.linalg.eigvalsh(ssdfl.laplacian(g, normalized).toarray())[1]
        lam, v = ssdfl.graphs.spectral.fiedler_pair(g, normalized, method="sparse")
        assert lam == pytest.approx(ref, rel=1e-7)
        M = ssdfl.laplacian(g, normalized)
        assert np.linalg.norm(M @ v - lam * v) < 1e-6


@given(weighted_graphs(min_n=3, max_n=40, connected=True))
def test_probe_is_an_upper_bound_on_lambda2(g: nx.Graph) -> None:
    # the solver-selection probe must never claim a λ₂ smaller than the true one
    gg = ssdfl.Graph.from_networkx(g)
    for normalized in (True, False):
        L = ssdfl.laplacian(gg, normalized)
        ref = np.linalg.eigvalsh(L.toarray())[1]
        u = ssdfl.graphs.spectral._null_vector(gg, normalized)
        c = 2.0 if normalized else 2.0 * gg.degrees.max()
        v0 = np.random.default_rng(0).standard_normal(gg.n)
        est = ssdfl.graphs.spectral._lambda2_upper_estimate(L, u, c, v0, steps=5)
        assert est >= ref - 1e-9 * c
