"""Plots of the cost/latency/memory models (matplotlib, Agg backend, atomic file output)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ssdfl._atomic import atomic_path
from ssdfl.aggregation.cost import (
    VGG16_MB,
    Pricing,
    crossover_mb,
    sharded_cost,
    tree_cost,
)


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_cost_vs_size(
    path: str | Path,
    *,
    clients: int = 20,
    shards: int = 4,
    pricing: Pricing | None = None,
    sizes_mb: Sequence[float] | None = None,
    model_mb: float | None = None,
) -> Path:
    """$ per 1,000 rounds and round latency vs gradient size for GradsSharding, λ-FL and LIFL;
    infeasible tree sizes (memory above the ceiling) are dropped; the crossover is marked, and
    ``model_mb`` (the user's gradient size) if given."""
    p = pricing or Pricing()
    plt = _plt()
    s = np.asarray(sizes_mb if sizes_mb is not None else np.geomspace(10, 10_240, 120))
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.2))
    designs = {
        f"GradsSharding M={shards}": lambda x: sharded_cost(x, clients, shards, p),
        "λ-FL": lambda x: tree_cost(x, clients, kind="lambda-fl", p=p),
        "LIFL": lambda x: tree_cost(x, clients, kind="lifl", p=p),
    }
    for name, f in designs.items():
        rc = [f(float(x)) for x in s]
        ok = np.array([r.feasible for r in rc])
        ax.plot(s[ok], [r.per_1000_rounds_usd for r, o in zip(rc, ok) if o], label=name)
        bx.plot(s[ok], [r.latency_s for r, o in zip(rc, ok) if o], label=name)
    x = crossover_mb(clients, shards, p=p)
    if x is not None:
        ax.axvline(x, color="grey", ls="--", lw=0.8)
        ax.annotate(
            f"crossover vs λ-FL ≈ {x:.0f} MiB",
            (x, ax.get_ylim()[1]),
            fontsize=8,
            rotation=90,
            va="top",
            ha="right",
        )
    for a in (ax, bx):
        a.axvline(VGG16_MB, color="k", ls=":", lw=0.8)
        if model_mb is not None:
            a.axvline(model_mb, color="tab:red", ls="-.", lw=1.0, label=f"S = {model_mb:,.1f} MiB")
        a.set_xscale("log")
        a.set_yscale("log")
        a.set_xlabel("gradient size S (MiB)")
        a.grid(alpha=0.3, which="both")
    ax.set_ylabel("$ per 1,000 rounds (round trip)")
    bx.set_ylabel("aggregation latency per round (s)")
    ax.legend(fontsize=8)
    ax.set_title(f"Cost model, N={clients}, {p.read_mb_s:g} MiB/s", fontsize=10)
    bx.set_title("Latency model (dotted: VGG-16 512 MiB)", fontsize=10)
    fig.tight_layout()
    out = Path(path)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=130)
    plt.close(fig)
    return out


def plot_memory_vs_size(
    path: str | Path,
    *,
    pricing: Pricing | None = None,
    shard_counts: Sequence[int] = (1, 4, 16),
    model_mb: float | None = None,
) -> Path:
    """Configured function memory ``c·S/M + O`` vs gradient size for each shard count ``M``
    (``M = 1``: a tree aggregator), with the ceiling and ``model_mb`` marked if given."""
    p = pricing or Pricing()
    plt = _plt()
    s = np.geomspace(10, 20_480, 200)
    fig, ax = plt.subplots(figsize=(6, 4))
    for m in shard_counts:
        lbl = "tree aggregator (any depth) = M=1" if m == 1 else f"GradsSharding M={m}"
        ax.plot(s, p.memory_copies * s / m + p.runtime_overhead_mb, label=lbl)
    ax.axhline(p.memory_ceiling_mb, color="r", ls="--", label="function memory ceiling")
    if model_mb is not None:
        ax.axvline(model_mb, color="k", ls="-.", lw=1.0, label=f"S = {model_mb:,.1f} MiB")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("gradient size S (MiB)")
    ax.set_ylabel("function memory (MiB)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    out = Path(path)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=130)
    plt.close(fig)
    return out


def plot_measured_memory(path: str | Path, rows: Sequence[dict]) -> Path:
    """Bar chart of measured vs predicted peak per function (rows from ``ssdfl shard run``
    or the memory benchmark: ``name``, ``predicted_mb``, ``measured_mb``, ``ok``)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(max(5, 0.6 * len(rows) + 2), 4))
    x = np.arange(len(rows))
    ax.bar(x - 0.2, [r["predicted_mb"] for r in rows], 0.4, label="predicted")
    ax.bar(x + 0.2, [r["measured_mb"] for r in rows], 0.4, label="measured peak RSS")
    ax.set_xticks(
        x,
        [r["name"] + ("" if r.get("ok", True) else " ✗") for r in rows],
        rotation=45,
        ha="right",
        fontsize=8,
    )
    ax.set_ylabel("MiB")
    ax.legend(fontsize=8)
    fig.tight_layout()
    out = Path(path)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, dpi=130)
    plt.close(fig)
    return out
