"""ssdfl — planning and verifying serverless semi-decentralized federated learning.

Graph metrics, Cheeger constants and cluster search run in Rust (``ssdfl._core``); theory,
optimization, simulation and GradsSharding aggregation live in Python modules.
"""

from __future__ import annotations

from ssdfl._core import __version__
from ssdfl.errors import (
    DisconnectedGraphError,
    GraphFormatError,
    InfeasibleError,
    SsdflError,
    SsdflWarning,
    TooLargeError,
)
from ssdfl.graph import Graph, as_graph
from ssdfl.graph_io import read_graph, write_graph
from ssdfl.metrics import (
    component_labels,
    conductance,
    connected_components,
    cut_size,
    edge_expansion,
    is_connected,
    is_set_connected,
    normalized_cut,
    volume,
)
from ssdfl.mixing import MIXING_RULES, mixing_matrix, second_eigenvalue, spectral_gap

__all__ = [
    "MIXING_RULES",
    "DisconnectedGraphError",
    "Graph",
    "GraphFormatError",
    "InfeasibleError",
    "SsdflError",
    "SsdflWarning",
    "TooLargeError",
    "__version__",
    "as_graph",
    "component_labels",
    "conductance",
    "connected_components",
    "cut_size",
    "edge_expansion",
    "is_connected",
    "is_set_connected",
    "mixing_matrix",
    "normalized_cut",
    "read_graph",
    "second_eigenvalue",
    "spectral_gap",
    "volume",
    "write_graph",
]
