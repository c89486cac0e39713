"""Aggregation throughput and memory benchmark (GradsSharding).

1. Throughput (GB/s of client data averaged) of ssdfl's exact FedAvg — flat, sharded (M = 4, 16),
   λ-FL tree — against a plain numpy mean over the stacked client arrays (``stack.mean(0)``,
   float32 accumulation, not exact) and numpy's float64-accumulated mean, side by side in one
   process, at 100 MB – 1 GB of client data (N = 10 float32 clients; the clients are row views of
   one stacked array so the baseline pays no extra copy; peak RAM ≈ 1.2 × total).
2. Memory: the store pipeline with each function in its own capped process (local directory
   store); measured peak RSS (VmHWM) vs :func:`ssdfl.aggregation.memory.predict_job_mb`, and the
   tree failing under a cap that the sharded design fits.

Usage: ``python benchmarks/bench_aggregation.py [--sizes-mb 100 500 1000] [--repeats 3]``
Prints Markdown tables (pasted into docs/performance.md).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np
from tqdm import tqdm

from ssdfl.aggregation import fedavg
from ssdfl.aggregation.executors import LocalProcessExecutor
from ssdfl.aggregation.memory import predict_job_mb
from ssdfl.aggregation.pipeline import AggregationError, aggregate_store, plan_jobs, upload_clients
from ssdfl.aggregation.store import LocalStore


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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes-mb", type=float, nargs="+", default=[100, 500, 1000])
    ap.add_argument("--clients", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--memory-client-mb", type=float, default=64)
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--skip-throughput", action="store_true")
    ap.add_argument(
        "--plot",
        default="docs/img/gradssharding_measured_memory.png",
        help="PNG of measured vs predicted peaks ('' to skip)",
    )
    args = ap.parse_args()
    if not args.skip_throughput:
        throughput(args.sizes_mb, args.clients, args.repeats)
    if not args.skip_memory:
        memory_table(args.memory_client_mb, 4, 4, plot=args.plot or None)


if __name__ == "__main__":
    main()
