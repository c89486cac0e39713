"""Graph input of the commands: :func:`ssdfl.graphs.graph_io.read_graph` plus the two checks
a command line needs and a library reader does not make (issue 24): a binary file is not read
as a graph of odd labels, and a command that plans on the graph refuses one without nodes,
naming the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ssdfl.errors import GraphFormatError

#: Bytes inspected for NUL (a text graph file has none; gzip input is checked by its reader).
_SNIFF = 1 << 16


def read_cli_graph(
    path: Path, fmt: str | None = None, *, need_nodes: bool = True, **kwargs: Any
) -> Any:
    """Read GRAPH for a command; refuse a binary (NUL-containing) file and, if ``need_nodes``,
    a graph with no nodes, each with a message naming the file."""
    from ssdfl.graphs.graph_io import read_graph

    p = Path(path)
    if p.is_file() and not p.name.lower().endswith(".gz"):
        with p.open("rb") as fh:
            head = fh.read(_SNIFF)
        nul = head.find(b"\0")
        if nul >= 0:
            raise GraphFormatError(
                f"{p}: a binary file (NUL byte at offset {nul}), not a text graph file "
                "(docs/graphs.md lists the formats)"
            )
    g = read_graph(p, format=fmt, **kwargs)
    if need_nodes and g.n == 0:
        raise GraphFormatError(f"{p}: the graph file has no nodes (empty, or only comments)")
    return g
