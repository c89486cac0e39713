"""``ssdfl info``: summary of a graph file (size, connectivity, degrees, a sample cut)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import typer
from rich.table import Table

from ssdfl.cli._inputs import read_cli_graph
from ssdfl.cli.app import app, console
from ssdfl.errors import SsdflError
from ssdfl.graphs.graph import Graph, NodeSet, Positions
from ssdfl.graphs.graph_io import format_help
from ssdfl.graphs.metrics import conductance, connected_components, cut_size, volume


def sample_set(g: Graph) -> np.ndarray:
    """A reproducible sample set: the first ⌊n/2⌋ nodes in breadth-first order from node 0
    (neighbours visited in increasing index order; nodes unreachable from 0 follow in index
    order), returned sorted."""
    import scipy.sparse.csgraph as csg

    if g.n == 0:
        return np.zeros(0, dtype=np.int64)
    order = csg.breadth_first_order(g.to_scipy(), 0, directed=False, return_predecessors=False)
    rest = np.setdiff1d(np.arange(g.n), order)
    order = np.concatenate([order, rest])
    return np.sort(order[: g.n // 2]).astype(np.int64)


def graph_summary(g: Graph, S: NodeSet | None = None, strict: bool = False) -> dict[str, Any]:
    """Numbers shown by ``ssdfl info``.

    Degrees are weighted (``d_u = Σ_v w_uv``); ``total_volume = Σ_u d_u = 2·Σ_e w_e``. For the
    set ``S`` (default :func:`sample_set`): ``vol(S)``, ``cut(S) = cut(S, V∖S)`` and the
    conductance ``cut(S) / min(vol S, vol V∖S)``. With ``strict`` an undefined conductance
    (empty S, S = V, a side of zero volume) raises; otherwise it is reported as ``None`` with
    the reason. ``S`` is a node set (node names, :meth:`Graph.index`; ``Positions`` for
    positions); the entry lists both (``nodes``: positions, ``names``: the labels).
    """
    comps = connected_components(g)
    deg = g.degrees
    out: dict[str, Any] = {
        "nodes": g.n,
        "edges": g.m,
        "weighted": g.weighted,
        "connected": len(comps) == 1,
        "components": len(comps),
        "largest_component": max((len(c) for c in comps), default=0),
        "total_volume": float(deg.sum()),
    }
    if g.n:
        out["degree"] = {
            "min": float(deg.min()),
            "mean": float(deg.mean()),
            "median": float(np.median(deg)),
            "max": float(deg.max()),
        }
    if S is None:
        if g.n < 2:
            return out
        S = Positions(sample_set(g))
    mask = g.mask(S)
    entry: dict[str, Any] = {
        "size": int(mask.sum()),
        "nodes": np.flatnonzero(mask).tolist(),
        "names": g.names(mask),
        "volume": volume(g, mask, weight="weight"),
        "cut": cut_size(g, mask, weight="weight"),
    }
    try:
        entry["conductance"] = conductance(g, mask, weight="weight")
    except SsdflError as exc:
        if strict:
            raise
        entry["conductance"] = None
        entry["undefined_because"] = str(exc)
    out["set"] = entry
    return out


def _parse_set(text: str, string_names: bool = False) -> list[int | str]:
    """Comma-separated node names (surrounding blanks stripped): a token that is an integer is
    an integer name unless the graph's names are strings (``string_names``)."""
    out: list[int | str] = []
    for tok in (t.strip() for t in text.split(",")):
        if not tok:
            continue
        try:
            out.append(tok if string_names else int(tok))
        except ValueError:
            out.append(tok)
    return out


def _fmt(x: float) -> str:
    return f"{x:.6g}"


def _is_number(tok: str) -> bool:
    try:
        float(tok)
    except ValueError:
        return False
    return True


def _refuse_table_header(path: Path) -> None:
    """Refuse a plain-text edge list whose first data line is a table header (``u,v`` or a
    devices file's ``id,optimizer,…``) while the next line is numeric: an edge list has no
    header, so the header would be read as an edge between nodes named after the columns."""
    if path.suffix.lower() not in (".csv", ".txt", ".edgelist", ".tsv") or not path.is_file():
        return
    lines: list[str] = []
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            for raw in fh:
                line = raw.strip()
                if line and not line.startswith(("#", "%")):
                    lines.append(line)
                if len(lines) == 2:
                    break
    except OSError:
        return  # the reader reports it
    if len(lines) < 2:
        return
    head, nxt = (line.replace(",", " ").split() for line in lines)
    devices = len(head) >= 2 and head[0].lower() == "id" and not any(map(_is_number, head))
    plain = head and nxt and not any(map(_is_number, head)) and all(map(_is_number, nxt[:2]))
    if devices or plain:
        what = "a devices table (give it to --devices)" if devices else "a header"
        raise SsdflError(
            f"{path}: the first line {lines[0][:60]!r} looks like {what}, not an edge; an edge "
            "list has no header: remove the line or comment it out with '#'"
        )


@app.command()
def info(
    graph: Path = typer.Argument(..., help=format_help("Graph file")),
    fmt: str | None = typer.Option(None, "--format", help="Override the format detection."),
    nodes: str | None = typer.Option(
        None,
        "--set",
        help="Comma-separated node names whose volume, cut and conductance to report: the "
        "file's labels (0-based node numbers for formats without labels), e.g. Myriel,Napoleon "
        "(default: the first half of the nodes in BFS order from node 0).",
    ),
    directed: str | None = typer.Option(
        None,
        "--directed",
        help="Edge lists: a node pair listed twice (u v and v u, SNAP directed files) is "
        "'merge'd into one edge, 'sum'med, or an 'error'. Default: sum, but merge with a "
        "warning when the header says 'Directed graph'.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the numbers as JSON."),
) -> None:
    """Print nodes, edges, connectivity, degree summary and the conductance of a sample set.

    Degrees and volumes are weighted; conductance = cut(S) / min(vol S, vol V∖S) with the
    weights (networkx: ``nx.conductance(G, S, weight="weight")``).
    """
    if fmt in (None, "edgelist"):
        _refuse_table_header(graph)
    g = read_cli_graph(graph, fmt, need_nodes=False, directed=directed)
    strings = g.labels is not None and g.labels.dtype.kind not in "iu"
    S = _parse_set(nodes, strings) if nodes is not None else None
    summary = graph_summary(g, S, strict=S is not None)
    if as_json:
        print(json.dumps(summary))
        return
    t = Table(title=str(graph), show_header=False, title_justify="left")
    t.add_column(style="bold")
    t.add_column()
    t.add_row("nodes", str(g.n))
    t.add_row("edges", str(g.m))
    t.add_row("weighted", "yes" if g.weighted else "no (all weights 1)")
    if summary["connected"]:
        t.add_row("connected", "yes")
    else:
        t.add_row(
            "connected",
            f"no: {summary['components']} components, largest {summary['largest_component']}",
        )
    if "degree" in summary:
        d = summary["degree"]
        t.add_row(
            "degree min / mean / median / max",
            " / ".join(_fmt(d[k]) for k in ("min", "mean", "median", "max")),
        )
    if "set" in summary:
        s = summary["set"]
        shown = ", ".join(map(str, s["names"][:8])) + (", …" if s["size"] > 8 else "")
        label = "set S (--set)" if S is not None else "sample set S (BFS half)"
        t.add_row(label, f"{s['size']} nodes: {{{shown}}}")
        t.add_row("vol(S) / cut(S)", f"{_fmt(s['volume'])} / {_fmt(s['cut'])}")
        phi = s["conductance"]
        t.add_row(
            "conductance of S",
            _fmt(phi) if phi is not None else f"undefined ({s['undefined_because']})",
        )
    console.print(t)
