"""Closed forms of the one-time initialization traffic of a formation: the flooding of the
device records before the deterministic formation runs on every device.

One-time initialization (docs/simulator.md, "Communication accounting"): every device floods
a small record (its neighbour list,
optimizer kind, coefficient and α_i, data size and label histogram or gradient statistics)
for ``diam(G)`` rounds. Protocol: in round ``r = 1..diam(G)`` every device sends to all of its
neighbours the records it first learned in round ``r − 1`` (its own record in round 1), in one
message if that set is non-empty. Device ``j`` first learns the records of the devices at hop
distance ``r`` in round ``r``, hence (``deg_j`` unweighted degree, ``ecc_j`` eccentricity,
``R_u`` record size of device ``u``, ``dist`` hop distance):

    messages = Σ_j deg_j · min(ecc_j + 1, diam)
    bytes    = Σ_j deg_j · Σ_{u : dist(u, j) ≤ diam − 1} R_u

after which every device knows every record and runs the deterministic formation locally.
A record of device ``u`` is ``R_u = 4 + 4·deg_u + 1 + 8 + 8 + 8 + extra`` bytes (id, neighbour
ids, optimizer kind, coefficient, α, data size, and ``extra`` = ``4·C`` for a label histogram or
``4·d_g`` for a gradient sketch).

Above :data:`DENSE_LIMIT` devices :func:`flooding_traffic` computes the same numbers without the
``N × N`` distance matrix (:func:`flooding_traffic_sparse`). These are counts on the graph, not a
simulation, so they sit in the cluster layer, below the planner and the simulator that both use
them (the per-message protocol simulation is :mod:`ssdfl.simulate.protocol`; gossip-round
accounting is :mod:`ssdfl.simulate.comm`, which re-exports these names).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import scipy.sparse.csgraph as csg

from ssdfl.errors import DisconnectedGraphError, SsdflError
from ssdfl.graphs.graph import Graph, GraphLike, as_graph

__all__ = [
    "DENSE_LIMIT",
    "InitTraffic",
    "flooding_traffic",
    "flooding_traffic_sparse",
    "record_bytes",
]

#: Largest graph (devices) for which :func:`flooding_traffic` builds the ``N × N`` hop-distance
#: matrix; above it the eccentricity-bounding search of :func:`flooding_traffic_sparse` is used.
DENSE_LIMIT = 2000


def record_bytes(g: GraphLike, extra: int = 0) -> np.ndarray:
    """``(N,)`` initialization record sizes ``R_u = 29 + 4·deg_u + extra`` (module docstring)."""
    g = as_graph(g)
    if extra < 0:
        raise SsdflError(f"extra record bytes must be >= 0, got {extra}")
    s, t, _ = g.edges()
    deg = np.bincount(np.concatenate([s, t]), minlength=g.n)
    return (4 + 4 * deg + 1 + 8 + 8 + 8 + int(extra)).astype(np.int64)


@dataclass(frozen=True)
class InitTraffic:
    """One-time D2D traffic before training: ``rounds``, ``messages`` and ``bytes``."""

    rounds: int
    messages: int
    bytes: int


def _hop_distances(g: Graph) -> tuple[np.ndarray, np.ndarray]:
    s, t, _ = g.edges()
    A = sp.coo_array((np.ones(len(s)), (s, t)), shape=(g.n, g.n)).tocsr()
    dist = csg.shortest_path(A, method="D", directed=False, unweighted=True)
    if not np.all(np.isfinite(dist)):
        raise DisconnectedGraphError("initialization flooding needs a connected graph")
    deg = np.bincount(np.concatenate([s, t]), minlength=g.n)
    return dist.astype(np.int64), deg


def flooding_traffic(g: GraphLike, record: np.ndarray | int) -> InitTraffic:
    """Traffic of the flooding protocol of the module docstring; ``record`` gives ``R_u``
    (an ``(N,)`` array or one size for all)."""
    g = as_graph(g)
    if g.n < 1:
        raise SsdflError("the graph has no nodes")
    R = np.broadcast_to(np.asarray(record, dtype=np.int64), (g.n,))
    if g.n == 1:
        return InitTraffic(0, 0, 0)
    if g.n > DENSE_LIMIT:  # no N × N distance matrix at scale
        return InitTraffic(*flooding_traffic_sparse(g, R))
    dist, deg = _hop_distances(g)
    ecc = dist.max(axis=1)
    diam = int(ecc.max())
    messages = int(np.sum(deg * np.minimum(ecc + 1, diam)))
    known = (dist <= diam - 1).astype(np.int64) @ R  # per j: Σ_{u: dist ≤ diam−1} R_u
    return InitTraffic(diam, messages, int(np.sum(deg * known)))


def _bfs_dist(A: sp.csr_array, src: int) -> np.ndarray:
    """Hop distances from ``src`` (connected graph): scipy's breadth-first order, then the
    depth of every node in the BFS tree by pointer jumping (vectorized)."""
    order, pred = csg.breadth_first_order(A, src, directed=False, return_predecessors=True)
    n = A.shape[0]
    if len(order) != n:
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
    """``(rounds, messages, bytes)`` of :func:`flooding_traffic` without the
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
