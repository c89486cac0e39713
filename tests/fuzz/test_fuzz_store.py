"""Fuzz the aggregation store formats: truncated, corrupted or oversized client ``.npy``
objects, checksum objects and exact partial sums (``.xps``) must give a clear
:class:`ssdfl.errors.SsdflError` — never a wrong average, never another exception type.

The reference is the in-memory exact FedAvg of the uncorrupted updates (an independent path:
no store, no checksums). A mutation that happens to leave the bytes unchanged (e.g. "truncate"
to the full length) must give exactly that result.

Run briefly in CI (the ``ci`` hypothesis profile); at length with
``HYPOTHESIS_PROFILE=fuzz pytest tests/fuzz/test_fuzz_store.py`` (2,000 examples each).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ssdfl.aggregation import fedavg
from ssdfl.aggregation.executors import Executor, InlineExecutor
from ssdfl.aggregation.functions import FunctionJob, FunctionReport
from ssdfl.aggregation.pipeline import aggregate_store, upload_clients
from ssdfl.aggregation.store import LocalStore, get_array
from ssdfl.errors import SsdflError

settings.register_profile(
    "fuzz", max_examples=2000, deadline=None, suppress_health_check=list(HealthCheck)
)

# A mutation: ("truncate", fraction) | ("flip", [(fraction, xor byte)]) | ("append", bytes)
mutations = st.one_of(
    st.tuples(st.just("truncate"), st.floats(0, 1)),
    st.tuples(
        st.just("flip"),
        st.lists(st.tuples(st.floats(0, 1), st.integers(1, 255)), min_size=1, max_size=4),
    ),
    st.tuples(st.just("append"), st.binary(min_size=1, max_size=64)),
)


def _mutate(path: Path, mutation: tuple) -> bytes:
    data = bytearray(path.read_bytes())
    kind, arg = mutation
    if kind == "truncate":
        data = data[: int(arg * len(data))]
    elif kind == "flip":
        for frac, x in arg:
            if data:
                data[min(int(frac * len(data)), len(data) - 1)] ^= x
    else:
        data += arg
    path.write_bytes(bytes(data))
    return bytes(data)


def _clients(seed: int, n: int, p: int, dtype: str) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(p).astype(dtype) for _ in range(n)]


def _check(run, expected: np.ndarray, st_: LocalStore) -> None:
    try:
        run()
    except SsdflError as exc:
        assert str(exc).strip(), "an error must say what is wrong"
        assert not st_.exists("out.npy"), "nothing may be published after an error"
        return
    got = get_array(st_, "out.npy")
    assert got.tobytes() == expected.tobytes(), "a corrupted input changed the average"


@given(
    seed=st.integers(0, 2**16),
    p=st.integers(1, 3000),
    dtype=st.sampled_from(["float32", "float64"]),
    target=st.sampled_from(["object", "checksum"]),
    victim=st.integers(0, 2),
    mutation=mutations,
    strategy=st.sampled_from(["flat", "sharded", "tree"]),
)
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_corrupted_client_objects_never_give_a_wrong_average(
    tmp_path_factory, seed, p, dtype, target, victim, mutation, strategy
) -> None:
    root = tmp_path_factory.mktemp("st")
    st_ = LocalStore(root)
    xs = _clients(seed, 3, p, dtype)
    keys = upload_clients(st_, xs, "r")
    key = keys[victim] + (".b2" if target == "checksum" else "")
    _mutate(root / key, mutation)

    def run() -> None:
        aggregate_store(
            st_, keys, "out.npy", strategy=strategy, shards=3, fan_in=2,
            executor=InlineExecutor(), block=700,
        )  # fmt: skip

    _check(run, fedavg(xs), st_)


class _CorruptAfterLevel0(Executor):
    """Runs functions inline and then corrupts the first output of the first level (an exact
    partial sum of the tree) — a fault between a leaf's PUT and its parent's GET."""

    def __init__(self, root: Path, mutation: tuple, which: int) -> None:
        self.root, self.mutation, self.which, self.level = root, mutation, which, 0

    def run(self, jobs: Sequence[FunctionJob]) -> list[FunctionReport]:
        reps = InlineExecutor().run(jobs)
        if self.level == 0:
            _mutate(self.root / jobs[min(self.which, len(jobs) - 1)].output_key, self.mutation)
        self.level += 1
        return reps


@given(
    seed=st.integers(0, 2**16),
    p=st.integers(1, 3000),
    dtype=st.sampled_from(["float32", "float64"]),
    which=st.integers(0, 3),
    mutation=mutations,
)
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_corrupted_partial_sums_never_give_a_wrong_average(
    tmp_path_factory, seed, p, dtype, which, mutation
) -> None:
    root = tmp_path_factory.mktemp("st")
    st_ = LocalStore(root)
    xs = _clients(seed, 5, p, dtype)
    keys = upload_clients(st_, xs, "r")
    ex = _CorruptAfterLevel0(root, mutation, which)
    _check(
        lambda: aggregate_store(
            st_, keys, "out.npy", strategy="tree", fan_in=2, executor=ex, block=700
        ),
        fedavg(xs),
        st_,
    )


def test_seed_regressions(tmp_path) -> None:
    """Cases kept from the audit: a one-byte flip in a partial sum's body (accepted silently
    before checksums, 8,292 of 20,000 files) and a client object corrupted at equal size."""
    st_ = LocalStore(tmp_path)
    xs = _clients(7, 5, 1000, "float32")
    keys = upload_clients(st_, xs, "r")
    for frac in (0.5, 0.9, 0.999):
        ex = _CorruptAfterLevel0(tmp_path, ("flip", [(frac, 1)]), 0)
        try:
            aggregate_store(st_, keys, "out.npy", strategy="tree", fan_in=2, executor=ex)
        except SsdflError as exc:
            assert "checksum" in str(exc)
        else:  # pragma: no cover - would be the old bug
            raise AssertionError("corrupted partial sum accepted")
    path = tmp_path / keys[1]
    size = path.stat().st_size
    _mutate(path, ("flip", [(0.75, 0x40)]))
    assert path.stat().st_size == size
    try:
        aggregate_store(st_, keys, "out.npy", executor=InlineExecutor())
    except SsdflError as exc:
        assert "client_00001" in str(exc) and "checksum" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("client corrupted at equal size accepted")
    assert not st_.exists("out.npy")
