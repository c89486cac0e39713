"""Output folders (issue 24 items 1, 3, 4): replacing a folder never deletes a file ssdfl did not
write (manifest), ``--out`` is checked before the work and named in the message, and the
temporaries of dead runs are swept by the next run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ssdfl._atomic import (
    OUTPUT_MARKER,
    atomic_dir,
    atomic_write,
    check_out,
    foreign_files,
    sweep_stale,
)
from ssdfl.cli import app as _app_module
from ssdfl.cli.app import app
from ssdfl.errors import OutputPathError

getattr(_app_module, "_register", lambda: None)()  # older app modules register on demand
runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]
FAST = ["--no-fmmc", "--no-schedule", "--quiet"]


def _g6(path: Path) -> None:
    path.write_text("0 1\n1 2\n2 0\n3 4\n4 5\n5 3\n2 3\n")  # two triangles and a bridge


def _dev6(path: Path) -> None:
    rows = ["id,optimizer,lr,n_samples"] + [f"{i},sgd,0.05,{10 + i}" for i in range(6)]
    path.write_text("\n".join(rows) + "\n")


def test_data_loss_repro_keeps_both_inputs(tmp_path: Path) -> None:
    """The audit's repro: inputs put into an earlier ssdfl output folder, then --out that folder."""
    prev = tmp_path / "prev"
    g, d = tmp_path / "g6.edgelist", tmp_path / "dev6.csv"
    _g6(g)
    _dev6(d)
    r = runner.invoke(app, ["form", str(g), "--devices", str(d), "--out", str(prev), *FAST])
    assert r.exit_code == 0, r.output
    manifest = json.loads((prev / OUTPUT_MARKER).read_text())
    assert "formation.json" in manifest["files"] and foreign_files(prev) == []
    (prev / "g6.edgelist").write_bytes(g.read_bytes())
    (prev / "dev6.csv").write_bytes(d.read_bytes())
    args = ["form", str(prev / "g6.edgelist"), "--devices", str(prev / "dev6.csv"),
            "--out", str(prev), *FAST]  # fmt: skip
    r = runner.invoke(app, args)
    assert r.exit_code == 2, r.output
    msg = " ".join(r.output.split())
    assert "--out" in msg and "g6.edgelist" in msg and "dev6.csv" in msg, msg
    assert (prev / "g6.edgelist").read_bytes() == g.read_bytes()
    assert (prev / "dev6.csv").read_bytes() == d.read_bytes()
    # with the inputs moved out, the same folder is replaced (it is ssdfl's, unchanged)
    (prev / "g6.edgelist").unlink()
    (prev / "dev6.csv").unlink()
    r = runner.invoke(app, ["form", str(g), "--devices", str(d), "--out", str(prev), *FAST])
    assert r.exit_code == 0, r.output


def test_changed_and_foreign_entries_are_named(tmp_path: Path) -> None:
    out = tmp_path / "o"
    with atomic_dir(out) as d:
        (d / "a.csv").write_text("1\n")
        (d / "sub").mkdir()
        (d / "sub" / "b.txt").write_text("x")
    assert foreign_files(out) == []
    (out / "a.csv").write_text("2\n")  # edited by the user: theirs now
    (out / "notes").mkdir()  # an empty folder of theirs
    found = foreign_files(out)
    assert found == ["a.csv (changed since ssdfl wrote it)", "notes/"], found
    with pytest.raises(OutputPathError, match=r"--out .*\(a\.csv .*notes/"), atomic_dir(out):
        pass
    assert (out / "a.csv").read_text() == "2\n"
    # no manifest (a folder of an older ssdfl, or a bare marker): everything counts as foreign
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    (legacy / OUTPUT_MARKER).write_text("written by ssdfl\n")
    (legacy / "thesis.tex").write_text("x")
    assert foreign_files(legacy) == ["thesis.tex"]
    with pytest.raises(OutputPathError, match=r"older ssdfl .*\(thesis\.tex\)"):
        check_out(legacy)


def test_a_foreign_file_appearing_during_the_run_is_kept(tmp_path: Path) -> None:
    out = tmp_path / "o"
    with atomic_dir(out) as d:
        (d / "a").write_text("1")
    with pytest.raises(OutputPathError, match=r"late\.txt"), atomic_dir(out) as d:
        (d / "a").write_text("2")
        (out / "late.txt").write_text("put there while the run worked")
    assert (out / "late.txt").exists() and (out / "a").read_text() == "1"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o"]


def test_out_checked_before_the_work(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real)
    with pytest.raises(OutputPathError, match=r"^--out .*link is a symbolic link"):
        check_out(link)
    with pytest.raises(OutputPathError, match="under /proc"):
        check_out("/proc/self/ssdfl-out")
    with pytest.raises(OutputPathError, match="under /proc"):
        check_out("/proc/../proc/x")
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(OutputPathError, match="not a directory"):
        check_out(f / "sub")
    with pytest.raises(OutputPathError, match="is a directory"):
        check_out(real, kind="file")
    assert check_out(tmp_path / "new" / "deeper") == tmp_path / "new" / "deeper"
    assert not (tmp_path / "new").exists()  # the check creates nothing
    # the commands refuse before the work; the message names --out, not a temporary path
    g = tmp_path / "g.edgelist"
    _g6(g)
    for args in (
        ["form", str(g), "--out", str(link), *FAST],
        ["simulate", str(tmp_path / "missing.toml"), "--out", "/proc/self/x"],
        ["churn", str(g), "--trace", "random", "--strategy", "none", "--out", "/proc/x"],
        ["shard", "report", "--out", str(link)],
    ):
        r = runner.invoke(app, args)
        assert r.exit_code == 2, (args, r.output)
        if "simulate" not in args:
            assert "--out" in r.output and ".tmp" not in r.output, r.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "g.edgelist", "link", "real"]


def test_unwritable_out_is_refused_before_the_work(tmp_path: Path, monkeypatch) -> None:
    """The probe: a parent where nothing can be created (read-only file system, permissions;
    root ignores permissions, so the failure is injected here) is refused naming --out."""
    import tempfile

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkdtemp", refuse)
    with pytest.raises(OutputPathError, match=r"^--out .*o cannot be written \(Permission denied"):
        check_out(tmp_path / "o")
    if os.geteuid() != 0:  # a real read-only directory where permissions apply
        monkeypatch.undo()
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o555)
        with pytest.raises(OutputPathError, match="cannot be written"):
            check_out(ro / "o")


_HOLD = """
import sys, time
from ssdfl._atomic import atomic_dir, atomic_write
with atomic_dir(sys.argv[1]) as d:
    with atomic_write(sys.argv[2]) as fh:
        fh.write("half")
        (d / "half.csv").write_text("1")
        print("ready", flush=True)
        time.sleep(600)
"""


def test_kill9_leftovers_are_swept_by_the_next_run(tmp_path: Path) -> None:
    out, lone = tmp_path / "out", tmp_path / "avg.txt"
    proc = subprocess.Popen([sys.executable, "-c", _HOLD, str(out), str(lone)],
                            stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    names = sorted(p.name for p in tmp_path.iterdir())
    assert len(names) == 2 and all(n.startswith((".out.", ".avg.txt.ssdfl-")) for n in names)
    assert sweep_stale(out) == [] and sweep_stale(lone) == []  # alive: its locks are held
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert len(list(tmp_path.iterdir())) == 2  # the kernel ran no cleanup
    with atomic_dir(out) as d:  # the next run on the same --out
        (d / "x").write_text("1")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".avg.txt." + n.split(".avg.txt.")[1] for n in names if "avg" in n
    ] + ["out"]
    with atomic_write(lone) as fh:  # a lone file's next writer: swept by sweep_stale
        fh.write("whole")
    assert sweep_stale(lone) and sorted(p.name for p in tmp_path.iterdir()) == ["avg.txt", "out"]


def test_kill9_of_a_real_command_then_a_new_run(tmp_path: Path) -> None:
    """kill -9 of `ssdfl simulate` mid-run, then a new run on the same --out: no temporaries."""
    cfg = tmp_path / "c.toml"
    cfg.write_text('name = "k"\n[base]\ncycles = 400\nn_devices = 30\n'
                   '[grid]\nmethod = ["ssdfl"]\nseed = [0, 1, 2, 3]\n')  # fmt: skip
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    cmd = [sys.executable, "-c", "from ssdfl.cli import main; main()"]
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    proc = subprocess.Popen([*cmd, "simulate", str(cfg), "--out", str(out), "--serial"],
                            env=env, **quiet)  # fmt: skip
    deadline = time.time() + 120

    def tmp_seen() -> bool:
        return any(p.name.startswith(".out.") for p in tmp_path.iterdir())

    while time.time() < deadline and not tmp_seen():
        time.sleep(0.1)
    time.sleep(0.5)
    proc.kill()
    proc.wait(timeout=30)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.")], "no temporary seen"
    cfg.write_text('name = "k"\n[base]\ncycles = 2\nn_devices = 10\n[grid]\nmethod = ["ssdfl"]\n')
    r = subprocess.run([*cmd, "--quiet", "simulate", str(cfg), "--out", str(out), "--serial"],
                       env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.toml", "out"]
