"""ssdfl — planning and verifying serverless semi-decentralized federated learning.

Graph metrics, Cheeger constants and cluster search run in Rust (``ssdfl._core``); theory,
optimization, simulation and GradsSharding aggregation live in Python modules.
"""

from __future__ import annotations

from ssdfl._core import __version__
from ssdfl.bounds import (
    BoundProblem,
    bound_problem,
    eps_S,
    formation_bound,
    generic_problem,
    global_cycle_bound,
    inter_consensus_bound,
    intra_cluster_convergence,
    intra_consensus_bound,
    nonconvex_bound,
    phi_min,
    phi_min_rule,
    run_bounds,
    theorem1_rate,
)
from ssdfl.data import (
    FederatedDataset,
    label_histograms,
    label_skew_split,
    load_digits_federated,
    synthetic_classification,
    synthetic_regression,
)
from ssdfl.effective import (
    EffectiveLoss,
    biased_optimum,
    fixed_point,
    objective_inconsistency,
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
from ssdfl.heterogeneity import (
    cluster_scores,
    formation_heterogeneity,
    gradient_dissimilarity,
    label_jsd,
    optimizer_heterogeneity,
)
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
from ssdfl.models import (
    DeviceModel,
    LeastSquares,
    LogisticRegression,
    Quadratic,
    SmoothNonconvex,
)
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
    "BoundProblem",
    "DeviceModel",
    "DisconnectedGraphError",
    "EffectiveLoss",
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
    "SmoothNonconvex",
    "SsdflError",
    "SsdflWarning",
    "TooLargeError",
    "__version__",
    "as_graph",
    "biased_optimum",
    "bound_problem",
    "cluster_scores",
    "component_labels",
    "conductance",
    "connected_components",
    "cut_size",
    "edge_expansion",
    "eps_S",
    "fixed_point",
    "formation_bound",
    "formation_heterogeneity",
    "generic_problem",
    "global_cycle_bound",
    "gradient_dissimilarity",
    "inter_consensus_bound",
    "intra_cluster_convergence",
    "intra_consensus_bound",
    "is_connected",
    "is_set_connected",
    "label_histograms",
    "label_jsd",
    "label_skew_split",
    "load_digits_federated",
    "mixing_matrix",
    "nonconvex_bound",
    "normalized_cut",
    "objective_inconsistency",
    "optimizer_heterogeneity",
    "phi_min",
    "phi_min_rule",
    "random_population",
    "read_graph",
    "run_bounds",
    "second_eigenvalue",
    "spectral_gap",
    "synthetic_classification",
    "synthetic_regression",
    "theorem1_rate",
    "volume",
    "write_graph",
]
