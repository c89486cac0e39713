"""``ssdfl form`` on the command line at N = 1,000 / 3,000 / 10,000 on Erdős–Rényi, random
geometric, Barabási–Albert and stochastic-block-model graphs (mean degree ≈ 12, no devices
file: homogeneous SGD, IID data).

Every run is a fresh ``ssdfl form`` subprocess; reported: wall time, CPU time of the child
(user + system, ``resource.getrusage(RUSAGE_CHILDREN)``), the 1-minute load average before and
after, and the slowest stages of the planner's log (its ``… done in X s`` stage lines). The
machine is shared (2 cores), so CPU time is the figure to compare; wall time is what a user
waits at that load. Goal (issue 21): N = 1,000 ≤ 30 s on every family.

Run: ``python benchmarks/bench_form_cli.py [--sizes 1000,3000] [--families er,rgg]
[--timeout 900] [--jsonl FILE]``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import networkx as nx
import numpy as np

FAMILIES = ("er", "rgg", "ba", "sbm")


def make_graph(kind: str, n: int, deg: int = 12) -> nx.Graph:
    """A connected graph of ``n`` nodes (first connected draw over seeds 0, 1, …)."""
    for s in range(100):
        if kind == "er":
            h = nx.fast_gnp_random_graph(n, deg / (n - 1), seed=s)
        elif kind == "rgg":
            h = nx.random_geometric_graph(n, math.sqrt(deg / (math.pi * n)), seed=s)
        elif kind == "ba":
            h = nx.barabasi_albert_graph(n, deg // 2, seed=s)
        else:  # 10 blocks, 10 of the 12 neighbours inside the block
            b = n // 10
            p_in, p_out = 10 / (b - 1), 2 / (n - b)
            P = [[p_in if i == j else p_out for j in range(10)] for i in range(10)]
            h = nx.stochastic_block_model([b] * 10, P, seed=s)
        if nx.is_connected(h):
            return nx.Graph(h.edges())
    raise RuntimeError(f"no connected {kind} graph with {n} nodes")


def run(kind: str, n: int, timeout: float, workdir: Path) -> dict:
    path = workdir / f"{kind}{n}.edgelist"
    nx.write_edgelist(make_graph(kind, n), path, data=False)
    out = workdir / f"out-{kind}{n}"
    load0 = os.getloadavg()[0]
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    try:
        p = subprocess.run(
            [str(Path(sys.executable).parent / "ssdfl"), "form", str(path), "--out", str(out)],
            capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip
        rc, err = p.returncode, p.stderr
    except subprocess.TimeoutExpired as exc:
        rc, err = None, (exc.stderr or b"").decode() if isinstance(exc.stderr, bytes) else ""
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    stages = []
    for line in err.splitlines():
        m = re.search(r"INFO\s+(.+?): done in ([0-9.]+) s\s*$", line)
        if m:
            stages.append((float(m.group(2)), m.group(1).strip()[-70:]))
    stages.sort(reverse=True)
    return {
        "family": kind, "n": n, "rc": rc, "wall": wall, "cpu": cpu, "load_before": load0,
        "load_after": os.getloadavg()[0], "top_stages": stages[:3],
        "stderr_tail": err.splitlines()[-3:] if rc else [],
    }  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1000,3000,10000")
    ap.add_argument("--families", default=",".join(FAMILIES))
    ap.add_argument("--timeout", type=float, default=900.0)
    ap.add_argument("--jsonl", type=Path, help="append every run's record here")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for n in map(int, args.sizes.split(",")):
            for kind in args.families.split(","):
                rec = run(kind, n, args.timeout, Path(tmp))
                print(json.dumps(rec), flush=True)
                if args.jsonl:
                    with open(args.jsonl, "a") as fh:
                        fh.write(json.dumps(rec) + "\n")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
