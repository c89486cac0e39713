"""Formation pictures are written atomically and encode the clusters in the colours."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import numpy as np
import pytest

import ssdfl
from ssdfl.graphs.plotting import layout, plot_formation


def test_plot_formation_writes_png(tmp_path: Path, examples: Path) -> None:
    g = ssdfl.read_graph(examples / "barbell.edgelist")
    labels = np.array([0] * 6 + [1] * 6)
    out = plot_formation(g, labels, tmp_path / "f.png")
    assert (tmp_path / "f.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["f.png"]  # no temporary left behind
    ax = out.axes[0]
    # one solid collection per cluster edge colour set, one dashed for the bridge
    dashed, solid = ax.collections[0], ax.collections[1]
    assert len(dashed.get_segments()) == 1
    assert len(solid.get_segments()) == g.m - 1
    np.testing.assert_array_equal(layout(g), layout(g))  # deterministic


def test_bad_labels() -> None:
    g = ssdfl.Graph.from_edges([(0, 1)])
    with pytest.raises(ValueError, match="labels"):
        plot_formation(g, [0, 1, 2])


def test_cluster_colours_never_repeat_across_an_edge() -> None:
    """Beyond 20 clusters colours are reused only between clusters that share no edge
    (checked against the cluster graph built with networkx)."""
    import networkx as nx

    from ssdfl.graphs.plotting import cluster_colours

    G = nx.random_geometric_graph(400, 0.09, seed=3)
    g = ssdfl.Graph.from_networkx(G)
    lab = np.asarray(ssdfl.split_hierarchy(g, 0.0, max_clusters=60)[-1].labels)
    s, d, _ = g.edges()
    col = cluster_colours(lab, s, d)
    k = int(lab.max()) + 1
    assert col.shape == (k, 4) and k > 20
    Q = nx.quotient_graph(G, [set(np.flatnonzero(lab == c).tolist()) for c in range(k)])
    idx = {frozenset(np.flatnonzero(lab == c).tolist()): c for c in range(k)}
    for A, B in Q.edges():
        assert not np.allclose(col[idx[A]], col[idx[B]])
    small = cluster_colours(np.arange(15) % 15, np.array([0]), np.array([1]))
    assert len({tuple(c) for c in small}) == 15
