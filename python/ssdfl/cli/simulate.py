"""``ssdfl simulate CONFIG``: run an experiment grid and write its table, thresholds and plots."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from ssdfl.cli.app import app, console, quiet, table_console


@app.command()
def simulate(
    config: Path = typer.Argument(
        ...,
        help="Experiment config (.toml or .json), see docs/simulator.md.",
        exists=True,
        dir_okay=False,
    ),
    out: Path = typer.Option(
        Path("results"), "--out", "-o", help="Output directory (written whole, replaced whole)."
    ),
    workers: int | None = typer.Option(
        None, "--workers", "-w", min=1, help="Dask LocalCluster workers."
    ),
    address: str | None = typer.Option(None, "--address", help="Existing dask scheduler address."),
    serial: bool = typer.Option(False, "--serial", help="Run in this process, no dask."),
    progress: bool = typer.Option(True, "--progress/--no-progress", hidden=True),
    as_json: bool = typer.Option(False, "--json", help="Print the threshold table as JSON."),
) -> None:
    """Run every run of CONFIG (a grid of RunSpec fields) on dask and write NAME.csv,
    NAME_thresholds.csv and NAME.png into --out."""
    from ssdfl._atomic import atomic_dir, check_out

    check_out(out)  # before the imports and the work: --out named, nothing computed
    from ssdfl.experiments.grid import load_config, run_config

    cfg = load_config(config)
    n = len(cfg.specs())
    if not as_json:
        console.print(f"[bold]{cfg.name}[/]: {n} run(s) → {out}")
    show = progress and not quiet() and not as_json
    with atomic_dir(out) as tmp:
        table, thr = run_config(
            cfg, tmp, serial=serial, workers=workers, address=address, progress=show
        )
    if as_json:
        rows = [] if thr is None else json.loads(thr.to_json(orient="records"))
        print(json.dumps({"name": cfg.name, "runs": n, "rows": len(table), "out": str(out),
                          "thresholds": rows}))  # fmt: skip
        return
    if thr is not None:
        t = Table(title=f"{cfg.name}: cycles / D2D bytes to reach each threshold")
        for c in thr.columns:
            t.add_column(str(c))
        for _, row in thr.iterrows():
            t.add_row(*[f"{v:.4g}" if isinstance(v, float) else str(v) for v in row])
        table_console().print(t)
    console.print(f"wrote {out / (cfg.name + '.csv')} ({len(table)} rows)")
