"""partition's large-graph path (METIS start + bottleneck moves), forced on small graphs."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

import ssdfl
import ssdfl.clusters.clustering as C


def _lcc(G: nx.Graph) -> nx.Graph:
    G = G.subgraph(max(nx.connected_components(G), key=len)).copy()
    return nx.convert_node_labels_to_integers(G)


def _min_measure(g: ssdfl.Graph, labels: np.ndarray) -> float:
    # independent re-measurement: connectivity by networkx, measure by cluster_measure
    G = g.to_networkx()
    vals = []
    for c in np.unique(labels):
        nodes = np.flatnonzero(labels == c)
        if not nx.is_connected(G.subgraph(nodes.tolist())):
            vals.append(0.0)
        else:
            vals.append(ssdfl.cluster_measure(g, nodes)[0])
    return min(vals)


@pytest.mark.parametrize(
    "G",
    [
        nx.barabasi_albert_graph(600, 2, seed=4),
        _lcc(nx.random_geometric_graph(600, 0.08, seed=4)),
        nx.connected_watts_strogatz_graph(600, 4, 0.2, seed=4),
    ],
)
def test_fast_path_connected_and_not_worse_than_metis(
    monkeypatch: pytest.MonkeyPatch, G: nx.Graph
) -> None:
    import pymetis

    monkeypatch.setattr(C, "FAST_MIN_N", 100)
    g = ssdfl.Graph.from_networkx(G)
    p = ssdfl.partition(g, 6)
    assert p.info["start"] == "metis"
    assert len(p.clusters) == 6
    Gx = g.to_networkx()
    for c in p.clusters:
        assert nx.is_connected(Gx.subgraph(c.tolist()))
    assert sorted(np.concatenate(p.clusters).tolist()) == list(range(g.n))
    adj = [list(G.neighbors(u)) for u in range(G.number_of_nodes())]
    _, parts = pymetis.part_graph(6, adjacency=adj)
    assert _min_measure(g, p.labels) >= _min_measure(g, np.asarray(parts)) - 1e-12
    # the reported measures are those of an independent re-measurement
    assert min(p.conductance) == pytest.approx(_min_measure(g, p.labels), rel=1e-6)


def test_fast_path_recovers_planted_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(C, "FAST_MIN_N", 100)
    sizes = [100] * 4
    P = [[0.2 if i == j else 0.003 for j in range(4)] for i in range(4)]
    G = nx.stochastic_block_model(sizes, P, seed=5)
    assert nx.is_connected(G)
    for objective in ("internal", "cut"):
        p = ssdfl.partition(G, 4, objective=objective)
        truth = np.repeat(np.arange(4), 100)
        # every found cluster is one planted block
        for c in p.clusters:
            assert len(np.unique(truth[c])) == 1, objective


def test_default_min_size_forbids_degenerate_clusters() -> None:
    # Barabási–Albert k = 8 used to give sizes [1, 1, 1, 2, 1602, …] (internal objective: a
    # single node has conductance 1); the default floor is a quarter of the mean size
    G = nx.barabasi_albert_graph(800, 3, seed=3)
    k = 8
    floor = C.default_min_size(800, k)
    assert floor == 25
    p = ssdfl.partition(G, k)
    assert p.info["min_size"] == floor
    assert min(len(c) for c in p.clusters) >= floor
    Gx = nx.Graph(G)
    for c in p.clusters:
        assert nx.is_connected(Gx.subgraph(c.tolist()))
    # min_size=1 is still allowed when asked for, and bad values are clear errors
    assert ssdfl.partition(G, k, min_size=1).info["min_size"] == 1
    for bad in (0, 2.5, True, 101):
        with pytest.raises(ssdfl.SsdflError):
            ssdfl.partition(G, k, min_size=bad)


def test_fast_path_from_five_thousand_nodes() -> None:
    # N ≥ FAST_MIN_N: METIS start + bottleneck moves; every cluster connected and ≥ the floor,
    # and the smallest measure at least that of the repaired METIS start it refines
    assert C.FAST_MIN_N <= 6000
    G = nx.barabasi_albert_graph(6000, 3, seed=1)
    g = ssdfl.Graph.from_networkx(G)
    p = ssdfl.partition(g, 8)
    assert p.info["start"] == "metis"
    assert sorted(np.concatenate(p.clusters).tolist()) == list(range(g.n))
    assert min(len(c) for c in p.clusters) >= C.default_min_size(6000, 8)
    for c in p.clusters:
        assert ssdfl.is_set_connected(g, c)
    p0 = ssdfl.partition(g, 8, refine=False)
    assert min(p.conductance) >= min(p0.conductance) - 1e-12
