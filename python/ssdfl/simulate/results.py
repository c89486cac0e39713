"""Simulation results: a tidy per-cycle table, threshold summaries, and plots.

Tidy table (:meth:`SimulationResult.table`): one row per evaluated cycle with the metric columns
of :mod:`ssdfl.simulate.metrics`, the cumulative traffic columns (``msgs_intra``,
``bytes_intra``, ``msgs_inter``, ``bytes_inter``, ``d2d_msgs``, ``d2d_bytes``,
``msgs_server``, ``bytes_server``), the one-time initialization traffic (``init_msgs``,
``init_bytes``, ``init_rounds``), and the run parameters (method, τ_a, τ_r, η, seed, …).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ssdfl._atomic import atomic_write
from ssdfl.errors import SsdflError
from ssdfl.graphs import plotting
from ssdfl.simulate.comm import InitTraffic

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["SimulationResult", "plot_curves", "save_figure", "threshold_table"]

_LOWER_IS_BETTER = (
    "loss", "consensus_gap", "dist_opt", "device_loss_mean", "device_loss_max",
    "own_loss_mean", "own_loss_max", "own_loss_p90",
)  # fmt: skip


@dataclass
class SimulationResult:
    """Outcome of :func:`ssdfl.simulate.simulate`: per-evaluation ``history`` rows, run
    ``params``, one-time traffic ``init``, the cluster ``labels`` (if any), final models ``X``,
    recorded ``models`` (if asked) and whether the run ``diverged``."""

    history: list[dict[str, Any]]
    params: dict[str, Any]
    init: InitTraffic
    labels: np.ndarray | None
    X: np.ndarray
    models: list[np.ndarray] = field(default_factory=list)
    diverged: bool = False
    bytes_per_param: int = 4

    def table(self) -> pd.DataFrame:
        """The tidy table (module docstring)."""
        df = pd.DataFrame(self.history)
        df["init_rounds"] = self.init.rounds
        df["init_msgs"] = self.init.messages
        df["init_bytes"] = self.init.bytes
        for k, v in self.params.items():
            df[k] = v
        df["diverged"] = self.diverged
        return df

    @property
    def final(self) -> dict[str, Any]:
        """The last history row."""
        return dict(self.history[-1])

    def cycles_to(self, threshold: float, metric: str = "accuracy") -> float:
        """First evaluated cycle at which ``metric`` reaches ``threshold`` (≥ for accuracy,
        ≤ for losses and gaps); ``nan`` if never."""
        return _first(self.table(), metric, threshold, "cycle")

    def bytes_to(
        self, threshold: float, metric: str = "accuracy", include_init: bool = True
    ) -> float:
        """D2D bytes spent until ``metric`` first reaches ``threshold`` (plus the one-time
        initialization bytes if ``include_init``); ``nan`` if never."""
        b = _first(self.table(), metric, threshold, "d2d_bytes")
        return b + self.init.bytes if include_init and np.isfinite(b) else b

    def to_csv(self, path: str | os.PathLike[str]) -> None:
        """Write :meth:`table` atomically."""
        with atomic_write(path) as fh:
            self.table().to_csv(fh, index=False)

    def plot(
        self, y: str = "loss", x: str = "cycle", path: str | os.PathLike[str] | None = None
    ) -> Figure:
        """Line plot of ``y`` against ``x`` (saved atomically to ``path`` if given)."""
        return plot_curves(self.table(), y=y, x=x, path=path)


def _reached(values: np.ndarray, metric: str, threshold: float) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        if metric in _LOWER_IS_BETTER:
            return values <= threshold
        return values >= threshold


def _first(df: pd.DataFrame, metric: str, threshold: float, col: str) -> float:
    if metric not in df:
        raise SsdflError(f"the table has no column {metric!r}")
    hit = _reached(df[metric].to_numpy(dtype=float), metric, threshold)
    if not hit.any():
        return float("nan")
    return float(df[col].to_numpy()[np.argmax(hit)])


def threshold_table(
    table: pd.DataFrame,
    thresholds: Sequence[float],
    metric: str = "accuracy",
    by: Sequence[str] = ("method",),
    run_keys: Sequence[str] = ("seed",),
) -> pd.DataFrame:
    """Cycles and D2D bytes (training + initialization) to reach each threshold.

    ``table`` holds many runs; a run is identified by ``by`` + ``run_keys`` (+ any other
    parameter columns present in ``table`` that vary, e.g. graph or τ_a). Returns one row per
    ``by`` group and threshold with the median over runs of ``cycles`` and ``bytes``, and
    ``reached`` = fraction of runs that got there.
    """
    params = [c for c in _PARAM_COLUMNS if c in table.columns]
    keys = list(dict.fromkeys([*by, *run_keys, *params]))
    rows = []
    for key, run in table.groupby(keys, dropna=False, sort=False):
        run = run.sort_values("cycle")
        init = float(run["init_bytes"].iloc[0]) if "init_bytes" in run else 0.0
        for th in thresholds:
            cyc = _first(run, metric, th, "cycle")
            b = _first(run, metric, th, "d2d_bytes")
            rows.append({**dict(zip(keys, key)), "threshold": th, "cycles": cyc,
                         "bytes": b + init if np.isfinite(b) else b})  # fmt: skip
    runs = pd.DataFrame(rows)
    out = (
        runs.groupby([*by, "threshold"], dropna=False)
        .agg(
            cycles=("cycles", "median"),
            bytes=("bytes", "median"),
            reached=("cycles", lambda s: float(np.isfinite(s).mean())),
            runs=("cycles", "size"),
        )
        .reset_index()
    )
    return out


_PARAM_COLUMNS = (
    "graph", "n_devices", "split", "tau_a", "tau_r", "optimizers", "normalize", "eta",
    "n_clusters", "dataset",
)  # fmt: skip


def save_figure(fig: Figure, path: str | os.PathLike[str], dpi: int = 120) -> None:
    """Save a matplotlib figure atomically (``savefig`` on a temporary file, then rename);
    the figure stays open."""
    plotting.save_figure(fig, path, dpi=dpi, close=False)


def plot_curves(
    table: pd.DataFrame,
    y: str = "loss",
    x: str = "cycle",
    hue: str = "method",
    ax: Any = None,
    logy: bool | None = None,
    title: str | None = None,
    path: str | os.PathLike[str] | None = None,
) -> Figure:
    """Median (over seeds) curve of ``y`` against ``x`` per ``hue`` value, with the
    min–max band over seeds when several runs share a ``hue`` value."""
    import matplotlib

    if ax is None:
        matplotlib.use(matplotlib.get_backend())
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(5.5, 3.6))
    else:
        fig = ax.figure
    if y not in table or x not in table:
        raise SsdflError(f"the table needs columns {x!r} and {y!r}")
    any_positive = False
    for name, grp in table.groupby(hue, sort=False):
        if not grp[y].notna().any():
            continue  # e.g. accuracy of a regression run in a mixed table
        any_positive |= bool((grp[y] > 0).any())
        per = grp.groupby("cycle")
        xs = per[x].median().to_numpy(dtype=float)
        med = per[y].median().to_numpy(dtype=float)
        ax.plot(xs, med, label=str(name), lw=1.6)
        if per.ngroups and grp.groupby("cycle").size().max() > 1:
            ax.fill_between(xs, per[y].min(), per[y].max(), alpha=0.15)
    if (logy if logy is not None else y in _LOWER_IS_BETTER) and any_positive:
        ax.set_yscale("log")
    ax.set_xlabel({"d2d_bytes": "D2D bytes", "cycle": "global cycle"}.get(x, x))
    ax.set_ylabel(y.replace("_", " "))
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    if ax.get_lines():
        ax.legend(fontsize=8)
    if path is not None:
        save_figure(fig, path)
    return fig
