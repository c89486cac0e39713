"""The formation planner at scale: ``plan_formation`` + report (what ``ssdfl form`` runs) on
Erdős–Rényi, random geometric and Barabási–Albert graphs of N = 30 … 10,000 devices.

Every run is a fresh subprocess (``--child``), so its peak memory is its own
(``resource.getrusage`` max RSS). Devices: each draws SGD, proximal (μ ∈ {0.01, 0.1}) or
momentum (ρ ∈ {0.5, 0.9}) uniformly, 100–300 samples, Dirichlet(0.5) label shares over 10
classes; mean degree 12 (BA: m = 6); default ``PlanConfig`` (FMMC, schedule, Theorem-2 on).

Per run: wall time, time per stage (the planner's own stage log records), peak RSS, S and J.
The objective is compared with the unscaled planner, whose only difference in the chosen
formation is its ``S`` range (``S ≤ 64``; every other fast path equals its reference to 1e-9,
``tests/test_planner_scale.py``): the child re-solves the same candidate table for every
``S ≤ 64`` and reports that optimum (``J≤64``; "none" where no formation with ≤ 64 clusters
exists — the old planner's ``no admissible formation`` failure).

Goals (issue 14): N = 1,000 in ≤ 30 s, N = 10,000 in ≤ 5 min, growth ≤ N^1.3 between 1,000 and
10,000 (least-squares slope of log time on log N over 1,000 / 3,000 / 10,000), peak memory
< 2 GB at N = 10,000. Run: ``python benchmarks/bench_planner.py`` (``--sizes 30,100``,
``--families er,rgg``, ``--markdown FILE``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import machine_facts, markdown_table

SIZES = (30, 100, 300, 1000, 3000, 10000)
FAMILIES = ("er", "rgg", "ba")
STAGES = (
    ("candidates", "candidate clusters"),
    ("scoring", "scoring"),
    ("MILP", "set-partitioning MILP"),
    ("MILP all S", "one MILP over"),
    ("Thm 2", "Theorem-2 bounds"),
    ("FMMC", "fastest-mixing weights (FMMC) for"),
    ("FMMC graph", "fastest-mixing weights (FMMC) for the whole graph"),
    ("schedule", "schedule search"),
    ("traffic", "traffic"),
    ("report", "report"),
)


def make_graph(kind: str, n: int, deg: int = 12):
    import networkx as nx

    import ssdfl

    for s in range(100):
        if kind == "er":
            h = nx.fast_gnp_random_graph(n, deg / (n - 1), seed=s)
        elif kind == "rgg":
            h = nx.random_geometric_graph(n, math.sqrt(deg / (math.pi * n)), seed=s)
        else:
            h = nx.barabasi_albert_graph(n, deg // 2, seed=s)
        if nx.is_connected(h):
            e = np.array(h.edges(), dtype=np.int64)
            return ssdfl.Graph.from_edges(e, n=n)
    raise RuntimeError(f"no connected {kind} graph with {n} nodes")


def make_devices(n: int, seed: int = 0, classes: int = 10):
    from ssdfl.theory.devices import DeviceTable

    rng = np.random.default_rng(seed)
    kinds = rng.integers(3, size=n)
    opt = [("sgd", "prox", "momentum")[k] for k in kinds]
    mu = np.where(kinds == 1, rng.choice([0.01, 0.1], size=n), 0.0)
    rho = np.where(kinds == 2, rng.choice([0.5, 0.9], size=n), 0.0)
    ns = rng.integers(100, 301, size=n).astype(float)
    hist = np.floor(rng.dirichlet(0.5 * np.ones(classes), size=n) * ns[:, None])
    hist[:, 0] += ns - hist.sum(1)
    return DeviceTable(opt, mu, rho, np.full(n, np.nan), ns, hist,
                       [str(k) for k in range(classes)], source="synthetic")  # fmt: skip


def child(kind: str, n: int) -> dict:
    """One run in this process: stage times from the planner's log records."""
    import logging
    import resource
    import tempfile

    import ssdfl.planner.plan as plan_mod
    from ssdfl.planner.report import write_report
    from ssdfl.planner.solve import best_by_S

    g = make_graph(kind, n)
    dev = make_devices(n)
    stages: dict[str, float] = {}

    class Grab(logging.Handler):
        def emit(self, rec: logging.LogRecord) -> None:
            msg = rec.getMessage()
            if ": done in " in msg:
                label, t = msg.rsplit(": done in ", 1)
                stages[label] = stages.get(label, 0.0) + float(t.split()[0])

    root = logging.getLogger("ssdfl")
    root.addHandler(Grab())
    root.setLevel(logging.DEBUG)
    root.propagate = False
    ref: dict = {}
    orig = plan_mod.best_formation

    def spy(t, nn, cfg):
        out = orig(t, nn, cfg)
        t0 = time.perf_counter()
        level = root.level
        root.setLevel(logging.WARNING)  # the reference solve is not a stage of the plan
        try:
            rows, _ = best_by_S(t, nn, cfg, min(nn, 64))
        finally:
            root.setLevel(level)
        feas = [r["objective"] for r in rows if r["feasible"]]
        ref["J64"] = min(feas) if feas else None
        ref["t_ref"] = time.perf_counter() - t0
        return out

    plan_mod.best_formation = spy
    t0 = time.perf_counter()
    plan = plan_mod.plan_formation(g, dev, plan_mod.PlanConfig())
    t_plan = time.perf_counter() - t0 - ref.get("t_ref", 0.0)
    with tempfile.TemporaryDirectory() as tmp:
        t1 = time.perf_counter()
        write_report(plan, g, tmp, graph_name=f"{kind}{n}")
        stages["report"] = time.perf_counter() - t1
    return {
        "kind": kind, "n": n, "m": g.m, "S": plan.S, "J": plan.objective, "J64": ref["J64"],
        "time": t_plan + stages["report"], "stages": stages,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "notes": plan.notes,
    }  # fmt: skip


def run_child(kind: str, n: int, timeout: float) -> dict | None:
    cmd = [sys.executable, __file__, "--child", kind, str(n)]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=True)
    except subprocess.TimeoutExpired:
        return {"kind": kind, "n": n, "error": f"timeout after {timeout:.0f} s"}
    except subprocess.CalledProcessError as exc:
        return {"kind": kind, "n": n, "error": exc.stderr.strip().splitlines()[-1][:120]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def stage_time(r: dict, prefix: str) -> float:
    return sum(v for k, v in r["stages"].items() if k.startswith(prefix) and not (
        prefix == "fastest-mixing weights (FMMC) for" and "whole graph" in k))  # fmt: skip


def slope(ns: list[int], ts: list[float]) -> float | None:
    if len(ns) < 2:
        return None
    return float(np.polyfit(np.log(ns), np.log(ts), 1)[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--child", nargs=2, metavar=("KIND", "N"))
    ap.add_argument("--sizes", default=",".join(map(str, SIZES)))
    ap.add_argument("--families", default=",".join(FAMILIES))
    ap.add_argument("--timeout", type=float, default=1800.0)
    ap.add_argument("--markdown", type=Path)
    ap.add_argument("--json", type=Path, help="also write every run's record here")
    a = ap.parse_args()
    if a.child:
        print(json.dumps(child(a.child[0], int(a.child[1]))))
        return
    sizes = [int(x) for x in a.sizes.split(",")]
    fams = a.families.split(",")
    load0 = os.getloadavg()
    runs = []
    for kind in fams:
        for n in sizes:
            r = run_child(kind, n, a.timeout)
            runs.append(r)
            if a.json:  # written after every run, so a long benchmark can be inspected live
                a.json.write_text(json.dumps(runs, indent=1))
            print(f"{kind} {n}: " + (r.get("error") or f"{r['time']:.1f} s, S={r['S']}, "
                  f"{r['rss_mb']:.0f} MB"), file=sys.stderr, flush=True)  # fmt: skip
    load1 = os.getloadavg()
    header = ["graph", "N", "m", "total", *[s for s, _ in STAGES], "peak RSS", "S", "J",
              "J (S ≤ 64)"]  # fmt: skip
    rows = []
    for r in runs:
        if "error" in r:
            rows.append([r["kind"], str(r["n"]), "—", r["error"]] + [""] * (len(header) - 4))
            continue
        st = [f"{stage_time(r, p):.1f}" if stage_time(r, p) > 0 else "·" for _, p in STAGES]
        if r["J64"] is None:
            cmp = "none (old planner failed)"
        else:
            rel = (r["J"] - r["J64"]) / max(abs(r["J64"]), 1e-300)
            cmp = f"{r['J64']:.5g} ({100 * rel:+.2f} %)"
        rows.append([r["kind"], str(r["n"]), str(r["m"]), f"{r['time']:.1f} s", *st,
                     f"{r['rss_mb']:.0f} MB", str(r["S"]), f"{r['J']:.5g}", cmp])  # fmt: skip
    goals = []
    for kind in fams:
        ok = {r["n"]: r for r in runs if r["kind"] == kind and "error" not in r}
        t1k = ok.get(1000, {}).get("time")
        t10k = ok.get(10000, {}).get("time")
        big = [n for n in (1000, 3000, 10000) if n in ok]
        sl = slope(big, [ok[n]["time"] for n in big])
        mem = ok.get(10000, {}).get("rss_mb")

        def mark(v: float | None, goal: float, fmt: str) -> str:
            if v is None:
                return "not run"
            return f"{fmt.format(v)} — {'met' if v <= goal else 'NOT met'}"

        goals.append([kind, mark(t1k, 30, "{:.1f} s"), mark(t10k, 300, "{:.1f} s"),
                      mark(sl, 1.3, "N^{:.2f}"), mark(mem, 2048, "{:.0f} MB")])  # fmt: skip
    facts = machine_facts()
    text = "\n\n".join([
        "Stage times in seconds (· = under the log threshold or not run); total = plan + report.",
        markdown_table(header, rows),
        markdown_table(["graph", "N = 1,000 ≤ 30 s", "N = 10,000 ≤ 5 min",
                        "growth 1k→10k ≤ N^1.3", "peak < 2 GB at 10k"], goals),
        f"Load average before / after: {load0[0]:.1f} / {load1[0]:.1f} (1 min); "
        + ", ".join(f"{k}: {v}" for k, v in facts.items()),
    ])  # fmt: skip
    print(text)
    if a.markdown:
        a.markdown.write_text(text + "\n")


if __name__ == "__main__":
    main()
