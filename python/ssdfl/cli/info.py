"""``ssdfl info``: summary of a graph file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import typer
from rich.table import Table

from ssdfl.cli.app import app, console
from ssdfl.graph import Graph
from ssdfl.graph_io import read_graph
from ssdfl.metrics import conductance, connected_components


def sample_set(g: Graph) -> np.ndarray:
    """A reproducible sample set: the first ⌊n/2⌋ nodes in breadth-first order from node 0."""
    import scipy.sparse.csgraph as csg

    order = csg.breadth_first_order(g.to_scipy(), 0, directed=False, return_predecessors=False)
    rest = np.setdiff1d(np.arange(g.n), order)
    order = np.concatenate([order, rest])
    return np.sort(order[: g.n // 2])


@app.command()
def info(
    graph: Path = typer.Argument(
        ..., help="Graph file (.edgelist, .mtx, .graph, .json, .graphml)."
    ),
    fmt: str | None = typer.Option(None, "--format", help="Override the format detection."),
    nodes: str | None = typer.Option(
        None,
        "--set",
        help="Comma-separated node indices whose conductance to report "
        "(default: the first half of the nodes in BFS order from node 0).",
    ),
) -> None:
    """Print nodes, edges, connectivity, degree summary and the conductance of a sample set."""
    g = read_graph(graph, format=fmt)
    comps = connected_components(g)
    deg = g.degrees
    t = Table(title=f"{graph}", show_header=False)
    t.add_row("nodes", str(g.n))
    t.add_row("edges", str(g.m))
    t.add_row("weighted", "yes" if g.weighted else "no")
    t.add_row("connected", "yes" if len(comps) == 1 else f"no ({len(comps)} components)")
    if g.n:
        t.add_row(
            "degree min / mean / max",
            f"{deg.min():.4g} / {deg.mean():.4g} / {deg.max():.4g}",
        )
    if g.n >= 2:
        s = np.array([int(x) for x in nodes.split(",")]) if nodes else sample_set(g)
        try:
            phi = f"{conductance(g, s):.6g}"
        except ValueError as exc:
            phi = f"undefined ({exc})"
        shown = ", ".join(map(str, s[:12].tolist())) + (" …" if len(s) > 12 else "")
        t.add_row(f"conductance of S = {{{shown}}}", phi)
    console.print(t)
