"""Mixing matrices, their spectra, and the Markov-chain conductance Φ(W)."""

from __future__ import annotations

import itertools

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings

import ssdfl
from conftest import weighted_graphs
from ssdfl.errors import SsdflError, TooLargeError


def brute_phi(W: np.ndarray) -> float:
    """Φ(W) = min over 0 < |S| ≤ n/2 of (1/|S|) Σ_{i∈S, j∉S} W_ij, by enumeration."""
    n = W.shape[0]
    best = np.inf
    for k in range(1, n // 2 + 1):
        for S in itertools.combinations(range(n), k):
            mask = np.zeros(n, dtype=bool)
            mask[list(S)] = True
            best = min(best, W[np.ix_(mask, ~mask)].sum() / k)
    return best


def eigs_desc(W: sp.sparray | np.ndarray) -> np.ndarray:
    A = W.toarray() if sp.issparse(W) else W
    return np.sort(np.linalg.eigvalsh(A))[::-1]


@given(weighted_graphs(min_n=2, max_n=12, connected=True))
def test_mixing_matrices_are_symmetric_doubly_stochastic(g: nx.Graph) -> None:
    for rule in ssdfl.MIXING_RULES:
        W = ssdfl.mixing_matrix(g, rule).toarray()
        assert np.allclose(W, W.T, atol=0)
        assert (W >= -1e-15).all()
        assert np.allclose(W.sum(0), 1) and np.allclose(W.sum(1), 1)
        # support: edges plus diagonal
        A = nx.to_numpy_array(g, nodelist=range(g.number_of_nodes())) > 0
        off = ~np.eye(len(W), dtype=bool)
        assert not (W[off] > 0)[~A[off]].any()
        if rule.startswith("lazy"):
            assert np.linalg.eigvalsh(W).min() > 0  # positive definite


@given(weighted_graphs(min_n=2, max_n=12, connected=True))
def test_second_eigenvalue_matches_eigvalsh(g: nx.Graph) -> None:
    for rule in ssdfl.MIXING_RULES:
        W = ssdfl.mixing_matrix(g, rule)
        ev = eigs_desc(W)
        slem = max(abs(ev[1]), abs(ev[-1]))
        assert ssdfl.second_eigenvalue(W) == pytest.approx(slem, abs=1e-12)
        assert ssdfl.spectral_gap(W) == pytest.approx(1 - slem, abs=1e-12)


@given(weighted_graphs(min_n=2, max_n=10, connected=True))
def test_chain_cheeger_inequality(g: nx.Graph) -> None:
    # 1 − 2Φ ≤ λ₂(W) ≤ 1 − Φ²/2 with λ₂ the second-LARGEST eigenvalue (not the modulus);
    # the lower bound then also holds for the modulus (≥ λ₂); the upper bound holds for the
    # modulus when W is positive semidefinite (lazy rules), where the two coincide.
    for rule in ssdfl.MIXING_RULES:
        W = ssdfl.mixing_matrix(g, rule)
        phi = ssdfl.mixing_conductance(W, method="exact")
        assert phi.exact
        assert phi.value == pytest.approx(brute_phi(W.toarray()), rel=1e-9, abs=1e-14)
        lam2 = eigs_desc(W)[1]
        assert 1 - 2 * phi.value <= lam2 + 1e-12
        assert lam2 <= 1 - phi.value**2 / 2 + 1e-12
        slem = ssdfl.second_eigenvalue(W)
        assert 1 - 2 * phi.value <= slem + 1e-12
        if rule.startswith("lazy"):
            assert slem == pytest.approx(lam2, abs=1e-12)
            assert slem <= 1 - phi.value**2 / 2 + 1e-12
        assert len(phi.set) <= len(W.toarray()) // 2


@settings(max_examples=20)
@given(weighted_graphs(min_n=3, max_n=10, connected=True))
def test_mixing_conductance_bounds_bracket_exact(g: nx.Graph) -> None:
    W = ssdfl.mixing_matrix(g)
    exact = ssdfl.mixing_conductance(W, method="exact").value
    b = ssdfl.mixing_conductance(W, method="sweep")
    lam2 = eigs_desc(W)[1]
    assert not b.exact
    assert b.lower_bound == pytest.approx(max(0, (1 - lam2) / 2), abs=1e-9)
    assert b.lower_bound - 1e-9 <= exact <= b.upper_bound + 1e-12
    assert b.upper_bound <= np.sqrt(2 * (1 - lam2)) + 1e-9
    assert b.value >= exact - 1e-12


def test_known_values() -> None:
    # lazy Metropolis on C_n: W_ij = 1/6 on edges; best S = an arc of ⌊n/2⌋ nodes, 2 edges out
    for n in (6, 9, 12):
        W = ssdfl.mixing_matrix(nx.cycle_graph(n))
        assert ssdfl.mixing_conductance(W).value == pytest.approx(2 / 6 / (n // 2))
    # max-degree on K_n: W_ij = 1/n; |S| = ⌊n/2⌋ gives (n − ⌊n/2⌋)/n
    for n in (4, 7):
        W = ssdfl.mixing_matrix(nx.complete_graph(n), "max-degree")
        assert ssdfl.mixing_conductance(W).value == pytest.approx((n - n // 2) / n)


def test_large_matrix_gets_bounds_and_disconnected_gets_zero() -> None:
    g = nx.connected_watts_strogatz_graph(200, 4, 0.1, seed=3)
    W = ssdfl.mixing_matrix(g)
    r = ssdfl.mixing_conductance(W)
    assert not r.exact and r.method == "sweep"
    assert 0 < r.lower_bound <= r.upper_bound <= r.value
    S = r.set
    mask = np.zeros(200, dtype=bool)
    mask[S] = True
    Wd = W.toarray()
    assert r.value == pytest.approx(Wd[np.ix_(mask, ~mask)].sum() / len(S))
    with pytest.raises(TooLargeError):
        ssdfl.mixing_conductance(W, method="exact")
    # block-diagonal W: Φ = 0
    Wb = sp.block_diag(
        [ssdfl.mixing_matrix(nx.path_graph(3)), ssdfl.mixing_matrix(nx.path_graph(2))]
    )
    assert ssdfl.mixing_conductance(Wb).value == 0


def test_bad_matrices() -> None:
    with pytest.raises(SsdflError, match="symmetric"):
        ssdfl.mixing_conductance(np.array([[0.5, 0.5], [0.4, 0.6]]))
    with pytest.raises(SsdflError, match="stochastic"):
        ssdfl.mixing_conductance(np.array([[0.5, 0.2], [0.2, 0.5]]))
    with pytest.raises(SsdflError, match="square"):
        ssdfl.mixing_conductance(np.ones((2, 3)) / 3)
    with pytest.raises(SsdflError):
        ssdfl.mixing_conductance(np.array([[1.0]]))
    with pytest.raises(SsdflError):
        ssdfl.mixing_conductance(np.array([[1.5, -0.5], [-0.5, 1.5]]))


def test_second_eigenvalue_sparse_path_closed_form() -> None:
    # n > 2000 uses Lanczos on W − 11ᵀ/n. Lazy Metropolis on C_n has eigenvalues
    # (1 + 1/3 + (2/3)cos(2πk/n))/2, all positive: the modulus is 2/3 + cos(2π/n)/3.
    n = 2100
    W = ssdfl.mixing_matrix(nx.cycle_graph(n))
    assert ssdfl.second_eigenvalue(W) == pytest.approx(2 / 3 + np.cos(2 * np.pi / n) / 3, abs=1e-9)


@given(weighted_graphs(min_n=2, max_n=14))
@settings(max_examples=60, deadline=None)
def test_rust_and_python_mixing_rules_agree(nxg: nx.Graph) -> None:
    """The two definitions of each rule — ``graphs/mixing.py`` (the simulator's and the
    bounds' W) and Rust ``cluster.rs`` (``MixingRule::weight``, used by the cluster search's
    Φ(W)) — give bit-identical off-diagonal entries, and W's diagonal is 1 − the row sum."""
    from ssdfl import _core

    g = ssdfl.Graph.from_networkx(nxg)
    for rule in ssdfl.graphs.mixing.MIXING_RULES:
        W = ssdfl.mixing_matrix(g, rule).toarray()
        e = _core.mixing_weight_graph(g._core, rule).edges()
        s, t, w = e.src, e.dst, e.weights
        R = np.zeros_like(W)
        R[s, t] = w
        R[t, s] = w
        off = W - np.diag(np.diag(W))
        np.testing.assert_array_equal(R, off, err_msg=rule)
        np.testing.assert_allclose(np.diag(W), 1.0 - R.sum(axis=1), rtol=0, atol=1e-15)


@pytest.mark.parametrize("rule", ["lazy-metropolis", "metropolis", "max-degree",
                                  "weighted-metropolis", "lazy-weighted-metropolis"])  # fmt: skip
def test_block_matrix_equals_each_clusters_own_matrix(rule: str) -> None:
    """The vectorized block matrix equals, block by block, the rule applied to each cluster's
    induced subgraph by networkx + mixing_matrix (singletons: [1]); a disconnected cluster is
    refused and named."""
    import networkx as nx

    from ssdfl.errors import DisconnectedGraphError
    from ssdfl.graphs.mixing import block_mixing_matrix, mixing_matrix

    rng = np.random.default_rng(3)
    G = nx.connected_watts_strogatz_graph(40, 6, 0.3, seed=3)
    for u, v in G.edges:
        G[u][v]["weight"] = float(rng.uniform(0.2, 2.0))
    lab = np.array([0] * 12 + [1] * 15 + [2] * 12 + [3])  # node 39 alone
    blocks = [list(range(0, 12)), list(range(12, 27)), list(range(27, 39)), [39]]
    for b in blocks:  # make every cluster connected: add a path inside it
        nx.add_path(G, b, weight=1.0)
    W = block_mixing_matrix(G, lab, rule).toarray()
    ref = np.zeros((40, 40))
    for b in blocks:
        sub = G.subgraph(b)
        order = list(sub.nodes)  # networkx's node order of the subgraph (not sorted)
        ref[np.ix_(order, order)] = 1.0 if len(b) == 1 else mixing_matrix(sub, rule).toarray()
    np.testing.assert_allclose(W, ref, atol=1e-15)
    H = nx.Graph(G)
    H.remove_edges_from([(u, v) for u, v in list(H.edges) if {u, v} & {5}])
    H.add_edge(5, 20)  # node 5 stays connected to the graph, but not inside cluster 0
    with pytest.raises(DisconnectedGraphError, match="cluster 0"):
        block_mixing_matrix(H, lab, rule)
