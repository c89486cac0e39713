"""Churn experiments of docs/churn.md: SSD-FL under membership traces with no repair,
incremental repair, full re-formation, and the MoDeST-style baseline; ≥ 5 seeds.

    python experiments/churn.py [--seeds 5] [--out docs/results/churn.csv]

Writes the per-cycle table and docs/img/churn_*.png. The logic lives in
:mod:`ssdfl.experiments.churn` (shared with ``ssdfl churn``).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd

from ssdfl._atomic import atomic_write
from ssdfl.experiments.churn import (
    ChurnSetup,
    churn_problem,
    make_trace,
    plot_churn,
    run_trace,
    summary,
)
from ssdfl.experiments.grid import build_graph

N, CYCLES = 40, 24  # bursts at cycles 8 (and back at 16), as in ssdfl.experiments.churn
SETUP = ChurnSetup()  # tau_a = 5, tau_r = 1, eta = 0.2; planner k_max = 4, <= 12 clusters


def run(seed: int) -> tuple[list[pd.DataFrame], list[dict]]:
    g = build_graph("rgg", N, None, seed)
    model, test, devices_fn = churn_problem(g, None, seed)
    out, log = [], []
    for kind in ("random", "regional", "mass"):
        tr = make_trace(g, kind, CYCLES, rate=0.03, seed=seed)
        # full re-formation at every cycle of random churn: too slow for this grid
        strategies = ["none", "repair"] + (["full"] if tr.burst is not None else []) + ["modest"]
        frames, lg = run_trace(model, g, tr, strategies, seed=seed, devices_fn=devices_fn,
                               test_data=test, setup=SETUP)  # fmt: skip
        out += frames
        log += lg
        for df in frames:
            print(
                f"seed {seed} {tr.name:24s} {df.strategy.iloc[0]:7s} "
                f"acc {df.device_acc_mean.iloc[-1]:.3f} stranded max {df.stranded.max()} "
                f"form {df.bytes_formation.iloc[-1] / 1e3:.0f} kB "
                f"train {df.bytes_train.iloc[-1] / 1e6:.1f} MB",
                flush=True,
            )
    return out, log


def plot(df: pd.DataFrame) -> None:
    """docs/img/churn_accuracy.png and churn_stranded.png."""
    plot_churn(df, "docs/img", f"SSD-FL under churn, RGG N = {N}, digits 3-label: median and IQR "
               f"over {df.seed.nunique()} seeds (dotted: failure burst)")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--out", default="docs/results/churn.csv")
    ap.add_argument("--summary-only", action="store_true",
                    help="re-plot and re-summarize an existing --out table")  # fmt: skip
    a = ap.parse_args()
    out = Path(a.out)
    out_reform = Path(str(out).replace(".csv", "_reform.csv"))
    if a.summary_only:
        df = pd.read_csv(out)
        lg = pd.read_csv(out_reform) if out_reform.exists() else pd.DataFrame()
        plot(df)
        print(summary(df, lg))
        return
    frames, logs = [], []
    out.parent.mkdir(parents=True, exist_ok=True)
    for s in range(a.first_seed, a.first_seed + a.seeds):
        t0 = time.perf_counter()
        f, lg = run(s)
        frames += f
        logs += lg
        df = pd.concat(frames, ignore_index=True)
        with atomic_write(out) as fh:  # partial results after every seed
            df.to_csv(fh, index=False)
        with atomic_write(out_reform) as fh:
            pd.DataFrame(logs).to_csv(fh, index=False)
        plot(df)
        print(f"seed {s} done in {time.perf_counter() - t0:.0f} s", flush=True)
    print(summary(df, pd.DataFrame(logs)))


if __name__ == "__main__":
    main()
