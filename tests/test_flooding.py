"""The initialization-flooding closed forms in the cluster layer (``ssdfl.clusters.flooding``),
their old import path ``ssdfl.simulate.comm``, and the sparse path above ``DENSE_LIMIT``."""

from __future__ import annotations

import networkx as nx
import numpy as np

import ssdfl.simulate.comm as comm
from ssdfl.clusters import flooding
from ssdfl.graphs.graph import Graph


def test_old_import_path_gives_the_same_objects() -> None:
    for name in ("InitTraffic", "flooding_traffic", "record_bytes"):
        assert getattr(comm, name) is getattr(flooding, name)
    import ssdfl

    assert ssdfl.flooding_traffic is flooding.flooding_traffic


def _reference(G: nx.Graph, R: np.ndarray) -> tuple[int, int, int]:
    """The protocol counted from networkx hop distances (module docstring's formulas)."""
    dist = dict(nx.all_pairs_shortest_path_length(G))
    nodes = list(G)
    ecc = {j: max(dist[j].values()) for j in nodes}
    diam = max(ecc.values())
    msgs = sum(G.degree(j) * min(ecc[j] + 1, diam) for j in nodes)
    byts = sum(G.degree(j) * sum(int(R[u]) for u in nodes if dist[j][u] <= diam - 1) for j in nodes)
    return diam, msgs, byts


def test_small_graph_against_networkx() -> None:
    G = nx.connected_watts_strogatz_graph(60, 4, 0.3, seed=2)
    g = Graph.from_networkx(G)
    R = flooding.record_bytes(g, 12)
    assert np.array_equal(R, [29 + 4 * G.degree(u) + 12 for u in G])
    t = flooding.flooding_traffic(g, R)
    assert (t.rounds, t.messages, t.bytes) == _reference(G, R)
    assert flooding.flooding_traffic_sparse(g, R) == _reference(G, R)


def test_above_dense_limit_the_sparse_search_gives_the_closed_form() -> None:
    """Odd cycle C_n: diameter (n−1)/2 = every eccentricity, degree 2, R_u = 37; each node
    knows the records within distance diam − 1, i.e. 1 + 2(diam − 1) of them."""
    n = flooding.DENSE_LIMIT + 101
    g = Graph.from_networkx(nx.cycle_graph(n))
    diam = (n - 1) // 2
    t = flooding.flooding_traffic(g, flooding.record_bytes(g))
    assert t == flooding.InitTraffic(diam, 2 * n * diam, 2 * n * 37 * (1 + 2 * (diam - 1)))
