"""Integrity of the aggregation store (issue 11, items 3–4): checksums, duplicate keys and
names, exclusive uploads, typed kernel errors, cleanup on interrupt."""

from __future__ import annotations

import fcntl
import os

import numpy as np
import pytest

from ssdfl import _core
from ssdfl.aggregation import fedavg
from ssdfl.aggregation.executors import Executor, InlineExecutor
from ssdfl.aggregation.pipeline import aggregate_store, upload_clients
from ssdfl.aggregation.reduce import (
    NonFiniteUpdateError,
    PartialSumError,
    WeightError,
    plan_weights,
    reduce_final,
    reduce_partial,
)
from ssdfl.aggregation.store import (
    IntegrityError,
    LocalStore,
    ObjectExistsError,
    add_checksum,
    get_array,
    npy_header,
)
from ssdfl.errors import SsdflError


def _clients(n: int, p: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(p).astype(np.float32) for _ in range(n)]


def test_client_corrupted_at_equal_size_is_refused(tmp_path) -> None:
    st = LocalStore(tmp_path)
    keys = upload_clients(st, _clients(3, 200_000), "r")
    path = tmp_path / keys[2]
    data = bytearray(path.read_bytes())
    data[-5] ^= 0x01  # one bit of the last element: same size, still a valid .npy
    path.write_bytes(bytes(data))
    for strategy in ("flat", "sharded", "tree"):
        with pytest.raises(SsdflError, match=r"IntegrityError.*client_00002\.npy.*checksum"):
            aggregate_store(st, keys, "o.npy", strategy=strategy, executor=InlineExecutor())
    assert not st.exists("o.npy")


def test_replaced_client_and_missing_checksum_are_refused(tmp_path) -> None:
    st = LocalStore(tmp_path)
    xs = _clients(2, 100)
    keys = upload_clients(st, xs, "r")
    (tmp_path / keys[0]).write_bytes(npy_header(np.float32, (101,)) + b"\0" * 404)
    with pytest.raises(SsdflError, match="checksum records"):
        aggregate_store(st, keys, "o.npy", executor=InlineExecutor())
    os.unlink(tmp_path / (keys[1] + ".b2"))
    with pytest.raises(IntegrityError, match="no checksum"):
        get_array(st, keys[1])
    add_checksum(st, keys[1])  # seal an object uploaded by another tool
    assert np.array_equal(get_array(st, keys[1]), xs[1])


def test_same_key_twice_is_refused(tmp_path) -> None:
    st = LocalStore(tmp_path)
    keys = upload_clients(st, _clients(2, 50), "r")
    with pytest.raises(SsdflError, match="listed twice"):
        aggregate_store(st, [keys[0], keys[1], keys[0]], "o.npy", executor=InlineExecutor())


def test_two_clients_under_one_name_lose_nothing(tmp_path) -> None:
    st = LocalStore(tmp_path)
    a, b = _clients(2, 64)
    with pytest.raises(SsdflError, match="both named 'x'"):
        upload_clients(st, [a, b], "r", names=["x", "x"])
    assert st.list() == []
    (ka,) = upload_clients(st, [a], "r", names=["x"])
    with pytest.raises(ObjectExistsError, match=r"client_x\.npy"):
        upload_clients(st, [b], "r", names=["x"])  # a second uploader with the same name
    assert np.array_equal(get_array(st, ka), a)  # the first update is intact


def test_s3_exclusive_put(monkeypatch) -> None:
    pytest.importorskip("boto3")
    moto_server = pytest.importorskip("moto.server")
    import socket

    from ssdfl.aggregation.store import S3Store

    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(k, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        _s3_exclusive(S3Store("fl-excl", "p", endpoint_url=f"http://127.0.0.1:{port}"))
    finally:
        server.stop()


def _s3_exclusive(st) -> None:
    st.client.create_bucket(Bucket="fl-excl")
    st.put("k", b"one", exclusive=True)
    with pytest.raises(ObjectExistsError):
        st.put("k", b"two", exclusive=True)
    assert st.get("k") == b"one"


def test_kernel_errors_are_typed() -> None:
    xs = [np.ones(300, np.float32), np.ones(300, np.float32)]
    xs[1][257] = np.inf
    with pytest.raises(_core.ExactSumError) as ei:
        _core.exact_reduce_f32(xs, np.ones(2), [], 300)
    e = ei.value
    assert (e.kind, e.client, e.element, e.value) == ("non_finite", 1, 257, float("inf"))
    with pytest.raises(NonFiniteUpdateError) as ei2:
        reduce_partial(xs, np.ones(2), [], 300, np.dtype(np.float32), names=["a", "b"], offset=10)
    assert (ei2.value.client, ei2.value.element) == ("b", 267)
    bad = np.frombuffer(b"\x00\x00\x63\x00", np.uint8)  # window beyond the accumulator
    with pytest.raises(PartialSumError) as ei3:
        reduce_final([], np.empty(0), [bad], plan_weights([1.0], 1), np.empty(1, np.float32))
    assert (ei3.value.which, ei3.value.fault) == (0, "window_out_of_range")
    with pytest.raises(_core.ExactSumError) as ei4:
        _core.exact_reduce_f64([np.ones(1)], np.array([3.0]), [], 1)
    assert (ei4.value.kind, ei4.value.index, ei4.value.value) == ("weight", 0, 3.0)
    with pytest.raises(WeightError):
        reduce_final([np.ones(1)], np.array([3.0]), [], plan_weights([1.0], 1), np.empty(1))


class _Interrupted(Executor):
    """Runs the first level, leaves a half-written temporary behind, then 'gets Ctrl-C'."""

    def __init__(self, root) -> None:
        self.root = root

    def run(self, jobs):
        InlineExecutor().run(jobs)
        d = (self.root / jobs[0].output_key).parent
        (d / ".shard_0001.npy.abc.tmp").write_bytes(b"half")  # a killed writer's temp file
        raise KeyboardInterrupt


def test_interrupt_removes_every_temporary(tmp_path) -> None:
    st = LocalStore(tmp_path)
    keys = upload_clients(st, _clients(3, 1000), "r")
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    with pytest.raises(KeyboardInterrupt):
        aggregate_store(
            st, keys, "o.npy", strategy="tree", fan_in=2, executor=_Interrupted(tmp_path)
        )
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_local_executor_ends_its_processes_on_interrupt(tmp_path, monkeypatch) -> None:
    import multiprocessing.connection as mpc
    from multiprocessing import process

    from ssdfl.aggregation.executors import LocalProcessExecutor

    st = LocalStore(tmp_path)
    keys = upload_clients(st, _clients(4, 1000), "r")
    started = []
    orig_start = process.BaseProcess.start

    def start(self):
        orig_start(self)
        started.append(self)

    def recv(self):  # Ctrl-C arrives while the parent waits for the first function
        raise KeyboardInterrupt

    monkeypatch.setattr(process.BaseProcess, "start", start)
    monkeypatch.setattr(mpc.Connection, "recv", recv)
    with pytest.raises(KeyboardInterrupt):
        aggregate_store(
            st, keys, "o.npy", strategy="sharded", shards=4,
            executor=LocalProcessExecutor(max_workers=4),
        )  # fmt: skip
    monkeypatch.undo()
    assert len(started) == 4 and all(not p.is_alive() for p in started)
    assert not st.exists("o.npy") and not list(tmp_path.glob("o.npy.tmp-*"))


def test_result_of_store_pipeline_is_verified_and_equal(tmp_path) -> None:
    st = LocalStore(tmp_path)
    xs = _clients(4, 70_001)
    keys = upload_clients(st, xs, "r")
    aggregate_store(st, keys, "o.npy", strategy="sharded", shards=3, executor=InlineExecutor())
    assert get_array(st, "o.npy").tobytes() == fedavg(xs).tobytes()


def test_stale_temp_dirs_of_dead_runs_are_swept(tmp_path) -> None:
    from ssdfl.cli.shard import _sweep_stale

    dead = tmp_path / "ssdfl-shard-dead"
    dead.mkdir()
    (dead / ".lock").touch()
    (dead / "big").write_bytes(b"x" * 1000)
    live = tmp_path / "ssdfl-shard-live"
    live.mkdir()
    fd = os.open(live / ".lock", os.O_CREAT | os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        removed = _sweep_stale(tmp_path, "ssdfl-shard-")
        assert removed == [dead]
        assert not dead.exists() and live.exists()
    finally:
        os.close(fd)
