"""Cut metrics against networkx (independent reference) on random weighted graphs."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import ssdfl
from conftest import weighted_graphs


@given(g=weighted_graphs(min_n=2, max_n=14), data=st.data())
def test_set_metrics_match_networkx(g: nx.Graph, data: st.DataObject) -> None:
    n = g.number_of_nodes()
    S = data.draw(st.sets(st.integers(0, n - 1), min_size=1, max_size=n - 1))
    T = set(range(n)) - S
    G = ssdfl.Graph.from_networkx(g)
    w = "weight"
    assert ssdfl.volume(G, S, weight=w) == pytest.approx(nx.volume(g, S, weight=w), abs=1e-12)
    cut = nx.cut_size(g, S, weight=w)
    assert ssdfl.cut_size(G, S, weight=w) == pytest.approx(cut, abs=1e-12)
    assert ssdfl.cut_size(G, S, T, weight=w) == pytest.approx(cut, abs=1e-12)
    assert ssdfl.edge_expansion(G, S, weight=w) == pytest.approx(
        nx.edge_expansion(g, S, weight=w), rel=1e-12, abs=1e-12
    )
    vs, vt = nx.volume(g, S, weight=w), nx.volume(g, T, weight=w)
    if vs > 0 and vt > 0:
        assert ssdfl.conductance(G, S, weight=w) == pytest.approx(
            nx.conductance(g, S, weight=w), rel=1e-12, abs=1e-12
        )
        assert ssdfl.normalized_cut(G, S, weight=w) == pytest.approx(
            nx.normalized_cut_size(g, S, weight=w), rel=1e-12, abs=1e-12
        )
    else:
        with pytest.raises(ssdfl.SsdflError, match="zero volume"):
            ssdfl.conductance(G, S, weight=w)
    mask = np.zeros(n, dtype=bool)
    mask[list(S)] = True
    assert ssdfl.cut_size(G, mask, weight=w) == pytest.approx(cut, abs=1e-12)


@given(g=weighted_graphs(min_n=1, max_n=20))
def test_components_match_networkx(g: nx.Graph) -> None:
    G = ssdfl.Graph.from_networkx(g)
    ours = sorted(tuple(c.tolist()) for c in ssdfl.connected_components(G))
    ref = sorted(tuple(sorted(c)) for c in nx.connected_components(g))
    assert ours == ref
    assert ssdfl.is_connected(G) == nx.is_connected(g)


def test_invalid_sets_raise() -> None:
    G = ssdfl.Graph.from_edges([(0, 1), (1, 2)])
    for bad in ([], [0, 1, 2]):
        with pytest.raises(ssdfl.SsdflError):
            ssdfl.conductance(G, bad)
    with pytest.raises(ssdfl.SsdflError, match="out of range"):
        ssdfl.volume(G, [5])
    with pytest.raises(ssdfl.SsdflError, match=r"no node named 0\.5"):
        ssdfl.volume(G, [0.5])
    assert ssdfl.volume(G, [1.0]) == ssdfl.volume(G, [1]) == 2  # 1.0 == 1, as a dict key
