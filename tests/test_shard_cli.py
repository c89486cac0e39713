"""``ssdfl shard plan|run|report`` end to end."""

from __future__ import annotations

import numpy as np
from typer.testing import CliRunner

from ssdfl.aggregation import fedavg
from ssdfl.aggregation.cost import VGG16_PARAMS, sharded_cost, tree_cost
from ssdfl.cli.app import app

runner = CliRunner()


def test_plan_prints_costs_and_feasibility() -> None:
    r = runner.invoke(
        app,
        ["shard", "plan", "--model-bytes", str(VGG16_PARAMS * 4), "--clients", "20",
         "--memory-mb", "10240", "--shards", "4"],
        env={"COLUMNS": "200"},
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    mb = VGG16_PARAMS * 4 / 2**20
    assert f"{sharded_cost(mb, 20, 4).per_1000_rounds_usd:,.2f}" in r.output
    assert f"{tree_cost(mb, 20).per_1000_rounds_usd:,.2f}" in r.output
    r = runner.invoke(
        app,
        ["shard", "plan", "--model-mb", "5120", "-n", "20", "--memory-mb", "3008"],
        env={"COLUMNS": "200"},
    )
    assert r.exit_code == 0 and "NO" in r.output and "M ≥ 7" in r.output


def test_plan_measures_a_store(tmp_path) -> None:
    r = runner.invoke(
        app,
        ["shard", "plan", "--model-mb", "100", "--measure-store", str(tmp_path)],
        env={"COLUMNS": "200"},
    )
    assert r.exit_code == 0, r.output
    assert "measured read bandwidth" in r.output


def test_plan_needs_a_size() -> None:
    r = runner.invoke(app, ["shard", "plan", "--clients", "3"])
    assert r.exit_code != 0


def test_run_npz_and_npy(tmp_path) -> None:
    rng = np.random.default_rng(0)
    files, ups = [], []
    for i in range(3):
        u = {
            "w": rng.standard_normal((7, 5)).astype(np.float32),
            "b": rng.standard_normal(5).astype(np.float32),
        }
        np.savez(tmp_path / f"c{i}.npz", **u)
        files.append(str(tmp_path / f"c{i}.npz"))
        ups.append(u)
    out = tmp_path / "avg.npz"
    r = runner.invoke(
        app,
        ["shard", "run", *files, "--out", str(out), "--weights", "1,2,3", "--strategy", "sharded",
         "--shards", "4", "--executor", "inline", "--store", str(tmp_path / "store")],
        env={"COLUMNS": "200"},
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    ref = fedavg(ups, [1, 2, 3])
    z = np.load(out)
    assert all(z[k].tobytes() == ref[k].tobytes() for k in ref)
    npy = [tmp_path / f"d{i}.npy" for i in range(2)]
    for f in npy:
        np.save(f, rng.standard_normal(11))
    r = runner.invoke(
        app,
        ["shard", "run", *map(str, npy), "-o", str(tmp_path / "m.npy"), "--strategy", "tree",
         "--executor", "inline"],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    ref2 = fedavg([np.load(f) for f in npy])
    assert np.load(tmp_path / "m.npy").tobytes() == ref2.tobytes()


def test_run_missing_file_is_an_error(tmp_path) -> None:
    r = runner.invoke(app, ["shard", "run", str(tmp_path / "x.npy"), "-o", str(tmp_path / "o")])
    assert r.exit_code != 0
    assert not (tmp_path / "o.npy").exists()


def test_report_writes_pngs(tmp_path) -> None:
    r = runner.invoke(app, ["shard", "report", "--out-dir", str(tmp_path)])
    assert r.exit_code == 0, r.output
    for name in ("gradssharding_cost.png", "gradssharding_memory.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"


def test_measured_memory_plot(tmp_path) -> None:
    from ssdfl.aggregation.plots import plot_measured_memory

    rows = [
        {"name": "shard-0", "predicted_mb": 100.0, "measured_mb": 103.0, "ok": True},
        {"name": "leaf", "predicted_mb": 0.0, "measured_mb": 0.0, "ok": False},
    ]
    out = plot_measured_memory(tmp_path / "m.png", rows)
    assert out.read_bytes()[:4] == b"\x89PNG"
