"""One serverless aggregation function: read inputs from a store, reduce exactly, write one object.

A :class:`FunctionJob` handles the flat element range ``[start, end)``. Its inputs are raw client
updates (``.npy``, weighted) and/or exact partial sums written by other functions (tree levels).
It streams its range in blocks of ``block`` elements (one ranged GET per input and block), keeps
its whole *output* in memory and PUTs it once at the end — as a Lambda function would — so its
peak memory is ``output + inputs × block × itemsize + runtime`` (:mod:`ssdfl.aggregation.memory`).

Partial-sum objects (``.xps``): ``b"SSDFLXP1"``, a little-endian ``u64`` header length, a JSON
header ``{dtype, start, end, block, sizes}`` and the concatenated window-encoded exact sums of
each block (format in ``rust/ssdfl-core/src/exactsum.rs``).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import resource
import struct
import time
import traceback
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from ssdfl.aggregation.reduce import check_dtype, reduce_final, reduce_partial
from ssdfl.aggregation.store import NpyInfo, ObjectStore, npy_header, npy_info
from ssdfl.errors import SsdflError

MAGIC = b"SSDFLXP1"
MiB = 1 << 20


class MemoryCapError(SsdflError):
    """The function exceeded (or could not even start under) its memory cap."""


@dataclass(frozen=True)
class InputRef:
    """An input of a function: a raw ``.npy`` client update (with its scaled weight) or an
    exact partial-sum object."""

    key: str
    kind: Literal["raw", "partial"] = "raw"
    weight: float = 1.0
    name: str = ""


@dataclass
class FunctionJob:
    """Everything one aggregation function needs (picklable; events carry keys, not data)."""

    name: str
    store: ObjectStore
    inputs: list[InputRef]
    start: int
    end: int
    dtype: str
    output_key: str
    mode: Literal["final", "partial"]
    k: int = 0
    w_prime: float = 1.0
    block: int = 1 << 18
    memory_limit_mb: float | None = None


@dataclass
class FunctionReport:
    """Outcome and measurements of one function run."""

    name: str
    ok: bool
    seconds: float = 0.0
    bytes_read: int = 0
    bytes_written: int = 0
    peak_rss_mb: float = 0.0
    baseline_rss_mb: float = 0.0
    output_bytes: int = 0
    error: str = ""
    extra: dict = field(default_factory=dict)


def _rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / MiB


def peak_rss_mb() -> float:
    """High-water resident set of this process image (``VmHWM``; unlike ``ru_maxrss`` it is
    not inherited from the parent across fork+exec)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # pragma: no cover


def _vm_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def apply_memory_cap(limit_mb: float) -> float:
    """Cap this process so that ``limit_mb`` MiB is its total memory, the way a serverless
    function's configured memory is: ``RLIMIT_AS = current address space + (limit − current
    RSS)``, i.e. the runtime already resident counts against the cap and every further
    allocation (numpy, Rust) must fit in the rest. glibc is limited to two malloc arenas so
    thread arenas do not reserve address space. Returns the runtime RSS (MiB)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").mallopt(-8, 2)  # M_ARENA_MAX
    # warm up the Rust thread pool (stacks, malloc arenas of its threads) so it is part of the
    # runtime: a final reduction and a partial one (which allocates in the worker threads)
    warm = [np.linspace(-1, 1, 1 << 15, dtype=np.float32)] * 2
    reduce_final(warm, np.ones(2), [], _warm_plan(), np.empty(1 << 15, np.float32))
    reduce_partial(warm, np.ones(2), [], 1 << 15, np.dtype(np.float32))
    rss = _rss_mb()
    budget = limit_mb - rss
    if budget <= 0:
        raise MemoryCapError(
            f"the runtime alone uses {rss:.0f} MiB, above the {limit_mb:.0f} MiB cap"
        )
    cap = _vm_bytes() + int(budget * MiB)
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    return rss


def _warm_plan():
    from ssdfl.aggregation.reduce import plan_weights

    return plan_weights([1.0, 1.0], 2)


def _read_partial_header(store: ObjectStore, key: str) -> tuple[dict, int]:
    total = store.size(key)
    head = store.get_range(key, 0, min(16, total))
    if len(head) < 16 or head[:8] != MAGIC:
        raise SsdflError(f"object {store.url(key)} is not an ssdfl partial sum")
    (hlen,) = struct.unpack("<Q", head[8:16])
    meta = json.loads(store.get_range(key, 16, hlen))
    base = 16 + hlen
    if total != base + sum(meta["sizes"]):
        raise SsdflError(f"partial sum {store.url(key)} is truncated")
    return meta, base


def run_function(job: FunctionJob) -> FunctionReport:
    """Run one function; never raises (errors are reported), so executors can collect them."""
    rep = FunctionReport(job.name, ok=False, baseline_rss_mb=_rss_mb())
    t0 = time.perf_counter()
    try:
        if job.memory_limit_mb is not None:
            rep.baseline_rss_mb = apply_memory_cap(job.memory_limit_mb)
        _execute(job, rep)
        rep.ok = True
    except MemoryError:
        rep.error = (
            f"memory cap exceeded: {job.memory_limit_mb} MiB is too small for function "
            f"{job.name} (MemoryError)"
        )
    except MemoryCapError as exc:
        rep.error = str(exc)
    except Exception as exc:
        rep.error = f"{type(exc).__name__}: {exc}"
        rep.extra["traceback"] = traceback.format_exc(limit=5)
    rep.seconds = time.perf_counter() - t0
    rep.peak_rss_mb = peak_rss_mb()
    return rep


def _execute(job: FunctionJob, rep: FunctionReport) -> None:
    store = job.store
    dt = check_dtype(job.dtype)
    isz = dt.itemsize
    raw = [r for r in job.inputs if r.kind == "raw"]
    parts = [r for r in job.inputs if r.kind == "partial"]
    infos: list[NpyInfo] = [npy_info(store, r.key) for r in raw]
    n_total = job.end - job.start
    for r, inf in zip(raw, infos):
        if inf.dtype != dt or inf.size < job.end:
            raise SsdflError(
                f"client object {store.url(r.key)} has {inf.size} {inf.dtype} elements; "
                f"expected ≥ {job.end} {dt}"
            )
    pmeta = []
    for p in parts:
        meta, base = _read_partial_header(store, p.key)
        if (meta["start"], meta["end"], meta["block"], meta["dtype"]) != (
            job.start,
            job.end,
            job.block,
            dt.name,
        ):
            raise SsdflError(f"partial sum {store.url(p.key)} does not match job {job.name}")
        offs = np.concatenate([[0], np.cumsum(meta["sizes"])]).astype(np.int64) + base
        pmeta.append(offs)
    weights = np.array([r.weight for r in raw], dtype=np.float64)
    names = [r.name or r.key for r in raw]
    bufs = [np.empty(min(job.block, max(n_total, 1)), dtype=dt) for _ in raw]
    final = job.mode == "final"
    out = np.empty(n_total, dtype=dt) if final else None
    encoded: list[bytes] = []
    if final:
        from ssdfl.aggregation.reduce import WeightPlan

        plan = WeightPlan(weights, job.k, job.w_prime)
    for b, lo in enumerate(range(job.start, job.end, job.block)):
        hi = min(job.end, lo + job.block)
        m = hi - lo
        views = []
        for buf, inf in zip(bufs, infos):
            v = buf[:m]
            store.get_range_into(inf.key, inf.offset + lo * isz, memoryview(v).cast("B"))
            rep.bytes_read += m * isz
            views.append(v)
        pbytes = []
        for p, offs in zip(parts, pmeta):
            s, e = int(offs[b]), int(offs[b + 1])
            pbytes.append(np.frombuffer(store.get_range(p.key, s, e - s), dtype=np.uint8))
            rep.bytes_read += e - s
        if final:
            assert out is not None
            reduce_final(
                views,
                weights,
                pbytes,
                plan,
                out[lo - job.start : hi - job.start],
                names=names,
                offset=lo,
            )
        else:
            enc = reduce_partial(views, weights, pbytes, m, dt, names=names, offset=lo)
            encoded.append(enc.tobytes())
            del enc
    if final:
        assert out is not None
        rep.output_bytes = out.nbytes
        rep.bytes_written = store.put_parts(
            job.output_key, [npy_header(dt, out.shape), memoryview(out).cast("B")]
        )
    else:
        meta = {
            "dtype": dt.name,
            "start": job.start,
            "end": job.end,
            "block": job.block,
            "sizes": [len(e) for e in encoded],
        }
        hdr = json.dumps(meta).encode()
        rep.output_bytes = sum(len(e) for e in encoded)
        rep.bytes_written = store.put_parts(
            job.output_key, [MAGIC, struct.pack("<Q", len(hdr)), hdr, *encoded]
        )
    rep.extra["elements"] = n_total
