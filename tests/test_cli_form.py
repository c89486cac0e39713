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


def test_form_on_bundled_er30(tmp_path: Path, examples: Path) -> None:
    out = tmp_path / "out"
    r = run("form", str(examples / "er30.edgelist"), "--devices",
            str(examples / "er30-devices.csv"), "--out", str(out), "--quiet", "--no-fmmc",
            "--max-clusters", "8")  # fmt: skip
    assert r.returncode == 0, r.stderr
    plan = json.loads((out / "formation.json").read_text())
    assert plan["schema"] == "ssdfl.plan/1"
    assert plan["n"] == 30
    clusters = plan["clusters"]
    assert sorted(u for c in clusters for u in c) == list(range(30))
    g = nx.read_edgelist(examples / "er30.edgelist", nodetype=int)
    for c in clusters:  # every cluster connected in the graph (independent check)
        assert nx.is_connected(g.subgraph(c))
    # per-cluster λ₂ as reported equals an independent eigen-computation
    for c, row in zip(clusters, plan["per_cluster"]):
        h = g.subgraph(c)
        if len(c) > 1:
            A = nx.to_numpy_array(h, nodelist=sorted(c))
            d = A.sum(axis=1)
            W = np.where(A > 0, 1 / (1 + np.maximum.outer(d, d)), 0)
            W += np.diag(1 - W.sum(axis=1))
            ev = np.linalg.eigvalsh((np.eye(len(c)) + W) / 2)
            assert row["lambda2"] == __import__("pytest").approx(max(ev[-2], -ev[0]), abs=1e-9)
    report = (out / "report.md").read_text()
    assert "SSD-FL formation" in report and "S = " in report
    assert (out / "formation.png").stat().st_size > 1000
    assert "formation" in r.stdout


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
