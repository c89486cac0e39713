"""Experiment grids and the dask sweep (tiny grid, one in-process worker)."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from ssdfl.errors import SsdflError
from ssdfl.experiments.grid import RunSpec, build_graph, expand_grid, run_one, sweep
from ssdfl.simulate import threshold_table


def test_expand_grid() -> None:
    specs = expand_grid({"method": ["ssdfl", "sdfl"], "seed": [0, 1, 2]}, {"cycles": 3})
    assert len(specs) == 6 and all(s.cycles == 3 for s in specs)
    assert {(s.method, s.seed) for s in specs} == {
        (m, k) for m in ("ssdfl", "sdfl") for k in (0, 1, 2)
    }
    with pytest.raises(SsdflError):
        expand_grid({"nonsense": [1]})


@pytest.mark.parametrize("family", ["er", "rgg", "ba", "ws", "complete"])
def test_build_graph_connected_and_deterministic(family: str) -> None:
    g = build_graph(family, 25, seed=3)
    assert g.n == 25 and nx.is_connected(g.to_networkx())
    assert g == build_graph(family, 25, seed=3)
    if family == "complete":
        assert g.m == 25 * 24 // 2


def test_sweep_one_worker_matches_serial() -> None:
    base = {"n_devices": 10, "cycles": 3, "tau_a": 2, "dataset": "synthetic", "split": "1-label",
            "device_metrics": False}  # fmt: skip
    grid = {"method": ["ssdfl", "sdfl", "stc"], "seed": [0, 1]}
    df = sweep(grid, base, n_workers=1, processes=False, progress=False)
    assert sorted(df["run"].unique()) == list(range(6))
    assert len(df) == 6 * 4  # cycles 0..3 per run
    # the distributed result equals a serial run bit for bit
    spec = RunSpec(**base, method="stc", seed=1)
    serial = run_one(spec)
    dist = df[(df["method"] == "STC") & (df["seed"] == 1)]
    np.testing.assert_array_equal(dist["loss"].to_numpy(), serial["loss"].to_numpy())
    summary = threshold_table(df, [0.0, 2.0], metric="accuracy")
    row = summary[(summary["threshold"] == 0.0) & (summary["method"] == "sDFL")].iloc[0]
    assert row["cycles"] == 0 and row["reached"] == 1.0 and row["runs"] == 2
    assert (summary[summary["threshold"] == 2.0]["reached"] == 0).all()  # accuracy ≤ 1


def test_cli_simulate_serial(tmp_path) -> None:
    from typer.testing import CliRunner

    from ssdfl.cli.app import app

    cfg = tmp_path / "tiny.toml"
    cfg.write_text(
        'name = "tiny"\n[thresholds]\nloss = [0.0]\n[base]\ndataset = "quadratic"\nn_devices = 8\n'
        'cycles = 2\ngraph = "ws"\n[grid]\nmethod = ["ssdfl", "pdfl"]\n'
    )
    out = tmp_path / "out"  # a new directory: the CLI refuses to replace foreign files
    res = CliRunner().invoke(app, ["simulate", str(cfg), "--out", str(out), "--serial",
                                   "--no-progress"])  # fmt: skip
    assert res.exit_code == 0, res.output
    import pandas as pd

    df = pd.read_csv(out / "tiny.csv")
    assert set(df["method"]) == {"SSD-FL", "pDFL"} and df["cycle"].max() == 2
    assert (out / "tiny.png").stat().st_size > 0
    thr = pd.read_csv(out / "tiny_thresholds.csv")
    assert len(thr) == 2


def test_load_config_errors(tmp_path) -> None:
    from ssdfl.experiments.grid import load_config

    with pytest.raises(FileNotFoundError):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[grid]\nmethodz = ['ssdfl']\n")
    with pytest.raises(SsdflError):
        load_config(bad)
    bad.write_text("this is not toml = = =")
    with pytest.raises(SsdflError):
        load_config(bad)


def _mlp_accuracy(x: np.ndarray, p: int, h: int, C: int, Z: np.ndarray, y: np.ndarray) -> float:
    """Accuracy of a one-hidden-layer ReLU MLP given as a flat vector (W0 (p, h) row-major,
    b0, W1 (h, C), b1), written out independently of ssdfl.theory.nn."""
    o = 0
    W0 = x[o : o + p * h].reshape(p, h)
    o += p * h
    b0 = x[o : o + h]
    o += h
    W1 = x[o : o + h * C].reshape(h, C)
    o += h * C
    b1 = x[o : o + C]
    logits = np.maximum(Z @ W0 + b0, 0.0) @ W1 + b1
    return float(np.mean(np.argmax(logits, axis=1) == y))


def test_run_one_mnist1d_mlp() -> None:
    """A tiny MNIST-1D + MLP run goes through run_one; its accuracies match a plain forward
    pass of the final models, and it starts from the network's common init (not 0)."""
    from ssdfl.experiments.grid import build_problem
    from ssdfl.simulate import make_method, simulate

    spec = RunSpec(dataset="mnist1d", model="mlp", n_devices=6, split="2-label", cycles=2,
                   tau_a=2, method="ssdfl", n_clusters=2, eta=0.1, adam_lr=0.01, seed=1,
                   optimizers="sgd+adam")  # fmt: skip
    df = run_one(spec)
    assert len(df) == 3 and (df["model"] == "mlp").all() and (df["dataset"] == "mnist1d").all()
    for col in ("accuracy", "device_acc_mean", "device_acc_min", "loss", "d2d_bytes"):
        assert np.isfinite(df[col]).all(), col
    assert df["loss"].iloc[-1] < df["loss"].iloc[0]
    # the same run by hand: final models → accuracies by an independent forward pass
    model, pop, test = build_problem(spec)
    assert model.dim == 40 * 32 + 32 + 32 * 10 + 10
    x0 = model.init(spec.seed)
    assert np.abs(x0).max() > 0
    g = build_graph("er", 6, None, 1)
    kinds = [o.kind for o in pop.optimizers]
    assert "adam" in kinds and "sgd" in kinds
    eta = np.array([0.01 if k == "adam" else 0.1 for k in kinds])  # adam_lr for Adam devices
    res = simulate(model, g, make_method("ssdfl", n_clusters=2, how="hierarchy",
                                         inter_local_steps=False),
                   optimizers=pop, tau_a=2, tau_r=1, cycles=2, eta=eta, x0=x0, seed=1,
                   test_data=test)  # fmt: skip
    Z, y = test
    accs = [_mlp_accuracy(res.X[i], 40, 32, 10, Z, y) for i in range(6)]
    assert df["device_acc_mean"].iloc[-1] == pytest.approx(np.mean(accs), abs=1e-12)
    assert df["device_acc_min"].iloc[-1] == pytest.approx(min(accs), abs=1e-12)
    xbar = _mlp_accuracy(res.X.mean(axis=0), 40, 32, 10, Z, y)
    assert df["accuracy"].iloc[-1] == pytest.approx(xbar, abs=1e-12)
    assert df["loss"].iloc[-1] == pytest.approx(res.table()["loss"].iloc[-1], rel=1e-12)


def test_config_model_field(tmp_path) -> None:
    from ssdfl.experiments.grid import load_config

    cfg = tmp_path / "nn.toml"
    cfg.write_text('[base]\ndataset = "mnist1d"\ncycles = 1\n[grid]\nmodel = ["mlp", "cnn"]\n')
    assert [s.model for s in load_config(cfg).specs()] == ["mlp", "cnn"]
    bad = (('[grid]\nmodel = ["resnet"]\n', "model"), ('[grid]\ndataset = ["cifar"]\n', "dataset"),
           ('[base]\ndataset = "quadratic"\nmodel = "mlp"\n', "quadratic"))  # fmt: skip
    for body, word in bad:
        cfg.write_text(body)
        with pytest.raises(SsdflError, match=word):
            load_config(cfg)
