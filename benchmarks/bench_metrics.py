"""Cut metrics on their defaults (issue 21): ssdfl vs networkx, side by side in one process.

Run by hand (2–6 minutes depending on machine load; ~2 GB of RAM for the networkx graph)::

    python benchmarks/bench_metrics.py                      # 1M edges, 200k nodes, |S| = 66,666
    python benchmarks/bench_metrics.py --edges 100000 --nodes 20000 --set 6666   # quick

The graph is ``bench_graph.make_graph`` (uniform random distinct edges, weights uniform in
[0.5, 5), so the ssdfl ``Graph`` is weighted and ``weight=None`` has to count edges as 1).
``S`` is a random set of ``--set`` nodes, given as a Python list, a numpy array, and — on a
copy of the graph whose nodes are named by shuffled distinct integers (networkx node keys of
any order) — as a list of those names. Rows:

* ``ssdfl.conductance(G, S)`` on its defaults (``weight=None``) and with ``weight="weight"``;
  ``ssdfl.volume`` on its defaults;
* ``nx.conductance(H, S)`` / ``nx.volume(H, S)`` with the same arguments on the same graph.

Every ssdfl value is asserted equal to networkx's before it is timed. Times are the best of
``--repeat`` runs (after a warm-up for ssdfl); ratios are networkx wall / ssdfl wall. The load
average is printed: on a shared machine compare ratios, not absolute times.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np

import ssdfl

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import best_of, fmt_time, machine_facts, markdown_table
from bench_graph import make_graph


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--nodes", type=int, default=200_000)
    ap.add_argument("--edges", type=int, default=1_000_000)
    ap.add_argument("--set", type=int, default=66_666, help="size of the node set S")
    ap.add_argument("--repeat", type=int, default=5, help="runs per timing (best kept)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    e, w = make_graph(args.nodes, args.edges, args.seed)
    n = args.nodes
    G = ssdfl.Graph.from_edges(e, n=n, weights=w)
    rng = np.random.default_rng(args.seed + 1)
    keys = rng.permutation(10 * n)[:n] - 3 * n  # distinct, shuffled, negative too
    Gk = ssdfl.Graph.from_edges(e, n=n, weights=w, labels=keys)
    H = nx.Graph()
    H.add_nodes_from(range(n))
    H.add_weighted_edges_from(zip(e[:, 0].tolist(), e[:, 1].tolist(), w.tolist()))
    S_arr = np.sort(rng.choice(n, size=args.set, replace=False))
    S_list = S_arr.tolist()
    S_set = set(S_list)
    K_list = keys[S_arr].tolist()
    load_before = os.getloadavg()

    rows: list[list[str]] = []

    def row(label: str, ours: Callable[[], Any], ref: Callable[[], Any], ref_t: float) -> None:
        t, val = best_of(ours, args.repeat)
        assert abs(val - ref()) <= 1e-9 * max(1.0, abs(val)), (label, val)
        rows.append([label, fmt_time(t), fmt_time(ref_t), f"{ref_t / t:,.0f}×"])

    # networkx once per argument set (its values are the reference of every ssdfl row)
    nx_cond_t, nx_cond = best_of(lambda: nx.conductance(H, S_set), args.repeat, warmup=False)
    nx_condw_t, nx_condw = best_of(
        lambda: nx.conductance(H, S_set, weight="weight"), args.repeat, warmup=False
    )
    nx_vol_t, nx_vol = best_of(lambda: nx.volume(H, S_set), args.repeat, warmup=False)

    row(
        "`conductance(G, S_list)` (defaults: weight=None)",
        lambda: ssdfl.conductance(G, S_list),
        lambda: nx_cond,
        nx_cond_t,
    )
    row(
        "`conductance(G, S_array)` (defaults)",
        lambda: ssdfl.conductance(G, S_arr),
        lambda: nx_cond,
        nx_cond_t,
    )
    row(
        "`conductance(Gk, names)`, shuffled int keys (defaults)",
        lambda: ssdfl.conductance(Gk, K_list),
        lambda: nx_cond,
        nx_cond_t,
    )
    row(
        '`conductance(G, S_list, weight="weight")`',
        lambda: ssdfl.conductance(G, S_list, weight="weight"),
        lambda: nx_condw,
        nx_condw_t,
    )
    row(
        '`conductance(G, S_array, weight="weight")`',
        lambda: ssdfl.conductance(G, S_arr, weight="weight"),
        lambda: nx_condw,
        nx_condw_t,
    )
    row(
        "`volume(G, S_list)` (defaults)",
        lambda: ssdfl.volume(G, S_list),
        lambda: nx_vol,
        nx_vol_t,
    )
    load_after = os.getloadavg()

    facts = machine_facts()
    print(f"# {n:,} nodes, {len(e):,} edges (weighted), |S| = {args.set:,}; best of {args.repeat}")
    for k, v in facts.items():
        print(f"- {k}: {v}")
    print(
        "- load average (1/5/15 min) before / after: "
        + " / ".join(f"{x:.1f}" for x in load_before)
        + " → "
        + " / ".join(f"{x:.1f}" for x in load_after)
    )
    print()
    print(markdown_table(["call", "ssdfl", "networkx", "nx / ssdfl"], rows))


if __name__ == "__main__":
    main()
