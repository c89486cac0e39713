"""Outputs honour the umask: files written atomically get ``0o666 & ~umask`` like ``open`` gives."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import networkx as nx
import pytest

import ssdfl
from ssdfl._atomic import atomic_path, atomic_write, current_umask


@pytest.fixture(params=[0o022, 0o027, 0o002])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def _reference_mode(tmp: Path) -> int:
    """The mode plain ``open`` gives a new file under the current umask."""
    ref = tmp / "reference.txt"
    ref.write_text("x")
    return _mode(ref)


def test_current_umask_matches_os(umask: int) -> None:
    assert current_umask() == umask


def test_atomic_write_and_path_modes(tmp_path: Path, umask: int) -> None:
    want = _reference_mode(tmp_path)
    assert want == 0o666 & ~umask
    with atomic_write(tmp_path / "a.txt") as fh:
        fh.write("hello")
    with atomic_path(tmp_path / "b.bin") as p:
        p.write_bytes(b"\0")
    assert _mode(tmp_path / "a.txt") == want
    assert _mode(tmp_path / "b.bin") == want


@pytest.mark.parametrize("ext", ["edgelist", "json", "mtx", "graph", "edgelist.gz"])
def test_write_graph_mode(tmp_path: Path, umask: int, ext: str) -> None:
    want = _reference_mode(tmp_path)
    out = ssdfl.write_graph(nx.karate_club_graph(), tmp_path / f"k.{ext}")
    assert _mode(Path(out)) == want


def test_formation_save_mode(tmp_path: Path, umask: int) -> None:
    want = _reference_mode(tmp_path)
    g = ssdfl.Graph.from_networkx(nx.barbell_graph(5, 0))
    f = ssdfl.split_hierarchy(g, 0.1)[-1]
    out = f.save(tmp_path / "formation.json")
    assert _mode(Path(out)) == want


def test_save_figure_mode(tmp_path: Path, umask: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ssdfl.graphs.plotting import save_figure

    want = _reference_mode(tmp_path)
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    out = save_figure(fig, tmp_path / "fig.png")
    assert _mode(Path(out)) == want
