"""D2D communication accounting: gossip rounds and the one-time initialization flooding.

Conventions (documented in ``docs/simulator.md``):

- A *gossip round* over a graph with ``m`` undirected edges sends ``2m`` messages (every device
  sends its model to every neighbour), each carrying ``d`` parameters of ``bytes_per_param``
  bytes (default 4: float32 on the wire), so ``2m·d·bytes_per_param`` bytes.
- An *intra-cluster* round uses only the edges inside clusters, ``m_intra = Σ_s m_s``.
- A *randomized gossip* round (STC) over a matching ``M`` sends ``2|M|`` messages.
- A *server* round of centralized FedAvg sends ``N`` uploads and ``N`` downloads (``2N``
  messages); this traffic is device–server, never counted as D2D.

One-time initialization (docs/simulator.md, "Communication accounting"): the closed forms of the
record flooding (:func:`flooding_traffic`, :func:`record_bytes`, :class:`InitTraffic`) live in
:mod:`ssdfl.clusters.flooding` (they count, they do not simulate) and are re-exported here.

Decentralized baselines that only need Metropolis weights exchange degrees once: one round of
``2m`` messages of 4 bytes.
"""

from __future__ import annotations

from ssdfl.clusters.flooding import InitTraffic, flooding_traffic, record_bytes
from ssdfl.clusters.labels import intra_cluster_edges
from ssdfl.errors import SsdflError
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


def degree_exchange_traffic(g: GraphLike, bytes_per_value: int = 4) -> InitTraffic:
    """One round in which every device tells its neighbours its degree (Metropolis weights)."""
    g = as_graph(g)
    return InitTraffic(1 if g.m else 0, 2 * g.m, 2 * g.m * int(bytes_per_value))
