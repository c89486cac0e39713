"""Simulation of SSD-FL and its baselines, vectorized over devices.

Public API: :func:`simulate` (one run), the methods :class:`SSDFL`, :class:`SDFL`,
:class:`PDFL`, :class:`STC`, :class:`CSTC`, :class:`FedAvg`, :class:`SimulationResult`
(tidy table, thresholds, plots), traffic closed forms (:mod:`ssdfl.simulate.comm`), and cluster
helpers (:func:`random_connected_partition`, :func:`cluster_mixing`). See ``docs/simulator.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ssdfl._lazy import attach, exports

if TYPE_CHECKING:
    from ssdfl.simulate.clusters import (
        cluster_labels,
        cluster_mixing,
        form_clusters,
        random_connected_partition,
    )
    from ssdfl.simulate.comm import (
        InitTraffic,
        degree_exchange_traffic,
        flooding_traffic,
        gossip_bytes,
        gossip_messages,
        intra_cluster_edges,
        record_bytes,
    )
    from ssdfl.simulate.engine import SimulationConfig, direction_scales, simulate
    from ssdfl.simulate.methods import (
        CSTC,
        METHODS,
        PDFL,
        SDFL,
        SSDFL,
        STC,
        FedAvg,
        Method,
        make_method,
        random_matching,
    )
    from ssdfl.simulate.metrics import consensus_gap, evaluate, global_losses
    from ssdfl.simulate.results import SimulationResult, plot_curves, save_figure, threshold_table
    from ssdfl.simulate.separable import SeparableQuadratic
    from ssdfl.theory.devices import population_from_devices

#: Public names by defining module, loaded at first use (PEP 562).
_LAZY = exports(
    {
        "ssdfl.simulate.clusters": (
            "cluster_labels",
            "cluster_mixing",
            "form_clusters",
            "random_connected_partition",
        ),
        "ssdfl.simulate.comm": (
            "InitTraffic",
            "degree_exchange_traffic",
            "flooding_traffic",
            "gossip_bytes",
            "gossip_messages",
            "intra_cluster_edges",
            "record_bytes",
        ),
        "ssdfl.theory.devices": ("population_from_devices",),
        "ssdfl.simulate.engine": ("SimulationConfig", "direction_scales", "simulate"),
        "ssdfl.simulate.methods": (
            "CSTC",
            "METHODS",
            "PDFL",
            "SDFL",
            "SSDFL",
            "STC",
            "FedAvg",
            "Method",
            "make_method",
            "random_matching",
        ),
        "ssdfl.simulate.metrics": ("consensus_gap", "evaluate", "global_losses"),
        "ssdfl.simulate.results": (
            "SimulationResult",
            "plot_curves",
            "save_figure",
            "threshold_table",
        ),
        "ssdfl.simulate.separable": ("SeparableQuadratic",),
    }
)

__all__ = [
    "CSTC",
    "METHODS",
    "PDFL",
    "SDFL",
    "SSDFL",
    "STC",
    "FedAvg",
    "InitTraffic",
    "Method",
    "SeparableQuadratic",
    "SimulationConfig",
    "SimulationResult",
    "cluster_labels",
    "cluster_mixing",
    "consensus_gap",
    "degree_exchange_traffic",
    "direction_scales",
    "evaluate",
    "flooding_traffic",
    "form_clusters",
    "global_losses",
    "gossip_bytes",
    "gossip_messages",
    "intra_cluster_edges",
    "make_method",
    "plot_curves",
    "population_from_devices",
    "random_connected_partition",
    "random_matching",
    "record_bytes",
    "save_figure",
    "simulate",
    "threshold_table",
]

__getattr__, __dir__ = attach(__name__, _LAZY)
