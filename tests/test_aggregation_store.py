"""Object stores, executors and the store pipeline (local dir, moto S3 server, Dask)."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys

import numpy as np
import pytest

from ssdfl.aggregation import fedavg
from ssdfl.aggregation.executors import (
    DaskExecutor,
    InlineExecutor,
    LocalProcessExecutor,
)
from ssdfl.aggregation.functions import peak_rss_mb
from ssdfl.aggregation.memory import predict_job_mb
from ssdfl.aggregation.pipeline import (
    AggregationError,
    aggregate_store,
    plan_jobs,
    upload_clients,
)
from ssdfl.aggregation.store import (
    LocalStore,
    MissingObjectError,
    ObjectExistsError,
    S3Store,
    TruncatedObjectError,
    get_array,
    npy_info,
    put_array,
)
from ssdfl.aggregation.strategies import shard_bounds
from ssdfl.errors import SsdflError


def _clients(n: int, p: int, dtype=np.float32, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal(p) * 10.0 ** rng.integers(-3, 3)).astype(dtype) for _ in range(n)]


def test_local_store_roundtrip_ranges_and_keys(tmp_path) -> None:
    st = LocalStore(tmp_path)
    a = np.arange(10, dtype=np.float64)
    put_array(st, "x/a.npy", a)
    assert np.array_equal(np.load(tmp_path / "x/a.npy"), a)  # a real .npy file
    info = npy_info(st, "x/a.npy")
    assert info.shape == (10,) and info.dtype == np.float64
    assert st.get_range("x/a.npy", info.offset + 8, 8) == a[1:2].tobytes()
    assert st.list("x/") == ["x/a.npy", "x/a.npy.b2"]  # the object and its checksum
    with pytest.raises(SsdflError):
        st.put("../evil", b"1")
    with pytest.raises(MissingObjectError, match=r"nope\.npy"):
        npy_info(st, "nope.npy")
    with pytest.raises(TruncatedObjectError, match=r"a\.npy"):
        st.get_range("x/a.npy", info.offset, 1000)


def test_atomic_put_leaves_old_object_on_failure(tmp_path) -> None:
    st = LocalStore(tmp_path)
    st.put("k", b"old")

    def parts():
        yield b"new-partial"
        raise RuntimeError("client crashed mid-upload")

    with pytest.raises(RuntimeError):
        st.put_parts("k", parts())
    assert st.get("k") == b"old"
    assert st.list() == ["k"]  # no temporary left visible


@pytest.mark.parametrize("strategy", ["flat", "sharded", "tree"])
def test_pipeline_local_bit_identical(tmp_path, strategy) -> None:
    st = LocalStore(tmp_path)
    xs = _clients(5, 10_007)
    w = [3, 1, 4, 1, 5]
    keys = upload_clients(st, xs, "r")
    rep = aggregate_store(
        st, keys, "out/avg.npy", w, strategy=strategy, shards=3, fan_in=2,
        executor=InlineExecutor(), block=1000,
    )  # fmt: skip
    assert all(r.ok for r in rep.functions)
    res = get_array(st, "out/avg.npy")
    assert res.tobytes() == fedavg(xs, w).tobytes()
    objs = [*keys, "out/avg.npy"]
    assert sorted(st.list()) == sorted([*objs, *(k + ".b2" for k in objs)])  # no temporaries
    n_fn = {"flat": 1, "sharded": 3, "tree": 3 + 2 + 1}[strategy]  # fan-in 2: 5 → 3 → 2 → 1
    assert len(rep.functions) == n_fn
    if strategy == "sharded":  # each shard reads its slice of every client exactly once
        # ... widened to whole checksum chunks of CHUNK elements (verified before use)
        from ssdfl.aggregation.store import CHUNK

        p = 10_007
        cover = sum(
            min(-(-b // CHUNK) * CHUNK, p) - a // CHUNK * CHUNK for a, b in shard_bounds(p, 3)
        )
        assert sum(r.bytes_read for r in rep.functions) == 5 * cover * 4


def test_missing_and_truncated_client_named_nothing_published(tmp_path) -> None:
    st = LocalStore(tmp_path)
    keys = upload_clients(st, _clients(3, 1000), "r")
    with pytest.raises(MissingObjectError, match="client_gone"):
        aggregate_store(st, [*keys, "r/client_gone.npy"], "out.npy", executor=InlineExecutor())
    path = tmp_path / keys[1]
    path.write_bytes(path.read_bytes()[:-7])
    with pytest.raises(TruncatedObjectError, match="client_00001"):
        aggregate_store(st, keys, "out.npy", executor=InlineExecutor())
    assert not st.exists("out.npy")


def test_library_pipeline_bounds_the_shard_count_by_the_elements(tmp_path) -> None:
    """Each shard is one function: ``aggregate_store`` refuses more shards than elements (as
    ``ssdfl shard run`` does) before any function runs, and a bool or 0 shard count; at the
    limit (one element per shard) the sum is still FedAvg's, bit for bit."""
    st = LocalStore(tmp_path)
    xs = _clients(3, 7)
    keys = upload_clients(st, xs, "r")
    for bad, rule in [(8, "at most one shard per element"), (10**9, "shards <= 7"),
                      (0, "integer >= 1"), (True, "integer >= 1")]:  # fmt: skip
        with pytest.raises(SsdflError, match=rule):
            aggregate_store(st, keys, "out.npy", shards=bad, executor=InlineExecutor())
        assert not st.exists("out.npy")
    aggregate_store(st, keys, "out.npy", shards=7, executor=InlineExecutor())
    assert np.array_equal(get_array(st, "out.npy"), fedavg(xs, strategy="flat"))


def test_nonfinite_client_fails_round_without_publishing(tmp_path) -> None:
    st = LocalStore(tmp_path)
    xs = _clients(3, 500)
    xs[2][17] = np.inf
    keys = upload_clients(st, xs, "r", names=["a", "b", "carol"])
    with pytest.raises(AggregationError, match=r"client_carol.npy.*inf at flat element 17"):
        aggregate_store(st, keys, "out.npy", strategy="sharded", executor=InlineExecutor())
    assert not st.exists("out.npy") and st.list("out") == []


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def s3_endpoint(monkeypatch_module=None):
    moto_server = pytest.importorskip("moto.server")
    import os

    for k, v in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        os.environ.setdefault(k, v)
    port = _free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def test_s3_store_against_moto_server(s3_endpoint) -> None:
    import boto3

    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").create_bucket(
        Bucket="fl-test"
    )
    st = S3Store("fl-test", "exp1", endpoint_url=s3_endpoint, region_name="us-east-1")
    xs = _clients(4, 3001, np.float64, seed=5)
    w = [1.0, 2.0, 0.5, 0.25]
    keys = upload_clients(st, xs, "round_0")
    assert st.list("round_0/") == sorted([*keys, *(k + ".b2" for k in keys)])  # + checksums
    with pytest.raises(ObjectExistsError):  # exclusive upload (S3 conditional PUT)
        upload_clients(st, xs[:1], "round_0")
    for strategy in ("sharded", "tree"):
        aggregate_store(
            st, keys, f"agg/{strategy}.npy", w, strategy=strategy, shards=4,
            executor=InlineExecutor(), block=700,
        )  # fmt: skip
        assert get_array(st, f"agg/{strategy}.npy").tobytes() == fedavg(xs, w).tobytes()
    assert not [k for k in st.list() if ".tmp-" in k]
    # a truncated client object is named, and nothing is published
    body = st.get(keys[2])
    st.put(keys[2], body[:-3])
    with pytest.raises(TruncatedObjectError, match=r"s3://fl-test/exp1/round_0/client_00002.npy"):
        aggregate_store(st, keys, "agg/bad.npy", executor=InlineExecutor())
    with pytest.raises(MissingObjectError, match=r"s3://fl-test/exp1/none\.npy"):
        npy_info(st, "none.npy")
    assert not st.exists("agg/bad.npy")


def test_dask_executor_small_cluster(tmp_path) -> None:
    st = LocalStore(tmp_path)
    xs = _clients(3, 2000)
    keys = upload_clients(st, xs, "r")
    with DaskExecutor(n_workers=1, threads_per_worker=2, processes=False) as ex:
        aggregate_store(st, keys, "o.npy", strategy="sharded", shards=3, executor=ex)
    assert get_array(st, "o.npy").tobytes() == fedavg(xs).tobytes()
    # an existing scheduler, by address
    from dask.distributed import LocalCluster

    with LocalCluster(n_workers=1, processes=False, dashboard_address=None) as cluster:
        with DaskExecutor(cluster.scheduler_address) as ex:
            aggregate_store(st, keys, "t.npy", strategy="tree", fan_in=2, executor=ex)
    assert get_array(st, "t.npy").tobytes() == fedavg(xs).tobytes()


def test_memory_cap_tree_fails_sharding_succeeds(tmp_path) -> None:
    """Under one hard memory cap (RLIMIT_DATA + RLIMIT_AS), sharded functions (output S/M)
    fit while a tree leaf (an exact full-length partial sum, ≈ 2·S here) does not; measured
    peaks stay near predictions."""
    st = LocalStore(tmp_path)
    p = 3_000_000  # 12 MB per float32 client
    xs = _clients(4, p, seed=2)
    keys = upload_clients(st, xs, "r")
    probe = LocalProcessExecutor(max_workers=1)
    base = aggregate_store(st, keys, "probe.npy", strategy="flat", executor=probe)
    runtime = base.functions[0].baseline_rss_mb
    cap = runtime + 16  # shards need ~3 MB + 4 MB buffers; a leaf needs ~24 MB of partials
    ex = LocalProcessExecutor(max_workers=2, memory_limit_mb=cap)
    rep = aggregate_store(st, keys, "sharded.npy", strategy="sharded", shards=4, executor=ex)
    assert get_array(st, "sharded.npy").tobytes() == fedavg(xs).tobytes()
    levels, *_ = plan_jobs(
        st, keys, None, strategy="sharded", shards=4, fan_in=None, tree="lambda-fl",
        per_layer_sizes=None, tmp="t", block=1 << 18,
    )  # fmt: skip
    for job, r in zip(levels[0], rep.functions):
        pred = predict_job_mb(job, r.baseline_rss_mb).total_mb
        assert r.peak_rss_mb <= pred + 8, (r.peak_rss_mb, pred)
        assert r.peak_rss_mb <= cap
    with pytest.raises(AggregationError, match="memory cap exceeded"):
        aggregate_store(st, keys, "tree.npy", strategy="tree", fan_in=2, executor=ex)
    assert not st.exists("tree.npy")
    # the same tree runs without the cap
    aggregate_store(st, keys, "tree.npy", strategy="tree", fan_in=2, executor=InlineExecutor())
    assert get_array(st, "tree.npy").tobytes() == fedavg(xs).tobytes()
    assert peak_rss_mb() > 0


_GROW = """
import numpy as np
from ssdfl.aggregation.functions import _rss_mb, apply_memory_cap
rss0 = apply_memory_cap(_rss_mb() + 12)  # a 12 MiB budget
keep = []
try:
    for _ in range(40):
        keep.append(np.ones(1 << 18).tobytes())  # 2 MiB each, resident
except MemoryError:
    pass
print(len(keep) * 2, _rss_mb() - rss0)
"""


def test_memory_cap_bounds_resident_growth() -> None:
    """The regression: under RLIMIT_AS alone, 2 MiB blocks came from a thread arena's reserved
    address space and a 12 MiB budget let 70 MiB become resident. Now the allocations stop
    within the budget — a ``MemoryError`` from the data limit, or the resident-size watchdog's
    SIGKILL — never 40 blocks."""
    out = subprocess.run([sys.executable, "-c", _GROW], capture_output=True, text=True, timeout=120)
    if out.returncode == -signal.SIGKILL:  # the watchdog: resident memory passed the cap
        assert "memory cap exceeded" in out.stderr
        return
    assert out.returncode == 0, out.stderr
    allocated, grown = map(float, out.stdout.split())
    assert 4 <= allocated <= 12, out.stdout
    assert grown <= 12 + 4, out.stdout


_HOLD = """
import os, threading, time
import numpy as np
from ssdfl.aggregation.functions import _rss_mb, apply_memory_cap
rss0 = apply_memory_cap(_rss_mb() + 12)
# grow resident memory in another thread (its own malloc arena), the case rlimits miss
def grow():
    global keep
    keep = [np.ones(1 << 17) for _ in range(30)]  # 30 MiB, 1 MiB at a time
t = threading.Thread(target=grow); t.start(); t.join()
time.sleep(0.2)
print("survived", _rss_mb() - rss0)
"""


def test_memory_cap_kills_past_the_cap_in_any_thread() -> None:
    """Resident growth past the cap from a non-main thread is stopped: the watchdog's SIGKILL,
    or a MemoryError in that thread with the process still within the budget. The old cap
    (RLIMIT_AS alone) let it survive 30 MiB over a 12 MiB budget (64.9 MiB resident)."""
    out = subprocess.run([sys.executable, "-c", _HOLD], capture_output=True, text=True, timeout=120)
    if out.returncode == -signal.SIGKILL:
        assert "memory cap exceeded" in out.stderr
        return
    assert out.returncode == 0 and "MemoryError" in out.stderr, (out.stdout, out.stderr)
    assert float(out.stdout.split()[1]) <= 12 + 4, out.stdout


def test_measure_bandwidth_and_feed_the_model(tmp_path) -> None:
    from ssdfl.aggregation.cost import load_pricing, sharded_cost
    from ssdfl.aggregation.store import measure_bandwidth

    st = LocalStore(tmp_path)
    bw = measure_bandwidth(st, mb=4)
    assert bw > 1.0  # MiB/s; a local disk/page cache reads far faster than this
    assert st.list() == []  # probe removed
    slow = sharded_cost(512.0, 20, 4, load_pricing(read_mb_s=45.0))
    fast = sharded_cost(512.0, 20, 4, load_pricing(read_mb_s=bw))
    # latency scales inversely with the read rate (plus the fixed write term)
    assert fast.latency_s - 128 / 60 == pytest.approx((slow.latency_s - 128 / 60) * 45.0 / bw)


def test_store_and_executor_registries(tmp_path) -> None:
    """Stores by URL scheme and executors by name come from one registry each: a store or
    executor registered here is what open_store / get_executor return, and the built-in
    names stay taken."""
    from ssdfl.aggregation import executors, store
    from ssdfl.errors import SsdflError

    made: list[str] = []

    def mem_store(rest: str, **kw):
        made.append(rest)
        return store.LocalStore(tmp_path / rest)

    store.register_store("memtest", mem_store)
    try:
        st = store.open_store("memtest://abc")
        assert isinstance(st, store.LocalStore) and made == ["abc"]
        assert isinstance(store.open_store(tmp_path / "plain"), store.LocalStore)
        with pytest.raises(SsdflError, match="already registered"):
            store.register_store("s3", mem_store)
    finally:
        store.STORES.pop("memtest")
    assert set(executors.EXECUTORS) >= {"local", "inline", "dask"}
    assert isinstance(executors.get_executor("inline"), executors.InlineExecutor)
    with pytest.raises(SsdflError, match="'local', 'inline', 'dask'"):
        executors.get_executor("nope")
