"""``ssdfl simulate CONFIG``: run an experiment grid and write its table, thresholds and plots."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from ssdfl.cli.app import app, console


@app.command()
def simulate(
    config: Path = typer.Argument(
        ..., help="Experiment config (.toml or .json), see docs/simulator.md."
    ),
    out: Path = typer.Option(Path("results"), "--out", "-o", help="Output directory."),
    workers: int | None = typer.Option(None, "--workers", "-w", help="Dask LocalCluster workers."),
    address: str | None = typer.Option(None, "--address", help="Existing dask scheduler address."),
    serial: bool = typer.Option(False, "--serial", help="Run in this process, no dask."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Progress bar."),
) -> None:
    """Run every run of CONFIG (a grid of RunSpec fields) on dask and write
    <name>.csv, <name>_thresholds.csv and <name>.png into --out."""
    from ssdfl.experiments.grid import load_config, run_config

    cfg = load_config(config)
    n = len(cfg.specs())
    console.print(f"[bold]{cfg.name}[/]: {n} run(s) → {out}")
    table, thr = run_config(
        cfg, out, serial=serial, workers=workers, address=address, progress=progress
    )
    if thr is not None:
        t = Table(title=f"{cfg.name}: cycles / D2D bytes to reach each threshold")
        cols = [c for c in thr.columns]
        for c in cols:
            t.add_column(c)
        for _, row in thr.iterrows():
            t.add_row(*[f"{v:.4g}" if isinstance(v, float) else str(v) for v in row])
        console.print(t)
    console.print(f"wrote {out / (cfg.name + '.csv')} ({len(table)} rows)")
