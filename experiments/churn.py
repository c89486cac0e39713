"""Churn experiments of docs/churn.md: SSD-FL under membership traces with no repair,
incremental repair, full re-formation, and the MoDeST-style baseline; ≥ 5 seeds.

    python experiments/churn.py [--seeds 5] [--out docs/results/churn.csv]

Writes the per-cycle table and docs/img/churn_*.png.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ssdfl._atomic import atomic_write
from ssdfl.experiments.grid import RunSpec, build_graph, build_problem
from ssdfl.planner.config import PlanConfig
from ssdfl.planner.plan import plan_formation
from ssdfl.planner.repair import OldFormation, repair_formation
from ssdfl.simulate.churn import mass_failure, random_churn, regional_failure, simulate_churn
from ssdfl.simulate.comm import flooding_traffic, record_bytes
from ssdfl.theory.devices import DeviceTable

N, CYCLES, TAU_A, TAU_R, ETA = 40, 24, 5, 1, 0.2
BURST = 8  # cycle of the regional and mass failures (min acc after burst counts from it)
CFG = PlanConfig(fastest_mixing=False, schedule=False, theorem2=False, k_max=4, all_subsets_n=0,
                 max_clusters=12, tau_a=TAU_A, tau_r=TAU_R)  # fmt: skip


def devices_of(model, idx: np.ndarray) -> DeviceTable:
    hist = np.array([np.bincount(model.y_all[model.device == i], minlength=10) for i in idx],
                    dtype=float)  # fmt: skip
    n = len(idx)
    return DeviceTable(optimizer=["sgd"] * n, mu=np.zeros(n), rho=np.zeros(n),
                       lr=np.full(n, np.nan), n_samples=hist.sum(axis=1), label_hist=hist,
                       classes=[str(k) for k in range(10)], source="digits split")  # fmt: skip


def make_reform(model, initial_idx: np.ndarray, initial_labels: np.ndarray, log: list):
    prev = {"idx": initial_idx, "lab": initial_labels}

    def reform(sub, old_lab, strategy):
        idx = np.asarray(sub.node_names(), dtype=np.int64)  # universe indices
        pi, pl = prev["idx"], prev["lab"]
        old = OldFormation([int(u) for u in pi],
                           [np.flatnonzero(pl == c) for c in np.unique(pl)])  # fmt: skip
        t = time.perf_counter()
        res = repair_formation(old, sub, devices_of(model, idx), CFG,
                               force="repair" if strategy == "repair" else "full")  # fmt: skip
        log.append(
            {
                "strategy": strategy,
                "seconds": time.perf_counter() - t,
                "bytes": res.traffic["bytes"],
                "full_bytes": res.traffic["full_bytes"],
            }
        )
        lab = res.labels
        prev["idx"], prev["lab"] = idx, lab
        return lab, res.traffic["bytes"]

    return reform


def run(seed: int) -> tuple[list[pd.DataFrame], list[dict]]:
    spec = RunSpec(graph="rgg", n_devices=N, dataset="digits", split="3-label", seed=seed)
    model, _pop, test = build_problem(spec)
    g = build_graph("rgg", N, None, seed)
    traces = [
        random_churn(g, CYCLES, 0.03, start_fraction=0.9, seed=seed),
        regional_failure(g, CYCLES, BURST, 0.3, seed=seed),
        mass_failure(g, CYCLES, BURST, 0.8, back_at=16, seed=seed),
    ]
    out, log = [], []
    for tr in traces:
        idx = np.flatnonzero(tr.initial)
        sub = g.subgraph(idx)
        plan = plan_formation(sub, devices_of(model, idx), CFG)
        lab = np.zeros(N, dtype=np.int64)
        lab[idx] = plan.assignment
        init = flooding_traffic(sub, record_bytes(sub, 40)).bytes
        for strat in ("none", "repair", "full", "modest"):
            if strat == "full" and tr.burst is None:
                continue  # a full planner run at every cycle of random churn: too slow here
            lg: list = []
            rf = (
                make_reform(model, idx, plan.assignment, lg)
                if strat in ("repair", "full")
                else None
            )
            r = simulate_churn(model, g, tr, lab, strategy=strat, reform=rf, tau_a=TAU_A,
                               tau_r=TAU_R, eta=ETA, seed=seed, test_data=test,
                               init_bytes=init if strat != "modest" else 0,
                               modest={"sample_size": 8, "aggregators": 3})  # fmt: skip
            df = r.table()
            df["recovery"] = r.recovery_cycles()
            out.append(df)
            for e in lg:
                log.append({**e, "trace": tr.name, "seed": seed})
            print(
                f"seed {seed} {tr.name:24s} {strat:7s} acc {df.device_acc_mean.iloc[-1]:.3f} "
                f"stranded max {df.stranded.max()} form {df.bytes_formation.iloc[-1] / 1e3:.0f} kB "
                f"train {df.bytes_train.iloc[-1] / 1e6:.1f} MB",
                flush=True,
            )
    return out, log


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


def _mq(v: pd.Series, fmt: str) -> str:
    """``median [q1, q3]`` of a column over seeds."""
    v = v.dropna()
    if v.empty:
        return "—"
    q1, m, q3 = np.percentile(v, [25, 50, 75])
    return f"{m:{fmt}} [{q1:{fmt}}, {q3:{fmt}}]"


def _recovery(r: pd.DataFrame, burst: float, tol: float = 0.01) -> float:
    """Cycles from the burst until the devices' mean accuracy, after its lowest point
    following the burst, is back within ``tol`` of its value just before the burst (0 if it
    never dropped by more than ``tol``; ``nan`` without a burst or if it never recovered)."""
    if pd.isna(burst):
        return np.nan
    before = r.loc[r.cycle == burst - 1, "device_acc_mean"]
    after = r[r.cycle >= burst]
    if before.empty or after.empty:
        return np.nan
    ref = float(before.iloc[0]) - tol
    j = int(np.argmin(after.device_acc_mean.to_numpy()))
    if after.device_acc_mean.iloc[j] >= ref:
        return 0.0
    ok = after.iloc[j:][after.device_acc_mean.iloc[j:] >= ref]
    return float(ok.cycle.iloc[0] - burst) if len(ok) else np.nan


def summary(df: pd.DataFrame, logs: pd.DataFrame) -> str:
    """Markdown table, one row per (trace, strategy): median [IQR] over seeds of the final
    accuracy of the devices' own models, the lowest accuracy after the burst, max stranded
    devices, formation kB, training MB and recovery cycles."""
    rows = ["| trace | strategy | seeds | final device acc | min acc after burst | max stranded "
            "| formation kB | training MB | formation / training | recovery (cycles) |",
            "|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for (tr, st), grp in df.groupby(["trace", "strategy"], sort=False):
        per = []
        for _, run_df in grp.groupby("seed"):
            r = run_df.sort_values("cycle")
            b = r["burst"].iloc[0] if "burst" in r else np.nan
            after = r[r.cycle >= b] if pd.notna(b) else r.iloc[0:0]
            per.append({
                "acc": r.device_acc_mean.iloc[-1],
                "dip": after.device_acc_mean.min() if len(after) else np.nan,
                "stranded": r.stranded.max(),
                "form": r.bytes_formation.iloc[-1] / 1e3,
                "train": r.bytes_train.iloc[-1] / 1e6,
                "ratio": r.bytes_formation.iloc[-1] / max(r.bytes_train.iloc[-1], 1),
                "rec": _recovery(r, b),
            })  # fmt: skip
        p = pd.DataFrame(per)
        rows.append(
            f"| {tr} | {st} | {len(p)} | {_mq(p.acc, '.3f')} | {_mq(p.dip, '.3f')} | "
            f"{_mq(p.stranded, '.0f')} | {_mq(p.form, ',.0f')} | {_mq(p.train, '.1f')} | "
            f"{_mq(100 * p.ratio, '.1f')} % | {_mq(p.rec, '.0f')} |"
        )
    if len(logs):
        rows += [
            "",
            "| trace | strategy | calls | seconds per call (median [IQR]) "
            "| kB per call | full re-formation kB per call |",
            "|---|---|---|---|---|---|",
        ]
        for (tr, st), g in logs.groupby(["trace", "strategy"], sort=False):
            rows.append(
                f"| {tr} | {st} | {len(g)} | {_mq(g.seconds, '.3f')} | "
                f"{_mq(g.bytes / 1e3, ',.0f')} | {_mq(g.full_bytes / 1e3, ',.0f')} |"
            )
    return "\n".join(rows)


def plot(df: pd.DataFrame) -> None:
    """docs/img/churn_accuracy.png and churn_stranded.png: median and IQR over seeds per
    strategy (fixed colours, one legend under the panels)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ssdfl.graphs.plotting import save_figure

    traces = list(dict.fromkeys(df.trace))
    colors = {"none": "C0", "repair": "C1", "full": "C2", "modest": "C3"}
    names = {"none": "no repair", "repair": "incremental repair", "full": "full re-formation",
             "modest": "MoDeST-style"}  # fmt: skip
    for metric, ylabel, fname, step in (
        ("device_acc_mean", "mean accuracy of the devices' own models", "churn_accuracy", False),
        ("stranded", "stranded devices", "churn_stranded", True),
    ):
        fig, axes = plt.subplots(1, len(traces), figsize=(4.6 * len(traces), 3.6), sharey=True)
        handles = {}
        for ax, tr in zip(np.atleast_1d(axes), traces):
            for strat, grp in df[df.trace == tr].groupby("strategy", sort=False):
                q = grp.groupby("cycle")[metric].quantile([0.25, 0.5, 0.75]).unstack()
                c = colors.get(strat)
                if step:
                    (h,) = ax.step(q.index, q[0.5], where="post", color=c)
                    ax.fill_between(q.index, q[0.25], q[0.75], alpha=0.2, step="post", color=c)
                else:
                    (h,) = ax.plot(q.index, q[0.5], color=c)
                    ax.fill_between(q.index, q[0.25], q[0.75], alpha=0.2, color=c)
                handles[names.get(strat, strat)] = h
            if "burst" in df and df[df.trace == tr].burst.notna().any():
                ax.axvline(float(df[df.trace == tr].burst.dropna().iloc[0]), color="0.5",
                           ls=":", lw=1)  # fmt: skip
            ax.set_title(tr, fontsize=9)
            ax.set_xlabel("cycle")
            ax.grid(alpha=0.3)
        np.atleast_1d(axes)[0].set_ylabel(ylabel)
        fig.legend(list(handles.values()), list(handles), loc="lower center",
                   ncol=len(handles), fontsize=9, frameon=False)  # fmt: skip
        fig.suptitle(f"SSD-FL under churn, RGG N = {N}, digits 3-label: median and IQR over "
                     f"{df.seed.nunique()} seeds (dotted: failure burst)", fontsize=10)  # fmt: skip
        fig.tight_layout(rect=(0, 0.07, 1, 0.95))
        save_figure(fig, f"docs/img/{fname}.png")
        plt.close(fig)


if __name__ == "__main__":
    main()
