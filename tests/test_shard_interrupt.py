"""Ctrl-C and kill -9 during a real ``ssdfl shard run`` (issue 11 item 5): a subprocess with the
local store and the process executor, interrupted while its function processes run.

SIGINT: exit 130, nothing of the run left in the store (client copies, checksums, temporaries,
lock), no result file, no process of the run left alive, and a later run on the same store
gives the exact average. SIGKILL: the function processes die with it, and the next run sweeps
the dead run's temporary store directory.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

psutil = pytest.importorskip("psutil")

CLI = [sys.executable, "-c", "from ssdfl.cli import main; main()"]
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux signals")


def _clients(d: Path, n: int, size: int, seed: int) -> tuple[list[Path], np.ndarray]:
    """``n`` float32 client files whose values are multiples of 2^-10 below 2^10 in magnitude:
    their sum is exact in float64, so ``sum / n`` (n a power of two) is the exact average."""
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    files, total = [], np.zeros(size, np.float64)
    for i in range(n):
        x = (rng.integers(-(2**20), 2**20, size) / 1024.0).astype(np.float32)
        total += x
        files.append(d / f"c{i}.npy")
        np.save(files[-1], x)
    return files, (total / n).astype(np.float32)


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """4 clients × 8 Mi float32 (32 MiB each): the functions run for about a second or more."""
    files, _ = _clients(tmp_path_factory.mktemp("big"), 4, 8 << 20, seed=1)
    return files


def _descendants(proc: psutil.Process) -> list[psutil.Process]:
    try:
        return proc.children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _start_and_wait_for_functions(
    args: list[str], env: dict | None = None, timeout: float = 120.0
) -> tuple[subprocess.Popen, dict[int, float], int]:
    """Start ``ssdfl shard run`` in its own process group and return once a function process
    (a grandchild: forked by the forkserver) is alive: the run, every descendant seen so far
    (pid → create time) and that function's pid."""
    p = subprocess.Popen(CLI + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True, env=env)  # fmt: skip
    me = psutil.Process(p.pid)
    seen: dict[int, float] = {}
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if p.poll() is not None:
            _out, err = p.communicate()
            pytest.fail(f"run ended (status {p.returncode}) before its functions ran: {err}")
        desc = _descendants(me)
        for c in desc:
            try:
                seen[c.pid] = c.create_time()
            except psutil.NoSuchProcess:
                continue
        pids = {c.pid for c in desc}
        for c in desc:
            try:
                if c.ppid() in pids:  # a function process (child of the forkserver)
                    return p, seen, c.pid
            except psutil.NoSuchProcess:
                continue
        time.sleep(0.01)
    p.kill()
    pytest.fail("no function process started in time")


def _alive(seen: dict[int, float]) -> list[int]:
    """The processes in ``seen`` (pid → create time) still alive (not zombies) after 10 s."""
    deadline = time.monotonic() + 10.0
    while True:
        alive = []
        for pid, ct in seen.items():
            try:
                q = psutil.Process(pid)
                if q.create_time() == ct and q.status() != psutil.STATUS_ZOMBIE:
                    alive.append(pid)
            except psutil.NoSuchProcess:
                continue
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.05)


def _files(d: Path) -> list[str]:
    return sorted(str(p.relative_to(d)) for p in d.rglob("*")) if d.exists() else []


def _run_ok(args: list[str], env: dict | None = None) -> subprocess.CompletedProcess:
    r = subprocess.run(CLI + args, capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stderr
    return r


@pytest.mark.slow
@pytest.mark.parametrize("to", ["group", "process"])
def test_sigint_mid_run_leaves_nothing(big: list[Path], tmp_path: Path, to: str) -> None:
    store, res = tmp_path / "store", tmp_path / "res"
    store.mkdir()  # --store names an existing directory
    res.mkdir()
    args = ["shard", "run", *map(str, big), "--out", str(res / "avg.npy"), "--store", str(store),
            "--executor", "local", "--workers", "2", "--quiet"]  # fmt: skip
    p, seen, _fn = _start_and_wait_for_functions(args)
    # Ctrl-C at a terminal signals the whole foreground group; `kill -INT` only the process
    if to == "group":
        os.killpg(p.pid, signal.SIGINT)
    else:
        p.send_signal(signal.SIGINT)
    _out, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert _files(store) == []  # no client copies, checksums, temporaries or lock
    assert _files(res) == []  # no result, no temporary beside it
    assert _alive(seen) == []  # forkserver, resource tracker, functions: all gone
    # a later run on the same store succeeds and is exact
    files, want = _clients(tmp_path / "small", 4, 3000, seed=2)
    _run_ok(["shard", "run", *map(str, files), "--out", str(res / "avg.npy"), "--store",
             str(store), "--quiet"])  # fmt: skip
    assert np.load(res / "avg.npy").tobytes() == want.tobytes()
    assert _files(store) == []


def test_sigint_to_one_function_process_is_left_to_the_caller(
    big: list[Path], tmp_path: Path
) -> None:
    """A function process ignores SIGINT (the caller ends its functions on Ctrl-C): a signal
    that reaches only a function neither fails the round nor prints a child's traceback."""
    files, want = _clients(tmp_path / "c", 4, 2 << 20, seed=4)
    store, out = tmp_path / "store", tmp_path / "avg.npy"
    store.mkdir()
    args = ["shard", "run", *map(str, files), "--out", str(out), "--store", str(store),
            "--executor", "local", "--workers", "1", "--shards", "8", "--quiet"]  # fmt: skip
    p, _seen, fn = _start_and_wait_for_functions(args)
    os.kill(fn, signal.SIGINT)
    _out, err = p.communicate(timeout=120)
    assert p.returncode == 0, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert np.load(out).tobytes() == want.tobytes()
    assert _files(store) == []


def _long_dir(base: Path) -> Path:
    """A new directory under ``base`` whose path is longer than any AF_UNIX socket path."""
    d = base / ("t" * max(8, 120 - len(os.fsencode(str(base)))))
    d.mkdir()
    assert len(os.fsencode(str(d))) > 108
    return d


def test_shard_run_with_a_long_tmpdir_uses_a_short_socket_dir(tmp_path: Path) -> None:
    """``shard run`` with a TMPDIR too long for the forkserver's socket (AF_UNIX: 108 bytes)
    succeeds with the exact average, its socket directory under a short temporary directory
    (removed at exit), and its temporary store still under TMPDIR (swept: nothing left)."""
    from ssdfl.aggregation._forkserver import SHORT_TEMP_DIRS

    tmp = _long_dir(tmp_path)
    env = {**os.environ, "TMPDIR": str(tmp)}
    files, want = _clients(tmp_path / "c", 4, 3000, seed=6)
    out = tmp_path / "avg.npy"
    short = next(Path(d) for d in SHORT_TEMP_DIRS if os.access(d, os.W_OK | os.X_OK))
    r = _run_ok(["shard", "run", *map(str, files), "--out", str(out), "--executor", "local",
                 "--workers", "1", "--quiet"], env=env)  # fmt: skip
    assert "AF_UNIX" not in r.stderr
    assert np.load(out).tobytes() == want.tobytes()
    assert list(tmp.iterdir()) == []  # the temporary store was removed
    code = ("import os, tempfile; from ssdfl.aggregation._forkserver import use_short_socket_dir;"
            "d = use_short_socket_dir(); print(d);"
            "from multiprocessing import util; assert util.get_temp_dir() == d")  # fmt: skip
    probe = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                           text=True, timeout=120)  # fmt: skip
    assert probe.returncode == 0, probe.stderr
    chosen = Path(probe.stdout.strip())
    assert chosen.parent == short and len(os.fsencode(str(chosen))) + 18 <= 100
    assert not chosen.exists()  # removed at exit, as multiprocessing removes its own


def test_kill9_temp_store_is_swept_by_the_next_run(tmp_path: Path) -> None:
    """The default store is a temporary directory; after kill -9 it is left behind (the kernel
    runs no cleanup), the function processes die with the run (PR_SET_PDEATHSIG after the
    forkserver exits), and the next run removes the dead run's directory. TMPDIR is made longer
    than an AF_UNIX socket path may be, whatever the outer TMPDIR: the run picks a short
    directory for the forkserver's socket itself."""
    tmp = _long_dir(tmp_path)
    env = {**os.environ, "TMPDIR": str(tmp)}
    res = tmp_path / "res"
    res.mkdir()
    big, _ = _clients(tmp_path / "c", 4, 2 << 20, seed=5)
    args = ["shard", "run", *map(str, big), "--out", str(res / "avg.npy"), "--executor", "local",
            "--workers", "1", "--shards", "8", "--quiet"]  # fmt: skip
    p, seen, _fn = _start_and_wait_for_functions(args, env=env)
    p.kill()
    p.communicate(timeout=60)
    assert p.returncode == -signal.SIGKILL
    assert _alive(seen) == []  # no function outlives the killed run
    leaked = [d for d in tmp.iterdir() if d.name.startswith("ssdfl-shard-")]
    assert len(leaked) == 1 and any(leaked[0].rglob("*.npy"))
    assert _files(res) == []
    files, want = _clients(tmp_path / "small", 4, 3000, seed=3)
    _run_ok(["shard", "run", *map(str, files), "--out", str(res / "avg.npy"), "--quiet"], env=env)
    assert np.load(res / "avg.npy").tobytes() == want.tobytes()
    assert not [d for d in tmp.iterdir() if d.name.startswith("ssdfl-shard-")]
