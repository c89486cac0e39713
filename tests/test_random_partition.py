"""random_connected_partition: validity, determinism and its distribution, the last checked
against the exact law of the documented process (brute-force recursion) and against a plain
re-implementation of the first (O(n·m)) version."""

from __future__ import annotations

import time
from collections import Counter
from fractions import Fraction

import networkx as nx
import numpy as np
import pytest

import ssdfl
from ssdfl.errors import DisconnectedGraphError, SsdflError
from ssdfl.simulate.clusters import random_connected_partition


def _old(g: ssdfl.Graph, S: int, rng: np.random.Generator) -> np.ndarray:
    """The first implementation (every step rescans all edges), kept as the reference."""
    s, t, _ = g.edges()
    lab = np.full(g.n, -1, dtype=np.int64)
    lab[rng.choice(g.n, size=S, replace=False)] = np.arange(S)
    for _ in range(g.n - S):
        a, b = lab[s] >= 0, lab[t] >= 0
        frontier = np.flatnonzero(a != b)
        e = frontier[rng.integers(len(frontier))]
        if a[e]:
            lab[t[e]] = lab[s[e]]
        else:
            lab[s[e]] = lab[t[e]]
    return lab


def _exact_law(G: nx.Graph, S: int) -> dict[tuple[int, ...], Fraction]:
    """Exact distribution of the labels: seeds uniform (ordered, distinct), then an edge drawn
    uniformly among the assigned/unassigned edges until every node is assigned."""
    n = G.number_of_nodes()
    edges = list(G.edges())
    law: dict[tuple[int, ...], Fraction] = {}

    def grow(lab: list[int], p: Fraction) -> None:
        front = [(u, v) for u, v in edges if (lab[u] >= 0) != (lab[v] >= 0)]
        if not front:
            key = tuple(lab)
            law[key] = law.get(key, Fraction(0)) + p
            return
        for u, v in front:
            nxt = list(lab)
            if lab[u] >= 0:
                nxt[v] = lab[u]
            else:
                nxt[u] = lab[v]
            grow(nxt, p / len(front))

    from itertools import permutations

    seeds = list(permutations(range(n), S))
    for sd in seeds:
        lab = [-1] * n
        for i, v in enumerate(sd):
            lab[v] = i
        grow(lab, Fraction(1, len(seeds)))
    return law


@pytest.mark.parametrize(
    "G",
    [
        nx.connected_watts_strogatz_graph(300, 4, 0.2, seed=1),
        nx.barabasi_albert_graph(300, 2, seed=2),
        nx.convert_node_labels_to_integers(nx.grid_2d_graph(12, 15)),
        nx.path_graph(50),
    ],
)
@pytest.mark.parametrize("S", [1, 2, 7, 40])
def test_valid_connected_deterministic(G: nx.Graph, S: int) -> None:
    g = ssdfl.Graph.from_networkx(G)
    lab = random_connected_partition(g, S, 3)
    assert lab.shape == (g.n,) and lab.dtype == np.int64
    assert set(np.unique(lab).tolist()) == set(range(S))
    for s in range(S):
        assert nx.is_connected(G.subgraph(np.flatnonzero(lab == s).tolist()))
    assert np.array_equal(lab, random_connected_partition(g, S, 3))
    assert np.array_equal(lab, random_connected_partition(g, S, np.random.default_rng(3)))
    if S > 1:
        assert not all(
            np.array_equal(lab, random_connected_partition(g, S, sd)) for sd in range(4, 8)
        )


@pytest.mark.parametrize(
    "G,S",
    [
        (nx.path_graph(4), 2),
        (nx.cycle_graph(5), 2),
        (nx.Graph([(0, 1), (1, 2), (2, 0), (2, 3), (3, 4), (1, 4)]), 2),
        (nx.star_graph(4), 3),
    ],
)
def test_distribution_matches_the_exact_law(G: nx.Graph, S: int) -> None:
    law = _exact_law(G, S)
    g = ssdfl.Graph.from_networkx(G)
    runs = 6000
    rng = np.random.default_rng(11)
    got = Counter(tuple(random_connected_partition(g, S, rng).tolist()) for _ in range(runs))
    assert set(got) <= set(law)  # only outcomes the process can produce
    # chi-square statistic over outcomes of the exact law; 99.99 % quantile bound for its df
    chi2 = sum((got.get(k, 0) - runs * float(p)) ** 2 / (runs * float(p)) for k, p in law.items())
    df = len(law) - 1
    assert chi2 < df + 8 * np.sqrt(2 * df) + 10, (chi2, df)


def test_same_law_as_the_first_implementation() -> None:
    # cluster-size distribution of the new and the old implementation on a larger graph:
    # the mean size of the seed-0 cluster and its spread agree within sampling error
    G = nx.connected_watts_strogatz_graph(60, 4, 0.3, seed=4)
    g = ssdfl.Graph.from_networkx(G)
    runs = 1500
    r1, r2 = np.random.default_rng(1), np.random.default_rng(2)
    a = np.array(
        [np.bincount(random_connected_partition(g, 3, r1), minlength=3) for _ in range(runs)]
    )
    b = np.array([np.bincount(_old(g, 3, r2), minlength=3) for _ in range(runs)])
    se = np.sqrt(a.var(0) / runs + b.var(0) / runs)
    assert np.all(np.abs(a.mean(0) - b.mean(0)) < 5 * se)
    assert np.all(np.abs(a.std(0) - b.std(0)) < 0.15 * b.std(0))


def test_linear_time_at_ten_thousand_nodes() -> None:
    # CPU time, not wall time: the first version took ~2.6 CPU-s here (every step rescanned
    # all 3·10⁴ edges); the incremental frontier is O(n + m)
    G = nx.connected_watts_strogatz_graph(10_000, 6, 0.1, seed=0)
    g = ssdfl.Graph.from_networkx(G)
    t0 = time.process_time()
    lab = random_connected_partition(g, 100, 0)
    assert time.process_time() - t0 < 0.5
    assert len(np.unique(lab)) == 100


def test_bad_input() -> None:
    g = ssdfl.Graph.from_networkx(nx.path_graph(5))
    with pytest.raises(SsdflError):
        random_connected_partition(g, 0, 0)
    with pytest.raises(SsdflError):
        random_connected_partition(g, 6, 0)
    with pytest.raises(DisconnectedGraphError):
        random_connected_partition(nx.Graph([(0, 1), (2, 3)]), 2, 0)
