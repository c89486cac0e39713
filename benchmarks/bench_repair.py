"""Incremental repair vs a full plan when 10 % of the devices change (5 % leave, 5 % join).

    python benchmarks/bench_repair.py [--sizes 100 1000] [--reps 3]

Random geometric graphs (mean degree ≈ 10) with Dirichlet(0.5) label histograms over 10
classes; the old formation is the planner's (no FMMC / schedule / Theorem-2 reports); the timed
full plan runs on the changed graph with the same configuration. Prints one row per size.
"""

from __future__ import annotations

import argparse
import subprocess
import time

import networkx as nx
import numpy as np

import ssdfl
from ssdfl.planner.config import PlanConfig
from ssdfl.planner.plan import plan_formation
from ssdfl.planner.repair import OldFormation, repair_formation
from ssdfl.theory.devices import DeviceTable

CFG = PlanConfig(fastest_mixing=False, schedule=False, theorem2=False)


def rgg(n: int, seed: int) -> nx.Graph:
    r = np.sqrt(10.0 / (np.pi * n))
    G = nx.random_geometric_graph(n, r, seed=seed)
    return G.subgraph(max(nx.connected_components(G), key=len)).copy()


def devices(names: list, hist: dict) -> DeviceTable:
    n = len(names)
    H = np.array([hist[u] for u in names])
    return DeviceTable(optimizer=["sgd"] * n, mu=np.zeros(n), rho=np.zeros(n),
                       lr=np.full(n, np.nan), n_samples=H.sum(axis=1), label_hist=H,
                       classes=[str(k) for k in range(10)], source="bench")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 1000])
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip()  # fmt: skip
    print(f"commit {commit}; load {open('/proc/loadavg').read().split()[:3]}")
    print("| N | old S | full plan (s) | repair (s) | speed-up | repair kB | full kB |")
    print("|---|---|---|---|---|---|---|")
    for n in a.sizes:
        rng = np.random.default_rng(n)
        G = rgg(n, n)
        hist = {u: rng.dirichlet(0.5 * np.ones(10)) * 100 for u in range(10 * n)}
        g = ssdfl.Graph.from_networkx(G)
        plan = plan_formation(g, devices(g.node_names(), hist), CFG)
        old = OldFormation(g.node_names(), plan.clusters, plan.objective)
        k = max(1, round(0.05 * g.n))
        H = G.copy()
        H.remove_nodes_from(rng.choice(list(G), k, replace=False).tolist())
        pos = nx.get_node_attributes(G, "pos")
        nodes = list(H)
        for j in range(k):  # joiners: edges to their 3 nearest present devices
            p = rng.random(2)
            d = [np.hypot(*(np.asarray(pos[u]) - p)) for u in nodes]
            H.add_edges_from((5 * n + j, nodes[i]) for i in np.argsort(d)[:3])
        H = H.subgraph(max(nx.connected_components(H), key=len)).copy()
        h = ssdfl.Graph.from_networkx(H)
        dev = devices(h.node_names(), hist)
        tf, tr = [], []
        for _ in range(a.reps):
            t = time.perf_counter()
            plan_formation(h, dev, CFG)
            tf.append(time.perf_counter() - t)
            t = time.perf_counter()
            res = repair_formation(old, h, dev, CFG, force="repair")
            tr.append(time.perf_counter() - t)
        f, r = float(np.median(tf)), float(np.median(tr))
        print(f"| {h.n} | {plan.S} | {f:.2f} | {r:.3f} | {f / r:.0f}× | "
              f"{res.traffic['bytes'] / 1e3:.0f} | {res.traffic['full_bytes'] / 1e3:.0f} |",
              flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
