"""The ``specialised`` planner goal (issue 20): clusters from connectivity and data
similarity, the decision, the command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
from scipy.spatial.distance import jensenshannon

from ssdfl.errors import SsdflError
from ssdfl.planner.specialise import (
    SpecialisedOption,
    affinity_clusters,
    check_goal,
    choose,
    cluster_dissimilarity,
    edge_affinity,
    histogram_dissimilarity,
    local_tie_note,
    plan_specialised,
    update_affinity,
)
from ssdfl.theory.data import load_digits_federated
from ssdfl.theory.models import LogisticRegression


def _sbm(aligned: bool, seed: int = 2) -> tuple[nx.Graph, np.ndarray, np.ndarray]:
    P = np.full((3, 3), 0.03)
    np.fill_diagonal(P, 0.7)
    g = nx.stochastic_block_model([6, 6, 6], P.tolist(), seed=seed)
    assert nx.is_connected(g)
    blocks = np.repeat(np.arange(3), 6)
    rng = np.random.default_rng(seed)
    H = np.zeros((18, 10))
    for i in range(18):
        labs = [3 * blocks[i], 3 * blocks[i] + 1] if aligned else rng.choice(10, 2, replace=False)
        H[i, labs] = 15
    return g, blocks, H


def _same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.all((a[:, None] == a[None, :]) == (b[:, None] == b[None, :])))


def test_dissimilarities_against_scipy() -> None:
    g, blocks, H = _sbm(True)
    s, t = (np.array(x) for x in zip(*g.edges()))
    ours = histogram_dissimilarity(g, H)
    ref = np.array([jensenshannon(H[u], H[v], base=2) ** 2 for u, v in zip(s, t)])
    np.testing.assert_allclose(ours, ref, atol=1e-12)
    # mean JSD of each device to its pooled cluster histogram
    lab = np.array([0] * 9 + [1] * 9)
    P = H / H.sum(1, keepdims=True)
    ref_c = np.mean([jensenshannon(P[i], P[lab == lab[i]].sum(0), base=2) ** 2 for i in range(18)])
    assert cluster_dissimilarity(H, lab) == pytest.approx(ref_c, abs=1e-12)
    assert cluster_dissimilarity(H, blocks) == pytest.approx(0.0, abs=1e-12)


def test_affinity_clusters_recover_aligned_blocks_and_stay_connected() -> None:
    g, blocks, H = _sbm(True)
    A = edge_affinity(g, histogram_dissimilarity(g, H))
    assert _same_partition(affinity_clusters(g, A, 3), blocks)
    # a path whose two ends have the same data: similarity alone would join them, but a
    # cluster must be connected — it is split into its components
    path = nx.path_graph(5)
    Hp = np.array([[5, 0], [0, 5], [0, 5], [0, 5], [5, 0]], float)
    lab = affinity_clusters(path, edge_affinity(path, histogram_dissimilarity(path, Hp)), 2)
    for c in range(int(lab.max()) + 1):
        assert nx.is_connected(path.subgraph(np.flatnonzero(lab == c).tolist()))
    assert lab[0] != lab[4]


def _opt(id: str, loss: float, kind: str, S: int = 1, period: int = 1, ft: int = 0
         ) -> SpecialisedOption:  # fmt: skip
    return SpecialisedOption(id, S, period, "x", np.zeros(4, np.int64), loss, 0.9, 0.8, 1.0,
                             kind=kind, ft_steps=ft)  # fmt: skip


def test_choose_ties_go_to_the_simplest_option() -> None:
    g, f5, f50 = _opt("global", 1.0, "global"), _opt("ft5", 0.8, "global+ft", ft=5), \
        _opt("ft50", 0.5, "global+ft", ft=50)  # fmt: skip
    c3, c3p, loc = _opt("S3p0", 0.49, "clustered", 3, 0), _opt("S3p1", 0.2, "clustered", 3, 1), \
        _opt("local", 0.48, "local", 4, 0)  # fmt: skip
    # 0.49 and 0.48 are within 5 % of 0.5 — fine-tuning the global model wins the tie
    assert choose([g, f5, f50, c3, loc], 0.05) == (f50, loc)
    assert choose([g, f5, f50, c3, loc], 0.0) == (loc, c3)  # no tie margin: the lowest
    assert choose([g, f5, f50, c3, c3p, loc], 0.05) == (c3p, loc)  # clearly better
    assert choose([g, f5], 0.25)[0] is g  # 1.0 · (1 − 0.25) <= 0.8: a tie, to global
    assert choose([g, f5], 0.1)[0] is f5
    assert choose([g], 0.05) == (g, None)


def test_verdict_says_when_local_only_ties_the_pick() -> None:
    g, f50 = _opt("global", 1.0, "global"), _opt("ft50", 0.078, "global+ft", ft=50)
    tied, worse = _opt("local", 0.077, "local", 4, 0), _opt("local", 0.2, "local", 4, 0)
    # the random-label case of docs/specialised.md: global + fine-tuning 0.078, local 0.077
    pick, _ = choose([g, f50, tied], 0.05)
    assert pick is f50
    note = local_tie_note(pick, [g, f50, tied], 0.05)
    assert "Local-only training" in note and "0.077" in note
    assert local_tie_note(f50, [g, f50, worse], 0.05) == ""  # 0.2 · 0.95 > 0.078
    assert local_tie_note(tied, [g, f50, tied], 0.05) == ""  # the pick itself
    assert local_tie_note(f50, [g, f50], 0.05) == ""  # not predicted
    # the boundary of the rule: L_local (1 - tie) <= L_pick
    edge = _opt("local", 0.082, "local", 4, 0)  # 0.082 · 0.95 = 0.0779
    assert local_tie_note(f50, [f50, edge], 0.05) != ""
    assert local_tie_note(f50, [f50, _opt("local", 0.0822, "local", 4, 0)], 0.05) == ""


def test_plan_recommends_specialised_when_aligned_and_global_when_not() -> None:
    kw = dict(tau_a=5, tau_r=2, cycles=10, eta=0.1, periods=(1, 0), n_S=1, seeds=2,
              ft_steps=(5, 50))  # fmt: skip
    g, blocks, H = _sbm(True)
    p = plan_specialised(g, H, **kw)
    ids = [o.id for o in p.options]
    assert ids == ["global", "global+ft5", "global+ft50", "S3-histograms-p1",
                   "S3-histograms-p0", "local"]  # fmt: skip
    assert p.specialised and p.period == 0 and p.pick.kind == "clustered"
    assert _same_partition(p.pick.labels, blocks)
    by = {o.id: o for o in p.options}
    # the pick beats every global option (with fine-tuning too) by more than the tie margin
    assert all(p.pick.own_loss < by[k].own_loss * 0.95 for k in ids[:3])
    assert p.pick.d2d_bytes < p.global_option.d2d_bytes  # fewer bytes, no inter rounds
    assert by["local"].d2d_bytes == 0 and by["global+ft50"].d2d_bytes == by["global"].d2d_bytes
    assert p.runner_up is not None and p.runner_up.id != p.pick.id
    assert "Specialise" in p.verdict and f"Runner-up: {p.runner_up.id}" in p.verdict
    # two random labels per device (not aligned with the blocks): clustering is predicted
    # to pay against the plain global model, but the global model + fine-tuning beats it
    g2, _, H2r = _sbm(False)
    r = plan_specialised(g2, H2r, **kw)
    assert r.pick.is_global and not r.specialised, r.verdict
    assert "Keep one global model" in r.verdict and "Runner-up" in r.verdict
    # data not aligned with anything: every device holds every class in Dirichlet(5)
    # proportions — clusters only lose data, the global model is recommended
    H2 = np.round(np.random.default_rng(0).dirichlet(np.full(10, 5.0), 18) * 30)
    q = plan_specialised(g, H2, **kw)
    assert not q.specialised and q.pick.kind in ("global", "global+ft")
    assert "Keep one global model" in q.verdict
    # stable across surrogate seeds: the same pick with 3 seeds
    assert plan_specialised(g, H, **{**kw, "seeds": 3}).pick.id == p.pick.id
    with pytest.raises(SsdflError, match="ft_steps"):
        plan_specialised(g, H, **{**kw, "ft_steps": (0,)})


def test_update_affinity_separates_aligned_blocks_and_counts_traffic() -> None:
    g, blocks, H = _sbm(True)
    ds = load_digits_federated(1, "iid", seed=0)
    rng = np.random.default_rng(0)
    Zs, ys = [], []
    for i in range(18):
        pool = np.flatnonzero(H[i, ds.y] > 0)
        ix = rng.choice(pool, 20, replace=False)
        Zs.append(ds.X[ix])
        ys.append(ds.y[ix])
    model = LogisticRegression(Zs, ys, 10)
    D, traffic = update_affinity(model, g, warmup_cycles=2, tau_a=3, eta=0.1)
    s, t = (np.array(x) for x in zip(*g.edges()))
    inside = blocks[s] == blocks[t]
    assert D[inside].max() < D[~inside].min()
    assert traffic["msgs"] == 2 * 2 * g.number_of_edges()
    assert traffic["bytes"] == traffic["msgs"] * model.dim * 4


def test_bad_input() -> None:
    g, _, H = _sbm(True)
    with pytest.raises(SsdflError, match="needs the devices' model"):
        plan_specialised(g, None)
    with pytest.raises(SsdflError, match="label histograms"):
        plan_specialised(g, H[:5])
    with pytest.raises(SsdflError, match="--goal must be"):
        check_goal("best", None)
    with pytest.raises(SsdflError, match="needs label histograms"):
        check_goal("specialised", None)


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "from ssdfl.cli import main; main()", *args],
                          capture_output=True, text=True, timeout=900)  # fmt: skip


def test_cli_form_goal_specialised_and_export(tmp_path: Path) -> None:
    g, _, H = _sbm(True)
    nx.write_edgelist(g, tmp_path / "g.edgelist", data=False)
    lines = ["id,optimizer,n_samples," + ",".join(f"label_{k}" for k in range(10))]
    lines += [f"{i},sgd,," + ",".join(str(int(x)) for x in H[i]) for i in range(18)]
    (tmp_path / "dev.csv").write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    r = _run("form", str(tmp_path / "g.edgelist"), "--devices", str(tmp_path / "dev.csv"),
             "--goal", "specialised", "--cycles", "10", "--tau-a", "5", "--tau-r", "2",
             "--eta", "0.1", "--no-fmmc", "--no-schedule", "--quiet",
             "--out", str(out))  # fmt: skip
    assert r.returncode == 0, r.stderr
    sec = json.loads((out / "specialised.json").read_text())
    assert sec["specialised"] and sec["period"] == 0
    groups = [set(gr["devices"]) for gr in sec["model_groups"]]
    assert sorted(map(sorted, groups)) == [list(range(0, 6)), list(range(6, 12)),
                                           list(range(12, 18))]  # fmt: skip
    assert sec["expected"]["own_acc"] >= sec["expected"]["global_own_acc"]
    # formation.json carries the section (ssdfl.plan/2, the published schema)
    import jsonschema

    schema = json.loads((Path(__file__).resolve().parents[1] / "docs" /
                         "formation.schema.json").read_text())  # fmt: skip
    doc = json.loads((out / "formation.json").read_text())
    jsonschema.validate(doc, schema)
    assert doc["formation"]["goal"] == "specialised"
    assert doc["formation"]["specialised"]["pick"] == sec["pick"]
    assert doc["formation"]["specialised"]["kind"] == "clustered"
    bad_doc = {**doc, "formation": {**doc["formation"],
                                    "specialised": {**sec, "kind": "best"}}}  # fmt: skip
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad_doc, schema)
    assert "Specialised models" in (out / "report.md").read_text()
    ex = tmp_path / "ex"
    r = _run("export", str(out / "formation.json"), "--graph", str(tmp_path / "g.edgelist"),
             "--to", "json", "--out", str(ex))  # fmt: skip
    assert r.returncode == 0, r.stderr
    doc = json.loads((ex / "model_groups.json").read_text())
    assert doc["schema"] == "ssdfl.model-groups/1" and len(doc["groups"]) == 3
    bad = _run("form", str(tmp_path / "g.edgelist"), "--goal", "specialised", "--quiet",
               "--out", str(tmp_path / "o2"))  # fmt: skip
    assert bad.returncode != 0 and "needs label histograms" in (bad.stderr + bad.stdout)
    upd = _run("form", str(tmp_path / "g.edgelist"), "--devices", str(tmp_path / "dev.csv"),
               "--goal", "specialised", "--update", str(out / "formation.json"), "--quiet",
               "--out", str(tmp_path / "o3"))  # fmt: skip
    assert upd.returncode != 0 and "cannot be combined with --update" in upd.stdout + upd.stderr
    assert not (tmp_path / "o3").exists()
