"""The sparse λ₂ solver's measured rule (probe → AMG-LOBPCG / capped Lanczos / long Lanczos)
on small instances of every benchmark family, against dense ``eigvalsh`` and closed forms."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest

import ssdfl
import ssdfl.graphs.spectral as S


def _lcc(G: nx.Graph) -> nx.Graph:
    G = G.subgraph(max(nx.connected_components(G), key=len)).copy()
    return nx.convert_node_labels_to_integers(G)


FAMILIES = {
    "er": lambda: _lcc(nx.gnm_random_graph(700, 3500, seed=1)),
    "rgg": lambda: _lcc(nx.random_geometric_graph(700, math.sqrt(10 / (math.pi * 700)), seed=1)),
    "ba": lambda: nx.barabasi_albert_graph(700, 5, seed=1),
    "regular": lambda: nx.random_regular_graph(10, 700, seed=1),
}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_sparse_rule_matches_dense_on_every_family(
    monkeypatch: pytest.MonkeyPatch, family: str
) -> None:
    # probe from 50 nodes so that the rule (not the size cut-off) picks the solver
    monkeypatch.setattr(S, "AMG_MIN_N", 50)
    routes: list[str] = []
    real_amg = S._amg_lobpcg
    monkeypatch.setattr(S, "_amg_lobpcg", lambda *a: routes.append("amg") or real_amg(*a))
    G = FAMILIES[family]()
    for normalized in (True, False):
        routes.clear()
        M = ssdfl.laplacian(G, normalized=normalized)
        ref = np.linalg.eigvalsh(M.toarray())[1]
        lam, v = S.fiedler_pair(G, normalized=normalized, method="sparse")
        assert lam == pytest.approx(ref, rel=1e-7)
        # ARPACK's tolerance is relative to the top eigenvalue c − λ₂ of c·I − M (c = 2 d_max
        # for L): the residual is small relative to ‖M‖ ≤ c, not absolutely (BA's hubs: c ≈ 200)
        c = 2.0 if normalized else 2.0 * max(d for _, d in G.degree())
        assert np.linalg.norm(M @ v - lam * v) < 1e-6 * max(1.0, c / 2)
        if family == "rgg":
            assert "amg" in routes  # tiny λ₂: straight to AMG-LOBPCG
        if family == "regular" or (family in ("er", "ba") and normalized):
            assert routes == []  # expander-like: Lanczos only, never the AMG / LU fallbacks


def test_large_gap_gives_lanczos_the_long_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    # a random regular graph's probe bound is far above LARGE_GAP; with the short budget at 1
    # restart Lanczos must still converge (it gets LANCZOS_BUDGET_LARGE), without AMG or LU
    monkeypatch.setattr(S, "AMG_MIN_N", 50)
    monkeypatch.setattr(S, "LANCZOS_BUDGET", 1)
    monkeypatch.setattr(S, "_amg_lobpcg", lambda *a: pytest.fail("AMG on an expander"))
    monkeypatch.setattr(S, "_shift_invert", lambda *a: pytest.fail("LU on an expander"))
    G = nx.random_regular_graph(6, 800, seed=2)
    ref = np.linalg.eigvalsh(ssdfl.laplacian(G, normalized=True).toarray())[1]
    assert S.fiedler_pair(G, normalized=True, method="sparse")[0] == pytest.approx(ref, rel=1e-7)


@pytest.mark.parametrize("n", [700, 1500])
def test_closed_forms_on_cycles_and_complete_graphs(n: int) -> None:
    # cycle C_n: λ₂(L) = 2 − 2cos(2π/n), λ₂(𝓛) = 1 − cos(2π/n)
    C = nx.cycle_graph(n)
    t = 2 * math.pi / n
    assert ssdfl.algebraic_connectivity(C, normalized=False) == pytest.approx(
        2 - 2 * math.cos(t), rel=1e-6
    )
    assert ssdfl.algebraic_connectivity(C, normalized=True) == pytest.approx(
        1 - math.cos(t), rel=1e-6
    )


@pytest.mark.parametrize("n", [5, 650])
def test_closed_forms_on_complete_graphs(n: int) -> None:
    # K_n: λ₂(L) = n, λ₂(𝓛) = n/(n−1) (repeated n−1 times)
    K = nx.complete_graph(n)
    assert ssdfl.algebraic_connectivity(K, normalized=False) == pytest.approx(n, rel=1e-9)
    assert ssdfl.algebraic_connectivity(K, normalized=True) == pytest.approx(n / (n - 1), rel=1e-9)
