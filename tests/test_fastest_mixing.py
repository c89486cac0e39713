"""Fastest-mixing SDPs against closed forms (Boyd, Diaconis & Xiao 2004) and the Metropolis rule."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings

import ssdfl
from conftest import weighted_graphs
from ssdfl.graphs.fastest_mixing import fastest_mixing


@pytest.mark.parametrize("n", [3, 5, 8])
def test_fmmc_path_closed_form(n: int) -> None:
    # FMMC on the path P_n: all edge weights 1/2, SLEM = cos(π/n) (Boyd, Diaconis, Xiao §4.1).
    r = fastest_mixing(nx.path_graph(n), "fmmc", positive_definite=False)
    assert r.slem == pytest.approx(np.cos(np.pi / n), abs=2e-5)


@pytest.mark.parametrize("problem", ["fmmc", "fdla"])
def test_complete_graph_mixes_in_one_step(problem: str) -> None:
    r = fastest_mixing(nx.complete_graph(6), problem, positive_definite=False)
    assert r.slem == pytest.approx(0.0, abs=1e-5)
    np.testing.assert_allclose(r.W.toarray(), np.full((6, 6), 1 / 6), atol=1e-5)


@settings(max_examples=15)
@given(g=weighted_graphs(min_n=3, max_n=10, connected=True, weighted=False))
def test_optimum_is_valid_and_beats_metropolis(g: nx.Graph) -> None:
    for problem in ("fmmc", "fdla"):
        r = fastest_mixing(g, problem)
        W = r.W.toarray()
        np.testing.assert_allclose(W, W.T, atol=1e-12)
        np.testing.assert_allclose(W.sum(axis=1), 1.0, atol=1e-9)
        A = nx.to_numpy_array(g, nodelist=range(g.number_of_nodes())) > 0
        off_support = ~A & ~np.eye(len(W), dtype=bool)
        assert np.all(W[off_support] == 0)
        assert np.linalg.eigvalsh(W).min() >= -1e-6  # positive semidefinite (PD up to margin)
        if problem == "fmmc":
            assert W.min() >= 0
        # the lazy Metropolis matrix is feasible for both programs, so the optimum is no worse
        assert r.slem <= r.baseline_slem + 1e-5
        assert r.slem == pytest.approx(ssdfl.second_eigenvalue(r.W))


def test_errors() -> None:
    with pytest.raises(ssdfl.SsdflError, match="connected"):
        fastest_mixing(nx.Graph([(0, 1), (2, 3)]))
    with pytest.raises(ssdfl.SsdflError, match="fmmc"):
        fastest_mixing(nx.path_graph(3), "best")


# ------------------------------------------------ projected subgradient (Boyd, Diaconis & Xiao)
@pytest.mark.parametrize("n", [3, 5, 8])
def test_subgradient_path_closed_form(n: int) -> None:
    r = fastest_mixing(nx.path_graph(n), "fmmc", positive_definite=False, method="subgradient",
                       max_iter=3000, patience=1000)  # fmt: skip
    assert r.solver == "subgradient"
    assert r.slem == pytest.approx(np.cos(np.pi / n), abs=2e-3)
    assert r.slem >= np.cos(np.pi / n) - 1e-9  # never below the optimum


@settings(max_examples=8, deadline=None)
@given(g=weighted_graphs(min_n=6, max_n=14, connected=True, weighted=False))
def test_subgradient_is_feasible_and_close_to_the_sdp(g: nx.Graph) -> None:
    sdp = fastest_mixing(g, "fmmc", method="sdp")
    sub = fastest_mixing(g, "fmmc", method="subgradient")
    W = sub.W.toarray()
    np.testing.assert_allclose(W, W.T, atol=1e-12)
    np.testing.assert_allclose(W.sum(axis=1), 1.0, atol=1e-12)
    assert W.min() >= 0
    A = nx.to_numpy_array(g, nodelist=range(g.number_of_nodes())) > 0
    assert np.all(W[~A & ~np.eye(len(W), dtype=bool)] == 0)
    assert np.linalg.eigvalsh(W).min() >= 1e-6 - 1e-12  # the PD margin holds
    assert sub.slem <= sub.baseline_slem + 1e-12  # never worse than the lazy Metropolis start
    assert sub.slem >= sdp.slem - 1e-5  # the SDP is the optimum
    # most of the optimal spectral-gap gain is reached
    if sdp.baseline_slem - sdp.slem > 1e-6:
        assert (sdp.baseline_slem - sub.slem) >= 0.8 * (sdp.baseline_slem - sdp.slem)


def test_subgradient_lanczos_route_matches_dense(monkeypatch) -> None:
    import ssdfl.graphs.fastest_mixing as fm

    g = nx.random_geometric_graph(60, 0.3, seed=1)
    assert nx.is_connected(g)
    dense = fastest_mixing(g, "fmmc", method="subgradient", max_iter=60, patience=60)
    monkeypatch.setattr(fm, "DENSE_EIG", 10)
    lanczos = fastest_mixing(g, "fmmc", method="subgradient", max_iter=60, patience=60)
    assert lanczos.slem == pytest.approx(dense.slem, abs=1e-6)
