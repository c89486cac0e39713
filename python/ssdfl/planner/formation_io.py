"""The one reader and validator of ``formation.json`` (used by ``ssdfl export``, ``ssdfl form
--update`` and :meth:`ssdfl.planner.plan.FormationPlan.from_json`).

Two schema versions are read (``docs/formation.md``, *formation.json*; JSON Schema of the current
one: ``docs/formation.schema.json``):

* ``ssdfl.plan/2`` (written now): ``nodes`` lists the node names as in the graph file;
  ``formation.clusters`` holds the ONE chosen formation as lists of node names;
  ``per_cluster[k].fmmc_weights`` (optional) holds ``[u, v, w]`` with node names.
* ``ssdfl.plan/1`` (older files): ``labels`` lists the node names; ``clusters`` holds lists of
  integer node indices into ``labels``; ``fmmc_weights`` entries use indices.

Rules (every violation is a :class:`FormationFileError` naming the file and the field):

- the text is UTF-8 JSON without ``NaN``/``Infinity``; the top level is an object with a known
  ``schema``;
- node names are strings or integers (not booleans, not floats), unique as text;
- the clusters are non-empty lists of known nodes (v1: integers, not booleans or ``2.0``, in
  ``0..n−1``) and form a partition: every node in exactly one cluster;
- ``per_cluster`` (optional) has one object per cluster; a cluster's FMMC weights are
  ``[u, v, w]`` with ``u ≠ v`` both in that cluster, each pair once, ``w`` a finite number in
  ``[0, 1]``, and every node's weights sum to at most 1 (its self weight is ``1 − Σ``, ≥ 0);
- ``config.mixing_rule`` (optional) is one of :data:`ssdfl.graphs.mixing.MIXING_RULES`.

Against a graph (:func:`align_to_graph`): the node names are exactly the graph's nodes, every
cluster induces a connected subgraph, and every FMMC weight sits on a graph edge.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ssdfl import _core
from ssdfl.errors import FormationFileError
from ssdfl.graphs.graph import Graph
from ssdfl.graphs.mixing import MIXING_RULES

__all__ = [
    "LEGACY_PLAN_SCHEMA",
    "PLAN_SCHEMA",
    "FormationFileError",
    "FormationRecord",
    "align_to_graph",
    "load_formation_json",
    "parse_formation",
    "read_formation",
]

PLAN_SCHEMA = "ssdfl.plan/2"
LEGACY_PLAN_SCHEMA = "ssdfl.plan/1"
MAX_FORMATION_BYTES = 1 << 30
"""Files larger than this (1 GiB) are refused before reading."""


@dataclass(frozen=True)
class FormationRecord:
    """A validated formation: ``names[i]`` is node ``i``; ``clusters`` hold node indices;
    ``fmmc[k]`` the FMMC edge weights ``(i, j, w)`` of cluster ``k`` (indices) or ``None``.
    Exposes ``n``, ``labels``, ``config`` and ``per_cluster`` like a
    :class:`~ssdfl.planner.plan.FormationPlan`, so the exporter takes either."""

    schema: str
    names: list[Any]
    clusters: list[np.ndarray]
    fmmc: list[list[tuple[int, int, float]] | None]
    mixing_rule: str = "lazy-metropolis"
    where: str = "formation.json"
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def n(self) -> int:
        return len(self.names)

    @property
    def labels(self) -> list[Any]:
        return self.names

    @property
    def config(self) -> dict[str, Any]:
        return {"mixing_rule": self.mixing_rule}

    @property
    def per_cluster(self) -> list[dict[str, Any]]:
        return [{"fmmc_weights": None if f is None else [list(x) for x in f]} for f in self.fmmc]

    @property
    def S(self) -> int:
        return len(self.clusters)


def _key(x: Any) -> str:
    return str(x)


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in formation.json")


def load_formation_json(text: str, where: str = "formation.json") -> dict[str, Any]:
    """Parse ``text`` as a formation.json object (no NaN/Infinity, known schema)."""
    try:
        d = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:
        msg = str(exc) if isinstance(exc, ValueError) else "nested too deeply"
        raise FormationFileError(f"{where}: not valid JSON ({msg})") from None
    if not isinstance(d, dict):
        raise FormationFileError(
            f"{where}: not a formation.json of `ssdfl form` (a JSON object expected, got "
            f"{type(d).__name__})"
        )
    schema = d.get("schema")
    if schema not in (PLAN_SCHEMA, LEGACY_PLAN_SCHEMA):
        raise FormationFileError(
            f"{where}: not a formation.json of `ssdfl form` (schema {PLAN_SCHEMA!r} or "
            f"{LEGACY_PLAN_SCHEMA!r} expected, got {_short(schema)})"
        )
    return d


def _short(x: Any) -> str:
    s = repr(x)
    return s if len(s) <= 60 else s[:57] + "..."


def _names(raw: Any, where: str, field_name: str) -> list[Any]:
    if not isinstance(raw, list) or not raw:
        raise FormationFileError(f"{where}: '{field_name}' must be a non-empty list of node names")
    for i, x in enumerate(raw):
        if not (isinstance(x, str) or _is_int(x)):
            raise FormationFileError(
                f"{where}: {field_name}[{i}] = {_short(x)} is not a node name (a string or an "
                "integer)"
            )
    keys = [_key(x) for x in raw]
    if len(set(keys)) != len(keys):
        seen: set[str] = set()
        dup = next(k for k in keys if k in seen or seen.add(k))  # type: ignore[func-returns-value]
        raise FormationFileError(f"{where}: node {dup!r} is listed twice in '{field_name}'")
    return list(raw)


def _clusters(
    raw: Any, names: list[Any], where: str, field_name: str, resolve: Any
) -> list[np.ndarray]:
    """Clusters as index arrays; ``resolve(item)`` maps one member to an index or raises."""
    if not isinstance(raw, list) or not raw:
        raise FormationFileError(f"{where}: '{field_name}' must be a non-empty list of clusters")
    seen = np.zeros(len(names), dtype=np.int64)
    out = []
    for k, c in enumerate(raw):
        if not isinstance(c, list) or not c:
            raise FormationFileError(
                f"{where}: {field_name}[{k}] must be a non-empty list of nodes"
            )
        idx = np.array([resolve(u, f"{field_name}[{k}]") for u in c], dtype=np.int64)
        np.add.at(seen, idx, 1)
        out.append(np.sort(idx))
    bad = np.flatnonzero(seen != 1)
    if bad.size:
        u = int(bad[0])
        raise FormationFileError(
            f"{where}: node {_short(names[u])} is in {int(seen[u])} clusters (exactly one "
            "expected: the clusters must be a partition of the nodes)"
        )
    return out


def _fmmc(
    raw: Any, clusters: list[np.ndarray], where: str, resolve: Any
) -> list[list[tuple[int, int, float]] | None]:
    S = len(clusters)
    if raw is None:
        return [None] * S
    if not isinstance(raw, list) or len(raw) != S:
        raise FormationFileError(
            f"{where}: 'per_cluster' must be a list with one entry per cluster ({S})"
        )
    out: list[list[tuple[int, int, float]] | None] = []
    for k, row in enumerate(raw):
        if not isinstance(row, dict):
            raise FormationFileError(f"{where}: per_cluster[{k}] must be an object")
        fm = row.get("fmmc_weights")
        if fm is None:
            out.append(None)
            continue
        if not isinstance(fm, list):
            raise FormationFileError(
                f"{where}: per_cluster[{k}].fmmc_weights must be a list of [u, v, weight]"
            )
        members = set(clusters[k].tolist())
        pairs: set[tuple[int, int]] = set()
        total: dict[int, float] = {}
        edges = []
        for e in fm:
            here = f"per_cluster[{k}].fmmc_weights"
            if not isinstance(e, list) or len(e) != 3:
                raise FormationFileError(f"{where}: {here}: {_short(e)} is not [u, v, weight]")
            u, v = resolve(e[0], here), resolve(e[1], here)
            w = e[2]
            if isinstance(w, bool) or not isinstance(w, (int, float)):
                raise FormationFileError(f"{where}: {here}: weight {_short(w)} is not a number")
            w = float(w)
            if not (math.isfinite(w) and 0.0 <= w <= 1.0):
                raise FormationFileError(
                    f"{where}: {here}: weight {w!r} on ({e[0]}, {e[1]}) is not in [0, 1]"
                )
            if u == v:
                raise FormationFileError(f"{where}: {here}: self loop on {_short(e[0])}")
            if u not in members or v not in members:
                raise FormationFileError(
                    f"{where}: {here}: FMMC weight on ({_short(e[0])}, {_short(e[1])}) outside "
                    f"cluster {k}"
                )
            p = (min(u, v), max(u, v))
            if p in pairs:
                raise FormationFileError(
                    f"{where}: {here}: the pair ({_short(e[0])}, {_short(e[1])}) appears twice"
                )
            pairs.add(p)
            total[u] = total.get(u, 0.0) + w
            total[v] = total.get(v, 0.0) + w
            edges.append((p[0], p[1], w))
        over = [u for u, s in total.items() if s > 1.0 + 1e-9]
        if over:
            raise FormationFileError(
                f"{where}: per_cluster[{k}].fmmc_weights: the weights at node index {over[0]} sum "
                f"to {total[over[0]]:.6g} > 1 (its self weight would be negative)"
            )
        out.append(edges)
    return out


def parse_formation(d: dict[str, Any], where: str = "formation.json") -> FormationRecord:
    """Validate a parsed formation.json object (either schema; module docstring)."""
    schema = d.get("schema")
    cfg = d.get("config", {})
    if cfg is None:
        cfg = {}
    if not isinstance(cfg, dict):
        raise FormationFileError(f"{where}: 'config' must be an object")
    rule = cfg.get("mixing_rule", "lazy-metropolis")
    if rule not in MIXING_RULES:
        raise FormationFileError(
            f"{where}: config.mixing_rule {_short(rule)} is not one of {', '.join(MIXING_RULES)}"
        )
    if schema == LEGACY_PLAN_SCHEMA:
        names = _names(d.get("labels"), where, "labels")
        n = len(names)

        def by_index(u: Any, here: str) -> int:
            if not _is_int(u):
                raise FormationFileError(
                    f"{where}: {here}: {_short(u)} is not an integer node index"
                )
            if not 0 <= u < n:
                raise FormationFileError(f"{where}: {here}: node index {u} is outside 0..{n - 1}")
            return int(u)

        clusters = _clusters(d.get("clusters"), names, where, "clusters", by_index)
        fm = _fmmc(d.get("per_cluster"), clusters, where, by_index)
    else:
        names = _names(d.get("nodes"), where, "nodes")
        n = len(names)
        pos = {_key(x): i for i, x in enumerate(names)}

        def by_name(u: Any, here: str) -> int:
            if not (isinstance(u, str) or _is_int(u)):
                raise FormationFileError(f"{where}: {here}: {_short(u)} is not a node name")
            i = pos.get(_key(u))
            if i is None:
                raise FormationFileError(f"{where}: {here}: {_short(u)} is not one of 'nodes'")
            return i

        f = d.get("formation")
        if not isinstance(f, dict):
            raise FormationFileError(f"{where}: 'formation' must be an object")
        clusters = _clusters(f.get("clusters"), names, where, "formation.clusters", by_name)
        S = f.get("S")
        if S is not None and (not _is_int(S) or S != len(clusters)):
            raise FormationFileError(
                f"{where}: formation.S = {_short(S)} but formation.clusters holds "
                f"{len(clusters)} clusters"
            )
        fm = _fmmc(d.get("per_cluster"), clusters, where, by_name)
    return FormationRecord(str(schema), names, clusters, fm, str(rule), where, d)


def read_formation(path: str | os.PathLike[str], g: Graph | None = None) -> FormationRecord:
    """Read and validate ``path``; with ``g``, also check it against the graph and return it
    indexed by the graph's node positions (:func:`align_to_graph`)."""
    p = Path(path)
    where = str(p)
    try:
        if p.stat().st_size > MAX_FORMATION_BYTES:
            raise FormationFileError(f"{where}: larger than 1 GiB, not a formation.json")
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FormationFileError(f"{where}: no such formation file") from None
    except IsADirectoryError:
        raise FormationFileError(f"{where}: is a directory, not a formation.json") from None
    except UnicodeDecodeError:
        raise FormationFileError(f"{where}: not UTF-8 text (not a formation.json)") from None
    except OSError as exc:
        raise FormationFileError(f"{where}: cannot read it ({exc.strerror or exc})") from None
    rec = parse_formation(load_formation_json(text, where), where)
    return rec if g is None else align_to_graph(rec, g)


def align_to_graph(rec: FormationRecord, g: Graph) -> FormationRecord:
    """``rec`` re-indexed by ``g``'s node positions, after checking that its nodes are exactly
    the graph's, every cluster is connected in ``g`` and every FMMC weight is on an edge."""
    where = rec.where
    gnames = [_key(x) for x in g.node_names()]
    gpos = {k: i for i, k in enumerate(gnames)}
    fnames = [_key(x) for x in rec.names]
    missing = [k for k in fnames if k not in gpos]
    if missing or len(fnames) != g.n:
        extra = [k for k in gnames if k not in set(fnames)]
        what = (
            f"node {missing[0]!r} is not a node of the graph" if missing
            else f"the graph has nodes the formation lacks (e.g. {extra[0]!r})"
        )  # fmt: skip
        raise FormationFileError(
            f"{where}: {what}; the formation has {len(fnames)} nodes, the graph {g.n} (was it "
            "planned on this graph?)"
        )
    perm = np.array([gpos[k] for k in fnames], dtype=np.int64)  # file index → graph position
    clusters = [np.sort(perm[c]) for c in rec.clusters]
    for k, c in enumerate(clusters):
        if len(c) > 1:
            mask = np.zeros(g.n, dtype=bool)
            mask[c] = True
            if not _core.is_set_connected(g._core, mask):
                raise FormationFileError(
                    f"{where}: cluster {k} is not connected in the graph (a cluster must "
                    "induce a connected subgraph)"
                )
    s, t, _ = g.edges()
    edge_set = set(zip(s.tolist(), t.tolist()))
    fm: list[list[tuple[int, int, float]] | None] = []
    for k, f in enumerate(rec.fmmc):
        if f is None:
            fm.append(None)
            continue
        rows = []
        for u, v, w in f:
            a, b = int(perm[u]), int(perm[v])
            a, b = min(a, b), max(a, b)
            if (a, b) not in edge_set:
                raise FormationFileError(
                    f"{where}: per_cluster[{k}].fmmc_weights: ({rec.names[u]!r}, "
                    f"{rec.names[v]!r}) is not an edge of the graph"
                )
            rows.append((a, b, w))
        fm.append(rows)
    return replace(rec, names=g.node_names(), clusters=clusters, fmmc=fm)
