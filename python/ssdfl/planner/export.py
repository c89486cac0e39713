"""Export a formation's topologies with their mixing weights to what users run.

The formation is the plan's one formation (the recommendation of ``ssdfl form``), read and
validated by :func:`ssdfl.planner.formation_io.read_formation` (``ssdfl.plan/2`` or ``/1``). A
formation has one topology per cluster (the cluster's induced D2D subgraph, gossiped with the
cluster's mixing matrix ``W_C``: the FMMC weights stored in formation.json when they were
computed, otherwise the plan's ``mixing_rule``) and the inter-cluster topology (the SSD-FL
inter-cluster stage gossips over the whole D2D graph with ``W`` of the plan's ``mixing_rule``).
Every mixing matrix is symmetric and doubly stochastic; ``W[i, i]`` is the self weight.

Formats (:func:`export_formation`):

* ``decentralizepy`` — per topology ``<name>.edges`` in decentralizepy's graph file format (first
  line the number of processes, then one ``u v`` edge per line, 0-based local ranks; read by
  ``decentralizepy.graphs.Graph.read_graph_from_file(path, "edges")``), ``<name>.mixing.csv``
  (``i,j,weight`` including ``i == j``) and ``<name>.nodes.csv`` (local rank → global index →
  node name). Stock decentralizepy ignores ``mixing.csv``: its sharing uses Metropolis–Hastings
  weights ``1/(max(d_i, d_j) + 1)`` computed from the graph itself; ``mixing.csv`` is for a
  sharing class that takes given weights.
* ``networkx`` — per topology ``<name>.json``: node-link JSON (``networkx.node_link_graph(d,
  edges="edges")``) keyed by node NAME as in the graph file (like ``Graph.to_networkx()``);
  nodes carry ``index`` (global position) and ``self_weight``, edges the mixing ``weight``.
* ``json`` — one ``topologies.json`` with every topology (nodes, labels, edges ``[i, j, w]`` in
  local indices, self weights).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ssdfl._atomic import atomic_write
from ssdfl.errors import SsdflError
from ssdfl.graphs.graph import Graph
from ssdfl.graphs.mixing import dense_matrix, mixing_matrix

FORMATS = ("decentralizepy", "networkx", "json")
EXPORT_SCHEMA = "ssdfl.export/1"


@dataclass
class Topology:
    """One gossip topology: ``nodes`` (global indices), their ``labels``, and the mixing matrix
    ``W`` over local indices ``0..len(nodes)-1`` (its off-diagonal support is the edge set)."""

    name: str
    nodes: np.ndarray
    labels: list[Any]
    W: np.ndarray

    def edges(self) -> list[tuple[int, int, float]]:
        """Undirected edges ``(i, j, W[i, j])`` with ``i < j`` (local indices)."""
        iu, ju = np.nonzero(np.triu(self.W, 1))
        return [(int(i), int(j), float(self.W[i, j])) for i, j in zip(iu, ju)]


def formation_topologies(plan: Any, g: Graph) -> list[Topology]:
    """The per-cluster topologies (``cluster_<k>``) and the inter-cluster one (``inter``)."""
    if plan.n != g.n:
        raise SsdflError(f"the formation has {plan.n} nodes but the graph has {g.n}")
    if not plan.clusters:
        raise SsdflError("the formation has no clusters")
    rule = str(plan.config.get("mixing_rule", "lazy-metropolis"))
    labels = list(plan.labels) if plan.labels else list(range(g.n))
    A = g.to_scipy().tocsr()
    tops = []
    for k, nodes in enumerate(plan.clusters):
        nodes = np.asarray(nodes, dtype=np.int64)
        sub = A[nodes][:, nodes]
        fm = plan.per_cluster[k].get("fmmc_weights") if k < len(plan.per_cluster) else None
        if fm:
            pos = {int(u): i for i, u in enumerate(nodes)}
            W = np.zeros((len(nodes), len(nodes)))
            for u, v, w in fm:
                if int(u) not in pos or int(v) not in pos:
                    raise SsdflError(f"cluster {k}: FMMC weight on ({u}, {v}) outside the cluster")
                i, j = pos[int(u)], pos[int(v)]
                if sub[i, j] == 0:
                    raise SsdflError(f"cluster {k}: FMMC weight on ({u}, {v}), not a graph edge")
                W[i, j] = W[j, i] = float(w)
            np.fill_diagonal(W, 1.0 - W.sum(axis=1))
        else:
            W = dense_matrix(mixing_matrix(Graph.from_scipy(sub), rule=rule))
        tops.append(Topology(f"cluster_{k}", nodes, [labels[i] for i in nodes], W))
    W = dense_matrix(mixing_matrix(g, rule=rule))
    tops.append(Topology("inter", np.arange(g.n), labels, W))
    return tops


def _label(x: Any) -> Any:
    return x.item() if isinstance(x, np.generic) else x


def export_formation(plan: Any, g: Graph, fmt: str, out_dir: str | Path) -> list[Path]:
    """Write the topologies of ``plan`` (on graph ``g``) in format ``fmt`` into ``out_dir``
    (created; each file written atomically). Returns the files written."""
    if fmt not in FORMATS:
        raise SsdflError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tops = formation_topologies(plan, g)
    written: list[Path] = []

    def put(name: str, text: str) -> None:
        with atomic_write(out / name) as fh:
            fh.write(text)
        written.append(out / name)

    if fmt == "json":
        doc = {
            "schema": EXPORT_SCHEMA,
            "topologies": [
                {"name": t.name, "nodes": t.nodes.tolist(), "labels": [_label(x) for x in t.labels],
                 "edges": [list(e) for e in t.edges()], "self_weights": np.diag(t.W).tolist()}
                for t in tops
            ],
        }  # fmt: skip
        put("topologies.json", json.dumps(doc, indent=1))
        return written
    for t in tops:
        if fmt == "networkx":
            d = {
                "directed": False, "multigraph": False, "graph": {"name": t.name},
                "nodes": [{"id": _label(lab), "index": int(u), "self_weight": float(t.W[i, i])}
                          for i, (u, lab) in enumerate(zip(t.nodes, t.labels))],
                "edges": [{"source": _label(t.labels[i]), "target": _label(t.labels[j]),
                           "weight": w} for i, j, w in t.edges()],
            }  # fmt: skip
            put(f"{t.name}.json", json.dumps(d))
            continue
        lines = [str(len(t.nodes))] + [f"{i} {j}" for i, j, _ in t.edges()]
        put(f"{t.name}.edges", "\n".join(lines) + "\n")
        buf = io.StringIO()
        wr = csv.writer(buf, lineterminator="\n")
        wr.writerow(["i", "j", "weight"])
        for i, j in zip(*np.nonzero(t.W)):
            wr.writerow([int(i), int(j), repr(float(t.W[i, j]))])
        put(f"{t.name}.mixing.csv", buf.getvalue())
        buf = io.StringIO()
        wr = csv.writer(buf, lineterminator="\n")
        wr.writerow(["rank", "node", "label"])
        for i, (u, lab) in enumerate(zip(t.nodes, t.labels)):
            wr.writerow([i, int(u), _label(lab)])
        put(f"{t.name}.nodes.csv", buf.getvalue())
    return written
