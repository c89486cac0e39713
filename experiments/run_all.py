"""Run the experiments of docs/results.md (experiments/<name>.toml) on one dask LocalCluster
and write, per config: the full table to experiments/out/<name>.csv (not committed), the
per-run thresholds to docs/results/<name>_runs.csv, a markdown summary to
docs/results/<name>.md and the figure to docs/img/<name>.png.

    python experiments/run_all.py [--workers 2] [names ...]      # run, then summarize
    python experiments/run_all.py --report-only [names ...]      # re-summarize the CSVs

Every summary is a median with its interquartile range [Q1, Q3] over seeds (graph, data split,
optimizer draw and noise streams all change with the seed). Byte counts are D2D bytes
including the one-time initialization flooding; FedAvg's traffic goes to a server and shows
as 0 D2D bytes (it is a reference, not a D2D method).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ssdfl._atomic import atomic_write
from ssdfl.experiments.grid import ExperimentConfig, load_config, run_config

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ["base", "mnist1d"]
RUN_KEYS = ["seed"]
ORDER = ["SSD-FL", "SSD-FL (plan)", "cSTC", "sDFL", "pDFL", "STC", "FedAvg"]


# ---------------------------------------------------------------------------- statistics
def _q(v: np.ndarray | pd.Series) -> tuple[float, float, float]:
    """(Q1, median, Q3) with ``inf`` for runs that never got there (median ``inf`` when half
    the runs did not)."""
    a = np.asarray(v, dtype=float)
    if a.size == 0:
        return (np.nan, np.nan, np.nan)
    a = np.sort(a)
    q1, m, q3 = (float(np.quantile(a, q, method="linear")) if np.all(np.isfinite(a))
                 else float(a[min(len(a) - 1, int(np.floor(q * (len(a) - 1) + 0.5)))])
                 for q in (0.25, 0.5, 0.75))  # fmt: skip
    return q1, m, q3


def _fmt(q: tuple[float, float, float], f: str) -> str:
    q1, m, q3 = q
    if not np.isfinite(m):
        return "—"
    hi = f"{q3:{f}}" if np.isfinite(q3) else "never"
    return f"{m:{f}} [{q1:{f}}, {hi}]"


def _order(labels: list[str]) -> list[str]:
    return sorted(labels, key=lambda s: (ORDER.index(s) if s in ORDER else len(ORDER), s))


def _gkey(k: tuple) -> tuple:
    """Sort key of a (facet…, label) group: facets in order, labels in ``ORDER``."""
    return (tuple(map(str, k[:-1])), ORDER.index(k[-1]) if k[-1] in ORDER else len(ORDER))


def _runs(table: pd.DataFrame, by: list[str]) -> list[tuple[tuple, pd.DataFrame]]:
    keys = [*by, *RUN_KEYS]
    return [
        (k if isinstance(k, tuple) else (k,), r.sort_values("cycle"))
        for k, r in table.groupby(keys, sort=True)
    ]


def _total_bytes(r: pd.DataFrame) -> np.ndarray:
    """Cumulative D2D bytes incl. the one-time initialization (0 for FedAvg)."""
    return r["d2d_bytes"].to_numpy(float) + float(r["init_bytes"].iloc[0])


def per_run_thresholds(table: pd.DataFrame, cfg: ExperimentConfig, by: list[str]) -> pd.DataFrame:
    """One row per run and (metric, threshold): first evaluated cycle and total D2D bytes at
    which the metric got there (``inf`` if it never did), plus the initialization bytes."""
    rows = []
    for key, r in _runs(table, by):
        tb = _total_bytes(r)
        for metric, ths in cfg.thresholds.items():
            if metric not in r or not r[metric].notna().any():
                continue
            v = r[metric].to_numpy(float)
            for t in ths:
                ok = v >= t if "acc" in metric else v <= t
                j = int(np.argmax(ok)) if ok.any() else -1
                rows.append({**dict(zip([*by, *RUN_KEYS], key)), "metric": metric,
                             "threshold": t,
                             "cycles": float(r["cycle"].iloc[j]) if j >= 0 else np.inf,
                             "bytes": float(tb[j]) if j >= 0 else np.inf,
                             "init_bytes": float(r["init_bytes"].iloc[0])})  # fmt: skip
    return pd.DataFrame(rows)


def threshold_md(runs: pd.DataFrame, by: list[str]) -> str:
    """Per metric: one row per (by…), one column per threshold; cell = cycles median [IQR]
    and D2D MB median [IQR] over seeds ('never': the upper quartile of runs did not get
    there in the horizon; '—': half or more of the runs did not)."""
    out = []
    for metric, sub in runs.groupby("metric", sort=False):
        ths = sorted(sub["threshold"].unique())
        rel = "≥" if "acc" in metric else "≤"
        head = [*by, *[f"{metric} {rel} {t:g}: cycles / D2D MB" for t in ths]]
        out += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        groups = dict(iter(sub.groupby(by, sort=True)))
        keys = sorted(groups, key=_gkey)
        for key in keys:
            grp = groups[key]
            cells = [str(k) for k in key]
            for t in ths:
                g = grp[grp["threshold"] == t]
                c = _fmt(_q(g["cycles"]), ".0f")
                b = _fmt(_q(g["bytes"] / 1e6), ".1f")
                cells.append("—" if c == "—" else f"{c} / {b}")
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


def budgets_of(table: pd.DataFrame, by: list[str]) -> list[float]:
    """Byte budgets (MB) at which every D2D method still has data: the smallest median final
    D2D traffic over the D2D methods (``B``), and ``B/4``, ``B/2``."""
    finals = []
    for key, r in _runs(table, by):
        if r["method"].iloc[0] == "FedAvg":
            continue
        finals.append((key[:-1], _total_bytes(r)[-1]))
    f = pd.DataFrame(finals, columns=["k", "b"]).groupby("k")["b"].median()
    B = float(f.min()) / 1e6
    return [round(B / 4, 1), round(B / 2, 1), round(B, 1)]


def at_budget(r: pd.DataFrame, metric: str, budget_bytes: float) -> float:
    """Metric of the last evaluation whose total D2D bytes fit in the budget (``nan`` if the
    first evaluation already exceeds it)."""
    tb = _total_bytes(r)
    ok = np.flatnonzero(tb <= budget_bytes)
    return float(r[metric].iloc[ok[-1]]) if len(ok) else np.nan


def equal_bytes_md(table: pd.DataFrame, by: list[str], metrics: list[str]) -> str:
    """Per metric: its value at equal D2D byte budgets, median [IQR] over seeds."""
    budgets = budgets_of(table, by)
    out = []
    for metric in metrics:
        if metric not in table:
            continue
        head = [*by, *[f"{metric} at {b:g} MB" for b in budgets]]
        out += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        rows: dict[tuple, list[list[float]]] = {}
        for key, r in _runs(table, by):
            if r["method"].iloc[0] == "FedAvg":
                continue
            rows.setdefault(key[:-1], []).append([at_budget(r, metric, b * 1e6) for b in budgets])
        for key in sorted(rows, key=_gkey):
            a = np.array(rows[key])
            cells = [str(k) for k in key]
            for j in range(len(budgets)):
                col = a[:, j]
                cells.append(_fmt(_q(col[np.isfinite(col)]), ".3f")
                             + ("" if np.isfinite(col).all() else
                                f" ({np.isfinite(col).sum()}/{len(col)} runs)"))  # fmt: skip
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


def final_md(table: pd.DataFrame, by: list[str]) -> str:
    """Median [IQR] over seeds of the final metrics and traffic per (by…)."""
    names = [("accuracy", ".3f", 1), ("device_acc_mean", ".3f", 1), ("device_acc_min", ".3f", 1),
             ("device_loss_mean", ".3f", 1), ("consensus_gap", ".3g", 1),
             ("d2d_bytes", ".1f", 1e-6), ("init_bytes", ".1f", 1e-3)]  # fmt: skip
    names = [n for n in names if n[0] in table and table[n[0]].notna().any()]
    head = [*by, *[{"d2d_bytes": "D2D MB", "init_bytes": "init kB"}.get(n, n) for n, _, _ in names]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    last = {k: r.iloc[-1] for k, r in _runs(table, by)}
    groups: dict[tuple, list[pd.Series]] = {}
    for k, row in last.items():
        groups.setdefault(k[:-1], []).append(row)
    for key in sorted(groups, key=_gkey):
        df = pd.DataFrame(groups[key])
        cells = [str(k) for k in key]
        cells += [_fmt(_q(df[n].astype(float) * s), f) for n, f, s in names]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def init_share_md(runs: pd.DataFrame, metric: str = "accuracy") -> str:
    """Initialization bytes as a share of the training bytes spent until ``metric`` first
    reached each threshold (runs of methods with an initialization that got there)."""
    sub = runs[(runs.metric == metric) & (runs.init_bytes > 1000)]
    if sub.empty:
        return f"(no run with an initialization has {metric})"
    lines = [f"| {metric} ≥ | runs that got there | init kB (median) | init / training bytes: "
             "median | min | max |", "|---|---|---|---|---|---|"]  # fmt: skip
    for t, g in sub.groupby("threshold", sort=True):
        g = g[np.isfinite(g.bytes)]
        n_all = int((sub.threshold == t).sum())
        if g.empty:
            lines.append(f"| {t:g} | 0 of {n_all} | — | — | — | — |")
            continue
        share = 100 * g.init_bytes / (g.bytes - g.init_bytes)
        lines.append(
            f"| {t:g} | {len(g)} of {n_all} | {np.median(g.init_bytes) / 1e3:.0f} | "
            f"{np.median(share):.1f} % | {share.min():.1f} % | {share.max():.1f} % |"
        )
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------- figure
def plot(table: pd.DataFrame, by: list[str], metrics: list[str], path: Path, title: str) -> None:
    """A row per value of ``by[:-1]``; per metric two panels: vs cycles and vs D2D MB (incl.
    initialization); median line and IQR band over seeds; one legend below the figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ssdfl.graphs.plotting import save_figure

    metrics = [m for m in metrics if m in table and table[m].notna().any()]
    facets = list(table.groupby(by[:-1], sort=True)) if len(by) > 1 else [((), table)]
    ncol = 2 * len(metrics)
    fig, axes = plt.subplots(len(facets), ncol, figsize=(3.4 * ncol, 2.9 * len(facets) + 0.8),
                             squeeze=False)  # fmt: skip
    colors = dict(zip(ORDER, plt.rcParams["axes.prop_cycle"].by_key()["color"]))
    handles = {}
    for i, (fkey, sub) in enumerate(facets):
        fk = fkey if isinstance(fkey, tuple) else (fkey,)
        ftxt = ", ".join(map(str, fk))
        # byte axis up to where every D2D run of the facet still has data
        budget = min(_total_bytes(r)[-1] for _, r in _runs(sub, by)
                     if r["method"].iloc[0] != "FedAvg")  # fmt: skip
        for c, metric in enumerate(metrics):
            ax_c, ax_b = axes[i][2 * c], axes[i][2 * c + 1]
            for lab in _order(list(sub[by[-1]].unique())):
                runs = [r for _, r in _runs(sub[sub[by[-1]] == lab], by)]
                cyc = runs[0]["cycle"].to_numpy(float)
                Y = np.array([r[metric].to_numpy(float) for r in runs])
                q1, m, q3 = np.nanpercentile(Y, [25, 50, 75], axis=0)
                (h,) = ax_c.plot(cyc, m, color=colors.get(lab), lw=1.3, label=lab)
                ax_c.fill_between(cyc, q1, q3, color=colors.get(lab), alpha=0.18, lw=0)
                handles[lab] = h
                if lab == "FedAvg":
                    continue  # no D2D bytes
                grid = np.linspace(0, budget, 80)
                Yb = np.array([np.interp(grid, _total_bytes(r), r[metric].to_numpy(float),
                                         left=np.nan, right=np.nan) for r in runs])  # fmt: skip
                with np.errstate(all="ignore"):
                    q1, m, q3 = np.nanpercentile(Yb, [25, 50, 75], axis=0)
                ax_b.plot(grid / 1e6, m, color=colors.get(lab), lw=1.3)
                ax_b.fill_between(grid / 1e6, q1, q3, color=colors.get(lab), alpha=0.18, lw=0)
            lo, hi = np.inf, -np.inf  # y range from the curves after the first evaluations
            for line in ax_c.get_lines():
                y = np.asarray(line.get_ydata(), float)[2:]
                if np.isfinite(y).any():
                    lo, hi = min(lo, np.nanmin(y)), max(hi, np.nanmax(y))
            if np.isfinite(lo) and hi > lo:
                pad = 0.05 * (hi - lo)
                for ax in (ax_c, ax_b):
                    ax.set_ylim(lo - pad, hi + pad)
            ax_c.set_xlabel("cycle")
            ax_b.set_xlabel("D2D MB (incl. initialization)")
            ax_c.set_ylabel(metric)
            ax_c.set_title(f"{ftxt}: equal cycles", fontsize=9)
            ax_b.set_title(f"{ftxt}: equal bytes", fontsize=9)
            for ax in (ax_c, ax_b):
                ax.grid(alpha=0.3)
                ax.tick_params(labelsize=8)
    fig.legend(list(handles.values()), list(handles), loc="lower center", ncol=len(handles),
               fontsize=9, frameon=False)  # fmt: skip
    fig.suptitle(f"{title} (median and IQR over seeds)", fontsize=10)
    fig.tight_layout(rect=(0, 0.06, 1, 0.97))
    save_figure(fig, path)
    plt.close(fig)


# ---------------------------------------------------------------------------- driver
def summarize(name: str, cfg: ExperimentConfig, table: pd.DataFrame, wall: str) -> None:
    out_res, out_img = ROOT / "docs" / "results", ROOT / "docs" / "img"
    by = [c for c in cfg.by if c in table]
    runs = per_run_thresholds(table, cfg, by)
    with atomic_write(out_res / f"{name}_runs.csv") as fh:
        runs.to_csv(fh, index=False)
    metrics = [m for m in cfg.thresholds if m in table]
    plot(table, by, metrics, out_img / f"{name}.png", name)
    n_runs = table.groupby([*by, *RUN_KEYS]).ngroups
    seeds = sorted(int(x) for x in table["seed"].unique())
    md = [f"<!-- generated by experiments/run_all.py: {n_runs} runs, seeds {seeds}, {wall} -->",
          "", "Final values, median [Q1, Q3] over seeds:", "", final_md(table, by),
          "Cycles and D2D MB (incl. initialization) to reach each threshold, median [Q1, Q3] "
          "over seeds:", "", threshold_md(runs, by),
          "Equal D2D bytes: value at the last evaluation within the byte budget (budgets: "
          "the smallest median final D2D traffic of any D2D method, its half and quarter; "
          "FedAvg has no D2D traffic), median [Q1, Q3]:", "",
          equal_bytes_md(table, by, metrics),
          "Initialization traffic (SSD-FL, SSD-FL (plan), cSTC: flooding of the device "
          "records) relative to the training traffic spent until the average model's "
          "accuracy first reached each threshold:", "", init_share_md(runs)]  # fmt: skip
    with atomic_write(out_res / f"{name}.md") as fh:
        fh.write("\n".join(md))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("names", nargs="*", default=CONFIGS)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--report-only", action="store_true")
    a = ap.parse_args()
    out_tab = ROOT / "experiments" / "out"
    for d in (out_tab, ROOT / "docs" / "results", ROOT / "docs" / "img"):
        d.mkdir(parents=True, exist_ok=True)
    if a.report_only:
        for name in a.names:
            cfg = load_config(ROOT / "experiments" / f"{name}.toml")
            table = pd.read_csv(out_tab / f"{name}.csv")
            wall = f"{table.groupby('run').run_seconds.first().sum() / 60:.0f} CPU-min in runs"
            summarize(name, cfg, table, wall)
            print(f"{name}: summarized", flush=True)
        return
    from dask.distributed import Client, LocalCluster

    with LocalCluster(n_workers=a.workers, threads_per_worker=1, dashboard_address=":0") as lc:
        with Client(lc) as client:
            for name in a.names:
                cfg = load_config(ROOT / "experiments" / f"{name}.toml")
                t0 = time.perf_counter()
                table, _thr = run_config(cfg, None, client=client, progress=False)
                dt = time.perf_counter() - t0
                with atomic_write(out_tab / f"{name}.csv") as fh:
                    table.to_csv(fh, index=False)
                cpu = table.groupby("run").run_seconds.first().sum() / 60
                summarize(name, cfg, table, f"{dt / 60:.0f} min wall, {cpu:.0f} CPU-min in runs")
                print(f"{name}: {len(cfg.specs())} runs in {dt:.1f} s", flush=True)


if __name__ == "__main__":
    main()
