"""One serverless aggregation function: read inputs from a store, reduce exactly, write one object.

A :class:`FunctionJob` handles the flat element range ``[start, end)``. Its inputs are raw client
updates (``.npy``, weighted) and/or exact partial sums written by other functions (tree levels).
It streams its range in blocks of ``block`` elements (one ranged GET per input and block), keeps
its whole *output* in memory and PUTs it once at the end — as a Lambda function would — so its
peak memory is ``output + inputs × block × itemsize + runtime`` (:mod:`ssdfl.aggregation.memory`).

Blocks are aligned to multiples of ``block`` in absolute element index, so every function of a
round cuts its range at the same places; raw inputs are read in whole checksum chunks and
verified (:func:`ssdfl.aggregation.store.read_verified`) before the kernel sees them.

Partial-sum objects (``.xps``): ``b"SSDFLXP3"``, a little-endian ``u64`` header length, the
XXH3-128 digest (16 bytes, canonical order) of the header, a JSON header ``{dtype, start, end,
block, sizes, digests}`` and the concatenated window-encoded exact sums of each block (format in
``rust/ssdfl-core/src/exactsum.rs``); ``digests[b]`` is the XXH3-128 of block ``b``'s bytes,
checked when the block is read. Any corrupted byte therefore fails with
:class:`~ssdfl.aggregation.store.IntegrityError` instead of changing the sum. Partial sums are
temporaries of one round, so the previous format ``SSDFLXP2`` (BLAKE2b) is refused with a
message saying so rather than read.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import resource
import signal
import struct
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from ssdfl.aggregation.reduce import (
    WeightPlan,
    check_dtype,
    plan_weights,
    reduce_final,
    reduce_partial,
)
from ssdfl.aggregation.store import (
    IntegrityError,
    NpyInfo,
    ObjectStore,
    covering_range,
    digest,
    npy_info,
    put_array,
    read_verified,
)
from ssdfl.errors import MemoryCapError, SsdflError

MAGIC = b"SSDFLXP3"
#: Magic of the previous partial-sum format (BLAKE2b digests), refused.
OLD_MAGICS = (b"SSDFLXP2",)
#: Largest JSON header of a partial sum accepted (a header is ~40 bytes per block).
MAX_PARTIAL_HEADER = 64 << 20
MiB = 1 << 20


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
    try:
        return _status_kib("VmHWM") / 1024
    except OSError:  # pragma: no cover
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _vm_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def apply_memory_cap(limit_mb: float) -> float:
    """Cap this process so that ``limit_mb`` MiB is its total memory, the way a serverless
    function's configured memory is: the process is killed once its resident memory exceeds
    ``limit_mb`` (a watchdog thread), and ``RLIMIT_DATA = current private writable memory +
    (limit − current RSS)``, ``RLIMIT_AS = current address space + (limit − current RSS)`` make
    most allocations past the cap fail first with ``MemoryError``; the runtime already resident
    counts against the cap and every further allocation (numpy, Rust) must fit in the rest.
    glibc is limited to two malloc arenas. Returns the runtime RSS (MiB)."""
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
    # Resident memory is what a serverless platform caps (a cgroup). The address-space and
    # data limits below fail an allocation cleanly (MemoryError) when it maps new memory, but
    # a glibc thread arena grows its heap with mprotect inside 64 MiB it had reserved, which no
    # rlimit sees: a tree leaf reached 64 MiB resident under a 41 MiB cap (CI under load). A
    # watchdog thread therefore samples the resident size every millisecond and kills the
    # process past the cap, as the platform would (the executor reports "memory cap exceeded").
    _start_rss_watchdog(int(limit_mb * MiB))
    data_cap = _status_kib("VmData") * 1024 + int(budget * MiB)
    resource.setrlimit(resource.RLIMIT_DATA, (data_cap, data_cap))
    cap = _vm_bytes() + int(budget * MiB)
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    return rss


#: Seconds between two samples of the resident size under a memory cap.
RSS_SAMPLE_S = 0.001


def _start_rss_watchdog(limit_bytes: int) -> None:
    """A daemon thread that SIGKILLs this process once its resident size exceeds
    ``limit_bytes`` (sampled every :data:`RSS_SAMPLE_S` s from ``/proc/self/statm``; no
    allocation in the loop). The Rust reductions release the GIL, so it runs during them."""
    page = os.sysconf("SC_PAGE_SIZE")
    fd = os.open("/proc/self/statm", os.O_RDONLY)

    def watch() -> None:
        while True:
            if int(os.pread(fd, 128, 0).split()[1]) * page > limit_bytes:
                os.write(2, b"ssdfl: memory cap exceeded (resident memory above the cap)\n")
                os.kill(os.getpid(), signal.SIGKILL)
            time.sleep(RSS_SAMPLE_S)

    threading.Thread(target=watch, name="ssdfl-rss-cap", daemon=True).start()


def _status_kib(field: str) -> int:
    """A ``kB`` field of ``/proc/self/status`` (e.g. ``VmData``)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise OSError(f"/proc/self/status has no {field}")  # pragma: no cover


def _warm_plan():
    return plan_weights([1.0, 1.0], 2)


def block_ranges(start: int, end: int, block: int) -> list[tuple[int, int]]:
    """``[start, end)`` cut at the multiples of ``block`` (the same cuts in every function)."""
    if block < 1:
        raise SsdflError(f"block must be >= 1, got {block}")
    out, lo = [], start
    while lo < end:
        hi = min(end, (lo // block + 1) * block)
        out.append((lo, hi))
        lo = hi
    return out


def read_buffer_elements(start: int, end: int, block: int, chunk: int | None) -> int:
    """Largest number of elements read at once for one raw input (a block widened to whole
    checksum chunks of ``chunk`` elements)."""
    best = 0
    for lo, hi in block_ranges(start, end, block):
        if chunk:
            lo, hi = lo // chunk * chunk, -(-hi // chunk) * chunk
        best = max(best, hi - lo)
    return best


class _VerifiedWindow:
    """A raw input's read buffer: holds a verified range of whole checksum chunks and serves
    blocks from it, so a chunk is read (and hashed) once even when blocks are smaller."""

    def __init__(self, store: ObjectStore, info: NpyInfo, end: int, cap: int) -> None:
        self.store, self.info, self.end = store, info, end
        self.buf = np.empty(max(cap, 1), dtype=info.dtype)
        self.lo = self.hi = 0
        self.view = self.buf[:0]

    def get(self, lo: int, hi: int) -> tuple[np.ndarray, int]:
        """Elements ``[lo, hi)`` and the bytes read to serve them."""
        nread = 0
        if not (self.lo <= lo and hi <= self.hi):
            c = self.info.checksum.chunk if self.info.checksum else 1
            wlo = lo // c * c
            last = min(-(-self.end // c) * c, self.info.size)
            whi = min(max(-(-hi // c) * c, wlo + len(self.buf) // c * c), last)
            self.view, nread = read_verified(self.store, self.info, wlo, whi, self.buf)
            self.lo, self.hi = wlo, whi
        return self.view[lo - self.lo : hi - self.lo], nread


def _partial_error(store: ObjectStore, key: str, why: str) -> IntegrityError:
    return IntegrityError(f"partial sum {store.url(key)} is corrupted or not a partial sum: {why}")


def read_partial_header(store: ObjectStore, key: str) -> tuple[dict, int]:
    """Validate a partial-sum object's framing and header digest; return ``(header, offset of
    block 0)``. Block digests are checked by :func:`read_partial_block`."""
    total = store.size(key)
    head = store.get_range(key, 0, min(32, total))
    if head[:8] in OLD_MAGICS:
        raise IntegrityError(
            f"partial sum {store.url(key)} has the old format {head[:8].decode()} (BLAKE2b), "
            f"written by an earlier ssdfl; this one reads {MAGIC.decode()} (XXH3). Partial sums "
            "are temporaries of one round: rerun the round"
        )
    if len(head) < 32 or head[:8] != MAGIC:
        raise _partial_error(store, key, "bad magic or too short")
    (hlen,) = struct.unpack("<Q", head[8:16])
    if hlen > min(MAX_PARTIAL_HEADER, total - 32):
        raise _partial_error(store, key, f"header length {hlen} exceeds the object")
    raw = store.get_range(key, 32, hlen)
    if digest(raw) != head[16:32].hex():
        raise _partial_error(store, key, "header fails its checksum")
    try:
        meta = json.loads(raw)
        sizes = [int(x) for x in meta["sizes"]]
        digests = [str(x) for x in meta["digests"]]
        for f in ("start", "end", "block"):
            meta[f] = int(meta[f])
    except (ValueError, KeyError, TypeError) as exc:  # pragma: no cover - digest matched
        raise _partial_error(store, key, f"unreadable header ({exc})") from None
    base = 32 + hlen
    if len(sizes) != len(digests) or any(x < 0 for x in sizes) or total != base + sum(sizes):
        raise _partial_error(store, key, "block sizes do not match the object length")
    meta["sizes"], meta["digests"] = sizes, digests
    return meta, base


def encode_partial(meta: dict, blocks: list[bytes]) -> list[bytes]:
    """The parts of a partial-sum object (header with per-block digests, then the blocks)."""
    m = dict(meta, sizes=[len(b) for b in blocks], digests=[digest(b) for b in blocks])
    hdr = json.dumps(m).encode()
    return [MAGIC, struct.pack("<Q", len(hdr)), bytes.fromhex(digest(hdr)), hdr, *blocks]


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
    raw = [r for r in job.inputs if r.kind == "raw"]
    parts = [r for r in job.inputs if r.kind == "partial"]
    infos: list[NpyInfo] = [npy_info(store, r.key) for r in raw]  # length + header verified
    n_total = job.end - job.start
    for r, inf in zip(raw, infos):
        if inf.dtype != dt or inf.size < job.end:
            raise SsdflError(
                f"client object {store.url(r.key)} has {inf.size} {inf.dtype} elements; "
                f"expected ≥ {job.end} {dt}"
            )
    ranges = block_ranges(job.start, job.end, job.block)
    pmeta = []
    for p in parts:
        meta, base = read_partial_header(store, p.key)
        if (meta["start"], meta["end"], meta["block"], meta.get("dtype")) != (
            job.start,
            job.end,
            job.block,
            dt.name,
        ) or len(meta["sizes"]) != len(ranges):
            raise SsdflError(f"partial sum {store.url(p.key)} does not match job {job.name}")
        offs = np.concatenate([[0], np.cumsum(meta["sizes"])]).astype(np.int64) + base
        pmeta.append((offs, meta["digests"]))
    weights = np.array([r.weight for r in raw], dtype=np.float64)
    names = [r.name or r.key for r in raw]
    chunks = [inf.checksum.chunk if inf.checksum else None for inf in infos]
    windows = [
        _VerifiedWindow(store, inf, job.end, read_buffer_elements(job.start, job.end, job.block, c))
        for inf, c in zip(infos, chunks)
    ]
    final = job.mode == "final"
    out = np.empty(n_total, dtype=dt) if final else None
    encoded: list[bytes] = []
    if final:
        plan = WeightPlan(weights, job.k, job.w_prime)
    for b, (lo, hi) in enumerate(ranges):
        m = hi - lo
        views = []
        for win in windows:
            v, nread = win.get(lo, hi)
            rep.bytes_read += nread
            views.append(v)
        pbytes = []
        for p, (offs, digests) in zip(parts, pmeta):
            s, e = int(offs[b]), int(offs[b + 1])
            data = store.get_range(p.key, s, e - s)
            if digest(data) != digests[b]:
                raise _partial_error(store, p.key, f"block {b} fails its checksum")
            pbytes.append(np.frombuffer(data, dtype=np.uint8))
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
        rep.bytes_written = put_array(store, job.output_key, out)
    else:
        meta = {"dtype": dt.name, "start": job.start, "end": job.end, "block": job.block}
        rep.output_bytes = sum(len(e) for e in encoded)
        rep.bytes_written = store.put_parts(job.output_key, encode_partial(meta, encoded))
    rep.extra["elements"] = n_total


def covering_elements(info: NpyInfo, lo: int, hi: int) -> int:
    """Elements read for ``[lo, hi)`` of ``info`` (whole checksum chunks)."""
    a, b = covering_range(info, lo, hi)
    return b - a
