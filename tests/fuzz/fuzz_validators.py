"""Fuzz targets for the input validators of issue 24: simulate configs (``load_config``),
pricing files (``load_pricing``) and devices tables given as a pandas DataFrame
(``read_devices``).

Inputs: structured mutations of valid seeds (one or more values replaced by edge values:
another type, 0, negative, NaN, ±inf, 1e308, huge integers, empty lists and strings, duplicates,
``1_0``, booleans, complex numbers, containers) and, for the two file formats, byte mutations
of the text (``harness.mutate``). For every input the outcome must be one of:

- accepted, and the independent oracle of the target agrees that every documented rule holds
  (a plain re-statement of docs/reliability.md's rules, plus the downstream use: the cost model
  on the accepted pricing gives finite numbers; an accepted config's small graphs build);
  otherwise a *wrong acceptance*;
- refused with the target's error class (``SsdflError`` for files, its message starting with
  the file; ``DeviceFileError`` for DataFrames);
- anything else (another exception, or > TIME_LIMIT seconds) is a *crash*.

Run long: ``python tests/fuzz/fuzz_validators.py --n 20000 --seed 0`` (all three targets, or
``--target config``); the suite runs a short run (``tests/fuzz/test_fuzz_validators.py``).
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness

TARGETS = ("config", "pricing", "devices-df")
TIME_LIMIT = 10.0


class Finding(AssertionError):
    """A crash or a wrong acceptance."""


# ----------------------------------------------------------------------------- edge values
EDGE: list[Any] = [
    0, 1, 2, 3, 5, -1, -5, 1.5, 0.5, 1e-300, 1e308, -1e308, math.nan, math.inf, -math.inf,
    10**6, 10**9, 2**53 + 1, 2**63, 2**64, True, False, "", " ", "x", "1_0", "١٢", "0x10",
    "sgd", "ws", "ba", "er", "complete", "iid", "dirichlet-0", "dirichlet-abc", "11-label",
    "accuracy", "method", "ssdfl", [], [0], [1, 1], ["ssdfl", "ssdfl"], [[]], {}, {"a": 1},
    "a" * 300, "..", "/etc/x", "\x01", 1 + 0j,
]  # fmt: skip


def _edge(rng: random.Random, *, toml: bool) -> Any:
    v = copy.deepcopy(rng.choice(EDGE))  # never share a mutable edge value
    if toml and isinstance(v, complex):
        return "1+0j"
    return v


# ------------------------------------------------------------------------------ TOML writer
def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {_toml_value(x)}" for k, x in v.items()) + "}"
    return json.dumps(str(v))


def to_toml(doc: dict[str, Any]) -> bytes:
    """A small TOML writer (scalars first, then one ``[table]`` per dict value)."""
    lines = [f"{json.dumps(k)} = {_toml_value(v)}" for k, v in doc.items()
             if not isinstance(v, dict)]  # fmt: skip
    for k, v in doc.items():
        if isinstance(v, dict):
            lines.append(f"[{json.dumps(k)}]")
            lines += [f"{json.dumps(kk)} = {_toml_value(vv)}" for kk, vv in v.items()]
    return ("\n".join(lines) + "\n").encode("utf-8", "surrogatepass")


# ----------------------------------------------------------------------------------- config
def config_seeds() -> list[dict[str, Any]]:
    return [
        {"name": "smoke", "thresholds": [0.5, 0.8], "by": ["method"],
         "base": {"cycles": 5, "n_devices": 12, "graph": "er", "graph_param": 0.4},
         "grid": {"method": ["ssdfl", "sdfl"], "seed": [0, 1]}},
        {"name": "ws", "base": {"graph": "ws", "n_devices": 10, "batch_size": 8, "cycles": 3,
                                "optimizers": "sgd+prox", "split": "dirichlet-0.5"},
         "grid": {"tau_a": [1, 5], "eta": [0.02]}, "thresholds": {"accuracy": [0.7]},
         "limits": {"max_devices": 100}},
        {"name": "q", "base": {"dataset": "quadratic", "n_devices": 6, "cycles": 4,
                               "graph": "ba", "n_clusters": 2},
         "grid": [{"method": ["ssdfl"]}, {"method": ["sdfl"], "tau_r": [0, 2]}],
         "by": ["label", "seed"], "dask": {"workers": 2}},
    ]  # fmt: skip


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, (*prefix, i))
    return out


_CONFIG_KEYS = ["n_devices", "cycles", "eta", "batch_size", "graph", "graph_param", "method",
                "tau_a", "tau_r", "seed", "n_clusters", "split", "optimizers", "mixing",
                "sigma", "l2", "stop_accuracy", "adam_lr", "eval_every", "bytes_per_param",
                "cluster_how", "dataset", "model", "graph_seed"]  # fmt: skip


def mutate_doc(doc: dict[str, Any], rng: random.Random, *, toml: bool) -> dict[str, Any]:
    """Replace, insert or drop a few values of a parsed document."""
    d = copy.deepcopy(doc)
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        paths = _paths(d)
        op = rng.randrange(4)
        if op == 3:  # a new key somewhere with an edge value (known names mostly)
            tables = [p for p in paths if isinstance(_get(d, p), dict)] + [()]
            p = rng.choice(tables)
            key = rng.choice([*_CONFIG_KEYS, "by", "thresholds", "name", "max_devices",
                              "max_memory_gb", "read_mb_s", "bogus"])  # fmt: skip
            _get(d, p)[key] = _edge(rng, toml=toml)
            continue
        if not paths:
            continue
        p = rng.choice(paths)
        parent, last = _get(d, p[:-1]), p[-1]
        if op == 2 and isinstance(parent, dict):
            del parent[last]
        elif op == 1 and isinstance(_get(d, p), list):
            _get(d, p).append(_edge(rng, toml=toml))
        else:
            parent[last] = _edge(rng, toml=toml)
    return d


def _get(d: Any, path: tuple[Any, ...]) -> Any:
    for k in path:
        d = d[k]
    return d


def _num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def config_oracle(cfg: Any) -> str | None:
    """Independent statement of the config rules on an accepted config; the broken rule or
    None. Also builds the graphs of small runs (a graph that cannot be built was accepted
    wrongly)."""
    from ssdfl.experiments.grid import (
        BY_COLUMNS,
        CONFIG_LIMITS,
        DATASET_SAMPLES,
        RunSpec,
        build_graph,
        resource_estimate,
    )
    from ssdfl.simulate.methods import METHODS

    if not isinstance(cfg.name, str) or not 0 < len(cfg.name.encode()) <= 100:
        return f"name {cfg.name!r}"
    if "/" in cfg.name or cfg.name.startswith("."):
        return f"name {cfg.name!r} leaves --out"
    fields = {f for f in RunSpec.__dataclass_fields__} | set(BY_COLUMNS)
    if not cfg.by or len(set(cfg.by)) != len(cfg.by) or not set(cfg.by) <= fields:
        return f"by {cfg.by!r}"
    for m, vals in cfg.thresholds.items():
        if not vals or not all(math.isfinite(t) for t in vals) or len(set(vals)) != len(vals):
            return f"thresholds {m}: {vals!r}"
        if "acc" in m and not all(0 <= t <= 1 for t in vals):
            return f"thresholds {m}: {vals!r}"
    grids = cfg.grid if isinstance(cfg.grid, list) else [cfg.grid]
    if not grids:
        return "no grid"
    for g in grids:
        for k, v in g.items():
            if not isinstance(v, list) or not v:
                return f"grid {k}: {v!r}"
    specs = cfg.specs()
    if not specs or len(specs) > CONFIG_LIMITS["max_runs"] * 10:
        return f"{len(specs)} runs"
    built = 0
    for s in specs:
        n = s.n_devices
        if not (_num(n) and n == int(n) and 2 <= n):
            return f"n_devices {n!r}"
        if not (isinstance(s.cycles, int) and s.cycles >= 1):
            return f"cycles {s.cycles!r}"
        for k in ("eta", "sigma", "l2"):
            v = getattr(s, k)
            if not (_num(v) and math.isfinite(v) and v >= 0) or (k == "eta" and v <= 0):
                return f"{k} {v!r}"
        if s.batch_size is not None and not s.batch_size >= 1:
            return f"batch_size {s.batch_size!r}"
        if s.method.lower().replace("-", "").replace("_", "") not in METHODS:
            return f"method {s.method!r}"
        if not (s.tau_a >= 0 and s.tau_r >= 0 and s.tau_a + s.tau_r >= 1):
            return f"tau {s.tau_a}, {s.tau_r}"
        if s.n_clusters is not None and not 1 <= s.n_clusters <= n:
            return f"n_clusters {s.n_clusters}"
        if s.dataset in DATASET_SAMPLES and n > DATASET_SAMPLES[s.dataset]:
            return f"n_devices {n} > samples of {s.dataset}"
        if s.seed < 0 or (s.graph_seed is not None and s.graph_seed < 0):
            return f"seed {s.seed}"
        if resource_estimate(s) > 64 * 2**30:  # far above any default limit
            return f"memory {resource_estimate(s) / 2**30:.0f} GiB"
        if n <= 60 and built < 2 and s.graph in ("er", "rgg", "ba", "ws", "complete"):
            built += 1
            try:
                g = build_graph(s.graph, n, s.graph_param, s.graph_seed or s.seed, max_tries=50)
            except Exception as exc:  # the accepted family/size cannot be built
                if "no connected" in str(exc):
                    continue  # a sparse random family may fail to connect: a run-time error
                return f"graph {s.graph} n={n} param={s.graph_param}: {type(exc).__name__}: {exc}"
            if g.n != n:
                return f"graph has {g.n} nodes, not {n}"
    return None


def check_config(data: bytes, workdir: Path, suffix: str = ".toml") -> str:
    from ssdfl.errors import SsdflError
    from ssdfl.experiments.grid import load_config

    path = workdir / f"c{suffix}"
    path.write_bytes(data)
    try:
        cfg = load_config(path)
    except SsdflError as exc:
        if not str(exc).startswith(str(path)):
            raise Finding(f"config: error without the file: {exc}") from exc
        return "refused"
    except Exception as exc:
        raise Finding(f"config raised {type(exc).__name__}: {exc}") from exc
    why = config_oracle(cfg)
    if why is not None:
        raise Finding(f"config accepted wrongly: {why}")
    return "accepted"


# ---------------------------------------------------------------------------------- pricing
def pricing_seeds() -> list[dict[str, Any]]:
    return [
        {"function": {"gb_second_usd": 0.0000166667, "memory_ceiling_mb": 10240,
                      "min_memory_mb": 128, "memory_copies": 3.0},
         "store": {"read_mb_s": 45.0, "write_mb_s": 60.0, "put_usd": 0.000005},
         "round": {"include_client_traffic": True}},
        {"store": {"read_mb_s": 100}},
        {"function": {"runtime_overhead_mb": 0, "request_usd": 0}},
    ]  # fmt: skip


PRICE_KEYS = ("gb_second_usd", "request_usd", "put_usd", "get_usd")
POSITIVE_KEYS = ("memory_ceiling_mb", "min_memory_mb", "read_mb_s", "write_mb_s")


def pricing_oracle(p: Any) -> str | None:
    from ssdfl.aggregation.cost import sharded_cost, tree_cost

    for k in (*PRICE_KEYS, "runtime_overhead_mb"):
        v = getattr(p, k)
        if not (_num(v) and math.isfinite(v) and v >= 0):
            return f"{k} = {v!r}"
    for k in POSITIVE_KEYS:
        v = getattr(p, k)
        if not (_num(v) and math.isfinite(v) and v > 0):
            return f"{k} = {v!r}"
    if not (_num(p.memory_copies) and math.isfinite(p.memory_copies) and p.memory_copies >= 1):
        return f"memory_copies = {p.memory_copies!r}"
    if p.min_memory_mb > p.memory_ceiling_mb:
        return "min_memory_mb > memory_ceiling_mb"
    if not isinstance(p.include_client_traffic, bool):
        return f"include_client_traffic = {p.include_client_traffic!r}"
    try:
        rows = [sharded_cost(100.0, 10, 4, p), tree_cost(100.0, 10, kind="lambda-fl", p=p)]
    except Exception as exc:
        return f"cost model raised {type(exc).__name__}: {exc}"
    for r in rows:
        if not all(math.isfinite(x) for x in (r.latency_s, r.total_usd, r.gb_seconds)):
            return f"cost model gave non-finite numbers: {r}"
    return None


def check_pricing(data: bytes, workdir: Path) -> str:
    from ssdfl.aggregation.cost import load_pricing
    from ssdfl.errors import SsdflError

    path = workdir / "p.toml"
    path.write_bytes(data)
    try:
        p = load_pricing(path)
    except SsdflError as exc:
        if str(path) not in str(exc):
            raise Finding(f"pricing: error without the file: {exc}") from exc
        return "refused"
    except Exception as exc:
        raise Finding(f"pricing raised {type(exc).__name__}: {exc}") from exc
    why = pricing_oracle(p)
    if why is not None:
        raise Finding(f"pricing accepted wrongly: {why}")
    return "accepted"


# ------------------------------------------------------------------------------- devices-df
_DF_GRAPH: list[Any] = []


def _df_graph() -> Any:
    if not _DF_GRAPH:
        import ssdfl

        _DF_GRAPH.append(ssdfl.Graph.from_edges([(0, 1), (1, 2), (2, 3), (3, 0), (0, 2)]))
        _DF_GRAPH.append(ssdfl.Graph.from_edges([(0, 1), (1, 2)], labels=["a", "b", "7"]))
    return _DF_GRAPH


def devices_case(rng: random.Random) -> tuple[int, dict[str, list[Any]], str | None]:
    """(graph index, columns, index name): a valid table with a few cells replaced."""
    gi = rng.randrange(2)
    g = _df_graph()[gi]
    names = list(g.node_names())
    rng.shuffle(names)
    n = len(names)
    cols: dict[str, list[Any]] = {"id": names}
    if rng.random() < 0.6:
        cols["optimizer"] = [rng.choice(["sgd", "prox", "momentum", None, "SGD"]) for _ in names]
        cols["mu"] = [0.1] * n
        cols["rho"] = [0.5] * n
    if rng.random() < 0.5:
        cols["lr"] = [rng.choice([0.01, 0.1, 1]) for _ in names]
    if rng.random() < 0.7:
        for k in range(rng.randint(1, 3)):
            cols[f"label_{k}"] = [rng.randint(0, 20) for _ in names]
        if rng.random() < 0.3:  # n_samples consistent with the labels
            labels = [c for c in cols if c.startswith("label_")]
            cols["n_samples"] = [sum(cols[c][i] for c in labels) or None for i in range(n)]
    elif rng.random() < 0.5:
        cols["n_samples"] = [rng.choice([1, 5, 100.5]) for _ in names]
    for _ in range(rng.choice((0, 1, 1, 2, 3))):
        c = rng.choice(list(cols))
        extra = [np.True_, np.int64(1), np.float64(2.0), np.nan, None, (1,), 1 + 0j]
        cols[c][rng.randrange(n)] = copy.deepcopy(rng.choice([*EDGE, *extra]))
    if rng.random() < 0.1:  # an extra or dropped row
        if rng.random() < 0.5:
            for c in cols:
                cols[c].append(cols[c][0])
        else:
            for c in cols:
                cols[c].pop()
    index = "id" if rng.random() < 0.1 else None
    return gi, cols, index


def _same_id(given: Any, name: Any) -> bool:
    """Documented id matching: text equal to the name's text; a whole number (int, numpy
    integer, integral float — never bool/complex) equal to an integer name."""
    if isinstance(given, str):
        return given.strip() == str(name)
    if isinstance(given, bool | np.bool_) or isinstance(given, complex | np.complexfloating):
        return False
    if isinstance(given, int | np.integer):
        return (isinstance(name, int) and int(given) == name) or str(int(given)) == str(name)
    if isinstance(given, float | np.floating):
        return float(given).is_integer() and (
            (isinstance(name, int) and int(given) == name) or str(int(given)) == str(name)
        )
    return False


def devices_oracle(t: Any, g: Any, cols: dict[str, list[Any]]) -> str | None:
    from ssdfl.theory.optimizers import OPTIMIZERS

    names = list(g.node_names())
    ids = cols["id"]
    if len(ids) != len(names):
        return f"{len(ids)} rows for {len(names)} nodes"
    for r, given in enumerate(ids):
        if not any(_same_id(given, nm) for nm in names):
            return f"row {r}: id {given!r} matches no node strictly"
    if len({str(x).strip() if isinstance(x, str) else x for x in ids}) != len(ids):
        return "an id twice"
    if not np.all(np.isfinite(t.n_samples)) or not np.all(t.n_samples > 0):
        return f"n_samples {t.n_samples}"
    lr = t.lr[~np.isnan(t.lr)]  # NaN: no lr given (the run's step size is used)
    if not np.all(np.isfinite(lr)) or not np.all(lr > 0):
        return f"lr {t.lr}"
    if t.label_hist is not None:
        h = t.label_hist
        if not (np.all(np.isfinite(h)) and np.all(h >= 0) and np.all(h == np.floor(h))
                and np.all(h.sum(1) <= 2**53) and np.all(h.sum(1) > 0)):  # fmt: skip
            return f"label_hist {h}"
    for r, given in enumerate(cols.get("optimizer", [])):
        ok_none = given is None or (isinstance(given, float) and math.isnan(given))
        ok_text = isinstance(given, str) and (given.strip().lower() in OPTIMIZERS
                                              or not given.strip())  # fmt: skip
        if not ok_none and not ok_text:
            return f"row {r}: optimizer {given!r} accepted"
    for c, vals in cols.items():
        if c.startswith("label_") or c in ("lr", "n_samples", "mu", "rho"):
            for v in vals:
                if isinstance(v, str) and v.strip() and "_" in v:
                    return f"{c}: {v!r} accepted as a number"
                if isinstance(v, bool | np.bool_ | complex):
                    return f"{c}: {v!r} accepted as a number"
    for k in t.optimizer:
        if k not in OPTIMIZERS:
            return f"optimizer {k!r}"
    return None


def check_devices_df(seed: int) -> str:
    import pandas as pd

    from ssdfl.theory.devices import DeviceFileError, read_devices

    rng = random.Random(seed)
    gi, cols, index = devices_case(rng)
    g = _df_graph()[gi]
    try:
        df = pd.DataFrame({c: pd.Series(v, dtype=object) for c, v in cols.items()})
        if index:
            df = df.set_index(index)
    except Exception:
        return "not a DataFrame"
    try:
        t = read_devices(df, g)
    except DeviceFileError:
        return "refused"
    except Exception as exc:
        raise Finding(f"devices-df raised {type(exc).__name__}: {exc} (columns {cols!r})") from exc
    why = devices_oracle(t, g, cols)
    if why is not None:
        raise Finding(f"devices-df accepted wrongly: {why} (columns {cols!r})")
    return "accepted"


# ------------------------------------------------------------------------------------- run
def one(target: str, rng: random.Random, workdir: Path) -> str:
    """One random input of ``target``; its outcome, or :class:`Finding`."""
    t0 = time.perf_counter()
    if target == "devices-df":
        out = check_devices_df(rng.randrange(2**63))
    else:
        seeds = config_seeds() if target == "config" else pricing_seeds()
        doc = rng.choice(seeds)
        if rng.random() < 0.75:
            data = to_toml(mutate_doc(doc, rng, toml=True))
        else:
            data = harness.mutate(to_toml(doc), rng)
        if target == "config":
            if rng.random() < 0.1:
                json_doc = mutate_doc(doc, rng, toml=False)
                blob = json.dumps(json_doc, default=str).encode()
                out = check_config(blob, workdir, ".json")
            else:
                out = check_config(data, workdir)
        else:
            out = check_pricing(data, workdir)
    dt = time.perf_counter() - t0
    if dt > TIME_LIMIT:
        raise Finding(f"{target}: one input took {dt:.1f} s")
    return out


def run(targets: list[str], n: int, seed: int, verbose: bool = False) -> dict[str, Counter]:
    """``n`` inputs per target; outcome counts (``finding`` counts findings)."""
    import warnings

    import pandas  # noqa: F401  (imports are not timed: the first input would pay for them)

    import ssdfl.aggregation.cost
    import ssdfl.experiments.grid
    import ssdfl.theory.devices  # noqa: F401

    rng = random.Random(seed)
    counts: dict[str, Counter] = {t: Counter() for t in targets}
    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for t in targets:
            for _ in range(n):
                try:
                    counts[t][one(t, rng, Path(tmp))] += 1
                except Finding as exc:
                    counts[t]["finding"] += 1
                    if verbose:
                        print(f"FINDING {t}: {str(exc)[:400]}", flush=True)
    return counts


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20_000, help="inputs per target")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--target", action="append", choices=TARGETS)
    a = ap.parse_args(argv)
    t0 = time.time()
    counts = run(a.target or list(TARGETS), a.n, a.seed, verbose=True)
    for t, c in counts.items():
        print(f"{t}: {sum(c.values())} inputs, {dict(c)}")
    print(f"{time.time() - t0:.0f} s")
    return 1 if any(c["finding"] for c in counts.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
