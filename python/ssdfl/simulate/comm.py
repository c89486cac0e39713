"""D2D communication accounting: gossip rounds and the one-time initialization flooding.

Conventions (documented in ``docs/simulator.md``):

- A *gossip round* over a graph with ``m`` undirected edges sends ``2m`` messages (every device
  sends its model to every neighbour), each carrying ``d`` parameters of ``bytes_per_param``
  bytes (default 4: float32 on the wire), so ``2m·d·bytes_per_param`` bytes.
- An *intra-cluster* round uses only the edges inside clusters, ``m_intra = Σ_s m_s``.
- A *randomized gossip* round (STC) over a matching ``M`` sends ``2|M|`` messages.
- A *server* round of centralized FedAvg sends ``N`` uploads and ``N`` downloads (``2N``
  messages); this traffic is device–server, never counted as D2D.

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
Decentralized baselines that only need Metropolis weights exchange degrees once: one round of
``2m`` messages of 4 bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import scipy.sparse.csgraph as csg

from ssdfl.clusters.labels import intra_cluster_edges
from ssdfl.errors import DisconnectedGraphError, SsdflError
from ssdfl.graphs.graph import GraphLike, as_graph

__all__ = [
    "InitTraffic",
    "degree_exchange_traffic",
    "flooding_traffic",
    "gossip_bytes",
    "gossip_messages",
    "intra_cluster_edges",
    "record_bytes",
]


def gossip_messages(m: int) -> int:
    """Messages of one gossip round over a graph with ``m`` undirected edges: ``2m``."""
    if m < 0:
        raise SsdflError(f"edge count must be >= 0, got {m}")
    return 2 * int(m)


def gossip_bytes(m: int, d: int, bytes_per_param: int = 4) -> int:
    """Bytes of one gossip round: ``2m · d · bytes_per_param``."""
    if d < 0 or bytes_per_param <= 0:
        raise SsdflError("need d >= 0 and bytes_per_param > 0")
    return gossip_messages(m) * int(d) * int(bytes_per_param)


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


def _hop_distances(g: GraphLike) -> tuple[np.ndarray, np.ndarray]:
    g = as_graph(g)
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
    dist, deg = _hop_distances(g)
    ecc = dist.max(axis=1)
    diam = int(ecc.max())
    messages = int(np.sum(deg * np.minimum(ecc + 1, diam)))
    known = (dist <= diam - 1).astype(np.int64) @ R  # per j: Σ_{u: dist ≤ diam−1} R_u
    return InitTraffic(diam, messages, int(np.sum(deg * known)))


def degree_exchange_traffic(g: GraphLike, bytes_per_value: int = 4) -> InitTraffic:
    """One round in which every device tells its neighbours its degree (Metropolis weights)."""
    g = as_graph(g)
    return InitTraffic(1 if g.m else 0, 2 * g.m, 2 * g.m * int(bytes_per_value))
