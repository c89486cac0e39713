"""The λ₂ probe of the sparse solver selection (``graphs.spectral._probe``): a true upper
bound on λ₂, never negative, checked against dense ``numpy.linalg.eigvalsh`` on expanders,
paths, grids, Erdős–Rényi, Barabási–Albert and weighted graphs at the sizes where the probe
runs (one Gram–Schmidt pass gave −453 on the ER graph below, whose λ₂(L) is 1.66)."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

import ssdfl
from ssdfl.graphs import spectral


def _lcc(G: nx.Graph) -> nx.Graph:
    G = G.subgraph(max(nx.connected_components(G), key=len)).copy()
    return nx.convert_node_labels_to_integers(G)


def _weighted(G: nx.Graph, seed: int) -> nx.Graph:
    rng = np.random.default_rng(seed)
    for u, v in G.edges():
        G[u][v]["weight"] = float(rng.uniform(0.01, 5.0))
    return G


GRAPHS = {
    "expander (random 6-regular)": lambda: nx.random_regular_graph(6, 1200, seed=1),
    "path": lambda: nx.path_graph(1000),
    "grid 30x40": lambda: nx.convert_node_labels_to_integers(nx.grid_2d_graph(30, 40)),
    "ER mean degree 10": lambda: _lcc(nx.gnm_random_graph(1500, 7500, seed=0)),
    "ER mean degree 40": lambda: _lcc(nx.gnm_random_graph(1500, 30000, seed=0)),
    "BA m=3": lambda: nx.barabasi_albert_graph(1200, 3, seed=2),
    "weighted ER": lambda: _weighted(_lcc(nx.gnm_random_graph(1200, 9000, seed=3)), 3),
    "weighted grid": lambda: _weighted(
        nx.convert_node_labels_to_integers(nx.grid_2d_graph(25, 40)), 4
    ),
}


@pytest.mark.parametrize("name", list(GRAPHS))
@pytest.mark.parametrize("normalized", [False, True])
def test_probe_bound_is_a_true_upper_bound(name: str, normalized: bool) -> None:
    g = ssdfl.Graph.from_networkx(GRAPHS[name]())
    L = ssdfl.laplacian(g, normalized)
    ref = float(np.linalg.eigvalsh(L.toarray())[1])
    u = spectral._null_vector(g, normalized)
    c = 2.0 if normalized else 2.0 * float(g.degrees.max())
    for seed in (0, 1):
        v0 = np.random.default_rng(seed).standard_normal(g.n)
        bound, x = spectral._probe(L, u, c, v0)
        assert bound >= 0.0
        assert bound >= ref * (1 - 1e-9) - 1e-12 * c, (bound, ref)
        # the bound is the Rayleigh quotient of the returned vector, which is orthogonal to u
        assert abs(x @ u) <= 1e-9 * np.linalg.norm(x)
        assert bound == pytest.approx(float(x @ (L @ x)) / float(x @ x), rel=1e-9, abs=1e-12)
        if name.startswith(("expander", "ER")):
            # well-separated λ₂: 30 reorthogonalized steps bound it within a few per cent
            assert bound <= 1.05 * ref, (bound, ref)


def test_short_probe_is_still_a_bound() -> None:
    g = ssdfl.Graph.from_networkx(_lcc(nx.gnm_random_graph(1500, 30000, seed=5)))
    L = ssdfl.laplacian(g, False)
    ref = float(np.linalg.eigvalsh(L.toarray())[1])
    u = spectral._null_vector(g, False)
    c = 2.0 * float(g.degrees.max())
    for steps in (1, 2, 5, 60):
        est = spectral._lambda2_upper_estimate(L, u, c, np.ones(g.n) + np.arange(g.n), steps)
        assert est >= ref * (1 - 1e-9)


@pytest.mark.parametrize("normalized", [False, True])
def test_sparse_solver_after_the_probe_matches_dense(normalized: bool) -> None:
    # n ≥ PROBE_MIN_N: the probe chooses the solver and starts it
    G = _lcc(nx.gnm_random_graph(1500, 30000, seed=0))
    ref = float(np.linalg.eigvalsh(ssdfl.laplacian(G, normalized).toarray())[1])
    lam = ssdfl.algebraic_connectivity(G, normalized=normalized, method="sparse")
    assert lam == pytest.approx(ref, rel=1e-7)
