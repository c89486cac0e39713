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
