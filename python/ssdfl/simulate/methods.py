"""Training methods behind one interface: each turns (graph, schedule) into a *plan* — the
phases of one cycle — that :func:`ssdfl.simulate.simulate` executes.

Every method's cycle holds the same local computation, ``τ_a`` local optimizer steps per device
(``τ_a + τ_r`` for SSD-FL / cSTC with ``inter_local_steps``), so "cycles" compare methods at
equal computation and the byte counters compare their communication:

=========  ===============================================================================
method     one cycle
=========  ===============================================================================
SSD-FL     ``τ_a`` intra-cluster rounds ``X ← W_intra X − η C D(X)`` (``W_intra`` =
           block-diagonal cluster mixing), then ``τ_r`` inter-cluster rounds ``X ← W X``
           (``X ← W X − η C D(X)`` with ``inter_local_steps``)
sDFL       ``τ_a`` iterations ``X ← W X − η C D(X)`` (D-SGD: one step + one gossip round)
pDFL       ``τ_a`` local steps ``X ← X − η C D(X)``, then ``gossip_rounds`` (default ``τ_r``)
           rounds ``X ← W X``
STC        ``τ_a`` iterations ``X ← W_t X − η C D(X)``, ``W_t`` the pairwise-averaging matrix
           of a random matching (randomized gossip, see :func:`random_matching`)
cSTC       the SSD-FL cycle with random connected clusters of the same ``S``
           (:func:`~ssdfl.clusters.partitions.random_connected_partition`)
FedAvg     ``τ_a`` local steps, then a server averages: ``X ← 1 x̄ᵀ`` (star with a server;
           device–server traffic, no D2D)
=========  ===============================================================================
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from ssdfl.clusters.labels import cluster_labels
from ssdfl.clusters.partitions import form_clusters, random_connected_partition
from ssdfl.errors import SsdflError
from ssdfl.graphs.graph import Graph
from ssdfl.graphs.mixing import mixing_matrix, random_matching
from ssdfl.simulate.clusters import cluster_mixing
from ssdfl.simulate.comm import (
    InitTraffic,
    degree_exchange_traffic,
    flooding_traffic,
    intra_cluster_edges,
    record_bytes,
)

__all__ = [
    "CSTC",
    "METHODS",
    "PDFL",
    "SDFL",
    "SSDFL",
    "STC",
    "FedAvg",
    "Method",
    "Phase",
    "Plan",
    "PlanContext",
    "make_method",
    "random_matching",
]


@dataclass(frozen=True)
class Phase:
    """``rounds`` identical rounds of one kind.

    ``W``: mixing matrix applied each round (``None``: no mixing); ``local_step``: each device
    takes one optimizer step in the round; ``random_edges``: ``(src, dst)`` candidate edges of
    randomized gossip (``W`` is then drawn per round, see :func:`random_matching`);
    ``average``: server averaging; ``traffic``: the counter charged (``"intra"``, ``"inter"``,
    ``"server"`` or ``"none"``); ``messages``: messages per round (deterministic phases);
    ``every``: the phase runs in cycles ``k`` with ``k mod every = 0`` (1: every cycle, the
    default; 0: never).
    """

    name: str
    rounds: int
    W: sp.csr_array | None
    local_step: bool
    traffic: str
    messages: int = 0
    random_edges: tuple[np.ndarray, np.ndarray] | None = None
    edge_prob: float = 1.0
    average: bool = False
    every: int = 1


@dataclass
class Plan:
    """One cycle's phases, the local steps per cycle, the one-time traffic, and the clusters
    (labels) if the method has them."""

    phases: list[Phase]
    local_steps: int
    init: InitTraffic
    labels: np.ndarray | None = None
    info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PlanContext:
    """What a method needs to plan: the schedule and the traffic conventions."""

    tau_a: int
    tau_r: int
    mixing: str = "lazy-metropolis"
    record_extra_bytes: int = 0


class Method(ABC):
    """Base class: ``name`` and :meth:`plan`."""

    name: str = "method"

    @abstractmethod
    def plan(self, g: Graph, ctx: PlanContext, rng: np.random.Generator) -> Plan:
        """The phases of one global cycle on ``g``."""

    def params(self) -> dict[str, Any]:
        """Method parameters for result tables."""
        return {}


def _gossip(g: Graph, ctx: PlanContext) -> sp.csr_array:
    return mixing_matrix(g, ctx.mixing)


@dataclass
class SSDFL(Method):
    """SSD-FL with a given formation (``clusters``: labels / list of node arrays / Formation)
    or ``n_clusters`` clusters from the cluster search (``how``: ``"hierarchy"`` — the
    paper's splitting loop stopped at ``S`` — or ``"partition"``, see
    :func:`~ssdfl.clusters.partitions.form_clusters`); ``S`` defaults to ``round(N/10)``.

    ``inter_every``: the inter-cluster rounds run every ``inter_every`` cycles (1: every cycle,
    the paper's schedule; ``k``: cycles ``k, 2k, …``; 0: never — each cluster trains its own
    model, a *specialised* formation, ``docs/specialised.md``)."""

    clusters: Any = None
    n_clusters: int | None = None
    how: str = "hierarchy"
    inter_local_steps: bool = False
    name: str = "SSD-FL"
    inter_every: int = 1

    def _labels(self, g: Graph, ctx: PlanContext, rng: np.random.Generator) -> np.ndarray:
        if self.clusters is not None:
            return cluster_labels(self.clusters, g.n)
        S = self.n_clusters if self.n_clusters is not None else max(1, round(g.n / 10))
        return form_clusters(g, S, self.how)

    def plan(self, g: Graph, ctx: PlanContext, rng: np.random.Generator) -> Plan:
        if not isinstance(self.inter_every, int | np.integer) or self.inter_every < 0:
            raise SsdflError(f"inter_every must be an integer >= 0, got {self.inter_every!r}")
        lab = self._labels(g, ctx, rng)
        m_in = intra_cluster_edges(g, lab)
        phases = [
            Phase("intra", ctx.tau_a, cluster_mixing(g, lab, ctx.mixing), True, "intra", 2 * m_in),
            Phase(
                "inter",
                ctx.tau_r,
                _gossip(g, ctx),
                self.inter_local_steps,
                "inter",
                2 * g.m,
                every=int(self.inter_every),
            ),
        ]
        steps = ctx.tau_a + (ctx.tau_r if self.inter_local_steps else 0)
        init = flooding_traffic(g, record_bytes(g, ctx.record_extra_bytes))
        S = int(lab.max()) + 1
        return Plan(phases, steps, init, lab, {"n_clusters": S, "intra_edges": m_in})

    def params(self) -> dict[str, Any]:
        return {"inter_local_steps": self.inter_local_steps, "inter_every": int(self.inter_every)}


@dataclass
class CSTC(SSDFL):
    """The SSD-FL schedule on random connected clusters (same ``S``; drawn from the run's
    seed)."""

    name: str = "cSTC"

    def _labels(self, g: Graph, ctx: PlanContext, rng: np.random.Generator) -> np.ndarray:
        if self.clusters is not None:
            S = int(cluster_labels(self.clusters, g.n).max()) + 1
        else:
            S = self.n_clusters if self.n_clusters is not None else max(1, round(g.n / 10))
        return random_connected_partition(g, S, rng)


@dataclass
class SDFL(Method):
    """Synchronous decentralized SGD: one local step and one gossip round per iteration."""

    name: str = "sDFL"

    def plan(self, g: Graph, ctx: PlanContext, rng: np.random.Generator) -> Plan:
        ph = Phase("gossip", ctx.tau_a, _gossip(g, ctx), True, "inter", 2 * g.m)
        return Plan([ph], ctx.tau_a, degree_exchange_traffic(g))


@dataclass
class PDFL(Method):
    """Periodic decentralized SGD: ``τ_a`` local steps, then ``gossip_rounds`` gossip rounds
    (default ``τ_r``)."""

    gossip_rounds: int | None = None
    name: str = "pDFL"

    def plan(self, g: Graph, ctx: PlanContext, rng: np.random.Generator) -> Plan:
        q = ctx.tau_r if self.gossip_rounds is None else int(self.gossip_rounds)
        if q < 0:
            raise SsdflError(f"gossip_rounds must be >= 0, got {q}")
        phases = [
            Phase("local", ctx.tau_a, None, True, "none"),
            Phase("gossip", q, _gossip(g, ctx), False, "inter", 2 * g.m),
        ]
        return Plan(phases, ctx.tau_a, degree_exchange_traffic(g))

    def params(self) -> dict[str, Any]:
        return {"gossip_rounds": self.gossip_rounds}


@dataclass
class STC(Method):
    """Randomized gossip: each iteration a local step, then pairwise averaging over a random
    matching (:func:`random_matching`, candidate edges kept with probability ``edge_prob``)."""

    edge_prob: float = 1.0
    name: str = "STC"

    def plan(self, g: Graph, ctx: PlanContext, rng: np.random.Generator) -> Plan:
        if not (0.0 < self.edge_prob <= 1.0):
            raise SsdflError(f"edge_prob must be in (0, 1], got {self.edge_prob}")
        s, t, _ = g.edges()
        ph = Phase(
            "random", ctx.tau_a, None, True, "inter", random_edges=(s, t), edge_prob=self.edge_prob
        )
        return Plan([ph], ctx.tau_a, InitTraffic(0, 0, 0))

    def params(self) -> dict[str, Any]:
        return {"edge_prob": self.edge_prob}


@dataclass
class FedAvg(Method):
    """Centralized FedAvg reference: ``τ_a`` local steps, then exact averaging at a server
    (``2N`` device–server messages per cycle)."""

    name: str = "FedAvg"

    def plan(self, g: Graph, ctx: PlanContext, rng: np.random.Generator) -> Plan:
        phases = [
            Phase("local", ctx.tau_a, None, True, "none"),
            Phase("server", 1, None, False, "server", 2 * g.n, average=True),
        ]
        return Plan(phases, ctx.tau_a, InitTraffic(0, 0, 0))


METHODS: dict[str, type[Method]] = {
    "ssdfl": SSDFL,
    "sdfl": SDFL,
    "pdfl": PDFL,
    "stc": STC,
    "cstc": CSTC,
    "fedavg": FedAvg,
}


def make_method(method: Method | str, **kwargs: Any) -> Method:
    """A :class:`Method` from an instance or a name (``"ssdfl"``, ``"sdfl"``, ``"pdfl"``,
    ``"stc"``, ``"cstc"``, ``"fedavg"``; case and ``-`` ignored) plus keyword parameters."""
    if isinstance(method, Method):
        if kwargs:
            raise SsdflError("give method parameters either in the instance or as keywords")
        return method
    if not isinstance(method, str):
        raise TypeError(f"method must be a Method or a name, got {type(method).__name__}")
    key = method.lower().replace("-", "").replace("_", "")
    if key not in METHODS:
        raise SsdflError(
            f"unknown method {method!r}; expected one of {sorted(METHODS)} (the MoDeST-style "
            "baseline samples a new committee every round and has its own driver, "
            "ssdfl.simulate.churn.simulate_modest)"
        )
    try:
        return METHODS[key](**kwargs)
    except TypeError as exc:
        raise SsdflError(f"bad parameters for method {method!r}: {exc}") from None
