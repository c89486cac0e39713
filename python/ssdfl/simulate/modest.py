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

import numpy as np

from ssdfl.errors import SsdflError
from ssdfl.theory.models import DeviceModel

__all__ = ["ModestState", "modest_messages", "modest_round"]


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
