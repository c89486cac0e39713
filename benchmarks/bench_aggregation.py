"""Aggregation throughput and memory benchmark (GradsSharding).

1. Throughput (GB/s of client data averaged) of ssdfl's exact FedAvg — flat, sharded (M = 4, 16),
   λ-FL tree — against a plain numpy mean over the stacked client arrays (``stack.mean(0)``,
   float32 accumulation, not exact) and numpy's float64-accumulated mean, side by side in one
   process, at 100 MB – 1 GB of client data (N = 10 float32 clients; the clients are row views of
   one stacked array so the baseline pays no extra copy; peak RAM ≈ 1.2 × total).
2. Memory: the store pipeline with each function in its own capped process (local directory
   store); measured peak RSS (VmHWM) vs :func:`ssdfl.aggregation.memory.predict_job_mb`, and the
   tree failing under a cap that the sharded design fits.
3. Checksum cost (``--checksums``): XXH3-128 (the store's digest), BLAKE3-128 and BLAKE2b-128
   (the old format's) per 65,536-element chunk (the ``.b2`` objects), on one core and on the
   rayon pool; client writes and whole-object reads with vs without hashing, and the
   end-to-end store round (upload + sharded aggregation on the in-process executor + read
   back) with vs without hashing, beside numpy's float32 mean of the same data. "Without" runs
   the same code with XXH3 replaced by a no-op (the checksum objects are still written).

Usage: ``python benchmarks/bench_aggregation.py [--sizes-mb 100 500 1000] [--repeats 3]``
``python benchmarks/bench_aggregation.py --checksums --skip-throughput --skip-memory``
Prints Markdown tables (pasted into docs/performance.md).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from tqdm import tqdm

import ssdfl.aggregation.store as store_mod
from ssdfl.aggregation import fedavg
from ssdfl.aggregation.executors import InlineExecutor, LocalProcessExecutor
from ssdfl.aggregation.memory import predict_job_mb
from ssdfl.aggregation.pipeline import AggregationError, aggregate_store, plan_jobs, upload_clients
from ssdfl.aggregation.store import (
    ALGOS,
    CHUNK,
    DIGEST_ALGO,
    LocalStore,
    get_array,
    put_array,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import best_of_cpu


def best_of(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def throughput(sizes_mb: list[float], n: int, repeats: int) -> None:
    print(
        f"\n### Throughput (N = {n} float32 clients, best of {repeats}, "
        f"{os.cpu_count()} CPUs, load avg {os.getloadavg()[0]:.1f})\n"
    )
    print(
        "| client data | numpy mean (f32) | numpy mean (f64 acc) | flat | sharded M=4 | "
        "sharded M=16 | tree λ-FL | time sharded M=4 / numpy f32 |"
    )
    print("|---|---|---|---|---|---|---|---|")
    rng = np.random.default_rng(0)
    for mb in tqdm(sizes_mb, desc="sizes", leave=False):
        p = int(mb * 1e6 / 4 / n)
        stack = rng.standard_normal((n, p), dtype=np.float32)
        print(one_size(stack, repeats))
        del stack


def one_size(stack: np.ndarray, repeats: int) -> str:
    """One table row: the clients are the rows of ``stack`` (views, no copies)."""
    clients = list(stack)
    gb = stack.nbytes / 1e9
    res = {
        "np32": best_of(lambda: stack.mean(axis=0), repeats),
        "np64": best_of(lambda: stack.mean(axis=0, dtype=np.float64).astype(np.float32), repeats),
        "flat": best_of(lambda: fedavg(clients, strategy="flat"), repeats),
        "s4": best_of(lambda: fedavg(clients, strategy="sharded", shards=4), repeats),
        "s16": best_of(lambda: fedavg(clients, strategy="sharded", shards=16), repeats),
        "tree": best_of(lambda: fedavg(clients, strategy="tree"), 1),
    }
    a = fedavg(clients, strategy="sharded", shards=4)
    assert a.tobytes() == fedavg(clients, strategy="tree").tobytes()
    keys = ("np32", "np64", "flat", "s4", "s16", "tree")
    cells = " | ".join(f"{gb / res[k]:.2f} GB/s" for k in keys)
    return f"| {gb * 1000:.0f} MB | {cells} | {res['s4'] / res['np32']:.2f}× |"


def memory_table(client_mb: float, n: int, shards: int, plot: str | None = None) -> None:
    p = int(client_mb * 2**20 / 4)
    rng = np.random.default_rng(1)
    xs = [rng.standard_normal(p, dtype=np.float32) for _ in range(n)]
    with tempfile.TemporaryDirectory() as d:
        st = LocalStore(d)
        keys = upload_clients(st, xs, "r")
        del xs
        probe = aggregate_store(
            st, keys, "p.npy", strategy="sharded", shards=64, executor=LocalProcessExecutor(1)
        )
        runtime = probe.functions[0].baseline_rss_mb
        cap = runtime + 1.5 * client_mb / shards + 8
        print(
            f"\n### Peak memory per function (N = {n}, {client_mb:.0f} MiB float32 per "
            f"client, M = {shards}, runtime {runtime:.0f} MiB, cap {cap:.0f} MiB)\n"
        )
        print(
            "| design | function | cap | ok | predicted MiB | measured peak MiB | "
            "measured − predicted |"
        )
        print("|---|---|---|---|---|---|---|")
        rows: list[dict] = []
        for strategy, kw in (("sharded", {"shards": shards}), ("tree", {"tree": "lambda-fl"})):
            levels, *_ = plan_jobs(
                st,
                keys,
                None,
                strategy=strategy,
                shards=shards,
                fan_in=None,
                tree="lambda-fl",
                per_layer_sizes=None,
                tmp="t",
                block=1 << 18,
            )
            jobs = {j.name: j for lv in levels for j in lv}
            for capped in (None, cap):
                ex = LocalProcessExecutor(2, memory_limit_mb=capped)
                try:
                    rep = aggregate_store(
                        st, keys, f"{strategy}.npy", strategy=strategy, executor=ex, **kw
                    )
                    fns = rep.functions
                except AggregationError as exc:
                    rows.append(
                        {
                            "name": f"{strategy} @cap",
                            "predicted_mb": 0.0,
                            "measured_mb": 0.0,
                            "ok": False,
                        }
                    )
                    print(f"| {strategy} | — | {capped:.0f} | **failed** | | | {str(exc)[:90]}… |")
                    continue
                for r in fns[:3] + fns[-1:] if len(fns) > 4 else fns:
                    pred = predict_job_mb(jobs[r.name], r.baseline_rss_mb).total_mb
                    tag = f"{strategy}:{r.name}" + ("" if capped is None else " @cap")
                    rows.append(
                        {
                            "name": tag,
                            "predicted_mb": pred,
                            "measured_mb": r.peak_rss_mb,
                            "ok": r.ok,
                        }
                    )
                    c = "none" if capped is None else f"{capped:.0f}"
                    print(
                        f"| {strategy} | {r.name} | {c} | {'yes' if r.ok else 'no'} | "
                        f"{pred:.0f} | {r.peak_rss_mb:.0f} | {r.peak_rss_mb - pred:+.0f} |"
                    )

        if plot:
            from ssdfl.aggregation.plots import plot_measured_memory

            print(f"\nwrote {plot_measured_memory(plot, rows)}")


class _NoHash:
    """Stands in for a digest algorithm of the store: same calls, no hashing (zero digests)."""

    def one(self, data: object) -> bytes:
        return bytes(16)

    def chunks(self, data: object, chunk_bytes: int) -> bytes:
        n = len(memoryview(data).cast("B"))  # type: ignore[arg-type]
        return bytes(16 * -(-n // chunk_bytes))


class _Timed:
    """Wraps a digest algorithm and adds up the wall time spent in it."""

    def __init__(self, impl: object) -> None:
        self.impl, self.seconds = impl, 0.0

    def one(self, data: object) -> bytes:
        t = time.perf_counter()
        try:
            return self.impl.one(data)  # type: ignore[attr-defined]
        finally:
            self.seconds += time.perf_counter() - t

    def chunks(self, data: object, chunk_bytes: int) -> bytes:
        t = time.perf_counter()
        try:
            return self.impl.chunks(data, chunk_bytes)  # type: ignore[attr-defined]
        finally:
            self.seconds += time.perf_counter() - t


@contextlib.contextmanager
def no_hashing() -> Iterator[None]:
    """Run the store code with the digest (XXH3-128) disabled: zero digests are written and
    verified against, so every other step (sidecars, comparisons) still runs."""
    real = store_mod.ALGOS[DIGEST_ALGO]
    store_mod.ALGOS[DIGEST_ALGO] = _NoHash()
    try:
        yield
    finally:
        store_mod.ALGOS[DIGEST_ALGO] = real


def checksum_cost(total_mb: float, n: int, shards: int, repeats: int) -> None:
    """Throughput of the checksums and their share of an end-to-end store round."""
    load = os.getloadavg()
    with open("/proc/uptime") as fh:
        up = float(fh.read().split()[0])
    p = int(total_mb * 1e6 / 4 / n)
    stack = np.random.default_rng(2).standard_normal((n, p), dtype=np.float32)
    clients = list(stack)
    gb = stack.nbytes / 1e9
    print(
        f"\n### Checksum cost (N = {n} float32 clients, {gb * 1000:.0f} MB in all, M = {shards}, "
        f"local directory store in {tempfile.gettempdir()}, best of {repeats}; "
        f"{os.cpu_count()} CPUs, load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}, "
        f"up {up / 60:.0f} min)\n"
    )
    print("| step | with XXH3: wall (CPU) | without: wall (CPU) | with / without (wall) | "
          "time in digests |")  # fmt: skip
    print("|---|---|---|---|---|")
    buf = memoryview(stack).cast("B")
    cb = CHUNK * 4
    for algo in ("xxh3-128", "blake3-128", "blake2b-128"):
        impl = ALGOS[algo]

        def one_core(impl=impl) -> None:  # type: ignore[no-untyped-def]
            for i in range(0, len(buf), cb):
                impl.one(buf[i : i + cb])

        w, c, _ = best_of_cpu(one_core, repeats)
        print(f"| {algo} per {CHUNK}-element chunk, one core | {gb / w:.2f} GB/s "
              f"({gb / c:.2f} GB/s CPU) | — | — | — |")  # fmt: skip
        if algo != "blake2b-128":
            w, c, _ = best_of_cpu(lambda impl=impl: impl.chunks(buf, cb), repeats)
            print(f"| {algo} per chunk, rayon pool (`_core.chunk_digests`) | {gb / w:.2f} GB/s "
                  f"({gb / c:.2f} GB/s CPU) | — | — | — |")  # fmt: skip
    w, c, _ = best_of_cpu(lambda: stack.mean(axis=0), repeats)
    print(
        f"| numpy float32 mean (`stack.mean(0)`) | {gb / w:.2f} GB/s ({gb / c:.2f}) | — | — | — |"
    )

    def compare(name: str, with_fn, without_fn, without_ctx) -> None:  # type: ignore[no-untyped-def]
        """Interleaved runs (with, without, with, …) so load drifts hit both alike; the
        digest share is the wall time spent inside the digest calls over the step's wall
        time (median over the runs): a direct attribution, robust to load."""
        real = ALGOS[DIGEST_ALGO]
        w1 = c1 = w0 = c0 = float("inf")
        shares = []
        with_fn()
        with without_ctx():
            without_fn()
        for _ in range(repeats):
            timed = _Timed(real)
            ALGOS[DIGEST_ALGO] = timed
            try:
                w, c, _ = best_of_cpu(with_fn, 1, warmup=False)
            finally:
                ALGOS[DIGEST_ALGO] = real
            w1, c1 = min(w1, w), min(c1, c)
            shares.append(timed.seconds / w)
            with without_ctx():
                w, c, _ = best_of_cpu(without_fn, 1, warmup=False)
            w0, c0 = min(w0, w), min(c0, c)
        share = float(np.median(shares))
        print(f"| {name} | {gb / w1:.2f} GB/s ({gb / c1:.2f}) | {gb / w0:.2f} GB/s "
              f"({gb / c0:.2f}) | {w1 / w0:.2f}× | {100 * share:.1f} % |")  # fmt: skip

    with tempfile.TemporaryDirectory() as d:
        st = LocalStore(d)
        counter = iter(range(10**9))

        def write() -> None:
            k = next(counter)
            for i, x in enumerate(clients):
                put_array(st, f"w{k}/c{i}.npy", x)
            st.delete_prefix(f"w{k}/")

        compare("write clients (`put_array`: file + fsync + `.b2`)", write, write, no_hashing)
        keys = upload_clients(st, clients, "read")
        # read: verified against the real checksums vs the plain read
        compare(
            "read clients back (`get_array`, verified vs `verify=False`)",
            lambda: [get_array(st, k) for k in keys],
            lambda: [get_array(st, k, verify=False) for k in keys],
            contextlib.nullcontext,
        )
        st.delete_prefix("read/")
        want = fedavg(clients, strategy="sharded", shards=shards)

        def round_trip() -> None:
            k = next(counter)
            ks = upload_clients(st, clients, f"e{k}")
            aggregate_store(st, ks, f"e{k}/avg.npy", strategy="sharded", shards=shards,
                            executor=InlineExecutor())  # fmt: skip
            got = get_array(st, f"e{k}/avg.npy")
            st.delete_prefix(f"e{k}/")
            assert got.tobytes() == want.tobytes()

        def aggregate_only(pre: list[str]) -> None:
            k = next(counter)
            aggregate_store(st, pre, f"a{k}.npy", strategy="sharded", shards=shards,
                            executor=InlineExecutor())  # fmt: skip
            st.delete(f"a{k}.npy")
            st.delete(f"a{k}.npy.b2")

        compare(f"end to end: upload + sharded M={shards} + read back", round_trip, round_trip,
                no_hashing)  # fmt: skip
        pre1 = upload_clients(st, clients, "pre1")
        with no_hashing():
            pre0 = upload_clients(st, clients, "pre0")
        compare(f"sharded M={shards} aggregation of stored clients (functions only)",
                lambda: aggregate_only(pre1), lambda: aggregate_only(pre0), no_hashing)  # fmt: skip
        w, c, _ = best_of_cpu(lambda: fedavg(clients, strategy="sharded", shards=shards), repeats)
        print(f"| in-memory `fedavg` sharded M={shards} (no store) | {gb / w:.2f} GB/s "
              f"({gb / c:.2f}) | — | — | — |")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes-mb", type=float, nargs="+", default=[100, 500, 1000])
    ap.add_argument("--clients", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--memory-client-mb", type=float, default=64)
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--skip-throughput", action="store_true")
    ap.add_argument("--checksums", action="store_true", help="run the checksum-cost table")
    ap.add_argument("--checksum-mb", type=float, default=400, help="client data for --checksums")
    ap.add_argument(
        "--plot",
        default="docs/img/gradssharding_measured_memory.png",
        help="PNG of measured vs predicted peaks ('' to skip)",
    )
    args = ap.parse_args()
    if args.checksums:
        checksum_cost(args.checksum_mb, args.clients, 4, args.repeats)
    if not args.skip_throughput:
        throughput(args.sizes_mb, args.clients, args.repeats)
    if not args.skip_memory:
        memory_table(args.memory_client_mb, 4, 4, plot=args.plot or None)


if __name__ == "__main__":
    main()
