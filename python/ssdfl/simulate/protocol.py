"""The one-time initialization protocol simulated message by message (docs/simulator.md).

Every device floods a *record* (its id, neighbour ids, optimizer kind, coefficient, step factor,
data size and label histogram or gradient statistics, ``R_u`` bytes as in
:func:`ssdfl.clusters.flooding.record_bytes`); once a device holds every record it runs the
deterministic formation algorithm (``formation_fn``) on what it received. The simulation is
slotted in *ticks* and seeded:

- **Forwarding.** Each record travels with a hop count. When a device first learns a record,
  or learns it with a smaller hop count than before, it queues the record for every neighbour
  (``suppress_echo=True``: not for the neighbour it came from), unless the device already knows
  the diameter ``D`` and the hop count is ``≥ D`` (nobody can still need it through this device).
  In each tick a device sends to each neighbour at most one data message holding its queued
  records.
- **Termination knowledge.** A device knows it holds every record when its known set is closed
  under the neighbour lists of the known records (the graph is connected, so the closed set is
  the whole graph); it then knows the graph, hence ``D``, and computes the formation.
- **Delivery.** A message sent in tick ``t`` is lost with probability ``loss``; otherwise it
  arrives at the end of tick ``t + δ − 1`` with ``δ = 1 + U{0..max_delay}``. Every delivered
  data message is acknowledged (an 8-byte ACK sent in the next tick, subject to the same loss
  and delay); a message not acknowledged ``timeout`` ticks after it was sent is retransmitted
  (its records merged into that tick's message).

Without loss and delay (``loss = 0``, ``max_delay = 0``) a record reaches every device along a
shortest path in exactly ``dist`` ticks, nothing is retransmitted, and the data messages and
bytes equal the closed form :func:`ssdfl.clusters.flooding.flooding_traffic` (tested). The hop-count
rule is safe under loss and delay: along a shortest path from ``w`` to ``v`` every device has
hop count ``< D`` for ``w`` and forwards it when it learns it, so every device eventually
learns every record (tested with loss). Overheads the closed form does not count are reported
apart: ACKs (8 bytes each) and message headers (4-byte message id plus a 1-byte hop count per
record).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ssdfl.clusters.flooding import record_bytes
from ssdfl.clusters.partitions import form_clusters
from ssdfl.errors import DisconnectedGraphError, SsdflError
from ssdfl.graphs.graph import Graph, GraphLike, as_graph
from ssdfl.graphs.metrics import is_connected

__all__ = ["FloodingResult", "ProtocolView", "default_formation", "simulate_flooding"]

ACK_BYTES = 8
MSG_HEADER_BYTES = 4
HOP_BYTES = 1


@dataclass(frozen=True)
class ProtocolView:
    """What one device knows once it holds every record: the graph rebuilt from the records'
    neighbour lists (node ``i`` = the ``i``-th smallest id, names kept as labels) and the
    records' payloads in the same order."""

    graph: Graph
    payloads: tuple[Any, ...]


FormationFn = Callable[[ProtocolView], Sequence[int] | np.ndarray]


def default_formation(view: ProtocolView) -> np.ndarray:
    """A deterministic formation that needs only the graph: ``partition(g, round(N/10))`` of
    the cluster search (:func:`ssdfl.simulate.clusters.form_clusters`, fixed seed)."""
    g = view.graph
    return form_clusters(g, max(1, round(g.n / 10)), "partition", seed=0)


@dataclass
class FloodingResult:
    """Outcome of :func:`simulate_flooding`.

    ``rounds`` (ticks until the last device computed its formation), ``messages``/``bytes``
    (data messages and record bytes sent until then), ``total_*`` (until the network is quiet),
    ``retransmissions``, ``acks``/``ack_bytes``, ``header_bytes``, ``lost`` (dropped messages,
    data and ACKs), per-device ``finish_tick`` and ``formations`` (cluster labels per device, in
    the view's node order), ``agreement`` (every device computed the same formation).
    """

    rounds: int
    messages: int
    bytes: int
    total_messages: int
    total_bytes: int
    retransmissions: int
    acks: int
    ack_bytes: int
    header_bytes: int
    lost: int
    finish_tick: np.ndarray
    formations: list[np.ndarray] = field(repr=False)
    agreement: bool = False

    @property
    def formation(self) -> np.ndarray:
        """The agreed formation (labels per node); an error if the devices disagree."""
        if not self.agreement:
            raise SsdflError("the devices did not agree on one formation")
        return self.formations[0]


def simulate_flooding(
    graph: GraphLike,
    payloads: Sequence[Any] | None = None,
    record_sizes: np.ndarray | int | None = None,
    *,
    formation_fn: FormationFn | None = None,
    loss: float = 0.0,
    max_delay: int = 0,
    timeout: int | None = None,
    suppress_echo: bool = False,
    seed: int = 0,
    max_ticks: int = 100_000,
) -> FloodingResult:
    """Simulate the initialization flooding of the module docstring on ``graph`` (connected)
    and let every device run ``formation_fn`` (default :func:`default_formation`) on its view.

    ``payloads``: one hashable-or-not object per device carried in its record (default: none);
    ``record_sizes``: ``R_u`` per device (default :func:`record_bytes` with no extra bytes);
    ``loss`` per-message loss probability in ``[0, 1)``; ``max_delay`` extra ticks of delay
    (uniform); ``timeout`` ticks before a retransmission (default ``2·max_delay + 3``, no
    spurious retransmission without delay); ``seed`` seeds every random draw."""
    g = as_graph(graph)
    n = g.n
    if n < 1:
        raise SsdflError("the graph has no nodes")
    if n > 1 and not is_connected(g):
        raise DisconnectedGraphError("initialization flooding needs a connected graph")
    if not 0.0 <= loss < 1.0:
        raise SsdflError(f"loss must be in [0, 1), got {loss}")
    if max_delay < 0:
        raise SsdflError(f"max_delay must be >= 0, got {max_delay}")
    to = 2 * max_delay + 3 if timeout is None else int(timeout)
    if to < 1:
        raise SsdflError(f"timeout must be >= 1, got {timeout}")
    pay = [None] * n if payloads is None else list(payloads)
    if len(pay) != n:
        raise SsdflError(f"{len(pay)} payloads for {n} devices")
    R = np.broadcast_to(
        np.asarray(record_bytes(g) if record_sizes is None else record_sizes, dtype=np.int64),
        (n,),
    )
    fn = formation_fn or default_formation
    rng = np.random.default_rng(seed)
    s, t, _ = g.edges()
    nbrs: list[list[int]] = [[] for _ in range(n)]
    for a, b in zip(s.tolist(), t.tolist()):
        nbrs[a].append(b)
        nbrs[b].append(a)
    nbrs = [sorted(x) for x in nbrs]

    best: list[dict[int, int]] = [{u: 0} for u in range(n)]  # record -> best hop count
    fresh: dict[tuple[int, int], dict[int, int]] = {
        (u, v): {u: 1} for u in range(n) for v in nbrs[u]
    }  # queued records (with the hop they will carry)
    unacked: dict[tuple[int, int], dict[int, tuple[dict[int, int], int]]] = {
        (u, v): {} for u in range(n) for v in nbrs[u]
    }
    in_flight: list[tuple[int, int, int, int, dict[int, int] | None]] = []
    # (arrival tick, src, dst, msg id, records or None for an ACK)
    acks_due: list[tuple[int, int, int]] = []  # (src, dst, msg id) to send next tick
    diam: list[int | None] = [None] * n
    finish = np.full(n, -1, dtype=np.int64)
    forms: list[np.ndarray | None] = [None] * n
    if n == 1:
        finish[0] = 0
        forms[0] = np.asarray(fn(_view(g, [0], nbrs, pay)), dtype=np.int64)
    msg_id = 0
    sent = sent_bytes = retx = acks = ack_bytes = hdr = lost = 0
    at_done: tuple[int, int] | None = None
    tick = 0

    def deliver_delay() -> int:
        return 1 + (int(rng.integers(0, max_delay + 1)) if max_delay else 0)

    while tick < max_ticks:
        tick += 1
        # --- sending phase: ACKs owed from the last tick, then data messages
        for src, dst, mid in acks_due:
            acks += 1
            ack_bytes += ACK_BYTES
            if loss and rng.random() < loss:
                lost += 1
                continue
            in_flight.append((tick + deliver_delay() - 1, src, dst, mid, None))
        acks_due = []
        for u in range(n):
            for v in nbrs[u]:
                key = (u, v)
                recs = fresh[key]
                fresh[key] = {}
                old = unacked[key]
                for mid in [m for m, (_, st) in old.items() if st + to <= tick]:
                    r_old, _ = old.pop(mid)
                    retx += 1
                    for w, h in r_old.items():
                        if w not in recs or h < recs[w]:
                            recs[w] = h
                if not recs:
                    continue
                msg_id += 1
                sent += 1
                sent_bytes += int(sum(int(R[w]) for w in recs))
                hdr += MSG_HEADER_BYTES + HOP_BYTES * len(recs)
                old[msg_id] = (recs, tick)
                if loss and rng.random() < loss:
                    lost += 1
                    continue
                in_flight.append((tick + deliver_delay() - 1, u, v, msg_id, recs))
        # --- delivery phase (end of tick)
        now = [m for m in in_flight if m[0] == tick]
        in_flight = [m for m in in_flight if m[0] != tick]
        learned: dict[int, dict[int, tuple[int, int]]] = {}  # v -> w -> (hop, from)
        for _, src, dst, mid, payload in now:
            if payload is None:  # an ACK from src for dst's message mid
                unacked[(dst, src)].pop(mid, None)
                continue
            acks_due.append((dst, src, mid))
            for w, h in payload.items():
                cur = best[dst].get(w)
                if cur is None or h < cur:
                    best[dst][w] = h
                    prev = learned.setdefault(dst, {}).get(w)
                    if prev is None or h < prev[0]:
                        learned[dst][w] = (h, src)
        for v, got in learned.items():
            if diam[v] is None and _closed(best[v], nbrs):
                known = sorted(best[v])
                diam[v] = _diameter(known, nbrs)
                finish[v] = tick
                forms[v] = np.asarray(fn(_view(g, known, nbrs, pay)), dtype=np.int64)
            dv = diam[v]
            for w, (h, src) in got.items():
                if dv is not None and h >= dv:
                    continue
                for x in nbrs[v]:
                    if suppress_echo and x == src:
                        continue
                    q = fresh[(v, x)]
                    if w not in q or h + 1 < q[w]:
                        q[w] = h + 1
        if at_done is None and np.all(finish >= 0):
            at_done = (sent, sent_bytes)
            done_tick = int(finish.max())
        if (
            at_done is not None
            and not in_flight
            and not acks_due
            and not any(fresh.values())
            and not any(unacked.values())
        ):
            break
    else:
        raise SsdflError(f"flooding did not finish within {max_ticks} ticks (loss {loss})")
    if n == 1:
        at_done, done_tick = (0, 0), 0
    assert at_done is not None
    fl = [f for f in forms if f is not None]
    agree = len(fl) == n and all(np.array_equal(fl[0], f) for f in fl[1:])
    return FloodingResult(
        rounds=done_tick, messages=at_done[0], bytes=at_done[1], total_messages=sent,
        total_bytes=sent_bytes, retransmissions=retx, acks=acks, ack_bytes=ack_bytes,
        header_bytes=hdr, lost=lost, finish_tick=finish, formations=fl, agreement=agree,
    )  # fmt: skip


def _closed(known: dict[int, int], nbrs: list[list[int]]) -> bool:
    return all(x in known for w in known for x in nbrs[w])


def _diameter(nodes: list[int], nbrs: list[list[int]]) -> int:
    """Diameter of the known graph (BFS from every node; the views are small)."""
    D = 0
    for s in nodes:
        dist = {s: 0}
        frontier = [s]
        while frontier:
            nxt = []
            for u in frontier:
                for x in nbrs[u]:
                    if x not in dist:
                        dist[x] = dist[u] + 1
                        nxt.append(x)
            frontier = nxt
        D = max(D, max(dist.values()))
    return D


def _view(g: Graph, known: list[int], nbrs: list[list[int]], pay: list[Any]) -> ProtocolView:
    """Rebuild the graph from the records a device holds (only their neighbour lists)."""
    pos = {w: i for i, w in enumerate(known)}
    edges = [(pos[w], pos[x]) for w in known for x in nbrs[w] if w < x]
    names = g.node_names()
    sub = Graph.from_edges(
        np.asarray(edges, dtype=np.int64).reshape(-1, 2), n=len(known),
        labels=[names[w] for w in known],
    )  # fmt: skip
    return ProtocolView(sub, tuple(pay[w] for w in known))
