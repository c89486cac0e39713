"""Simulator benchmarks (run by hand: ``python benchmarks/bench_simulator.py``).

1. Vectorized engine vs a naive per-device Python loop, N = 1000 devices, d = 1000, sparse
   graph (random 4-regular), mixed SGD / prox / momentum devices, separable quadratic losses:
   time per round of both, the ratio, and the full 1000-round run of SSD-FL and sDFL.
   The naive loop's models are checked equal to the engine's after its rounds.
2. A sweep of ``--runs`` small runs (digits, N = 20, 30 cycles) on a dask LocalCluster with
   1 and with 2 worker processes: wall times and speed-up.
Also prints the load average: other processes on the machine inflate every number.
"""

from __future__ import annotations

import argparse
import time

import networkx as nx
import numpy as np

from ssdfl import Graph, mixing_matrix
from ssdfl.experiments.grid import expand_grid, sweep
from ssdfl.simulate import SDFL, SSDFL, SeparableQuadratic, cluster_mixing, simulate
from ssdfl.simulate.clusters import random_connected_partition
from ssdfl.theory.optimizers import random_population


def naive_rounds(model, pop, W_intra, W_inter, X0, eta, tau_a, tau_r, rounds):
    """Per-device Python loop of the SSD-FL schedule (same math as the engine)."""
    n, d = X0.shape
    X = [X0[i].copy() for i in range(n)]
    V = [np.zeros(d) for _ in range(n)]
    nbr_a = [(W_intra.indices[W_intra.indptr[i]:W_intra.indptr[i + 1]],
              W_intra.data[W_intra.indptr[i]:W_intra.indptr[i + 1]]) for i in range(n)]  # fmt: skip
    nbr_r = [(W_inter.indices[W_inter.indptr[i]:W_inter.indptr[i + 1]],
              W_inter.data[W_inter.indptr[i]:W_inter.indptr[i + 1]]) for i in range(n)]  # fmt: skip
    opts = pop.optimizers
    t = 0
    while t < rounds:
        A = [x.copy() for x in X]
        for r in range(tau_a + tau_r):
            if t == rounds:
                break
            intra = r < tau_a
            new = []
            for i in range(n):
                idx, w = (nbr_a if intra else nbr_r)[i]
                y = np.zeros(d)
                for j, wij in zip(idx, w):
                    y += wij * X[j]
                if intra:
                    g = model.a[i] * (X[i] - model.b[i])
                    o = opts[i]
                    if o.kind == "prox":
                        g = g + o.mu * (X[i] - A[i])
                    elif o.kind == "momentum":
                        g = g + o.rho * V[i]
                        V[i] = g
                    y -= eta * g
                new.append(y)
            X = new
            t += 1
    return np.stack(X)


def bench_engine(n: int, d: int, rounds: int, naive_rounds_n: int) -> None:
    rng = np.random.default_rng(0)
    G = Graph.from_networkx(nx.random_regular_graph(4, n, seed=1))
    model = SeparableQuadratic.random(n, d, rng)
    pop = random_population(n, rng)
    lab = random_connected_partition(G, max(1, n // 100), 0)
    tau_a, tau_r = 5, 1
    cycles = rounds // (tau_a + tau_r)
    kw = dict(optimizers=pop, tau_a=tau_a, tau_r=tau_r, eta=0.05, eval_every=10**9,
              device_metrics=False, progress=False)  # fmt: skip
    print(f"## Engine: N={n}, d={d}, random 4-regular graph, {n // 100} clusters, mixed optimizers")
    per_round = {}
    for backend in ("rust", "numpy"):
        t0, c0 = time.perf_counter(), time.process_time()
        res = simulate(model, G, SSDFL(clusters=lab), cycles=cycles, backend=backend, **kw)
        t, cpu = time.perf_counter() - t0, time.process_time() - c0
        r = res.final["rounds"]
        per_round[backend] = t / r
        print(
            f"SSD-FL, {backend:5s} backend: {r} rounds in {t:.2f} s wall, {cpu:.2f} s CPU "
            f"({1e3 * t / r:.2f} ms/round)"
        )
    t0 = time.perf_counter()
    simulate(model, G, SDFL(), cycles=rounds // tau_a, **kw)
    t_sd = time.perf_counter() - t0
    print(
        f"sDFL,   rust  backend: {rounds} rounds in {t_sd:.2f} s "
        f"({1e3 * t_sd / rounds:.2f} ms/round)"
    )
    # naive per-device loop on the first rounds, checked against the engine
    cyc = max(1, naive_rounds_n // (tau_a + tau_r))
    nr = cyc * (tau_a + tau_r)
    ref = simulate(model, G, SSDFL(clusters=lab), cycles=cyc, **kw)
    Wa, Wr = cluster_mixing(G, lab), mixing_matrix(G)
    t0 = time.perf_counter()
    Xn = naive_rounds(model, pop, Wa, Wr, np.zeros((n, d)), 0.05, tau_a, tau_r, nr)
    t_naive = (time.perf_counter() - t0) / nr
    err = float(np.abs(Xn - ref.X).max())
    print(
        f"naive per-device Python loop: {1e3 * t_naive:.1f} ms/round ({nr} rounds; "
        f"max |ΔX| vs engine = {err:.1e})"
    )
    for backend, t in per_round.items():
        print(f"ratio naive / vectorized ({backend}): {t_naive / t:.1f}x")


def bench_sweep(runs: int) -> None:
    seeds = max(1, runs // 4)
    grid = {"method": ["ssdfl", "sdfl", "pdfl", "stc"], "seed": list(range(seeds))}
    base = {"dataset": "digits", "split": "3-label", "n_devices": 20, "cycles": 30,
            "graph": "ws", "optimizers": "mixed", "eta": 0.03, "n_clusters": 2,
            "eval_every": 10, "device_metrics": False}  # fmt: skip
    specs = expand_grid(grid, base)
    print(f"\n## Sweep: {len(specs)} runs (digits, N=20, 30 cycles each), LocalCluster processes")
    times = {}
    for workers in (1, 2):
        t0 = time.perf_counter()
        df = sweep(specs, n_workers=workers, threads_per_worker=1, processes=True, progress=False)
        times[workers] = time.perf_counter() - t0
        busy = df.groupby("run")["run_seconds"].first().sum()
        print(f"{workers} worker(s): {times[workers]:.2f} s wall, {busy:.2f} s inside runs")
    print(f"speed-up 2 vs 1 workers: {times[1] / times[2]:.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--d", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=1000)
    ap.add_argument("--naive-rounds", type=int, default=12)
    ap.add_argument("--runs", type=int, default=120)
    ap.add_argument("--no-sweep", action="store_true")
    ap.add_argument("--small-d", type=int, default=10, help="second engine run: N × small d")
    a = ap.parse_args()
    import os

    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    bench_engine(a.n, a.d, a.rounds, a.naive_rounds)
    if a.small_d:
        print()
        bench_engine(a.n, a.small_d, a.rounds, 60)
    if not a.no_sweep:
        bench_sweep(a.runs)
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
