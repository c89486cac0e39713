"""ssdfl — planning and verifying serverless semi-decentralized federated learning.

Graph metrics, Cheeger constants and cluster search run in Rust (``ssdfl._core``); theory,
optimization, simulation and GradsSharding aggregation live in Python modules.
"""

from __future__ import annotations

from ssdfl._core import __version__
from ssdfl.data import (
    FederatedDataset,
    label_histograms,
    label_skew_split,
    load_digits_federated,
    synthetic_classification,
    synthetic_regression,
)
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
from ssdfl.models import DeviceModel, LeastSquares, LogisticRegression, Quadratic
from ssdfl.optimizers import (
    SGD,
    Adam,
    LocalOptimizer,
    MomentumSGD,
    OptimizerPopulation,
    ProxSGD,
    random_population,
)

__all__ = [
    "MIXING_RULES",
    "SGD",
    "Adam",
    "DeviceModel",
    "DisconnectedGraphError",
    "FederatedDataset",
    "Graph",
    "GraphFormatError",
    "InfeasibleError",
    "LeastSquares",
    "LocalOptimizer",
    "LogisticRegression",
    "MomentumSGD",
    "OptimizerPopulation",
    "ProxSGD",
    "Quadratic",
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
    "label_histograms",
    "label_skew_split",
    "load_digits_federated",
    "mixing_matrix",
    "normalized_cut",
    "random_population",
    "read_graph",
    "second_eigenvalue",
    "spectral_gap",
    "synthetic_classification",
    "synthetic_regression",
    "volume",
    "write_graph",
]
