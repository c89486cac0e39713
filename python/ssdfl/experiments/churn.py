"""Churn experiments (docs/churn.md): SSD-FL on digits under a membership trace with no repair,
incremental repair, full re-formation, or the MoDeST-style baseline.

One implementation for ``experiments/churn.py`` (the 5-seed study) and ``ssdfl churn``:
:func:`make_trace` builds a trace by kind, :func:`run_trace` plans the initial formation of the
initially present devices once and trains every strategy under the trace
(:func:`ssdfl.simulate.churn.simulate_churn`; repair and full re-formation through
:func:`ssdfl.planner.repair.repair_formation`), :func:`run_churn` repeats it over seeds on one
graph, :func:`summary` / :func:`headline` / :func:`plot_churn` report the per-cycle table.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ssdfl._progress import get_logger, stage
from ssdfl.clusters.flooding import flooding_traffic, record_bytes
from ssdfl.errors import SsdflError
from ssdfl.experiments.grid import RunSpec, build_problem
from ssdfl.graphs.graph import Graph, Positions, as_graph
from ssdfl.graphs.plotting import save_figure
from ssdfl.planner.config import PlanConfig
from ssdfl.planner.plan import plan_formation
from ssdfl.planner.protocol import record_extra_bytes
from ssdfl.planner.repair import OldFormation, full_reformation, repair_formation
from ssdfl.simulate.churn import (
    MembershipTrace,
    mass_failure,
    random_churn,
    regional_failure,
    simulate_churn,
)
from ssdfl.theory.data import digits_for_devices
from ssdfl.theory.devices import DeviceTable

__all__ = [
    "STRATEGIES",
    "TRACES",
    "ChurnSetup",
    "churn_problem",
    "devices_of",
    "headline",
    "make_reform",
    "make_trace",
    "plot_churn",
    "run_churn",
    "run_trace",
    "summary",
]

TRACES = ("random", "regional", "mass")
STRATEGIES = ("none", "repair", "full", "modest")
STRATEGY_NAMES = {"none": "no repair", "repair": "incremental repair",
                  "full": "full re-formation", "modest": "MoDeST-style"}  # fmt: skip
_log = get_logger(__name__)

DevicesFn = Callable[[np.ndarray], DeviceTable]
"""Devices table of the universe indices ``idx`` (what the planner sees)."""


@dataclass(frozen=True)
class ChurnSetup:
    """Training and planning parameters of a churn run (defaults: docs/churn.md §5)."""

    tau_a: int = 5
    tau_r: int = 1
    eta: float = 0.2
    sample_size: int = 8  # MoDeST trainers per round
    aggregators: int = 3  # MoDeST aggregators per round
    plan: dict[str, Any] = field(
        default_factory=lambda: {"k_max": 4, "all_subsets_n": 0, "max_clusters": 12}
    )

    def config(self) -> PlanConfig:
        """The planner's configuration (no FMMC, schedule or Theorem-2 reports: they do not
        change the formation)."""
        # the paper's objective J unless the spec says otherwise: documented results reproduce
        return PlanConfig(fastest_mixing=False, schedule=False, theorem2=False,
                          tau_a=self.tau_a, tau_r=self.tau_r,
                          **{"objective": "J", **self.plan})  # fmt: skip


def devices_of(model: Any, idx: np.ndarray) -> DeviceTable:
    """SGD devices whose label histograms are the digits samples they hold (``idx``: universe
    indices)."""
    hist = np.array([np.bincount(model.y_all[model.device == i], minlength=10) for i in idx],
                    dtype=float).reshape(len(idx), 10)  # fmt: skip
    n = len(idx)
    return DeviceTable(optimizer=["sgd"] * n, mu=np.zeros(n), rho=np.zeros(n),
                       lr=np.full(n, np.nan), n_samples=hist.sum(axis=1), label_hist=hist,
                       classes=[str(k) for k in range(10)], source="digits split")  # fmt: skip


def churn_problem(
    g: Graph, devices: DeviceTable | None = None, seed: int = 0
) -> tuple[Any, tuple[np.ndarray, np.ndarray] | None, DevicesFn]:
    """``(model, test_data, devices_fn)`` for softmax regression on digits over ``g``'s nodes.
    Without ``devices``: the 3-label split of the experiment grids with its held-out test set,
    the planner sees the split's label histograms (:func:`devices_of`). With ``devices``: each
    device's digits follow its label histogram (:func:`ssdfl.theory.data.digits_for_devices`;
    accuracy on the pooled samples, no held-out set) and the planner sees the devices file."""
    if devices is None:
        spec = RunSpec(graph="rgg", n_devices=g.n, dataset="digits", split="3-label", seed=seed)
        model, _pop, test = build_problem(spec)
        return model, test, lambda idx: devices_of(model, idx)
    model = digits_for_devices(devices, g.n, seed).logistic()
    return model, None, devices.subset


def make_trace(
    g: Graph,
    kind: str,
    cycles: int,
    *,
    rate: float = 0.03,
    fraction: float | None = None,
    seed: int = 0,
) -> MembershipTrace:
    """A trace by kind: ``random`` (leave/join ``rate`` per cycle, 90 % present at the start),
    ``regional`` (a connected ``fraction`` = 30 % fails at cycle ``⌈C/3⌉``, for good) or ``mass``
    (``fraction`` = 80 % fail at cycle ``⌈C/3⌉`` and come back at ``⌈2C/3⌉``); with ``C = 24``
    the bursts are at cycles 8 and 16 as in docs/churn.md."""
    if kind not in TRACES:
        raise SsdflError(f"unknown trace {kind!r} (one of {', '.join(TRACES)})")
    if cycles < 1:
        raise SsdflError(f"cycles must be >= 1, got {cycles}")
    if fraction is not None and not 0.0 < fraction <= 1.0:
        raise SsdflError(f"the failing fraction must be in (0, 1], got {fraction}")
    if not 0.0 <= rate < 1.0:
        raise SsdflError(f"the churn rate must be in [0, 1), got {rate}")
    if kind == "random":
        return random_churn(g, cycles, rate, start_fraction=0.9, seed=seed)
    at = max(1, -(-cycles // 3))
    if kind == "regional":
        return regional_failure(g, cycles, at, 0.3 if fraction is None else fraction, seed=seed)
    back = max(at + 1, -(-2 * cycles // 3))
    return mass_failure(g, cycles, at, 0.8 if fraction is None else fraction,
                        back_at=back if back <= cycles else None, seed=seed)  # fmt: skip


def make_reform(
    devices_fn: DevicesFn, initial_idx: np.ndarray, initial_labels: np.ndarray, log: list,
    config: PlanConfig,
) -> Callable[[Graph, np.ndarray, str], tuple[np.ndarray, int]]:  # fmt: skip
    """The ``reform`` hook of :func:`simulate_churn`: repair (or re-form from scratch) the last
    formation for the present devices; appends seconds and bytes of every call to ``log``."""
    prev = {"idx": initial_idx, "lab": initial_labels}

    def reform(sub: Graph, old_lab: np.ndarray, strategy: str) -> tuple[np.ndarray, int]:
        idx = np.asarray(sub.node_names(), dtype=np.int64)  # universe indices
        pi, pl = prev["idx"], prev["lab"]
        old = OldFormation([int(u) for u in pi],
                           [np.flatnonzero(pl == c) for c in np.unique(pl)])  # fmt: skip
        t = time.perf_counter()
        res = repair_formation(old, sub, devices_fn(idx), config,
                               force="repair" if strategy == "repair" else "full")  # fmt: skip
        tf = res.traffic
        log.append({"strategy": strategy, "seconds": time.perf_counter() - t,
                    "bytes": tf["bytes"], "full_bytes": tf["full_bytes"]})  # fmt: skip
        lab = res.labels
        prev["idx"], prev["lab"] = idx, lab
        return lab, int(res.traffic["bytes"])

    return reform


def _initial_formation(sub: Graph, dev: DeviceTable, cfg: PlanConfig) -> tuple[np.ndarray, int]:
    """Labels of the initially present devices and the flooding bytes that formed them: the
    planner on the present graph; if it is disconnected (random churn can start so), the
    planner per component (:func:`ssdfl.planner.repair.full_reformation`), flooding per
    component."""
    import scipy.sparse.csgraph as csg

    extra = record_extra_bytes(dev)
    k, comp = csg.connected_components(as_graph(sub).to_scipy(), directed=False)
    if k == 1:
        return plan_formation(sub, dev, cfg).assignment, flooding_traffic(
            sub, record_bytes(sub, extra)
        ).bytes
    lab = np.empty(sub.n, dtype=np.int64)
    for i, c in enumerate(full_reformation(sub, dev, cfg)):
        lab[c] = i
    init = sum(
        flooding_traffic(
            sub.subgraph(Positions(m)), record_bytes(sub.subgraph(Positions(m)), extra)
        ).bytes
        for m in (np.flatnonzero(comp == j) for j in range(k))
    )
    return lab, int(init)


def run_trace(
    model: Any,
    g: Graph,
    trace: MembershipTrace,
    strategies: Sequence[str],
    *,
    seed: int,
    devices_fn: DevicesFn,
    test_data: tuple[np.ndarray, np.ndarray] | None = None,
    setup: ChurnSetup | None = None,
) -> tuple[list[pd.DataFrame], list[dict[str, Any]]]:
    """Plan the initial formation of ``trace.initial`` once, then train each strategy under
    ``trace``; returns the per-cycle tables (with a ``recovery`` column) and the reform log."""
    st = setup or ChurnSetup()
    for s in strategies:
        if s not in STRATEGIES:
            raise SsdflError(f"unknown strategy {s!r} (one of {', '.join(STRATEGIES)})")
    cfg = st.config()
    n = g.n
    idx = np.flatnonzero(trace.initial)
    sub = g.subgraph(Positions(idx))
    first, init = _initial_formation(sub, devices_fn(idx), cfg)
    lab = np.zeros(n, dtype=np.int64)
    lab[idx] = first
    out: list[pd.DataFrame] = []
    log: list[dict[str, Any]] = []
    for strat in strategies:
        lg: list[dict[str, Any]] = []
        rf = (make_reform(devices_fn, idx, first, lg, cfg)
              if strat in ("repair", "full") else None)  # fmt: skip
        r = simulate_churn(model, g, trace, lab, strategy=strat, reform=rf, tau_a=st.tau_a,
                           tau_r=st.tau_r, eta=st.eta, seed=seed, test_data=test_data,
                           init_bytes=init if strat != "modest" else 0,
                           modest={"sample_size": st.sample_size,
                                   "aggregators": st.aggregators})  # fmt: skip
        df = r.table()
        df["recovery"] = r.recovery_cycles()
        out.append(df)
        log += [{**e, "trace": trace.name, "seed": seed} for e in lg]
    return out, log


def run_churn(
    g: Graph,
    trace: str,
    strategies: Sequence[str],
    *,
    devices: DeviceTable | None = None,
    cycles: int = 24,
    seeds: int = 5,
    first_seed: int = 0,
    rate: float = 0.03,
    fraction: float | None = None,
    setup: ChurnSetup | None = None,
    progress: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`run_trace` on ``g`` for seeds ``first_seed …`` (the seed draws the data split,
    the trace and the training); returns the per-cycle table and the reform log."""
    frames: list[pd.DataFrame] = []
    logs: list[dict[str, Any]] = []
    with stage(_log, f"churn: {seeds} seed(s) × {len(strategies)} strategies",
               total=seeds, enabled=progress) as bar:  # fmt: skip
        for s in range(first_seed, first_seed + seeds):
            model, test, devices_fn = churn_problem(g, devices, s)
            tr = make_trace(g, trace, cycles, rate=rate, fraction=fraction, seed=s)
            f, lg = run_trace(model, g, tr, strategies, seed=s, devices_fn=devices_fn,
                              test_data=test, setup=setup)  # fmt: skip
            frames += f
            logs += lg
            bar.advance()
    return pd.concat(frames, ignore_index=True), pd.DataFrame(logs)


# ---------------------------------------------------------------------------- reporting


def quartiles(v: pd.Series) -> tuple[float, float, float]:
    """``(q1, median, q3)`` of the non-missing values (NaNs if none)."""
    v = v.dropna()
    if v.empty:
        return (float("nan"),) * 3
    q1, m, q3 = np.percentile(v, [25, 50, 75])
    return float(q1), float(m), float(q3)


def _mq(v: pd.Series, fmt: str) -> str:
    """``median [q1, q3]`` of a column over seeds."""
    q1, m, q3 = quartiles(v)
    if np.isnan(m):
        return "—"
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


def per_run(df: pd.DataFrame) -> pd.DataFrame:
    """One row per (trace, strategy, seed): final accuracy of the devices' own models, lowest
    accuracy after the burst, max stranded and isolated devices, formation kB, training MB,
    formation / training ratio, recovery cycles."""
    rows = []
    for (tr, st, seed), grp in df.groupby(["trace", "strategy", "seed"], sort=False):
        r = grp.sort_values("cycle")
        b = r["burst"].iloc[0] if "burst" in r else np.nan
        after = r[r.cycle >= b] if pd.notna(b) else r.iloc[0:0]
        rows.append({
            "trace": tr, "strategy": st, "seed": seed,
            "acc": r.device_acc_mean.iloc[-1],
            "dip": after.device_acc_mean.min() if len(after) else np.nan,
            "stranded": r.stranded.max(), "isolated": r.isolated.max(),
            "form": r.bytes_formation.iloc[-1] / 1e3,
            "train": r.bytes_train.iloc[-1] / 1e6,
            "ratio": r.bytes_formation.iloc[-1] / max(r.bytes_train.iloc[-1], 1),
            "rec": _recovery(r, b),
        })  # fmt: skip
    return pd.DataFrame(rows)


def summary(df: pd.DataFrame, logs: pd.DataFrame) -> str:
    """Markdown table, one row per (trace, strategy): median [IQR] over seeds of the final
    accuracy of the devices' own models, the lowest accuracy after the burst, max stranded
    devices, formation kB, training MB and recovery cycles; then the reform calls."""
    rows = ["| trace | strategy | seeds | final device acc | min acc after burst | max stranded "
            "| formation kB | training MB | formation / training | recovery (cycles) |",
            "|---|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    pr = per_run(df)
    for (tr, st), p in pr.groupby(["trace", "strategy"], sort=False):
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


def headline(df: pd.DataFrame) -> str:
    """One paragraph answering "how did the devices do under this churn": per strategy, the
    final accuracy of the devices' own models (median [IQR] over seeds), (re-)formation and
    training bytes, and the most devices stranded at once."""
    pr = per_run(df)
    parts = []
    for (_tr, st), p in pr.groupby(["trace", "strategy"], sort=False):
        parts.append(
            f"{STRATEGY_NAMES.get(st, st)}: final accuracy of the devices' own models "
            f"{_mq(p.acc, '.3f')}, {_mq(p.form, ',.0f')} kB on (re-)formation and "
            f"{_mq(p.train, '.2f')} MB on training, at most {_mq(p.stranded, '.0f')} device(s) "
            f"stranded"
        )
    first = pr.iloc[0] if len(pr) else None
    head = (f"Under {first.trace} over {pr.seed.nunique()} seed(s) (median [IQR]) — "
            if first is not None else "")  # fmt: skip
    return head + "; ".join(parts) + "."


def plot_churn(
    df: pd.DataFrame, out_dir: str | Path, title: str, prefix: str = "churn"
) -> list[Path]:
    """``{prefix}_accuracy.png`` and ``{prefix}_stranded.png`` in ``out_dir``: median and IQR
    over seeds per strategy and trace (fixed colours, one legend under the panels)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    traces = list(dict.fromkeys(df.trace))
    colors = {"none": "C0", "repair": "C1", "full": "C2", "modest": "C3"}
    written = []
    for metric, ylabel, fname, step in (
        ("device_acc_mean", "mean accuracy of the devices' own models", "accuracy", False),
        ("stranded", "stranded devices", "stranded", True),
    ):
        fig, axes = plt.subplots(1, len(traces), figsize=(4.6 * len(traces), 3.6), sharey=True,
                                 squeeze=False)  # fmt: skip
        handles = {}
        for ax, tr in zip(axes[0], traces):
            for strat, grp in df[df.trace == tr].groupby("strategy", sort=False):
                q = grp.groupby("cycle")[metric].quantile([0.25, 0.5, 0.75]).unstack()
                c = colors.get(str(strat))
                if step:
                    (h,) = ax.step(q.index, q[0.5], where="post", color=c)
                    ax.fill_between(q.index, q[0.25], q[0.75], alpha=0.2, step="post", color=c)
                else:
                    (h,) = ax.plot(q.index, q[0.5], color=c)
                    ax.fill_between(q.index, q[0.25], q[0.75], alpha=0.2, color=c)
                handles[STRATEGY_NAMES.get(str(strat), str(strat))] = h
            if "burst" in df and df[df.trace == tr].burst.notna().any():
                ax.axvline(float(df[df.trace == tr].burst.dropna().iloc[0]), color="0.5",
                           ls=":", lw=1)  # fmt: skip
            ax.set_title(tr, fontsize=9)
            ax.set_xlabel("cycle")
            ax.grid(alpha=0.3)
        axes[0][0].set_ylabel(ylabel)
        fig.legend(list(handles.values()), list(handles), loc="lower center",
                   ncol=max(1, len(handles)), fontsize=9, frameon=False)  # fmt: skip
        fig.suptitle(title, fontsize=10)
        fig.tight_layout(rect=(0, 0.07, 1, 0.95))
        written.append(save_figure(fig, Path(out_dir) / f"{prefix}_{fname}.png"))
    return written
