"""One CLI error boundary (issue 11 items 5–6, issue 16 item 2): every bad invocation of the
audit gives exit status ≠ 0, a one-line message and no output; outputs appear whole."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from ssdfl.aggregation import fedavg
from ssdfl.cli import app as _app_module
from ssdfl.cli.app import app
from ssdfl.errors import OutputPathError

getattr(_app_module, "_register", lambda: None)()  # older app modules register on demand
runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]
KARATE = ROOT / "examples" / "karate.edgelist"


def _fails(args: list[str], code: int | None = None, env: dict | None = None) -> str:
    r = runner.invoke(app, args, env=env)
    assert r.exit_code != 0, r.output
    if code is not None:
        assert r.exit_code == code, r.output
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    err = r.stderr.strip()
    assert "Traceback" not in r.output
    if "error:" in err:  # runtime error: exactly one error line, the last one (logs before it)
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert lines[-1].startswith("error:"), err
        assert sum(ln.startswith("error:") for ln in lines) == 1, err
        return lines[-1]
    return err


def test_version() -> None:
    from ssdfl import __version__

    r = runner.invoke(app, ["--version"])
    assert r.exit_code == 0 and r.stdout.strip() == f"ssdfl {__version__}"


def test_devices_file_directory_and_non_utf8(tmp_path) -> None:
    _fails(["form", str(KARATE), "--devices", str(tmp_path), "--out", str(tmp_path / "o")], 2)
    bad = tmp_path / "dev.csv"
    bad.write_bytes(b"id,n_samples\n\xff\xfe,3\n")
    err = _fails(["form", str(KARATE), "--devices", str(bad), "--out", str(tmp_path / "o")], 2)
    assert "not UTF-8" in err
    assert not (tmp_path / "o").exists()


def test_form_out_is_a_file_and_max_clusters_zero(tmp_path) -> None:
    f = tmp_path / "taken"
    f.write_text("mine")
    err = _fails(["form", str(KARATE), "--out", str(f)], 2)
    assert "not a directory" in err and f.read_text() == "mine"
    _fails(["form", str(KARATE), "--max-clusters", "0", "--out", str(tmp_path / "o")], 2)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("x")
    err = _fails(["form", str(KARATE), "--out", str(foreign)], 2)
    assert "did not write" in err and (foreign / "thesis.tex").exists()


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ("[grid]\nmethod = [3]\n", "method must be str"),
        ("[base]\nmethod = 3\n", "method must be str"),
        ('grid = "abc"\n', "grid must be a table"),
        ('thresholds = ["high"]\n', "must be numbers"),
        ('[base]\nsplit = "dirichlet-abc"\n', "split 'dirichlet-abc'"),
        ('[base]\nmethod = "nope"\n', "unknown method"),
        ('name = "../escaped"\n', "plain file name"),
        ('name = "/tmp/abs"\n', "plain file name"),
        ('[base]\ncycles = "ten"\n', "cycles must be int"),
    ],
)
def test_simulate_bad_configs(tmp_path, body, needle) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text(body)
    out = tmp_path / "sub" / "out"
    err = _fails(["simulate", str(cfg), "--out", str(out), "--serial"], 2)
    assert needle in err, err
    assert not out.exists() and not (tmp_path / "sub" / "escaped.csv").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.toml"]


def _npy(tmp_path: Path, n: int = 3, p: int = 50) -> list[str]:
    rng = np.random.default_rng(1)
    files = []
    for i in range(n):
        f = tmp_path / f"c{i}.npy"
        np.save(f, rng.standard_normal(p).astype(np.float32))
        files.append(str(f))
    return files


def test_shard_run_bad_weights_keys_and_nan(tmp_path) -> None:
    files = _npy(tmp_path)
    out = tmp_path / "avg.npy"
    _fails(["shard", "run", *files, "-o", str(out), "--weights", "a,b,c"], 2)
    _fails(["shard", "run", *files, "-o", str(out), "--weights", "1,2"], 2)
    np.savez(tmp_path / "a.npz", w=np.ones(3, np.float32))
    np.savez(tmp_path / "b.npz", v=np.ones(3, np.float32))
    err = _fails(["shard", "run", str(tmp_path / "a.npz"), str(tmp_path / "b.npz"), "-o",
                  str(tmp_path / "x.npz")], 2)  # fmt: skip
    assert "b.npz" in err and "same names" in err
    x = np.load(files[1])
    x[7] = np.nan
    np.save(files[1], x)
    err = _fails(["shard", "run", *files, "-o", str(out), "--executor", "inline"], 2)
    assert files[1] in err and "NaN" in err  # the user's file, not a temporary object
    assert not out.exists()


def test_shard_plan_bad_numbers_and_report_out_is_file(tmp_path) -> None:
    for v in ("nan", "inf", "-1", "0"):
        _fails(["shard", "plan", "--model-mb", v], 2)
    _fails(["shard", "plan", "--model-mb", "10", "--bandwidth", "0"], 2)
    f = tmp_path / "f"
    f.write_text("x")
    assert "not a directory" in _fails(["shard", "report", "--out", str(f)], 2)


def test_unreachable_s3_endpoint_is_one_line(tmp_path) -> None:
    pytest.importorskip("boto3")
    files = _npy(tmp_path, 2)
    env = {"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_ACCESS_KEY_ID": "x",
           "AWS_SECRET_ACCESS_KEY": "x", "AWS_DEFAULT_REGION": "us-east-1"}  # fmt: skip
    err = _fails(["shard", "run", *files, "-o", str(tmp_path / "o.npy"), "--store", "s3://b/p",
                  "--executor", "inline"], 2, env=env)  # fmt: skip
    assert "127.0.0.1:9" in err or "connect" in err.lower()
    assert not (tmp_path / "o.npy").exists()


def test_debug_shows_the_traceback(tmp_path) -> None:
    f = tmp_path / "f"
    f.write_text("x")
    r = runner.invoke(app, ["shard", "report", "--out", str(f), "--debug"])
    assert isinstance(r.exception, OutputPathError)


def test_plan_table_is_not_cut_and_json(tmp_path) -> None:
    r = runner.invoke(app, ["shard", "plan", "--model-mb", "512", "-m", "4"], env={"COLUMNS": "60"})
    assert r.exit_code == 0, r.output
    assert any("$/1k rounds" in line for line in r.stdout.splitlines())  # header not wrapped
    r = runner.invoke(app, ["shard", "plan", "--model-mb", "512", "-m", "4", "--json"])
    d = json.loads(r.stdout)
    from ssdfl.aggregation.cost import sharded_cost

    assert d["rows"][0]["usd_per_1000_rounds"] == sharded_cost(512.0, 20, 4).per_1000_rounds_usd


def test_report_default_is_a_new_folder_and_options(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    r = runner.invoke(app, ["shard", "report", "--model-mb", "100", "-m", "2", "-m", "8"])
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in (tmp_path / "shard-report").iterdir()) == [
        ".ssdfl-output", "gradssharding_cost.png", "gradssharding_memory.png"]  # fmt: skip
    assert not (tmp_path / "docs").exists()


def _cli(*args: str) -> subprocess.Popen:
    code = "import sys; from ssdfl.cli import main; sys.argv[0] = 'ssdfl'; main()"
    env = {**os.environ, "RAYON_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, "-c", code, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )


def test_two_runs_sharing_a_store_keep_their_own_updates(tmp_path) -> None:
    store = tmp_path / "store"
    store.mkdir()  # --store must exist (a typo must not create directories)
    runs = []
    for r in range(2):
        d = tmp_path / f"run{r}"
        d.mkdir()
        rng = np.random.default_rng(r)
        xs = [rng.standard_normal(20_000).astype(np.float32) for _ in range(3)]
        for i, x in enumerate(xs):
            np.save(d / f"c{i}.npy", x)  # the same file stems in both runs
        files = [str(d / f"c{i}.npy") for i in range(3)]
        args = ["--quiet", "shard", "run", *files, "-o", str(d / "avg.npy"), "--store", str(store)]
        runs.append((xs, d / "avg.npy", _cli(*args)))
    for xs, out, proc in runs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err.decode()
        assert np.load(out).tobytes() == fedavg(xs).tobytes()
    assert list(store.iterdir()) == []  # each run removed everything it uploaded


def test_atomic_dir_whole_or_absent(tmp_path) -> None:
    from ssdfl._atomic import OUTPUT_MARKER, atomic_dir

    out = tmp_path / "o"
    with atomic_dir(out) as d:
        (d / "a").write_text("1")
        (d / "b").write_text("1")
    assert oct(out.stat().st_mode & 0o777) == oct(0o777 & ~_umask())
    with pytest.raises(RuntimeError), atomic_dir(out) as d:
        (d / "a").write_text("2")
        raise RuntimeError("killed half way")
    assert (out / "a").read_text() == "1" and (out / "b").exists()  # the old run, whole
    with atomic_dir(out) as d:
        (d / "c").write_text("3")
    assert sorted(p.name for p in out.iterdir()) == [OUTPUT_MARKER, "c"]  # replaced whole
    assert [p.name for p in tmp_path.iterdir()] == ["o"]  # no temporaries left


def _umask() -> int:
    old = os.umask(0o022)
    os.umask(old)
    return old


def _export(tmp_path: Path, to: str) -> tuple[Path, object, object]:
    import ssdfl
    from ssdfl.planner.plan import PlanConfig, plan_formation

    g = ssdfl.read_graph(KARATE)
    plan = plan_formation(g, None, PlanConfig(schedule=False, fastest_mixing=False, max_clusters=4))
    fj = tmp_path / "formation.json"
    plan.save(fj)
    out = tmp_path / f"exp-{to}"
    r = runner.invoke(app, ["export", str(fj), "--graph", str(KARATE), "--to", to,
                            "--out", str(out)])  # fmt: skip
    assert r.exit_code == 0, r.output
    return out, plan, g


def _read_graph_from_file(path: Path) -> tuple[int, list[set[int]]]:
    """decentralizepy.graphs.Graph.read_graph_from_file(file, type="edges"), re-implemented
    line for line (first line n_procs; each further line "x y" inserted both ways)."""
    with open(path) as inf:
        n = int(inf.readline().strip())
        adj: list[set[int]] = [set() for _ in range(n)]
        for line in inf.readlines():
            x, y = map(int, line.strip().split())
            adj[x].add(y)
            adj[y].add(x)
    return n, adj


def test_export_decentralizepy_networkx_json(tmp_path) -> None:
    import networkx as nx

    from ssdfl.graphs.mixing import mixing_matrix

    out, plan, g = _export(tmp_path, "decentralizepy")
    G = nx.from_scipy_sparse_array(g.to_scipy())
    for k, nodes in enumerate(plan.clusters):
        n, adj = _read_graph_from_file(out / f"cluster_{k}.edges")
        sub = G.subgraph(nodes.tolist())
        assert n == len(nodes)
        got = {frozenset((int(nodes[i]), int(nodes[j]))) for i in range(n) for j in adj[i]}
        assert got <= {frozenset(e) for e in sub.edges()}  # FMMC may drop zero-weight edges
        rows = np.loadtxt(out / f"cluster_{k}.mixing.csv", delimiter=",", skiprows=1, ndmin=2)
        W = np.zeros((n, n))
        W[rows[:, 0].astype(int), rows[:, 1].astype(int)] = rows[:, 2]
        assert np.allclose(W, W.T) and np.allclose(W.sum(1), 1)
    n, adj = _read_graph_from_file(out / "inter.edges")
    assert n == 34 and sum(len(a) for a in adj) == 2 * G.number_of_edges()
    out, _, _ = _export(tmp_path, "networkx")
    H = nx.node_link_graph(json.loads((out / "inter.json").read_text()), edges="edges")
    assert set(H.edges()) == set(G.edges()) or {frozenset(e) for e in H.edges()} == {
        frozenset(e) for e in G.edges()}  # fmt: skip
    W = mixing_matrix(g).toarray()
    for u, v, d in H.edges(data=True):
        assert d["weight"] == pytest.approx(W[u, v], abs=1e-15)
    out, _, _ = _export(tmp_path, "json")
    doc = json.loads((out / "topologies.json").read_text())
    assert [t["name"] for t in doc["topologies"]][-1] == "inter"
    assert sorted(u for t in doc["topologies"][:-1] for u in t["nodes"]) == list(range(34))


def test_export_uses_fmmc_weights_when_present() -> None:
    from types import SimpleNamespace

    import ssdfl
    from ssdfl.planner.export import formation_topologies

    g = ssdfl.Graph.from_networkx(__import__("networkx").path_graph(4))
    plan = SimpleNamespace(
        n=4, labels=["a", "b", "c", "d"], config={"mixing_rule": "metropolis"},
        clusters=[np.array([0, 1, 2]), np.array([3])],
        per_cluster=[{"fmmc_weights": [[0, 1, 0.5], [1, 2, 0.25]]}, {}],
    )  # fmt: skip
    c0, c1, inter = formation_topologies(plan, g)
    assert np.allclose(c0.W, [[0.5, 0.5, 0], [0.5, 0.25, 0.25], [0, 0.25, 0.75]])
    assert c0.labels == ["a", "b", "c"] and c1.W.tolist() == [[1.0]]
    # metropolis on the path: 1/(1 + max degree) on each edge
    assert inter.W[0, 1] == pytest.approx(1 / 3) and inter.W[0, 0] == pytest.approx(2 / 3)
    plan.per_cluster[0]["fmmc_weights"] = [[0, 2, 0.5]]  # not an edge of the graph
    with pytest.raises(ssdfl.SsdflError, match="not a graph edge"):
        formation_topologies(plan, g)
