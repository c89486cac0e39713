"""`ssdfl form --validate`: the validation.json schema and its values (Spearman recomputed with
scipy, medians and IQRs recomputed with numpy, clusters checked with networkx), the plot, the
report sentence, choice.json and the link-cost option."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
from scipy.stats import spearmanr


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "from ssdfl.cli import main; main()", *args],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip


@pytest.fixture(scope="module")
def validated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from conftest import EXAMPLES

    out = tmp_path_factory.mktemp("val") / "out"
    r = run("form", str(EXAMPLES / "er30.edgelist"), "--devices",
            str(EXAMPLES / "er30-devices.csv"), "--out", str(out), "--quiet", "--no-fmmc",
            "--no-schedule", "--max-clusters", "8", "--validate", "--seeds", "2",
            "--cycles", "4")  # fmt: skip
    assert r.returncode == 0, r.stderr
    return out


def test_validation_json_schema_and_values(validated: Path, examples: Path) -> None:
    v = json.loads((validated / "validation.json").read_text())
    assert {"metric", "budget", "spearman", "formations"} <= set(v)
    assert v["metric"] == "device_loss_mean"
    assert v["budget"]["kind"] == "bytes" and v["budget"]["cycles"] == 4
    f = v["formations"]
    assert len(f) >= 10
    for x in f:
        assert {"id", "S", "clusters", "predicted", "observed_median", "observed_iqr",
                "chosen"} <= set(x)  # fmt: skip
        obs = np.asarray(x["observed"])
        assert len(obs) == 2
        assert x["observed_median"] == pytest.approx(float(np.median(obs)), rel=1e-12)
        lo, hi = np.percentile(obs, [25, 75])
        assert x["observed_iqr"] == pytest.approx([lo, hi], rel=1e-12)
        assert 1 <= x["cycles"] <= 4
    assert sum(x["chosen"] for x in f) == 1
    S = {x["S"] for x in f}
    assert 1 in S and 30 in S  # spans S = 1 … N
    ids = [x["id"] for x in f]
    assert any(i.startswith("S=1") for i in ids) and any(i.startswith("S=N") for i in ids)
    assert any("greedy" in i for i in ids)  # the paper's greedy pick (may equal another)
    pick = next(x for x in f if x["chosen"])
    if 1 < pick["S"] < 30:
        assert sum("pick's S" in i for i in ids) == 2
    rho = spearmanr([x["predicted"] for x in f], [x["observed_median"] for x in f]).statistic
    assert v["spearman"] == pytest.approx(rho, abs=1e-12)
    best = min(x["observed_median"] for x in f)
    assert v["regret"] == pytest.approx(pick["observed_median"] / best - 1, rel=1e-12)
    g = nx.read_edgelist(examples / "er30.edgelist", nodetype=int)
    for x in f:  # every formation is a partition into connected clusters
        assert sorted(u for c in x["clusters"] for u in c) == list(range(30))
        assert len(x["clusters"]) == x["S"]
        assert all(nx.is_connected(g.subgraph(c)) for c in x["clusters"])


def test_plot_report_sentence_and_choice(validated: Path) -> None:
    assert (validated / "validation.png").stat().st_size > 1000
    v = json.loads((validated / "validation.json").read_text())
    report = (validated / "report.md").read_text()
    assert v["sentence"] in report
    assert "Spearman" in v["sentence"]
    ch = json.loads((validated / "choice.json").read_text())
    assert ch["pick"] == next(x["id"] for x in v["formations"] if x["chosen"])
    assert ch["verdict"] in report
    plan = json.loads((validated / "formation.json").read_text())
    assert plan["formation"]["verdict"] == ch["verdict"]  # the formation to run
    assert plan["formation"]["S"] == ch["S"]


def test_sentence_names_a_baseline_that_beats_the_pick() -> None:
    from ssdfl.planner.validate import validation_sentence

    res = {"model": "mlp", "data": "digits", "seeds": [0, 1], "budget": {"kind": "bytes"},
           "spearman": 0.5, "regret": 0.25,
           "formations": [
               {"id": "split S=3", "S": 3, "observed_median": 1.25, "chosen": True},
               {"id": "S=1", "S": 1, "observed_median": 1.0, "chosen": False}]}  # fmt: skip
    s = validation_sentence(res)
    assert "S=1 beat the pick (split S=3)" in s and "25.0 %" in s


def test_link_cost_file(tmp_path: Path) -> None:
    import ssdfl
    from ssdfl.planner.predict import cycle_cost, read_link_cost

    g = ssdfl.as_graph(nx.path_graph(4))
    p = tmp_path / "cost.txt"
    p.write_text("# u v cost\n1 0 5\n2,3,0.5\n")
    c = read_link_cost(str(p), g)
    s, t, _ = g.edges()
    want = {(0, 1): 5.0, (1, 2): 1.0, (2, 3): 0.5}
    assert [c[k] for k in range(3)] == [want[tuple(sorted((int(a), int(b))))]
                                        for a, b in zip(s, t)]  # fmt: skip
    lab = np.array([0, 0, 1, 1])
    # intra edges (0,1) and (2,3): 5.5; all edges: 6.5 → 2(τ_a·5.5 + τ_r·6.5)
    assert cycle_cost(g, lab, 3, 2, c) == pytest.approx(2 * (3 * 5.5 + 2 * 6.5))
    p.write_text("0 2 1\n")
    with pytest.raises(ssdfl.SsdflError, match="not an edge"):
        read_link_cost(str(p), g)


def test_link_cost_from_graph_weights_changes_the_budget() -> None:
    """Expensive links (graph weight column) make a formation's cycle cost more and the byte
    budget buys fewer cycles: costs recomputed by hand."""
    import ssdfl
    from ssdfl.planner.predict import Budget, budget_cycles, cycle_cost, link_costs

    h = nx.path_graph(4)
    nx.set_edge_attributes(h, {(0, 1): 1.0, (1, 2): 4.0, (2, 3): 1.0}, "weight")
    g = ssdfl.as_graph(h)
    w = link_costs("weight", g)
    assert sorted(w.tolist()) == [1.0, 1.0, 4.0]
    lab = np.array([0, 0, 1, 1])  # the costly edge (1, 2) is the inter-cluster one
    assert cycle_cost(g, lab, 2, 1, w) == pytest.approx(2 * (2 * 2.0 + 1 * 6.0))
    assert link_costs(None, g) is None
    b = Budget("bytes", 10)  # 10 cycles of inter rounds alone: 10·2·1·6 = 120 units
    assert budget_cycles(g, lab, 2, 1, b, w) == 120 // 20
    assert budget_cycles(g, lab, 2, 1, b) == 10 * 2 * 1 * 3 // (2 * (2 * 2 + 3))


def test_rank_sentence_says_when_there_are_too_few_points() -> None:
    from ssdfl.planner.validate import _rank_sentence

    assert "too few" in _rank_sentence(float("nan"), 2)
    assert "weak evidence" in _rank_sentence(1.0, 4)
    assert _rank_sentence(-0.5, 8) == "Spearman ρ = -0.50 over 8 formations"


def test_validate_and_simulate_use_the_recommendation(validated: Path, tmp_path: Path) -> None:
    from conftest import EXAMPLES

    plan = json.loads((validated / "formation.json").read_text())
    v = json.loads((validated / "validation.json").read_text())
    pick = next(f for f in v["formations"] if f["chosen"])
    names = plan["nodes"]
    assert pick["id"] == plan["formation"]["id"]
    assert sorted(sorted(names[u] for u in c) for c in pick["clusters"]) == sorted(
        map(sorted, plan["formation"]["clusters"]))  # fmt: skip
    out = tmp_path / "sim"
    r = run("form", str(EXAMPLES / "er30.edgelist"), "--devices",
            str(EXAMPLES / "er30-devices.csv"), "--out", str(out), "--quiet", "--no-fmmc",
            "--no-schedule", "--max-clusters", "6", "--pilot-budget", "0", "--simulate",
            "--cycles", "3")  # fmt: skip
    assert r.returncode == 0, r.stderr
    import pandas as pd

    sim = pd.read_csv(out / "simulation.csv")
    plan = json.loads((out / "formation.json").read_text())
    chosen = sim[sim["run"] == "SSD-FL (chosen)"]
    assert len(chosen) and (chosen["S_run"] == plan["formation"]["S"]).all()
    assert "SSD-FL (chosen)" in (out / "report.md").read_text()
