"""``ssdfl form --update`` writes its output directory atomically, like ``form``: interrupted
after some files are written, the old directory is left byte for byte; on success the
directory is replaced whole (nothing of the old run survives beside the new files)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

import ssdfl.planner.repair as repair_mod
import ssdfl.planner.report as report_mod
from ssdfl._atomic import OUTPUT_MARKER, current_umask, write_manifest
from ssdfl.cli.app import app

runner = CliRunner()
KARATE = Path(__file__).resolve().parents[1] / "examples" / "karate.edgelist"
FAST = ["--no-fmmc", "--no-schedule", "--quiet", "--pilot-budget", "0"]


def _tree(d: Path) -> dict[str, bytes]:
    return {str(p.relative_to(d)): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def graphs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The old formation's directory (``ssdfl form`` on karate) and a new graph: karate plus a
    device 34 linked to 0 and 1."""
    d = tmp_path_factory.mktemp("upd")
    r = runner.invoke(app, ["form", str(KARATE), "--out", str(d / "old"), *FAST])
    assert r.exit_code == 0, r.output
    new = d / "new.edgelist"
    new.write_text(KARATE.read_text() + "34 0 1\n34 1 1\n")
    return d / "old", new


def test_update_interrupted_leaves_old_directory_untouched(graphs, tmp_path, monkeypatch) -> None:
    old_src, new = graphs
    old = tmp_path / "old"
    old.mkdir()
    for name, data in _tree(old_src).items():
        (old / name).write_bytes(data)
    before = _tree(old)
    real = report_mod.write_report

    def write_then_interrupt(*args, **kwargs):  # Ctrl-C after formation.json and report exist
        real(*args, **kwargs)
        assert (Path(args[2]) / "formation.json").exists()
        raise KeyboardInterrupt

    # --update writes its report through planner.repair, which holds its own reference
    monkeypatch.setattr(repair_mod, "write_report", write_then_interrupt)
    r = runner.invoke(app, ["form", str(new), "--update", str(old / "formation.json"),
                            "--out", str(old), *FAST])  # fmt: skip
    assert r.exit_code == 130, r.output
    assert _tree(old) == before  # the old directory, byte for byte
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old"]  # no temporary sibling left


def test_update_replaces_the_directory_whole(graphs, tmp_path) -> None:
    old_src, new = graphs
    old, fresh = tmp_path / "old", tmp_path / "fresh"
    old.mkdir()
    for name, data in _tree(old_src).items():
        (old / name).write_bytes(data)
    (old / "stale-note.txt").write_text("from an earlier run")
    write_manifest(old)  # as if an earlier run had written stale-note.txt too
    args = ["form", str(new), "--update", str(old / "formation.json"), *FAST]  # itself
    r = runner.invoke(app, [*args, "--out", str(fresh)])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, [*args, "--out", str(old), "--json"])
    assert r.exit_code == 0, r.output
    plan = json.loads(r.stdout)
    assert plan["n"] == 35 and "34" in [str(x) for x in plan["nodes"]]
    # the same files as a run into a fresh directory: nothing of the old run is left
    assert sorted(_tree(old)) == sorted(_tree(fresh))
    assert not (old / "stale-note.txt").exists() and (old / OUTPUT_MARKER).exists()
    assert "Update from the old formation" in (old / "report.md").read_text()
    assert (os.stat(old).st_mode & 0o777) == 0o777 & ~current_umask()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fresh", "old"]
