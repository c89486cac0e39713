"""No import circle between ssdfl modules (issue 23).

The import graph is built by grimp (the scanner import-linter uses), independently of the
package. Two kinds of circle are allowed: through a package ``__init__`` (a package re-exports its
modules and each module sits inside it), and the CLI registration ``ssdfl.cli.app`` ↔
``ssdfl.cli.<command>`` (each command module registers itself on the app, and the app imports
every command so that it is complete on import).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp
import networkx as nx
import pytest


def _module_graph(package: str = "ssdfl") -> nx.DiGraph:
    """Direct imports between modules of ``package``, without the edges that enter the
    package root or a module's own subpackage (its ``__init__``)."""
    g = grimp.build_graph(package, include_external_packages=False)
    return nx.DiGraph(
        [
            (m, i)
            for m in g.modules
            for i in g.find_modules_directly_imported_by(m)
            if package not in (m, i) and not i.startswith(m + ".")
        ]
    )


def _allowed(component: set[str]) -> bool:
    """The CLI registration circle: ``ssdfl.cli.app`` and the command modules it imports."""
    return "ssdfl.cli.app" in component and all(m.startswith("ssdfl.cli.") for m in component)


def _circles(graph: nx.DiGraph) -> list[list[str]]:
    return sorted(
        sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1 and not _allowed(c)
    )


def test_no_import_circle_outside_cli_registration() -> None:
    circles = _circles(_module_graph())
    # name one edge path per circle, so a failure says where to cut
    detail = [" -> ".join(nx.find_cycle(_module_graph().subgraph(c))[0]) for c in circles]
    assert circles == [], f"import circles: {circles}; e.g. edges {detail}"


def test_the_check_sees_a_circle() -> None:
    """The detector itself: a planted two-module circle is reported, the CLI one is not."""
    g = nx.DiGraph([("ssdfl.graphs.a", "ssdfl.graphs.b"), ("ssdfl.graphs.b", "ssdfl.graphs.a")])
    g.add_edges_from([("ssdfl.cli.app", "ssdfl.cli.form"), ("ssdfl.cli.form", "ssdfl.cli.app")])
    assert _circles(g) == [["ssdfl.graphs.a", "ssdfl.graphs.b"]]


@pytest.mark.parametrize("module", ["ssdfl.graphs.graph_io", "ssdfl.graphs.graph"])
def test_graph_modules_import_first(module: str, tmp_path: Path) -> None:
    """Either graph module imports first in a fresh interpreter, and a path round-trips through
    ``write_graph`` / ``as_graph`` (a circle makes one order see a half-initialised module)."""
    path = tmp_path / "g.edgelist"
    code = (
        f"import {module}\n"
        "import numpy as np\n"
        "from ssdfl.graphs.graph import as_graph\n"
        "from ssdfl.graphs.graph_io import write_graph\n"
        f"write_graph(np.array([[0, 1, 1], [1, 0, 0], [1, 0, 0]]), {str(path)!r})\n"
        f"g = as_graph({str(path)!r})\n"
        "print(g.n, g.m)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["3", "2"]
