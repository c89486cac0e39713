"""CLI error audit (issue 24, done-when): bad invocations of every ``ssdfl`` command, generated
from tables. Each must exit with status 2 (the error boundary's convention, ``cli/app.py``:
usage errors and runtime input errors alike), print no traceback, and say what is wrong in
words that name the offending flag, file or value -- never only an exception class name, a
``<class ...>`` repr or an errno number.

Most run in-process with typer's CliRunner; a few run as subprocesses (real exit status and
stderr). Every case fails before any real work, so the file runs in well under a minute."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from ssdfl.cli.app import app

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]
KARATE = ROOT / "examples" / "karate.edgelist"
ER30 = ROOT / "examples" / "er30.edgelist"
ER30_DEV = ROOT / "examples" / "er30-devices.csv"

#: A message that is only an exception class, a class repr or an errno number is not words.
_CLASS_ONLY = re.compile(r"^\w+(Error|Exception|Warning)\b")
_JUNK = re.compile(r"<class |Traceback|^\[Errno \d+\]\s*\S*$")

# ---------------------------------------------------------------------------------------------
# Inputs: {name} placeholders in the tables below are replaced by these paths.

_GRAPH_FILES = {
    "missing": "{missing}",
    "empty": "{empty_el}",
    "binary": "{binary_el}",
    "nonutf8": "{nonutf8_el}",
    "directory": "{dir}",
    "huge_mtx": "{huge_mtx}",
    "text_in_edges": "{words_el}",
    "negative_weight": "{negw_el}",
    "nan_weight": "{nanw_el}",
}
_DEVICE_FILES = {
    "missing": "{missing}",
    "empty": "{empty_csv}",
    "binary": "{binary_csv}",
    "nonutf8": "{nonutf8_csv}",
    "directory": "{dir}",
    "no_id": "{dev_noid}",
    "neg_samples": "{dev_negsamples}",
    "nan_mu": "{dev_nanmu}",
    "inf_labels": "{dev_inflabel}",
    "bad_optimizer": "{dev_badopt}",
    "unknown_node": "{dev_unknownnode}",
    "dup_id": "{dev_dupid}",
}
_OUTS_DIR = {  # --out that must be a directory ssdfl may replace
    "is_a_file": "{file_out}",
    "proc": "/proc/ssdfl-audit",
    "symlink": "{symlink_out}",
    "under_a_file": "{file_out}/sub",
    "foreign_dir": "{foreign_dir}",
}
_BAD_INT = ["0", "-5", "text", "1e308", "nan"]
_BAD_POS_FLOAT = ["0", "-5", "nan", "inf", "1e308", "text"]
_BAD_NONNEG_FLOAT = ["-5", "nan", "inf", "text"]


def _cases() -> list[tuple[str, list[str], str]]:
    """(id, argv template, needle): the message must contain the needle (case-insensitive)."""
    c: list[tuple[str, list[str], str]] = []
    g = "{karate}"
    # --- global
    c.append(("root-unknown-command", ["frobnicate"], "frobnicate"))
    c.append(("root-unknown-flag", ["--frob"], "--frob"))
    for cmd in ("info", "form", "export", "simulate", "init", "churn"):
        c.append((f"{cmd}-missing-arg", [cmd], "missing argument"))
        c.append((f"{cmd}-unknown-flag", [cmd, g, "--frob"], "--frob"))
    # --- graph files of every graph-reading command
    for kind, p in _GRAPH_FILES.items():
        needle = "{base}" if kind != "missing" else "missing"
        if kind != "empty":  # info reports an empty graph (0 nodes); planning refuses it
            c.append((f"info-graph-{kind}", ["info", p], needle))
        c.append((f"form-graph-{kind}", ["form", p, "--out", "{o}"], needle))
        c.append((f"init-graph-{kind}", ["init", p], needle))
        c.append(
            (
                f"churn-graph-{kind}",
                ["churn", p, "--trace", "random", "--strategy", "none", "--out", "{o}"],
                needle,
            )
        )
    c.append(("init-isolated-nodes", ["init", "{isolated_mtx}"], "isolated"))
    # --- info
    c += [
        ("info-format-bogus", ["info", g, "--format", "bogus"], "bogus"),
        ("info-set-unknown-node", ["info", g, "--set", "nosuchnode"], "nosuchnode"),
        ("info-set-empty", ["info", g, "--set", ""], "set"),
        ("info-directed-bogus", ["info", g, "--directed", "bogus"], "bogus"),
        ("info-devices-csv-as-graph", ["info", str(ER30_DEV)], "er30-devices.csv"),
    ]
    # --- form: numbers
    form = ["form", g, "--out", "{o}"]
    for flag in ("--tau-a", "--tau-r", "--model-params"):
        for v in _BAD_INT:
            c.append((f"form{flag}={v}", [*form, flag, v], flag.lstrip("-")))
    for flag in ("--eps", "--eta", "--bandwidth", "--step-time"):
        for v in _BAD_POS_FLOAT if flag in ("--eps", "--eta") else _BAD_NONNEG_FLOAT:
            c.append((f"form{flag}={v}", [*form, flag, v], flag.lstrip("-")))
    for flag in ("--gamma", "--sigma2", "--pilot-budget", "--latency"):
        for v in _BAD_NONNEG_FLOAT:
            c.append((f"form{flag}={v}", [*form, flag, v], flag.lstrip("-")))
    for flag, vals in (
        ("--max-clusters", ["0", "-5", "text"]),
        ("--cycles", ["0", "-5"]),
        ("--seeds", ["0", "-5"]),
        ("--seed", ["-5", "text"]),
        ("--max-edges", ["-5", "text"]),
    ):
        for v in vals:
            c.append((f"form{flag}={v}", [*form, flag, v], flag.lstrip("-")))
    c += [
        ("form-eps-above-1", [*form, "--eps", "1.5"], "eps"),
        ("form-admissibility-bogus", [*form, "--admissibility", "bogus"], "bogus"),
        ("form-budget-bogus", [*form, "--budget", "bogus"], "bogus"),
        ("form-goal-bogus", [*form, "--goal", "bogus"], "bogus"),
        ("form-format-bogus", [*form, "--format", "bogus"], "bogus"),
        ("form-model-bogus", [*form, "--model", "bogus"], "bogus"),
        ("form-model-factory-missing", [*form, "--model", "nosuchpkg.mod:make"], "nosuchpkg"),
        ("form-link-cost-missing", [*form, "--link-cost", "{missing}"], "missing"),
        ("form-link-cost-binary", [*form, "--link-cost", "{binary_el}"], "binary"),
        ("form-link-cost-negative", [*form, "--link-cost", "{negcost}"], "cost"),
        ("form-update-missing", [*form, "--update", "{missing}"], "missing"),
        ("form-update-dir-without-formation", [*form, "--update", "{dir}"], "formation"),
        ("form-update-bad-json", [*form, "--update", "{form_badjson}"], "form_badjson"),
        ("form-update-with-simulate", [*form, "--update", "{formation}", "--simulate"], "simulate"),
        ("form-update-with-validate", [*form, "--update", "{formation}", "--validate"], "validate"),
        (
            "form-update-with-budget-bogus",
            [*form, "--update", "{formation}", "--budget", "bogus"],
            "bogus",
        ),
        (
            "form-devices-for-other-graph",
            ["form", "{karate}", "--devices", str(ER30_DEV), "--out", "{o}"],
            "er30-devices",
        ),
    ]
    for kind, p in _DEVICE_FILES.items():
        needle = "{base}" if kind != "missing" else "missing"
        c.append(
            (f"form-devices-{kind}", ["form", str(ER30), "--devices", p, "--out", "{o}"], needle)
        )
        c.append((f"init-devices-{kind}", ["init", str(ER30), "--devices", p], needle))
    for kind, p in _OUTS_DIR.items():
        c.append((f"form-out-{kind}", ["form", g, "--out", p], "out"))
        c.append((f"export-out-{kind}", ["export", "{formation}", "-g", g, "--out", p], "out"))
        c.append((f"simulate-out-{kind}", ["simulate", "{config}", "--serial", "--out", p], "out"))
        c.append(
            (
                f"churn-out-{kind}",
                ["churn", g, "--trace", "random", "--strategy", "none", "--out", p],
                "out",
            )
        )
        c.append((f"shard-report-out-{kind}", ["shard", "report", "--out", p], "out"))
    # --- export
    exp = ["export", "{formation}", "-g", g, "--out", "{o}"]
    c += [
        ("export-to-bogus", [*exp, "--to", "bogus"], "bogus"),
        ("export-format-bogus", [*exp, "--format", "bogus"], "bogus"),
        (
            "export-graph-missing",
            ["export", "{formation}", "-g", "{missing}", "--out", "{o}"],
            "missing",
        ),
        ("export-graph-other", ["export", "{formation}", "-g", str(ER30), "--out", "{o}"], "graph"),
        ("export-no-graph", ["export", "{formation}", "--out", "{o}"], "--graph"),
    ]
    for kind in (
        "missing",
        "empty_json",
        "binary_el",
        "nonutf8_el",
        "dir",
        "form_badjson",
        "form_notobj",
        "form_labels",
        "form_twice",
        "form_notpartition",
        "form_float_index",
        "form_neg_weight",
        "form_nan_weight",
        "form_no_clusters",
        "form_huge_index",
    ):
        needle = "missing" if kind == "missing" else "{base}"
        c.append(
            (
                f"export-formation-{kind}",
                ["export", "{" + kind + "}", "-g", g, "--out", "{o}"],
                needle,
            )
        )
    # --- simulate
    for kind in (
        "missing",
        "empty_toml",
        "binary_el",
        "nonutf8_toml",
        "dir",
        "cfg_badtoml",
        "cfg_method_empty",
        "cfg_thr_empty",
        "cfg_dup_by",
        "cfg_ws_small",
        "cfg_batch_huge",
        "cfg_name_long",
        "cfg_cycles_zero",
        "cfg_devices_huge",
        "cfg_unknown_key",
        "cfg_neg_lr",
        "cfg_nan_lr",
        "cfg_bad_ext",
    ):
        needle = {
            "missing": "missing",
            "empty_toml": "empty",
            "binary_el": "binary",
            "nonutf8_toml": "nonutf8",
            "dir": "dir",
            "cfg_badtoml": "cfg_badtoml",
            "cfg_method_empty": "method",
            "cfg_thr_empty": "accuracy",
            "cfg_dup_by": "by",
            "cfg_ws_small": "n_devices",
            "cfg_batch_huge": "batch_size",
            "cfg_name_long": "name",
            "cfg_cycles_zero": "cycles",
            "cfg_devices_huge": "n_devices",
            "cfg_unknown_key": "frobnicate",
            "cfg_neg_lr": "lr",
            "cfg_nan_lr": "lr",
            "cfg_bad_ext": "cfg_bad_ext",
        }[kind]
        c.append(
            (
                f"simulate-config-{kind}",
                ["simulate", "{" + kind + "}", "--serial", "--out", "{o}"],
                needle,
            )
        )
    for v in ("0", "-5", "text"):
        c.append(
            (f"simulate-workers={v}", ["simulate", "{config}", "-w", v, "--out", "{o}"], "workers")
        )
    # --- init
    for flag, vals in (
        ("--loss", ["-0.1", "1", "1.5", "nan", "inf", "text"]),
        ("--delay", ["-5", "text"]),
        ("--seed", ["text", "-5"]),
        ("--max-devices", ["0", "-5", "text"]),
    ):
        for v in vals:
            c.append((f"init{flag}={v}", ["init", g, flag, v], flag.lstrip("-")))
    c += [
        ("init-format-bogus", ["init", g, "--format", "bogus"], "bogus"),
        ("init-too-many-devices", ["init", g, "--max-devices", "10"], "max-devices"),
        ("init-plan-too-large", ["init", g, "--plan"], "plan"),
    ]
    # --- churn
    ch = ["churn", g, "--trace", "random", "--strategy", "none", "--out", "{o}"]
    for flag, vals in (
        ("--rate", ["-5", "2", "nan", "inf", "text"]),
        ("--fraction", ["-5", "0", "2", "nan", "text"]),
        ("--cycles", ["0", "-5", "text"]),
        ("--seeds", ["0", "-5", "text"]),
        ("--max-clusters", ["0", "-5"]),
    ):
        for v in vals:
            c.append((f"churn{flag}={v}", [*ch, flag, v], flag.lstrip("-")))
    c += [
        (
            "churn-trace-bogus",
            ["churn", g, "--trace", "bogus", "--strategy", "none", "--out", "{o}"],
            "bogus",
        ),
        (
            "churn-strategy-bogus",
            ["churn", g, "--trace", "random", "--strategy", "bogus", "--out", "{o}"],
            "bogus",
        ),
        ("churn-no-trace", ["churn", g, "--strategy", "none", "--out", "{o}"], "--trace"),
        ("churn-no-strategy", ["churn", g, "--trace", "random", "--out", "{o}"], "--strategy"),
        ("churn-no-out", ["churn", g, "--trace", "random", "--strategy", "none"], "--out"),
        ("churn-format-bogus", [*ch, "--format", "bogus"], "bogus"),
        ("churn-devices-missing", [*ch, "--devices", "{missing}"], "missing"),
        ("churn-devices-binary", [*ch, "--devices", "{binary_csv}"], "binary"),
        ("churn-devices-other-graph", [*ch, "--devices", str(ER30_DEV)], "er30-devices"),
    ]
    # --- shard plan
    sp = ["shard", "plan", "--model-mb", "100"]
    for v in ("0", "-5", "text", "1e308"):
        c.append(
            (f"shard-plan-model-bytes={v}", ["shard", "plan", "--model-bytes", v], "model-bytes")
        )
    for v in _BAD_POS_FLOAT:
        c.append((f"shard-plan-model-mb={v}", ["shard", "plan", "--model-mb", v], "model-mb"))
        c.append((f"shard-plan-memory-mb={v}", [*sp, "--memory-mb", v], "memory"))
        c.append((f"shard-plan-bandwidth={v}", [*sp, "--bandwidth", v], "--bandwidth"))
    for flag, vals in (("-n", ["0", "-5", "text"]), ("-m", ["0", "-5", "text"])):
        for v in vals:
            c.append(
                (f"shard-plan{flag}={v}", [*sp, flag, v], {"-n": "clients", "-m": "shards"}[flag])
            )
    c += [
        ("shard-plan-no-size", ["shard", "plan"], "model"),
        (
            "shard-plan-both-sizes",
            ["shard", "plan", "--model-mb", "1", "--model-bytes", "10"],
            "model",
        ),
        ("shard-plan-measure-missing", [*sp, "--measure-store", "{missing}"], "missing"),
        ("shard-plan-measure-file", [*sp, "--measure-store", "{file_out}"], "file_out"),
        (
            "shard-plan-shards-huge",
            [*sp, "-m", "1000000", "-n", "2", "--model-bytes", "8"],
            "model",
        ),
    ]
    for kind in (
        "missing",
        "binary_el",
        "nonutf8_toml",
        "dir",
        "cfg_badtoml",
        "price_zero_read",
        "price_negative",
        "price_nan",
        "price_unknown",
        "price_text",
    ):
        needle = {
            "missing": "missing",
            "binary_el": "binary",
            "nonutf8_toml": "nonutf8",
            "dir": "dir",
            "cfg_badtoml": "cfg_badtoml",
            "price_zero_read": "read_mb_s",
            "price_negative": "put_usd",
            "price_nan": "get_usd",
            "price_unknown": "frobnicate",
            "price_text": "gb_second_usd",
        }[kind]
        c.append((f"shard-plan-pricing-{kind}", [*sp, "--pricing", "{" + kind + "}"], needle))
        c.append(
            (
                f"shard-report-pricing-{kind}",
                ["shard", "report", "--out", "{o}", "--pricing", "{" + kind + "}"],
                needle,
            )
        )
    # --- shard report
    for flag, vals in (
        ("-n", ["0", "-5"]),
        ("-m", ["0", "-5"]),
        ("--model-mb", ["0", "-5", "nan", "inf", "text"]),
    ):
        for v in vals:
            c.append(
                (
                    f"shard-report{flag}={v}",
                    ["shard", "report", "--out", "{o}", flag, v],
                    {"-n": "clients", "-m": "shards", "--model-mb": "model"}[flag],
                )
            )
    # --- shard run
    sr = ["shard", "run", "{a_npy}", "{b_npy}", "-o", "{o}.npy"]
    c += [
        ("shard-run-no-files", ["shard", "run", "-o", "{o}.npy"], "client_files"),
        ("shard-run-no-out", ["shard", "run", "{a_npy}", "{b_npy}"], "--out"),
        ("shard-run-missing", ["shard", "run", "{a_npy}", "{missing}", "-o", "{o}.npy"], "missing"),
        ("shard-run-empty", ["shard", "run", "{a_npy}", "{empty_npy}", "-o", "{o}.npy"], "empty"),
        (
            "shard-run-binary",
            ["shard", "run", "{a_npy}", "{binary_npy}", "-o", "{o}.npy"],
            "binary",
        ),
        ("shard-run-dir", ["shard", "run", "{a_npy}", "{dir}", "-o", "{o}.npy"], "dir"),
        ("shard-run-text-ext", ["shard", "run", "{a_npy}", "{karate}", "-o", "{o}.npy"], "karate"),
        (
            "shard-run-shape-mismatch",
            ["shard", "run", "{a_npy}", "{c_npy}", "-o", "{o}.npy"],
            "shape",
        ),
        ("shard-run-duplicate", ["shard", "run", "{a_npy}", "{a_npy}", "-o", "{o}.npy"], "a.npy"),
        ("shard-run-nan-update", ["shard", "run", "{a_npy}", "{nan_npy}", "-o", "{o}.npy"], "nan"),
        ("shard-run-object-npy", ["shard", "run", "{a_npy}", "{obj_npy}", "-o", "{o}.npy"], "obj"),
        ("shard-run-weights-text", [*sr, "--weights", "a,b"], "weights"),
        ("shard-run-weights-count", [*sr, "--weights", "1,2,3"], "weights"),
        ("shard-run-weights-negative", [*sr, "--weights", "1,-2"], "weights"),
        ("shard-run-weights-nan", [*sr, "--weights", "1,nan"], "weights"),
        ("shard-run-weights-zero", [*sr, "--weights", "0,0"], "weights"),
        ("shard-run-weights-inf", [*sr, "--weights", "1,inf"], "weights"),
        ("shard-run-strategy-bogus", [*sr, "--strategy", "bogus"], "bogus"),
        ("shard-run-tree-bogus", [*sr, "--strategy", "tree", "--tree", "bogus"], "bogus"),
        ("shard-run-executor-bogus", [*sr, "--executor", "bogus"], "bogus"),
        ("shard-run-shards-0", [*sr, "-m", "0"], "shards"),
        ("shard-run-shards-huge", [*sr, "-m", "1000000"], "shards"),
        ("shard-run-fan-in-1", [*sr, "--fan-in", "1"], "fan-in"),
        ("shard-run-workers-0", [*sr, "--workers", "0"], "workers"),
        ("shard-run-memory-neg", [*sr, "--memory-mb", "-5"], "memory"),
        ("shard-run-memory-nan", [*sr, "--memory-mb", "nan"], "memory"),
        ("shard-run-store-nonexistent", [*sr, "--store", "/nonexistent/a/b"], "store"),
        ("shard-run-store-file", [*sr, "--store", "{file_out}"], "store"),
        ("shard-run-out-dir", ["shard", "run", "{a_npy}", "{b_npy}", "-o", "{dir}"], "out"),
        ("shard-run-out-proc", ["shard", "run", "{a_npy}", "{b_npy}", "-o", "/proc/x.npy"], "out"),
        (
            "shard-run-out-symlink",
            ["shard", "run", "{a_npy}", "{b_npy}", "-o", "{symlink_npy}"],
            "out",
        ),
        (
            "shard-run-out-under-file",
            ["shard", "run", "{a_npy}", "{b_npy}", "-o", "{file_out}/x.npy"],
            "out",
        ),
    ]
    return c


CASES = _cases()


# ---------------------------------------------------------------------------------------------
# Fixtures: every input file once per session.


@pytest.fixture(scope="session")
def paths(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    d = tmp_path_factory.mktemp("audit")
    p: dict[str, Path] = {}

    def w(name: str, data: bytes | str) -> None:
        f = d / name
        f.write_bytes(data.encode() if isinstance(data, str) else data)
        p[name.replace(".", "_")] = f
        p.setdefault(Path(name).stem, f)

    p["karate"] = KARATE
    p["missing"] = d / "missing-file.edgelist"
    (d / "dir").mkdir()
    p["dir"] = d / "dir"
    w("empty.el", b"")
    w("empty.csv", b"")
    w("empty.json", b"")
    w("empty.toml", b"")
    w("empty.npy", b"")
    binary = bytes(range(256)) * 4
    w("binary.el", binary)
    w("binary.csv", binary)
    w("binary.npy", binary)
    w("nonutf8.el", b"0 1\n1 \xff\xfe2\n")
    w("nonutf8.csv", b"id,n_samples\n0,3\n\xff\xfe,3\n")
    w("nonutf8.toml", b'name = "\xff\xfe"\n')
    w(
        "huge.mtx",
        "%%MatrixMarket matrix coordinate pattern symmetric\n100000000000 100000000000 1\n1 2\n",
    )
    w("isolated.mtx", "%%MatrixMarket matrix coordinate pattern symmetric\n100000 100000 1\n1 2\n")
    w("words.el", "0 1\nalpha beta gamma delta\n")
    w("negw.el", "0 1 1\n1 2 -3\n2 0 1\n")
    w("nanw.el", "0 1 1\n1 2 nan\n2 0 1\n")
    w("negcost", "0 1 -4\n")
    header = "id,optimizer,mu,rho,n_samples,label_0,label_1\n"
    rows = [f"{i},sgd,,,10,5,5\n" for i in range(30)]
    w("dev_noid.csv", "optimizer,n_samples\n" + "sgd,10\n" * 30)
    w("dev_negsamples.csv", header + "".join(rows[:-1]) + "29,sgd,,,-10,5,5\n")
    w("dev_nanmu.csv", header + "".join(rows[:-1]) + "29,prox,nan,,10,5,5\n")
    w("dev_inflabel.csv", header + "".join(rows[:-1]) + "29,sgd,,,,1e308,1e308\n")
    w("dev_badopt.csv", header + "".join(rows[:-1]) + "29,frobnicate,,,10,5,5\n")
    w("dev_unknownnode.csv", header + "".join(rows[:-1]) + "999,sgd,,,10,5,5\n")
    w("dev_dupid.csv", header + "".join(rows) + "0,sgd,,,10,5,5\n")
    (d / "file_out").write_text("mine")
    p["file_out"] = d / "file_out"
    (d / "elsewhere").mkdir()
    os.symlink(d / "elsewhere", d / "symlink_out")
    p["symlink_out"] = d / "symlink_out"
    os.symlink(d / "file_out", d / "symlink.npy")
    p["symlink_npy"] = d / "symlink.npy"
    (d / "foreign_dir").mkdir()
    (d / "foreign_dir" / "thesis.tex").write_text("x")
    p["foreign_dir"] = d / "foreign_dir"
    # formation.json: a real one from `ssdfl form`, then mutations of it
    fdir = d / "formed"
    r = runner.invoke(
        app,
        [
            "form",
            str(KARATE),
            "--out",
            str(fdir),
            "--pilot-budget",
            "0",
            "--no-schedule",
            "--no-fmmc",
            "-q",
            "--max-clusters",
            "4",
        ],
    )
    assert r.exit_code == 0, r.output
    p["formation"] = fdir / "formation.json"
    good = json.loads(p["formation"].read_text())
    w("form_badjson.json", '{"clusters": [[0, 1], ')
    w("form_notobj.json", "[1, 2, 3]")
    muts: dict[str, object] = {}
    muts["form_no_clusters"] = {k: v for k, v in good.items() if k != "formation"}
    muts["form_labels"] = _mutate(good, "labels")
    muts["form_twice"] = _mutate(good, "twice")
    muts["form_notpartition"] = _mutate(good, "drop")
    muts["form_float_index"] = _mutate(good, "float")
    muts["form_huge_index"] = _mutate(good, "huge")
    muts["form_neg_weight"] = _mutate(good, "negw")
    muts["form_nan_weight"] = _mutate(good, "nanw")
    for name, body in muts.items():
        w(f"{name}.json", json.dumps(body, allow_nan=True))
    # simulate configs
    base = '[base]\ndataset = "synthetic"\nn_devices = 10\ncycles = 2\ntau_a = 1\n'
    w("config.toml", 'name = "audit"\n' + base)
    w("cfg_badtoml.toml", "name = \n[[[")
    w("cfg_method_empty.toml", base + "[grid]\nmethod = []\n")
    w("cfg_thr_empty.toml", base + "[thresholds]\naccuracy = []\n")
    w("cfg_dup_by.toml", 'by = ["seed", "seed"]\n' + base + "[grid]\nseed = [0, 1]\n")
    w("cfg_ws_small.toml", base.replace("n_devices = 10", 'n_devices = 3\ngraph = "ws"'))
    w("cfg_batch_huge.toml", base + "batch_size = 1000000000\n")
    w("cfg_name_long.toml", f'name = "{"n" * 300}"\n' + base)
    w("cfg_cycles_zero.toml", base.replace("cycles = 2", "cycles = 0"))
    w("cfg_devices_huge.toml", base.replace("n_devices = 10", "n_devices = 1000000"))
    w("cfg_unknown_key.toml", base + "frobnicate = 3\n")
    w("cfg_neg_lr.toml", base + "lr = -0.5\n")
    w("cfg_nan_lr.toml", base + "lr = nan\n")
    w("cfg_bad_ext.yaml", "name: x\n")
    # pricing files
    w("price_zero_read.toml", "[store]\nread_mb_s = 0\n")
    w("price_negative.toml", "[store]\nput_usd = -1\n")
    w("price_nan.toml", "[store]\nget_usd = nan\n")
    w("price_unknown.toml", "[store]\nfrobnicate = 1\n")
    w("price_text.toml", '[function]\ngb_second_usd = "cheap"\n')
    # client updates
    np.save(d / "a.npy", np.ones(8, dtype=np.float32))
    np.save(d / "b.npy", np.full(8, 2.0, dtype=np.float32))
    np.save(d / "c.npy", np.ones(5, dtype=np.float32))
    np.save(d / "nan.npy", np.array([1.0, np.nan] * 4, dtype=np.float32))
    np.save(d / "obj.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    for n in ("a", "b", "c", "nan", "obj"):
        p[f"{n}_npy"] = d / f"{n}.npy"
    out = {k: str(v) for k, v in p.items()}
    out["tmp"] = str(d)
    return out


def _mutate(good: dict, how: str) -> dict:
    """A formation.json made wrong in one way (the shape of the file is read, not assumed)."""
    bad = json.loads(json.dumps(good))
    clusters = _find_clusters(bad)
    if how == "labels":
        clusters[0][0] = "no-such-node"
    elif how == "twice":
        clusters[1].append(clusters[0][0])
    elif how == "drop":
        clusters[-1].pop()
    elif how == "float":
        clusters[0][0] = 2.7
    elif how == "huge":
        clusters[0][0] = 10**30
    elif how in ("negw", "nanw"):
        val = -0.5 if how == "negw" else float("nan")
        if not _set_first_weight(bad, val):
            clusters[0][0] = val
    return bad


def _find_clusters(d: dict) -> list[list]:
    for v in (d.get("clusters"), d.get("formation", {}).get("clusters")):
        if isinstance(v, list) and v and isinstance(v[0], list):
            return v
        if isinstance(v, list) and v and isinstance(v[0], dict):
            key = next(kk for kk in ("devices", "nodes", "members") if kk in v[0])
            return [cl[key] for cl in v]
    raise AssertionError(f"no clusters in formation.json keys {sorted(d)}")


def _set_first_weight(obj: object, val: float) -> bool:
    """Set the first float in a list under a key naming weights; True if one was found."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if "weight" in k.lower() and isinstance(v, list) and v:
                if isinstance(v[0], float | int):
                    v[0] = val
                    return True
                if isinstance(v[0], list) and v[0] and isinstance(v[0][-1], float | int):
                    v[0][-1] = val
                    return True
            if _set_first_weight(v, val):
                return True
    elif isinstance(obj, list):
        return any(_set_first_weight(x, val) for x in obj)
    return False


def _fill(args: list[str], paths: dict[str, str], out: str) -> list[str]:
    vals = dict(paths, o=out)
    return [a.format(**vals) if "{" in a else a for a in args]


def _check(code: int, stderr: str, needle: str) -> str:
    assert code == 2, f"exit {code}: {stderr}"
    assert "Traceback" not in stderr, stderr
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    assert lines, "no message"
    err = [ln for ln in lines if ln.startswith("error:")]
    if err:  # runtime error: one error line
        assert len(err) == 1, stderr
        msg = err[0].removeprefix("error:").strip()
    else:  # click usage error: 'Usage: ...', 'Try ...', then the boxed or plain message
        msg = " ".join(ln.strip("│╭╰─╮╯ ") for ln in lines if not ln.startswith(("Usage", "Try")))
        msg = msg.removeprefix("Error:").strip()
    assert not _CLASS_ONLY.match(msg), f"message starts with an exception class: {msg!r}"
    assert not _JUNK.search(msg), f"not words: {msg!r}"
    words = re.findall(r"[A-Za-z]{3,}", msg)
    assert len(words) >= 3, f"too few words: {msg!r}"

    def norm(t: str) -> str:
        return t.lower().replace("-", "_")

    assert norm(needle) in norm(" ".join(lines)), f"{needle!r} not named: {msg!r}"
    return msg


@pytest.mark.parametrize(("args", "needle"), [pytest.param(a, n, id=i) for i, a, n in CASES])
def test_bad_invocation(args: list[str], needle: str, paths: dict[str, str], tmp_path) -> None:
    out = str(tmp_path / "o")
    argv = _fill(args, paths, out)
    base = next(
        (
            Path(a).name
            for a, t in zip(argv, args, strict=True)
            if "{" in t and t not in ("{o}",) and not t.startswith("{o}")
        ),
        "",
    )
    needle = needle.replace("{base}", base)
    r = runner.invoke(app, argv)
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    _check(r.exit_code, r.stderr, needle)
    # nothing written where the output would go
    assert not Path(out).exists() or not any(Path(out).iterdir()), os.listdir(out)


def test_audit_size() -> None:
    """The audit covers at least 229 invocations (issue 24's count) and every command."""
    assert len(CASES) + len(SUBPROCESS_CASES) >= 229
    first = {a[0] if a[0] != "shard" else f"shard {a[1]}" for _, a, _ in CASES}
    assert {
        "info",
        "form",
        "export",
        "simulate",
        "init",
        "churn",
        "shard plan",
        "shard run",
        "shard report",
    } <= first


SUBPROCESS_CASES = [
    ("sub-form-eta-overflow", ["form", "{karate}", "--eta", "1e308", "--out", "{o}"], "eta"),
    ("sub-info-missing", ["info", "{missing}"], "missing"),
    (
        "sub-shard-plan-zero-read",
        ["shard", "plan", "--model-mb", "10", "--pricing", "{price_zero_read}"],
        "read_mb_s",
    ),
    (
        "sub-export-nan-weight",
        ["export", "{form_nan_weight}", "-g", "{karate}", "--out", "{o}"],
        "form_nan_weight",
    ),
    ("sub-simulate-nonutf8", ["simulate", "{nonutf8_toml}", "--serial", "--out", "{o}"], "nonutf8"),
]


@pytest.mark.parametrize(
    ("args", "needle"), [pytest.param(a, n, id=i) for i, a, n in SUBPROCESS_CASES]
)
def test_bad_invocation_subprocess(
    args: list[str], needle: str, paths: dict[str, str], tmp_path
) -> None:
    argv = _fill(args, paths, str(tmp_path / "o"))
    env = dict(os.environ, COLUMNS="200")
    exe = str(Path(sys.executable).with_name("ssdfl"))
    r = subprocess.run([exe, *argv], capture_output=True, text=True, env=env, timeout=120)
    _check(r.returncode, r.stderr, needle)
    assert r.stdout.strip() == "", r.stdout
