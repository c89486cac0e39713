"""The ``(τ_a, τ_r)`` schedule search on the Theorem-2 bound, and traffic per cycle and for
the one-time initialization."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import scipy.sparse as sp

from ssdfl._progress import get_logger, stage
from ssdfl.clusters.labels import cluster_labels, intra_cluster_edges
from ssdfl.graphs.graph import Graph
from ssdfl.planner.config import PlanConfig
from ssdfl.planner.scoring import CandidateTable
from ssdfl.planner.theorem2 import FormationConstants, bound_curves, theorem2_problem
from ssdfl.theory.devices import DeviceTable

__all__ = ["flooding_traffic_sparse", "search_schedule", "traffic_summary"]

log = get_logger(__name__)


def search_schedule(
    g: Graph, clusters: list[np.ndarray], t: CandidateTable, cfg: PlanConfig,
    constants: FormationConstants | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Grid search over ``(τ_a, τ_r)`` with the Theorem-2 bound at every cycle end over
    ``max_cycles`` cycles. Accuracy band: ``cfg.target`` or 1.1 × the best final bound on the
    grid. A schedule qualifies if its final bound is in the band; its cost is the messages
    sent until its bound stays within 10 % of its final value (settling time); the best
    schedule is the qualifying one with the fewest messages. The formation's constants are
    computed once and every schedule's recursion runs in one batch
    (:func:`ssdfl.planner.theorem2.bound_curves`)."""
    grid = [(ta, tr) for ta in cfg.tau_a_grid for tr in cfg.tau_r_grid]
    with stage(log, f"schedule search over {len(grid)} (τ_a, τ_r)"):
        fc = constants or FormationConstants(g, clusters, cfg)
        m_intra = intra_cluster_edges(g, fc.labels)
        P = theorem2_problem(g, clusters, t, cfg, cfg.tau_a, cfg.tau_r, fc)
        allc = bound_curves(P, grid, cfg.max_cycles, math.sqrt(g.n))[:, 1:]
        curves = dict(zip(grid, allc))
    finals = [float(c[-1]) for c in curves.values() if np.isfinite(c[-1])]
    target = cfg.target if cfg.target is not None else (1.1 * min(finals) if finals else None)
    rows = []
    for (ta, tr), c in curves.items():
        fin = float(c[-1])
        settled = None
        if np.isfinite(fin) and target is not None and fin <= target:
            off = np.flatnonzero(np.abs(c - fin) > 0.1 * fin)
            settled = int(off[-1]) + 2 if off.size else 1
            settled = min(settled, len(c))
        msgs = 2 * (ta * m_intra + tr * g.m)
        rows.append({"tau_a": ta, "tau_r": tr, "final_bound": fin, "settling_cycles": settled,
                     "messages_per_cycle": msgs,
                     "messages_to_settle": settled and settled * msgs})  # fmt: skip
    ok = [r for r in rows if r["messages_to_settle"] is not None]
    best = min(ok, key=lambda r: (r["messages_to_settle"], r["final_bound"])) if ok else None
    return {"target": target, "max_cycles": cfg.max_cycles, "grid": rows, "best": best}


def _bfs_dist(A: sp.csr_array, src: int) -> np.ndarray:
    """Hop distances from ``src`` (connected graph): scipy's breadth-first order, then the
    depth of every node in the BFS tree by pointer jumping (vectorized)."""
    import scipy.sparse.csgraph as csg

    order, pred = csg.breadth_first_order(A, src, directed=False, return_predecessors=True)
    n = A.shape[0]
    if len(order) != n:
        from ssdfl.errors import DisconnectedGraphError

        raise DisconnectedGraphError("initialization flooding needs a connected graph")
    anc = np.where(pred < 0, np.arange(n), pred)
    dist = (pred >= 0).astype(np.int64)
    while True:
        nxt = anc[anc]
        if np.array_equal(nxt, anc):
            return dist
        dist = dist + dist[anc] * (anc != nxt)
        anc = nxt


def flooding_traffic_sparse(g: Graph, record: np.ndarray) -> tuple[int, int, int]:
    """``(rounds, messages, bytes)`` of :func:`ssdfl.simulate.comm.flooding_traffic` without the
    ``N × N`` distance matrix. Every node's eccentricity comes from the bounding algorithm of
    Takes & Kosters (2011): a breadth-first search from ``v`` bounds every eccentricity by
    ``max(d(v,w), ecc(v) − d(v,w)) ≤ ecc(w) ≤ ecc(v) + d(v,w)``; sources alternate between the
    largest upper and the smallest lower bound until all bounds meet. Only nodes of maximal
    eccentricity miss records (those at distance = diameter), and they get one more search each."""
    n = g.n
    R = np.broadcast_to(np.asarray(record, dtype=np.int64), (n,))
    if n == 1:
        return 0, 0, 0
    s, d, _ = g.edges()
    A = sp.coo_array((np.ones(len(s)), (s, d)), shape=(n, n)).tocsr()
    deg = np.bincount(np.concatenate([s, d]), minlength=n)
    lo = np.zeros(n, dtype=np.int64)
    hi = np.full(n, np.iinfo(np.int64).max // 4)
    done: dict[int, np.ndarray] = {}
    open_ = np.ones(n, dtype=bool)
    pick_hi = True
    while open_.any():
        cand = np.flatnonzero(open_)
        if pick_hi:
            v = int(cand[np.lexsort((-deg[cand], -hi[cand]))[0]])
        else:
            v = int(cand[np.lexsort((-deg[cand], lo[cand]))[0]])
        pick_hi = not pick_hi
        dv = _bfs_dist(A, v)
        done[v] = dv
        ev = int(dv.max())
        lo = np.maximum(lo, np.maximum(dv, ev - dv))
        hi = np.minimum(hi, ev + dv)
        lo[v] = hi[v] = ev
        open_ &= lo != hi
    ecc = lo
    diam = int(ecc.max())
    messages = int(np.sum(deg * np.minimum(ecc + 1, diam)))
    total = int(R.sum())
    known = np.full(n, total, dtype=np.int64)  # Σ_{u: d(u,j) ≤ diam − 1} R_u
    for j in np.flatnonzero(ecc == diam):
        dj = done.get(int(j))
        if dj is None:
            dj = _bfs_dist(A, int(j))
        known[j] = total - int(R[dj == diam].sum())
    return diam, messages, int(np.sum(deg * known))


def traffic_summary(
    g: Graph, clusters: list[np.ndarray], dev: DeviceTable, cfg: PlanConfig
) -> dict[str, Any]:
    from ssdfl.simulate.comm import flooding_traffic, record_bytes

    m_intra = intra_cluster_edges(g, cluster_labels(clusters, g.n))
    per_msg = 4 * cfg.model_params
    extra = 0
    if dev.label_hist is not None:
        extra = 4 * dev.label_hist.shape[1]
    elif dev.grads is not None:
        extra = 4 * dev.grads.shape[1]
    if g.n <= 2000:
        init = flooding_traffic(g, record_bytes(g, extra))
        rounds, messages, nbytes = init.rounds, init.messages, init.bytes
    else:  # no N × N distance matrix at scale
        rounds, messages, nbytes = flooding_traffic_sparse(g, record_bytes(g, extra))
    intra = 2 * m_intra * cfg.tau_a
    inter = 2 * g.m * cfg.tau_r
    return {
        "model_params": cfg.model_params,
        "intra_messages_per_cycle": intra,
        "inter_messages_per_cycle": inter,
        "bytes_per_cycle": (intra + inter) * per_msg,
        "init_rounds": rounds,
        "init_messages": messages,
        "init_bytes": nbytes,
    }
