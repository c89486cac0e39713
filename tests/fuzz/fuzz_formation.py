"""Fuzz target for the formation.json reader (``ssdfl.planner.formation_io``) and ``export``.

Inputs are mutations of valid ``formation.json`` files (schema ``ssdfl.plan/2`` on a graph with
string node names, ``ssdfl.plan/1`` on a graph with integer nodes): structured mutations of the
parsed object (a value replaced by another type, a float index, a negative/NaN/huge weight, a
node moved into a second cluster, a key dropped, a name that is not a node, …) and byte
mutations of the text. The oracle is :func:`expected_valid`, an independent plain-Python
statement of the documented rules (docs/formation.md, "formation.json"). For every input:

- accepted (``read_formation`` returns) while the oracle says invalid → *wrong acceptance*;
- refused with :class:`~ssdfl.planner.formation_io.FormationFileError` while the oracle says
  valid → *wrong refusal*;
- any other exception → *crash*;
- accepted: ``export_formation(..., "json")`` must write strict JSON whose every topology has a
  symmetric, non-negative, doubly stochastic mixing matrix, and the clusters a partition.

Run long: ``python tests/fuzz/fuzz_formation.py --n 20000 --seed 0``; the suite runs a short
run (``tests/fuzz/test_fuzz_formation.py``).
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

import networkx as nx
import numpy as np

import ssdfl
from ssdfl.graphs.mixing import MIXING_RULES
from ssdfl.planner.export import export_formation
from ssdfl.planner.formation_io import FormationFileError, read_formation

NAMES = ["a", "b", "c", "d", "e", "f", "7", "h"]
EDGES = [(0, 1), (1, 2), (2, 0), (2, 3), (3, 4), (4, 5), (5, 3), (5, 6), (6, 7), (7, 4)]


def graphs() -> dict[str, ssdfl.Graph]:
    """``named``: string node names (incl. the digit string "7"); ``plain``: nodes 0..7."""
    return {
        "named": ssdfl.Graph.from_edges(EDGES, n=8, labels=NAMES),
        "plain": ssdfl.Graph.from_edges(EDGES, n=8),
    }


def seeds() -> list[tuple[str, dict[str, Any]]]:
    """Valid files: (graph key, document)."""
    fm0 = [["a", "b", 0.3], ["b", "c", 0.3], ["a", "c", 0.3]]
    v2 = {
        "schema": "ssdfl.plan/2", "n": 8, "nodes": list(NAMES),
        "formation": {"id": "milp S=2", "S": 2, "source": "x",
                      "clusters": [["a", "b", "c"], ["d", "e", "f", "7", "h"]]},
        "assignment": [0, 0, 0, 1, 1, 1, 1, 1],
        "per_cluster": [{"nodes": ["a", "b", "c"], "size": 3, "fmmc_weights": fm0},
                        {"nodes": ["d", "e", "f", "7", "h"], "size": 5, "fmmc_weights": None}],
        "alternatives": [], "config": {"mixing_rule": "lazy-metropolis"},
    }  # fmt: skip
    v2b = copy.deepcopy(v2)
    v2b["formation"] = {"id": "S=1", "S": 1, "source": "x", "clusters": [list(NAMES)]}
    v2b["per_cluster"] = [{"nodes": list(NAMES), "size": 8}]
    v1 = {
        "schema": "ssdfl.plan/1", "labels": list(range(8)),
        "clusters": [[0, 1, 2], [3, 4, 5], [6, 7]],
        "per_cluster": [{"fmmc_weights": [[0, 1, 0.5], [1, 2, 0.25]]}, {}, {"fmmc_weights": []}],
        "config": {"mixing_rule": "metropolis"},
    }  # fmt: skip
    return [("named", v2), ("named", v2b), ("plain", v1)]


# ------------------------------------------------------------------------- the oracle
def _name_ok(x: Any) -> bool:
    return type(x) is str or type(x) is int


def _weight_ok(w: Any) -> bool:
    return type(w) in (int, float) and math.isfinite(w) and 0 <= w <= 1


def expected_valid(doc: Any, g: ssdfl.Graph) -> bool:
    """The documented rules, restated independently of the implementation."""
    if type(doc) is not dict or doc.get("schema") not in ("ssdfl.plan/1", "ssdfl.plan/2"):
        return False
    cfg = doc.get("config")
    if cfg is not None:
        if type(cfg) is not dict:
            return False
        if "mixing_rule" in cfg and cfg["mixing_rule"] not in MIXING_RULES:
            return False
    v1 = doc["schema"] == "ssdfl.plan/1"
    names = doc.get("labels" if v1 else "nodes")
    if type(names) is not list or not names or not all(_name_ok(x) for x in names):
        return False
    texts = [str(x) for x in names]
    if len(set(texts)) != len(texts):
        return False
    if v1:
        clusters = doc.get("clusters")
    else:
        f = doc.get("formation")
        if type(f) is not dict:
            return False
        clusters = f.get("clusters")
    if type(clusters) is not list or not clusters:
        return False
    members: list[list[str]] = []
    for c in clusters:
        if type(c) is not list or not c:
            return False
        cur = []
        for u in c:
            if v1:
                if type(u) is not int or not 0 <= u < len(names):
                    return False
                cur.append(texts[u])
            else:
                if not _name_ok(u) or str(u) not in texts:
                    return False
                cur.append(str(u))
        members.append(cur)
    if not v1:
        S = doc["formation"].get("S")
        if S is not None and (type(S) is not int or S != len(clusters)):
            return False
    counts = Counter(u for c in members for u in c)
    if any(counts[t] != 1 for t in texts):
        return False
    per = doc.get("per_cluster")
    weights: list[list[tuple[str, str, float]]] = [[] for _ in members]
    if per is not None:
        if type(per) is not list or len(per) != len(members):
            return False
        for k, row in enumerate(per):
            if type(row) is not dict:
                return False
            fm = row.get("fmmc_weights")
            if fm is None:
                continue
            if type(fm) is not list:
                return False
            seen = set()
            total: Counter[str] = Counter()
            for e in fm:
                if type(e) is not list or len(e) != 3:
                    return False
                ends = []
                for x in e[:2]:
                    if v1:
                        if type(x) is not int or not 0 <= x < len(names):
                            return False
                        ends.append(texts[x])
                    else:
                        if not _name_ok(x) or str(x) not in texts:
                            return False
                        ends.append(str(x))
                if not _weight_ok(e[2]) or ends[0] == ends[1]:
                    return False
                if ends[0] not in members[k] or ends[1] not in members[k]:
                    return False
                pair = frozenset(ends)
                if pair in seen:
                    return False
                seen.add(pair)
                total[ends[0]] += e[2]
                total[ends[1]] += e[2]
                weights[k].append((ends[0], ends[1], float(e[2])))
            if any(s > 1 + 1e-9 for s in total.values()):
                return False
    # against the graph
    G = g.to_networkx()
    gnames = {str(x): x for x in G.nodes}
    if set(texts) != set(gnames) or len(texts) != G.number_of_nodes():
        return False
    for k, c in enumerate(members):
        if not nx.is_connected(G.subgraph([gnames[t] for t in c])):
            return False
        for a, b, _w in weights[k]:
            if not G.has_edge(gnames[a], gnames[b]):
                return False
    return True


# ------------------------------------------------------------------------- mutations
ODD_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    1,
    -1,
    2,
    7,
    2.7,
    2.0,
    -0.5,
    1.5,
    1e308,
    -1e308,
    2**64,
    "a",
    "7",
    "",
    "zz",
    [],
    {},
    [[]],
    ["a"],
    [0],
    [1, 2],
    {"a": 1},
    "NaN",
    0.25,
    0.6,
]


def _paths(x: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(x, dict):
        for k, v in x.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(x, list):
        for i, v in enumerate(x):
            out += _paths(v, (*prefix, i))
    return out


def _get(x: Any, path: tuple) -> Any:
    for p in path:
        x = x[p]
    return x


def mutate_doc(doc: dict[str, Any], rng: random.Random) -> Any:
    d = copy.deepcopy(doc)
    for _ in range(rng.randint(1, 3)):
        paths = [p for p in _paths(d) if p]
        if not paths:
            return d
        p = rng.choice(paths)
        parent = _get(d, p[:-1])
        op = rng.random()
        if op < 0.45:
            parent[p[-1]] = copy.deepcopy(rng.choice(ODD_VALUES))
        elif op < 0.6 and isinstance(parent, dict):
            del parent[p[-1]]
        elif op < 0.7 and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[p[-1]]))  # duplicate an item
        elif op < 0.8 and isinstance(parent, list) and len(parent) > 1:
            del parent[p[-1]]
        elif op < 0.9:
            v = parent[p[-1]]
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                parent[p[-1]] = rng.choice([v + 1, v - 1, -v, v * 1e9, v + 0.5, float(v)])
            else:
                parent[p[-1]] = copy.deepcopy(rng.choice(ODD_VALUES))
        else:  # move a node between clusters
            key = ("clusters",) if "clusters" in d else ("formation", "clusters")
            try:
                cl = _get(d, key)
                a, b = rng.randrange(len(cl)), rng.randrange(len(cl))
                if cl[a]:
                    u = cl[a].pop(rng.randrange(len(cl[a])))
                    cl[b].append(u)
            except (KeyError, TypeError, IndexError, ValueError, AttributeError):
                pass
    return d


def mutate_bytes(data: bytes, rng: random.Random) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.random()
        i = rng.randrange(len(b) + 1)
        if op < 0.3 and b:
            del b[i % len(b)]
        elif op < 0.6:
            b[i:i] = rng.choice([b"NaN", b"Infinity", b"-", b"1e999", b"\xff", b'"', b"]", b"0"])
        elif b:
            b[i % len(b)] = rng.randrange(256)
    return bytes(b)


# ------------------------------------------------------------------------- one input
def check(text: bytes, g: ssdfl.Graph, workdir: Path) -> str:
    """Run one input; returns ``"accepted"``, ``"refused"`` or a finding
    (``"crash: …"``, ``"wrong acceptance"``, ``"wrong refusal: …"``, ``"bad export: …"``)."""
    path = workdir / "formation.json"
    path.write_bytes(text)
    try:
        doc = json.loads(text.decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        doc = None
    want = doc is not None and expected_valid(doc, g)
    try:
        rec = read_formation(path, g)
    except FormationFileError as exc:
        return f"wrong refusal: {exc}" if want else "refused"
    except Exception as exc:
        return f"crash: {type(exc).__name__}: {exc}"
    if not want:
        return "wrong acceptance"
    try:
        out = workdir / "export"
        export_formation(rec, g, "json", out)
        topo = json.loads((out / "topologies.json").read_text(), parse_constant=_no_constant)
    except Exception as exc:
        return f"bad export: {type(exc).__name__}: {exc}"
    seen: Counter[int] = Counter()
    for t in topo["topologies"]:
        n = len(t["nodes"])
        W = np.zeros((n, n))
        for i, j, w in t["edges"]:
            W[i, j] = W[j, i] = w
        W[np.diag_indices(n)] = t["self_weights"]
        if np.any(W < -1e-12) or not np.allclose(W.sum(axis=1), 1.0, atol=1e-9):
            return f"bad export: {t['name']} is not non-negative doubly stochastic"
        if t["name"] != "inter":
            seen.update(t["nodes"])
    if sorted(seen) != list(range(g.n)) or any(v != 1 for v in seen.values()):
        return "bad export: clusters are not a partition"
    return "accepted"


def _no_constant(name: str) -> Any:
    raise ValueError(name)


def run(n: int, seed: int = 0, time_limit: float | None = None) -> dict[str, Any]:
    """``n`` mutated inputs (half structured, half byte-level); returns counts and findings."""
    rng = random.Random(seed)
    gs = graphs()
    sd = seeds()
    counts: Counter[str] = Counter()
    findings: list[tuple[str, bytes]] = []
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for k in range(n):
            gkey, doc = sd[k % len(sd)]
            if rng.random() < 0.6:
                text = json.dumps(mutate_doc(doc, rng)).encode()
            else:
                text = mutate_bytes(json.dumps(doc).encode(), rng)
            r = check(text, gs[gkey], work)
            kind = r.split(":")[0]
            counts[kind] += 1
            if kind not in ("accepted", "refused"):
                findings.append((r, text))
            if time_limit is not None and time.perf_counter() - t0 > time_limit:
                break
    return {"inputs": sum(counts.values()), "counts": dict(counts), "findings": findings,
            "seconds": time.perf_counter() - t0}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    res = run(a.n, a.seed)
    print(f"{res['inputs']} inputs in {res['seconds']:.1f} s: {res['counts']}")
    for r, text in res["findings"][:20]:
        print(f"- {r}\n  {text[:300]!r}")
    return 1 if res["findings"] else 0


if __name__ == "__main__":
    sys.exit(main())
