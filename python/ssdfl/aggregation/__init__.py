"""GradsSharding: exact, reproducible weighted FedAvg by flat, tree and sharded strategies, with
object stores, executors, a memory predictor / capped executor and a cost-latency model."""

from __future__ import annotations

from ssdfl.aggregation.reduce import (
    NonFiniteUpdateError,
    WeightError,
    WeightPlan,
    exact_mean_reference,
    plan_weights,
)
from ssdfl.aggregation.strategies import (
    STRATEGIES,
    fedavg,
    layer_shard_bounds,
    shard_bounds,
    tree_levels,
)

__all__ = [
    "STRATEGIES",
    "NonFiniteUpdateError",
    "WeightError",
    "WeightPlan",
    "exact_mean_reference",
    "fedavg",
    "layer_shard_bounds",
    "plan_weights",
    "shard_bounds",
    "tree_levels",
]
