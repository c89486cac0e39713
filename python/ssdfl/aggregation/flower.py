"""Flower integration (optional extra ``ssdfl[flower]``): a Flower ``FedAvg`` strategy whose
``aggregate_fit`` averages with ssdfl's exact, order-independent :func:`fedavg`.

Imported lazily: ``from ssdfl.aggregation.flower import ExactFedAvg`` needs ``flwr``. Weights
are the clients' ``num_examples`` (as in Flower's FedAvg); the result is bit-identical for any
client order, and failures/metrics are handled as Flower's FedAvg does.
"""

from __future__ import annotations

from typing import Any

try:
    from flwr.common import ndarrays_to_parameters, parameters_to_ndarrays
    from flwr.server.strategy import FedAvg
except ImportError as exc:  # pragma: no cover - depends on the optional extra
    raise ImportError("ssdfl.aggregation.flower needs Flower: pip install 'ssdfl[flower]'") from exc

from ssdfl.aggregation.strategies import Strategy, fedavg


class ExactFedAvg(FedAvg):
    """Flower ``FedAvg`` with exact aggregation (``strategy``/``shards`` as in :func:`fedavg`)."""

    def __init__(self, *args: Any, strategy: Strategy = "sharded", shards: int = 4, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.exact_strategy, self.exact_shards = strategy, shards

    def aggregate_fit(self, server_round: int, results: list, failures: list) -> tuple:
        if not results:
            return None, {}
        if not self.accept_failures and failures:
            return None, {}
        pairs = [(parameters_to_ndarrays(r.parameters), r.num_examples) for _, r in results]
        avg = fedavg(pairs, strategy=self.exact_strategy, shards=self.exact_shards)
        metrics: dict = {}
        if self.fit_metrics_aggregation_fn:
            metrics = self.fit_metrics_aggregation_fn(
                [(r.num_examples, r.metrics) for _, r in results]
            )
        return ndarrays_to_parameters(avg), metrics
