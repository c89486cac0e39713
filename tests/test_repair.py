"""Incremental re-formation: every device of the new graph in exactly one connected cluster
(checked with networkx), only affected clusters touched, the rule, traffic closed forms, bad
update inputs, and ``ssdfl form --update`` end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import networkx as nx
import numpy as np
import pytest

import ssdfl
from ssdfl.errors import SsdflError
from ssdfl.planner.config import PlanConfig
from ssdfl.planner.repair import (
    OldFormation,
    RepairRule,
    read_old_formation,
    repair_formation,
)
from ssdfl.simulate.comm import flooding_traffic, record_bytes
from ssdfl.theory.devices import homogeneous_devices

CFG = PlanConfig(
    fastest_mixing=False, schedule=False, theorem2=False, k_max=3, all_subsets_n=0, pilot_budget=0
)


def _old_from(G: nx.Graph, parts: list[list]) -> OldFormation:
    names = sorted(G)
    pos = {u: i for i, u in enumerate(names)}
    return OldFormation(names, [np.array([pos[u] for u in p]) for p in parts])


def _check(res, H: nx.Graph) -> list[set]:
    h_names = sorted(H)
    got = [sorted(h_names[u] for u in c) for c in res.clusters]
    flat = [u for c in got for u in c]
    assert sorted(flat) == h_names and len(flat) == len(set(flat))  # each exactly once
    for c in got:
        assert nx.is_connected(H.subgraph(c))
    return [set(c) for c in got]


def _grid_formation() -> tuple[nx.Graph, OldFormation, list[list]]:
    G = nx.grid_2d_graph(6, 6)
    G = nx.convert_node_labels_to_integers(G, ordering="sorted")  # node r*6+c
    parts = [[r * 6 + c for r in range(rr, rr + 3) for c in range(cc, cc + 3)]
             for rr in (0, 3) for cc in (0, 3)]  # fmt: skip
    return G, _old_from(G, parts), parts


@pytest.mark.parametrize("seed", range(4))
def test_random_churn_keeps_every_device_in_one_connected_cluster(seed: int) -> None:
    rng = np.random.default_rng(seed)
    G, old, parts = _grid_formation()
    H = G.copy()
    H.remove_nodes_from(rng.choice(36, 4, replace=False).tolist())
    for j in range(4):
        H.add_edges_from((100 + j, int(b)) for b in rng.choice(list(H), 2, replace=False))
    H.add_edge(200, 100)  # a joiner adjacent only to a joiner
    H = H.subgraph(max(nx.connected_components(H), key=len)).copy()
    res = repair_formation(old, ssdfl.Graph.from_networkx(H), None, CFG, force="repair")
    got = _check(res, H)
    # untouched old clusters are kept as they were
    for p in parts:
        if set(p) <= set(H) and not any(j in H for j in (100, 101, 102, 103, 200)
                                        if set(H[j]) & set(p)):  # fmt: skip
            assert set(p) in got


def test_disconnected_cluster_is_split_and_joiner_attached() -> None:
    G, old, parts = _grid_formation()
    H = G.copy()
    H.remove_nodes_from([1, 7, 13])  # cuts cluster 0's left column from the rest
    H.add_edge(500, 35)
    H.add_edge(500, 34)
    res = repair_formation(old, ssdfl.Graph.from_networkx(H), None, CFG, force="repair",
                           merge_below=1)  # fmt: skip
    got = _check(res, H)
    assert res.changes["split_disconnected"] == 1
    assert {0, 6, 12} in got and {2, 8, 14} in got
    assert any({500, 35}.issubset(c) for c in got)  # joined the cluster it has most edges to
    assert set(parts[1]) in got and set(parts[2]) in got  # untouched
    # traffic closed form: joiner hello/answer + flooding inside each changed cluster + notes
    h = ssdfl.Graph.from_networkx(H)
    R = record_bytes(h)
    names = h.node_names()
    pos = {u: i for i, u in enumerate(names)}
    flood = sum(
        flooding_traffic(h.subgraph(list(c)), R[[pos[u] for u in sorted(c)]]).bytes
        for c in got
        if len(c) > 1 and not (c == set(parts[1]) or c == set(parts[2]))
    )
    aff = res.affected
    cut = sum(1 for a, b in H.edges() if aff[pos[a]] != aff[pos[b]])
    j = pos[500]
    assert res.traffic["bytes"] == 2 * (int(R[j]) + 8) + flood + 8 * cut
    assert res.traffic["bytes"] < res.traffic["full_bytes"]


def test_no_change_costs_nothing_and_rule_goes_full() -> None:
    G, old, parts = _grid_formation()
    g = ssdfl.Graph.from_networkx(G)
    res = repair_formation(old, g, None, CFG)
    assert res.mode == "repair" and res.traffic["bytes"] == 0
    assert [set(c) for c in _check(res, G)] == [set(p) for p in sorted(parts)]
    H = G.copy()
    H.remove_nodes_from(range(12))  # 33 % left > 30 %
    res = repair_formation(old, ssdfl.Graph.from_networkx(H), None, CFG)
    assert res.mode == "full"
    _check(res, H)
    assert (
        res.traffic["bytes"]
        == flooding_traffic(
            ssdfl.Graph.from_networkx(H), record_bytes(ssdfl.Graph.from_networkx(H))
        ).bytes
    )


def test_bad_update_inputs(tmp_path: Path) -> None:
    _g, old, _ = _grid_formation()
    other = ssdfl.Graph.from_networkx(nx.relabel_nodes(nx.path_graph(4), lambda u: f"x{u}"))
    with pytest.raises(SsdflError, match="another graph"):
        repair_formation(old, other, None, CFG)
    bad = tmp_path / "f.json"
    cases = {
        "{not json": "not valid JSON",
        json.dumps({"schema": "other"}): "schema",
        json.dumps({"schema": "ssdfl.plan/1", "labels": [0, 1], "clusters": [[0, 1], [1]]}):
            "in 2 clusters",
        json.dumps({"schema": "ssdfl.plan/1", "labels": [0, 1], "clusters": [[0, 5]]}):
            "outside",
        json.dumps({"schema": "ssdfl.plan/1", "labels": [0, 1], "clusters": [[0]]}):
            "in 0 clusters",
    }  # fmt: skip
    for text, msg in cases.items():
        bad.write_text(text)
        with pytest.raises(SsdflError, match=msg):
            read_old_formation(bad)
    with pytest.raises(SsdflError, match="no such"):
        read_old_formation(tmp_path / "missing.json")


def test_reformation_rule_compares_predicted_loss_not_J() -> None:
    rule = RepairRule(max_degradation=0.05)
    assert not rule.degraded(1.04, 1.0) and rule.degraded(1.06, 1.0)
    assert not rule.degraded(5.0, None) and not rule.degraded(5.0, float("nan"))


def test_predicted_losses_match_the_predictor() -> None:
    from ssdfl.planner.plan import make_budget
    from ssdfl.planner.predict import predict_formations
    from ssdfl.planner.repair import predicted_losses

    g = ssdfl.Graph.from_networkx(nx.convert_node_labels_to_integers(nx.grid_2d_graph(4, 4)))
    clusters = [np.arange(8), np.arange(8, 16)]
    p = predicted_losses(g, clusters, None, CFG)
    ref = predict_formations(g, [np.repeat([0, 1], 8)], homogeneous_devices(16), CFG.eta,
                             CFG.tau_a, CFG.tau_r, make_budget(CFG))[0]  # fmt: skip
    assert p["formation"] == pytest.approx(ref["predicted"], rel=1e-12)
    assert p["cycles"] == ref["cycles"]


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "from ssdfl.cli import main; main()", *args],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip


def test_cli_update(tmp_path: Path) -> None:
    G, old, _parts = _grid_formation()
    olddir = tmp_path / "old"
    olddir.mkdir()
    (olddir / "formation.json").write_text(json.dumps({
        "schema": "ssdfl.plan/1", "labels": old.names, "objective": 1.0,
        "clusters": [c.tolist() for c in old.clusters]}))  # fmt: skip
    H = G.copy()
    H.remove_node(0)
    H.add_edges_from([(77, 35), (77, 29)])
    nx.write_edgelist(H, tmp_path / "new.edgelist", data=False)
    out = tmp_path / "out"
    r = _run("form", str(tmp_path / "new.edgelist"), "--update",
             str(olddir / "formation.json"), "--out", str(out))  # fmt: skip
    assert r.returncode == 0, r.stderr
    plan = json.loads((out / "formation.json").read_text())  # an old ssdfl.plan/1 file was read
    assert plan["schema"] == "ssdfl.plan/2" and plan["n"] == H.number_of_nodes()
    got = plan["formation"]["clusters"]  # by node name
    assert sorted(u for c in got for u in c) == sorted(H)
    for c in got:
        assert nx.is_connected(H.subgraph(c))
    rep = (out / "report.md").read_text()
    assert "Update from the old formation" in rep and "joined (1): 77" in rep
    assert "predicted device loss" in plan["formation"]["verdict"]
    # the new file is itself a valid old formation for the next update (ssdfl.plan/2)
    H2 = H.copy()
    H2.add_edges_from([(78, 77), (78, 35)])
    nx.write_edgelist(H2, tmp_path / "new2.edgelist", data=False)
    r = _run("form", str(tmp_path / "new2.edgelist"), "--update", str(out / "formation.json"),
             "--out", str(tmp_path / "out2"))  # fmt: skip
    assert r.returncode == 0, r.stderr
    plan2 = json.loads((tmp_path / "out2" / "formation.json").read_text())
    assert sorted(u for c in plan2["formation"]["clusters"] for u in c) == sorted(H2)
    # unknown device ids in the devices file and a formation of another graph: clear errors
    (tmp_path / "dev.csv").write_text("id,optimizer,n_samples\n9999,sgd,10\n")
    r = _run("form", str(tmp_path / "new.edgelist"), "--devices", str(tmp_path / "dev.csv"),
             "--update", str(olddir / "formation.json"), "--out", str(tmp_path / "o2"))  # fmt: skip
    assert r.returncode == 2 and "9999" in r.stderr + r.stdout
    nx.write_edgelist(nx.relabel_nodes(H, lambda u: f"n{u}"), tmp_path / "other.edgelist",
                      data=False)  # fmt: skip
    r = _run("form", str(tmp_path / "other.edgelist"), "--update",
             str(olddir / "formation.json"), "--out", str(tmp_path / "o3"))  # fmt: skip
    assert r.returncode == 2 and "another graph" in r.stderr + r.stdout
