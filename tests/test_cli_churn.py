"""``ssdfl init`` and ``ssdfl churn`` (issue 15, command-line side): their numbers equal direct
Python calls with the same seed (written out here, not through the CLI's helper), ``init``
without loss equals the closed form and networkx's diameter, bad arguments give one error
line, exit status 2 and no output."""

from __future__ import annotations

import json
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from ssdfl.cli.app import app
from ssdfl.graphs.graph import Graph
from ssdfl.graphs.graph_io import read_graph

runner = CliRunner()


def _graph_file(tmp_path: Path, g: nx.Graph, name: str = "g.edgelist") -> Path:
    p = tmp_path / name
    p.write_text("".join(f"{u} {v}\n" for u, v in g.edges()))
    return p


@pytest.fixture
def ws12(tmp_path: Path) -> Path:
    return _graph_file(tmp_path, nx.connected_watts_strogatz_graph(12, 4, 0.3, seed=2))


def _ok(args: list[str]) -> str:
    r = runner.invoke(app, ["--quiet", *args])
    assert r.exit_code == 0, (r.output, r.exception)
    return r.stdout


def _fails(args: list[str]) -> str:
    r = runner.invoke(app, ["--quiet", *args])
    assert r.exit_code == 2, r.output
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), r.stderr
    assert "Traceback" not in r.output
    return lines[0]


def test_init_without_loss_is_the_closed_form(ws12: Path) -> None:
    from ssdfl.simulate.comm import flooding_traffic, record_bytes

    out = json.loads(_ok(["init", str(ws12), "--json"]))
    g = read_graph(ws12)
    cf = flooding_traffic(g, record_bytes(g))
    G = nx.read_edgelist(ws12)
    assert out["rounds"] == cf.rounds == nx.diameter(G)
    assert (out["messages"], out["bytes"]) == (cf.messages, cf.bytes)
    assert out["closed_form"] == {"rounds": cf.rounds, "messages": cf.messages, "bytes": cf.bytes}
    # independent count: every device forwards each record it learns to every neighbour,
    # except records learnt at hop >= D (D = diameter) -> sum_u deg_u * min(ecc_u + 1, D)
    D = nx.diameter(G)
    msgs = sum(G.degree(u) * min(nx.eccentricity(G, u) + 1, D) for u in G)
    assert out["messages"] == msgs
    assert out["retransmissions"] == 0 and out["agreement"] and out["matches_central"]


def test_init_with_loss_equals_direct_call(ws12: Path) -> None:
    from ssdfl.simulate.comm import record_bytes
    from ssdfl.simulate.protocol import simulate_flooding

    out = json.loads(_ok(["init", str(ws12), "--loss", "0.3", "--delay", "1", "--seed", "3",
                          "--json"]))  # fmt: skip
    g = read_graph(ws12)
    r = simulate_flooding(g, None, record_bytes(g), loss=0.3, max_delay=1, seed=3)
    for k in ("rounds", "messages", "bytes", "retransmissions", "lost", "total_messages"):
        assert out[k] == getattr(r, k), k
    assert out["retransmissions"] > 0 and out["agreement"]
    text = _ok(["init", str(ws12), "--loss", "0.3", "--delay", "1", "--seed", "3"])
    assert f"after {r.rounds} rounds, {r.messages:,} messages" in " ".join(text.split())


def test_init_plan_on_every_device(tmp_path: Path) -> None:
    from ssdfl.planner.config import PlanConfig
    from ssdfl.planner.plan import plan_formation
    from ssdfl.planner.protocol import initialization_agreement
    from ssdfl.theory.devices import read_devices

    G = nx.connected_watts_strogatz_graph(8, 4, 0.3, seed=1)
    gp = _graph_file(tmp_path, G)
    rng = np.random.default_rng(0)
    rows = ["id,optimizer,mu,rho,n_samples," + ",".join(f"label_{k}" for k in range(4))]
    for i in range(8):
        h = rng.integers(0, 30, 4)
        opt, mu, rho = [("sgd", "", ""), ("prox", "0.1", ""), ("momentum", "", "0.9")][i % 3]
        rows.append(f"{i},{opt},{mu},{rho},{h.sum()}," + ",".join(map(str, h)))
    dp = tmp_path / "d.csv"
    dp.write_text("\n".join(rows) + "\n")
    out = json.loads(_ok(["init", str(gp), "--devices", str(dp), "--plan", "--loss", "0.25",
                          "--seed", "1", "--json"]))  # fmt: skip
    g = read_graph(gp)
    dev = read_devices(dp, g)
    cfg = PlanConfig(fastest_mixing=False, schedule=False, theorem2=False, objective="J")
    r = initialization_agreement(g, dev, cfg, loss=0.25, seed=1)
    assert (out["rounds"], out["messages"], out["bytes"]) == (r.rounds, r.messages, r.bytes)
    assert out["agreement"] and r.agreement
    central = plan_formation(g, dev, cfg).assignment
    assert out["matches_central"] == bool(np.array_equal(r.formations[0], central))
    assert out["clusters"] == len(np.unique(central))


def test_init_plan_refused_on_large_graphs(tmp_path: Path) -> None:
    gp = _graph_file(tmp_path, nx.path_graph(31))
    assert "refused above 30 devices" in _fails(["init", str(gp), "--plan"])


def test_churn_equals_direct_simulation(ws12: Path, tmp_path: Path) -> None:
    from ssdfl.experiments.churn import ChurnSetup, devices_of
    from ssdfl.experiments.grid import RunSpec, build_problem
    from ssdfl.planner.plan import plan_formation
    from ssdfl.simulate.churn import mass_failure, simulate_churn
    from ssdfl.simulate.comm import flooding_traffic, record_bytes

    out = tmp_path / "run"
    text = _ok(["churn", str(ws12), "--trace", "mass", "--fraction", "0.5", "--strategy", "none",
                "--strategy", "modest", "--strategy", "repair", "--cycles", "3", "--seeds", "1",
                "--out", str(out)])  # fmt: skip
    assert text.startswith("Under mass failure 50%")
    df = pd.read_csv(out / "churn.csv")
    assert (out / "churn_accuracy.png").stat().st_size > 0
    assert set(df.strategy) == {"none", "modest", "repair"} and set(df.cycle) == {0, 1, 2, 3}
    # the same run written out with the simulator's pieces
    g: Graph = read_graph(ws12)
    model, _pop, test = build_problem(RunSpec(graph="rgg", n_devices=12, dataset="digits",
                                              split="3-label", seed=0))  # fmt: skip
    tr = mass_failure(g, 3, 1, 0.5, back_at=2, seed=0)  # bursts at ⌈3/3⌉, back at ⌈6/3⌉
    st = ChurnSetup()
    dev = devices_of(model, np.arange(12))
    plan = plan_formation(g, dev, st.config())
    init = flooding_traffic(g, record_bytes(g, 40)).bytes
    for strat in ("none", "modest"):
        r = simulate_churn(model, g, tr, plan.assignment, strategy=strat, tau_a=5, tau_r=1,
                           eta=0.2, seed=0, test_data=test,
                           init_bytes=init if strat == "none" else 0,
                           modest={"sample_size": 8, "aggregators": 3}).table()  # fmt: skip
        mine = df[df.strategy == strat].sort_values("cycle")
        np.testing.assert_allclose(mine.device_acc_mean, r.device_acc_mean, rtol=1e-12)
        for c in ("stranded", "isolated", "bytes_train", "bytes_formation", "n_present"):
            assert mine[c].tolist() == r[c].tolist(), (strat, c)
    rep = df[df.strategy == "repair"]
    assert rep.stranded.max() == 0 and rep.bytes_formation.iloc[-1] > init
    reform = pd.read_csv(out / "churn_reform.csv")
    assert len(reform) == 2  # the burst and the return
    assert rep.bytes_formation.iloc[-1] == init + reform.bytes.sum()


def test_churn_json_matches_csv(ws12: Path, tmp_path: Path) -> None:
    out = tmp_path / "j"
    args = ["churn", str(ws12), "--trace", "regional", "--strategy", "none", "--cycles", "2"]
    js = json.loads(_ok([*args, "--seeds", "2", "--out", str(out), "--json"]))
    df = pd.read_csv(out / "churn.csv")
    assert [r["seed"] for r in js["runs"]] == [0, 1]
    for r in js["runs"]:
        last = df[(df.seed == r["seed"]) & (df.cycle == 2)].iloc[0]
        assert r["final_device_acc"] == pytest.approx(last.device_acc_mean, rel=1e-12)
        assert r["training_MB"] == pytest.approx(last.bytes_train / 1e6, rel=1e-12)


@pytest.mark.parametrize(
    "extra, needle",
    [
        (["--trace", "sideways", "--strategy", "none"], "unknown --trace 'sideways'"),
        (["--trace", "mass", "--fraction", "1.5", "--strategy", "none"], "--fraction"),
        (["--trace", "mass", "--strategy", "magic"], "unknown --strategy 'magic'"),
    ],
)
def test_churn_bad_arguments(ws12: Path, tmp_path: Path, extra: list[str], needle: str) -> None:
    out = tmp_path / "never"
    err = _fails(["churn", str(ws12), *extra, "--cycles", "2", "--seeds", "1", "--out", str(out)])
    assert needle in err
    assert not out.exists()


def test_missing_graph(tmp_path: Path) -> None:
    out = tmp_path / "never"
    missing = str(tmp_path / "nope.edgelist")
    assert "not found" in _fails(["churn", missing, "--trace", "mass", "--strategy", "none",
                                  "--out", str(out)])  # fmt: skip
    assert not out.exists()
    assert "not found" in _fails(["init", missing])
    assert "--loss" in _fails(["init", missing, "--loss", "1.2"])
