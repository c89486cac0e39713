"""``ssdfl export FORMATION.json``: per-cluster and inter-cluster topologies with their mixing
weights for decentralizepy, networkx or plain JSON."""

from __future__ import annotations

from pathlib import Path

import typer

from ssdfl.cli.app import app, console
from ssdfl.graphs.graph_io import format_option_help


@app.command()
def export(
    formation: Path = typer.Argument(
        ..., exists=True, dir_okay=False, help="formation.json written by ssdfl form."
    ),
    graph: Path = typer.Option(
        ..., "--graph", "-g", exists=True, dir_okay=False, help="The graph file it was planned on."
    ),
    to: str = typer.Option("json", "--to", help="decentralizepy | networkx | json"),
    out: Path = typer.Option(
        Path("ssdfl-export"),
        "--out",
        "-o",
        help="Output directory (written whole, replaced whole).",
    ),
    fmt: str | None = typer.Option(None, "--format", help=format_option_help()),
) -> None:
    """Write the topology of every cluster and of the inter-cluster stage, with mixing weights,
    in the format of --to. FORMATION is validated first (nodes are the graph's, clusters a
    partition into connected sets, FMMC weights finite in [0, 1] on cluster edges). Formats
    and what each tool reads: docs/formation.md, section "Export (ssdfl export)"."""
    from ssdfl._atomic import atomic_dir, check_output_dir
    from ssdfl.cli._inputs import read_cli_graph
    from ssdfl.planner.export import FORMATS, export_formation
    from ssdfl.planner.formation_io import read_formation

    if to not in FORMATS:
        raise typer.BadParameter(
            f"{to!r} is not a format: choose one of {', '.join(FORMATS)}", param_hint="--to"
        )
    check_output_dir(out)
    g = read_cli_graph(graph, fmt)
    rec = read_formation(formation, g)  # the one validator of formation.json
    with atomic_dir(out) as tmp:
        files = export_formation(rec, g, to, tmp)
        from ssdfl.planner.specialise import export_model_groups

        files += export_model_groups(formation, tmp)  # model_groups.json of --goal specialised
    console.print(f"wrote {len(files)} file(s) for {to} into {out}")
