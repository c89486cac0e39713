"""``ssdfl info``: numbers checked against networkx; bad input gives exit code 2 and one line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
from typer.testing import CliRunner

from conftest import EXAMPLES
from ssdfl.cli.app import app, main

runner = CliRunner()


def nx_graph(path: Path) -> nx.Graph:
    g = nx.read_edgelist(path, nodetype=int, data=[("weight", float)])
    for line in path.read_text().splitlines():  # networkx skips lone-node lines
        toks = line.split("#")[0].split()
        if len(toks) == 1:
            g.add_node(int(toks[0]))
    h = nx.Graph()
    h.add_nodes_from(sorted(g))  # ssdfl numbers integer labels in increasing order
    h.add_edges_from(g.edges(data=True))
    return nx.convert_node_labels_to_integers(h)


def bfs_half(g: nx.Graph) -> list[int]:
    """Independent sample set: BFS from 0 with sorted neighbours, then the unreached nodes."""
    order = [0] + [v for _, v in nx.bfs_edges(g, 0, sort_neighbors=sorted)]
    order += sorted(set(g) - set(order))
    return sorted(order[: g.number_of_nodes() // 2])


def run_json(*args: str) -> dict:
    result = runner.invoke(app, ["info", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def check_against_networkx(out: dict, g: nx.Graph, S: list[int]) -> None:
    assert out["nodes"] == g.number_of_nodes()
    assert out["edges"] == g.number_of_edges()
    assert out["connected"] == nx.is_connected(g)
    comps = list(nx.connected_components(g))
    assert out["components"] == len(comps)
    assert out["largest_component"] == max(map(len, comps))
    deg = np.array([d for _, d in sorted(g.degree(weight="weight"))], dtype=float)
    assert out["degree"] == pytest.approx(
        {"min": deg.min(), "mean": deg.mean(), "median": float(np.median(deg)), "max": deg.max()},
        rel=1e-12,
    )
    assert out["total_volume"] == pytest.approx(2 * g.size(weight="weight"), rel=1e-12)
    s = out["set"]
    assert s["nodes"] == S
    assert s["size"] == len(S)
    assert s["volume"] == pytest.approx(nx.volume(g, S, weight="weight"), rel=1e-12)
    assert s["cut"] == pytest.approx(nx.cut_size(g, S, weight="weight"), rel=1e-12)
    assert s["conductance"] == pytest.approx(nx.conductance(g, S, weight="weight"), rel=1e-12)


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.edgelist")), ids=lambda p: p.name)
def test_info_json_matches_networkx(path: Path) -> None:
    g = nx_graph(path)
    check_against_networkx(run_json(str(path)), g, bfs_half(g))


def test_info_explicit_set_and_format_override(tmp_path: Path) -> None:
    src = EXAMPLES / "karate.edgelist"
    data = tmp_path / "karate.dat"  # an extension ssdfl does not know
    data.write_bytes(src.read_bytes())
    g = nx_graph(src)
    out = run_json(str(data), "--format", "edgelist", "--set", "0, 5,33")
    check_against_networkx(out, g, [0, 5, 33])


def test_info_disconnected_graph_and_undefined_conductance(tmp_path: Path) -> None:
    path = tmp_path / "parts.edgelist"
    path.write_text("1 2\n2 3 2.5\n4 5\n0\n")  # node 0 isolated
    g = nx_graph(path)
    out = run_json(str(path))
    assert out["components"] == nx.number_connected_components(g) == 3
    assert out["set"]["nodes"] == bfs_half(g) == [0, 1, 2]
    # BFS from the isolated node 0 reaches nothing; unreached nodes follow in index order
    assert out["set"]["conductance"] == pytest.approx(
        nx.conductance(g, [0, 1, 2], weight="weight"), rel=1e-12
    )
    lone = tmp_path / "lone.edgelist"
    lone.write_text("0\n1 2\n")  # S = {0}: zero volume, conductance undefined
    out = run_json(str(lone))
    assert out["set"]["nodes"] == [0]
    assert out["set"]["conductance"] is None
    assert "zero volume" in out["set"]["undefined_because"]


def test_info_tiny_graphs(tmp_path: Path) -> None:
    empty = tmp_path / "empty.edgelist"
    empty.write_text("# nothing here\n")
    out = run_json(str(empty))
    assert out["nodes"] == out["edges"] == 0
    assert "set" not in out and "degree" not in out
    one = tmp_path / "one.edgelist"
    one.write_text("7\n")
    out = run_json(str(one))
    assert (out["nodes"], out["connected"], out["degree"]["max"]) == (1, True, 0.0)


def test_info_table_output() -> None:
    path = EXAMPLES / "karate.edgelist"
    g = nx_graph(path)
    result = runner.invoke(app, ["info", str(path)], env={"COLUMNS": "100"})
    assert result.exit_code == 0, result.output
    text = result.stdout
    phi = nx.conductance(g, bfs_half(g), weight="weight")
    assert f"{phi:.6g}" in text
    for row, value in (("nodes", "34"), ("edges", "78"), ("connected", "yes")):
        line = next(ln for ln in text.splitlines() if f" {row} " in ln)
        assert value in line, line
    assert "17 nodes" in text


def _main(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    monkeypatch.setattr(sys, "argv", ["ssdfl", *args])
    with pytest.raises(SystemExit) as info:
        main()
    return int(info.value.code)


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("0 1\n1 2 heavy\n", ':2: weight "heavy" is not a number'),
        ("0 1 -3\n", ":1: weight -3 must be finite and > 0"),
    ],
)
def test_bad_file_exit_code_and_one_line(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    content: str,
    match: str,
) -> None:
    path = tmp_path / ("a_rather_long_file_name_" * 5 + ".edgelist")  # longer than a terminal
    path.write_text(content)
    assert _main(monkeypatch, "info", str(path)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err  # exactly one line, not wrapped
    assert err.startswith("error: ") and f"{path}{match}" in err


def test_bad_set_exit_code(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    path = str(EXAMPLES / "karate.edgelist")
    assert _main(monkeypatch, "info", path, "--set", "0,99") == 2
    err = capsys.readouterr().err
    assert err == "error: node index 99 is out of range for a graph with 34 nodes\n"
    # issue 16: non-integers are node names (karate's labels are integers: no node 'x')
    assert _main(monkeypatch, "info", path, "--set", "0,1,2,x") == 2
    assert "no node named 'x'" in capsys.readouterr().err
    assert _main(monkeypatch, "info", path, "--set", ",") == 2  # explicit empty set
    assert capsys.readouterr().err == "error: invalid node set: the set is empty\n"


def test_console_script_missing_file(tmp_path: Path) -> None:
    """End to end through the installed console script, in a fresh process."""
    exe = Path(sys.executable).with_name("ssdfl")
    cmd = (
        [str(exe)] if exe.exists() else [sys.executable, "-c", "from ssdfl.cli import main; main()"]
    )
    missing = tmp_path / "nowhere.edgelist"
    proc = subprocess.run([*cmd, "info", str(missing)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr == f"error: graph file not found: {missing}\n"


def test_set_by_node_names(tmp_path: Path) -> None:
    """``--set Myriel,Napoleon`` (issue 16): names resolved, numbers as networkx's weighted ones."""
    g = nx.les_miserables_graph()
    path = tmp_path / "lesmis.json"
    path.write_text(json.dumps(nx.node_link_data(g, edges="edges")))
    out = run_json(str(path), "--set", "Myriel, Napoleon")
    S = ["Myriel", "Napoleon"]
    s = out["set"]
    assert sorted(s["names"]) == sorted(S)
    assert s["nodes"] == sorted(list(g.nodes).index(x) for x in S)
    assert s["volume"] == pytest.approx(nx.volume(g, S, weight="weight"))
    assert s["cut"] == pytest.approx(nx.cut_size(g, S, weight="weight"))
    assert s["conductance"] == pytest.approx(nx.conductance(g, S, weight="weight"))
    result = runner.invoke(app, ["info", str(path), "--set", "Myriel,Napoleon"])
    assert result.exit_code == 0 and "Myriel" in result.stdout


def test_directed_flag(tmp_path: Path) -> None:
    path = tmp_path / "snap.txt"
    path.write_text(
        "# Directed graph (each unordered pair of nodes is saved once)\n0 1\n1 0\n1 2\n"
    )
    assert run_json(str(path), "--directed", "sum")["total_volume"] == 6.0
    assert run_json(str(path), "--directed", "merge")["total_volume"] == 4.0
    result = runner.invoke(app, ["info", str(path), "--directed", "error"])
    assert result.exit_code != 0 and "joined by more than one line" in result.output
