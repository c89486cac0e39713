"""GradsSharding: exact, reproducible weighted FedAvg by flat, tree and sharded strategies, with
object stores, executors, a memory predictor / capped executor and a cost-latency model."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ssdfl._lazy import attach, exports

if TYPE_CHECKING:
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

#: Public names by defining module, loaded at first use (PEP 562).
_LAZY = exports(
    {
        "ssdfl.aggregation.reduce": (
            "NonFiniteUpdateError",
            "WeightError",
            "WeightPlan",
            "exact_mean_reference",
            "plan_weights",
        ),
        "ssdfl.aggregation.strategies": (
            "STRATEGIES",
            "fedavg",
            "layer_shard_bounds",
            "shard_bounds",
            "tree_levels",
        ),
    }
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

__getattr__, __dir__ = attach(__name__, _LAZY)
