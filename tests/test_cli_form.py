"""`ssdfl form` end to end on the bundled examples, and its error paths."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import networkx as nx
import numpy as np


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "from ssdfl.cli import main; main()", *args],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip


SCHEMA = Path(__file__).resolve().parents[1] / "docs" / "formation.schema.json"


def validate_schema(doc: dict) -> None:
    """Validate against the published JSON Schema (docs/formation.schema.json)."""
    import jsonschema

    jsonschema.validate(doc, json.loads(SCHEMA.read_text()))


def test_form_on_bundled_er30(tmp_path: Path, examples: Path) -> None:
    out = tmp_path / "out"
    r = run("form", str(examples / "er30.edgelist"), "--devices",
            str(examples / "er30-devices.csv"), "--out", str(out), "--quiet", "--no-fmmc",
            "--max-clusters", "8", "--pilot-budget", "0")  # fmt: skip
    assert r.returncode == 0, r.stderr
    plan = json.loads((out / "formation.json").read_text())
    validate_schema(plan)
    assert plan["schema"] == "ssdfl.plan/2"
    assert plan["n"] == 30 and "clusters" not in plan  # one formation, under "formation"
    clusters = plan["formation"]["clusters"]  # by node name
    assert sorted(u for c in clusters for u in c) == list(range(30))
    # the formation IS the recommendation (choice.json's pick, node positions = names here)
    choice = json.loads((out / "choice.json").read_text())
    assert plan["formation"]["id"] == choice["pick"]
    assert sorted(map(sorted, clusters)) == sorted(map(sorted, choice["clusters"]))
    g = nx.read_edgelist(examples / "er30.edgelist", nodetype=int)
    for c in clusters:  # every cluster connected in the graph (independent check)
        assert nx.is_connected(g.subgraph(c))
    # per-cluster λ₂ as reported equals an independent eigen-computation
    for c, row in zip(clusters, plan["per_cluster"]):
        assert sorted(row["nodes"]) == sorted(c)
        h = g.subgraph(c)
        if len(c) > 1:
            A = nx.to_numpy_array(h, nodelist=sorted(c))
            d = A.sum(axis=1)
            W = np.where(A > 0, 1 / (1 + np.maximum.outer(d, d)), 0)
            W += np.diag(1 - W.sum(axis=1))
            ev = np.linalg.eigvalsh((np.eye(len(c)) + W) / 2)
            assert row["lambda2"] == __import__("pytest").approx(max(ev[-2], -ev[0]), abs=1e-9)
    report = (out / "report.md").read_text()
    assert "SSD-FL formation" in report and "**Recommended: " in report
    assert (out / "formation.png").stat().st_size > 1000
    assert "formation" in r.stdout


def test_form_names_nodes_and_exports_the_recommendation(tmp_path: Path) -> None:
    """String node names survive into formation.json; export (with the FMMC weights of the
    recommended clusters) and --update read it; every formation.json matches the schema."""
    G = nx.relabel_nodes(nx.karate_club_graph(), lambda u: f"dev-{u}")
    src = tmp_path / "named.edgelist"
    nx.write_edgelist(G, src, data=False)
    out = tmp_path / "out"
    r = run("form", str(src), "--out", str(out), "--quiet", "--pilot-budget", "0",
            "--max-clusters", "6", "--no-schedule", "--seed", "3")  # fmt: skip
    assert r.returncode == 0, r.stderr
    plan = json.loads((out / "formation.json").read_text())
    validate_schema(plan)
    assert sorted(plan["nodes"]) == sorted(G)
    assert sorted(u for c in plan["formation"]["clusters"] for u in c) == sorted(G)
    for row in plan["per_cluster"]:
        for u, v, w in row.get("fmmc_weights") or []:
            assert G.has_edge(u, v) and 0 <= w <= 1
    assert plan["config"]["seed"] == 3
    for to in ("networkx", "json", "decentralizepy"):
        r = run("export", str(out / "formation.json"), "--graph", str(src), "--to", to,
                "--out", str(tmp_path / f"x-{to}"))  # fmt: skip
        assert r.returncode == 0, r.stderr
    # networkx export keys nodes by name, like Graph.to_networkx(); clusters as planned
    for k, c in enumerate(plan["formation"]["clusters"]):
        d = json.loads((tmp_path / "x-networkx" / f"cluster_{k}.json").read_text())
        h = nx.node_link_graph(d, edges="edges")
        assert sorted(h.nodes) == sorted(c)
        assert sorted(map(sorted, h.edges)) == sorted(map(sorted, G.subgraph(c).edges))
        W = {tuple(sorted((a, b))): x["weight"] for a, b, x in h.edges(data=True)}
        fm = plan["per_cluster"][k].get("fmmc_weights")
        if fm:  # the FMMC weights of the recommended cluster are what is exported
            for u, v, w in fm:
                assert W[tuple(sorted((u, v)))] == __import__("pytest").approx(w)
        for u in h.nodes:  # doubly stochastic rows
            s = h.nodes[u]["self_weight"] + sum(h.edges[u, v]["weight"] for v in h[u])
            assert abs(s - 1) < 1e-9
    # --update reads the new schema and writes a valid one
    G2 = G.copy()
    G2.add_edges_from([("dev-new", "dev-0"), ("dev-new", "dev-1")])
    nx.write_edgelist(G2, tmp_path / "named2.edgelist", data=False)
    r = run("form", str(tmp_path / "named2.edgelist"), "--update", str(out / "formation.json"),
            "--out", str(tmp_path / "upd"), "--quiet", "--pilot-budget", "0")  # fmt: skip
    assert r.returncode == 0, r.stderr
    upd = json.loads((tmp_path / "upd" / "formation.json").read_text())
    validate_schema(upd)
    assert sorted(u for c in upd["formation"]["clusters"] for u in c) == sorted(G2)


def test_export_reads_an_old_plan_1_file(tmp_path: Path) -> None:
    G = nx.path_graph(4)
    nx.write_edgelist(G, tmp_path / "p.edgelist", data=False)
    (tmp_path / "f.json").write_text(json.dumps({
        "schema": "ssdfl.plan/1", "labels": [0, 1, 2, 3], "clusters": [[0, 1], [2, 3]],
        "per_cluster": [{"fmmc_weights": [[0, 1, 0.5]]}, {"fmmc_weights": None}],
        "config": {"mixing_rule": "lazy-metropolis"}}))  # fmt: skip
    r = run("export", str(tmp_path / "f.json"), "--graph", str(tmp_path / "p.edgelist"),
            "--to", "json", "--out", str(tmp_path / "x"))  # fmt: skip
    assert r.returncode == 0, r.stderr
    d = json.loads((tmp_path / "x" / "topologies.json").read_text())
    c0 = d["topologies"][0]
    assert c0["edges"] == [[0, 1, 0.5]] and c0["self_weights"] == [0.5, 0.5]


def test_export_help_points_at_a_docs_section_that_exists() -> None:
    import re

    r = run("export", "--help")
    assert r.returncode == 0
    text = " ".join(r.stdout.split())
    m = re.search(r'docs/formation\.md, section "([^"]+)"', text)
    assert m, text
    docs = (Path(__file__).resolve().parents[1] / "docs" / "formation.md").read_text()
    assert f"## {m.group(1)}" in docs


def test_form_bad_devices_file_names_the_row(tmp_path: Path, examples: Path) -> None:
    bad = tmp_path / "devices.csv"
    lines = (examples / "er30-devices.csv").read_text().splitlines()
    lines[5] = lines[5].replace("prox,0.1", "prox,-1").replace("prox,0.01", "prox,-1")
    lines[5] = lines[5].replace("sgd", "sgdx").replace("momentum", "sgdx")
    bad.write_text("\n".join(lines) + "\n")
    r = run("form", str(examples / "er30.edgelist"), "--devices", str(bad),
            "--out", str(tmp_path / "o"), "--quiet")  # fmt: skip
    assert r.returncode == 2
    assert ":6:" in r.stderr  # file line 6
    assert not (tmp_path / "o").exists()  # nothing written


def test_form_missing_graph(tmp_path: Path) -> None:
    r = run("form", str(tmp_path / "nope.edgelist"), "--quiet")
    assert r.returncode == 2
    assert "not found" in r.stderr
