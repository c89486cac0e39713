"""A MoDeST-style baseline: decentralized sampling of a small committee per round.

MoDeST (de Vos et al., 2023) samples, every round, ``s`` *trainers* and ``a`` *aggregators*
among the live devices. Here, per round (one *cycle*, so computation compares with the other
methods: every trainer takes ``τ_a`` local steps):

1. the present aggregators of the previous round send the aggregate model to each of the ``s``
   new trainers (``a_prev·s`` messages; none in the first round, where every device holds
   ``x0``; none if every previous aggregator left, and the trainers then start from their own
   models);
2. each trainer takes ``τ_a`` local SGD steps;
3. each trainer sends its model to each of the ``a`` new aggregators (``s·a`` messages), which
   average them; the aggregators then hold the aggregate as their own model.

Devices outside the committee keep their last model (stale). Trainers and aggregators are drawn
uniformly among the present devices from the run's seed (MoDeST uses a hash of the round and
the device ids; any device can compute the sample). Messages go device to device directly (the
MoDeST overlay); on a D2D graph they would need multi-hop relays, which these counts do not
include. Without churn the traffic after ``K`` rounds is ``s·a·(2K − 1)`` messages of
``d·bytes_per_param`` bytes (:func:`modest_messages`, tested).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ssdfl.errors import SsdflError
from ssdfl.graphs.graph import Graph
from ssdfl.simulate.methods import Method, Plan, PlanContext
from ssdfl.theory.models import DeviceModel

__all__ = ["MoDeST", "ModestState", "modest_messages", "modest_round", "simulate_modest"]


def modest_messages(rounds: int, sample_size: int, aggregators: int) -> int:
    """Messages of ``rounds`` MoDeST rounds without churn: ``s·a·(2K − 1)`` (``K ≥ 1``)."""
    if rounds <= 0:
        return 0
    return int(sample_size * aggregators * (2 * rounds - 1))


@dataclass
class ModestState:
    """The aggregate model and the devices holding it (the last round's aggregators)."""

    model: np.ndarray | None
    holders: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @classmethod
    def start(cls, X: np.ndarray, present: np.ndarray) -> ModestState:
        return cls(None)


def modest_round(
    model: DeviceModel,
    X: np.ndarray,
    present: np.ndarray,
    st: ModestState,
    rng: np.random.Generator,
    *,
    tau_a: int,
    eta: float,
    sample_size: int = 10,
    aggregators: int = 3,
) -> tuple[np.ndarray, int]:
    """One MoDeST round (module docstring) on the present devices; returns the models and the
    number of model messages sent."""
    if sample_size < 1 or aggregators < 1:
        raise SsdflError("sample_size and aggregators must be >= 1")
    idx = np.flatnonzero(present)
    s = min(sample_size, len(idx))
    a = min(aggregators, len(idx))
    trainers = np.sort(rng.choice(idx, size=s, replace=False))
    aggs = np.sort(rng.choice(idx, size=a, replace=False))
    X = X.copy()
    msgs = 0
    live = st.holders[present[st.holders]] if len(st.holders) else st.holders
    if st.model is not None and len(live):
        X[trainers] = st.model
        msgs += len(live) * s
    for _ in range(tau_a):
        G = model.grad(np.nan_to_num(X))
        X[trainers] -= eta * G[trainers]
    msgs += s * a
    agg = X[trainers].mean(axis=0)
    X[aggs] = agg
    st.model = agg
    st.holders = aggs
    return X, msgs


@dataclass
class MoDeST(Method):
    """MoDeST-style committee sampling (``sample_size`` trainers, ``aggregators`` aggregators
    per round). Its rounds change every cycle, which the engine's fixed per-cycle plans cannot
    express: run it with :func:`simulate_modest` or
    :func:`ssdfl.simulate.churn.simulate_churn` (``strategy="modest"``)."""

    sample_size: int = 10
    aggregators: int = 3
    name: str = "MoDeST"

    def plan(self, g: Graph, ctx: PlanContext, rng: np.random.Generator) -> Plan:
        raise SsdflError(
            "MoDeST samples a new committee every round; run it with "
            "ssdfl.simulate.modest.simulate_modest(...) or "
            "ssdfl.simulate.churn.simulate_churn(..., strategy='modest')"
        )

    def params(self) -> dict[str, Any]:
        return {"sample_size": self.sample_size, "aggregators": self.aggregators}


def simulate_modest(
    model: DeviceModel,
    graph: Any,
    *,
    cycles: int = 50,
    tau_a: int = 5,
    eta: float = 0.05,
    sample_size: int = 10,
    aggregators: int = 3,
    seed: int = 0,
    x0: np.ndarray | None = None,
    bytes_per_param: int = 4,
    test_data: tuple[np.ndarray, np.ndarray] | None = None,
) -> Any:
    """MoDeST without churn (every device present): a
    :class:`~ssdfl.simulate.churn.ChurnResult` with per-cycle metrics and ``bytes_train``."""
    from ssdfl.simulate.churn import MembershipTrace, simulate_churn

    n = model.n_devices
    trace = MembershipTrace(np.ones(n, dtype=bool), np.ones((cycles, n), dtype=bool), "static")
    return simulate_churn(
        model, graph, trace, strategy="modest", tau_a=tau_a, eta=eta, seed=seed, x0=x0,
        bytes_per_param=bytes_per_param, test_data=test_data,
        modest={"sample_size": sample_size, "aggregators": aggregators},
    )  # fmt: skip
