"""ssdfl — planning and verifying serverless semi-decentralized federated learning.

The package is layered (``docs/architecture.md``): ``ssdfl.graphs`` (graph basics) →
``ssdfl.clusters`` (cluster search) → ``ssdfl.theory`` (models, optimizers, bounds) →
``ssdfl.simulate`` and ``ssdfl.aggregation`` (engines) → ``ssdfl.planner``,
``ssdfl.experiments`` and ``ssdfl.cli`` (application). Hot loops (graph metrics, Cheeger
enumeration, cluster search, gossip rounds, exact sums) run in Rust (``ssdfl._core``). The public
names are re-exported here.
"""

from __future__ import annotations

from ssdfl._core import __version__
from ssdfl.aggregation import fedavg
from ssdfl.clusters.clustering import cluster_measure, partition, split_hierarchy
from ssdfl.clusters.formation import Formation, Partition
from ssdfl.errors import (
    DisconnectedGraphError,
    GraphFormatError,
    InfeasibleError,
    SsdflError,
    SsdflWarning,
    TooLargeError,
)
from ssdfl.experiments.grid import RunSpec, sweep
from ssdfl.graphs.cheeger import (
    CheegerResult,
    cheeger_constant,
    internal_conductance,
    mixing_conductance,
)
from ssdfl.graphs.fastest_mixing import FastestMixing, fastest_mixing
from ssdfl.graphs.graph import Graph, as_graph
from ssdfl.graphs.graph_io import read_graph, write_graph
from ssdfl.graphs.metrics import (
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
from ssdfl.graphs.mixing import MIXING_RULES, mixing_matrix, second_eigenvalue, spectral_gap
from ssdfl.graphs.spectral import (
    SweepProfile,
    SweepResult,
    algebraic_connectivity,
    cheeger_bounds,
    fiedler_vector,
    laplacian,
    sweep_cut,
    sweep_profile,
)
from ssdfl.planner.plan import FormationPlan, PlanConfig, plan_formation
from ssdfl.simulate import (
    CSTC,
    PDFL,
    SDFL,
    SSDFL,
    STC,
    FedAvg,
    SeparableQuadratic,
    SimulationResult,
    flooding_traffic,
    random_connected_partition,
)
from ssdfl.theory.bounds import (
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
from ssdfl.theory.data import (
    FederatedDataset,
    label_histograms,
    label_skew_split,
    load_digits_federated,
    synthetic_classification,
    synthetic_regression,
)
from ssdfl.theory.devices import DeviceTable, read_devices
from ssdfl.theory.effective import (
    EffectiveLoss,
    biased_optimum,
    fixed_point,
    objective_inconsistency,
)
from ssdfl.theory.heterogeneity import (
    cluster_scores,
    formation_heterogeneity,
    gradient_dissimilarity,
    label_jsd,
    optimizer_heterogeneity,
)
from ssdfl.theory.models import (
    DeviceModel,
    LeastSquares,
    LogisticRegression,
    Quadratic,
    SmoothNonconvex,
)
from ssdfl.theory.nn import CNN1D, MLP, NeuralNet
from ssdfl.theory.optimizers import (
    SGD,
    Adam,
    LocalOptimizer,
    MomentumSGD,
    OptimizerPopulation,
    ProxSGD,
    random_population,
)
from ssdfl.theory.verify import Verification, verify

__all__ = [
    "CNN1D",
    "CSTC",
    "MIXING_RULES",
    "MLP",
    "PDFL",
    "SDFL",
    "SGD",
    "SSDFL",
    "STC",
    "Adam",
    "BoundProblem",
    "CheegerResult",
    "DeviceModel",
    "DeviceTable",
    "DisconnectedGraphError",
    "EffectiveLoss",
    "FastestMixing",
    "FedAvg",
    "FederatedDataset",
    "Formation",
    "FormationPlan",
    "Graph",
    "GraphFormatError",
    "InfeasibleError",
    "LeastSquares",
    "LocalOptimizer",
    "LogisticRegression",
    "MomentumSGD",
    "NeuralNet",
    "OptimizerPopulation",
    "Partition",
    "PlanConfig",
    "ProxSGD",
    "Quadratic",
    "RunSpec",
    "SeparableQuadratic",
    "SimulationResult",
    "SmoothNonconvex",
    "SsdflError",
    "SsdflWarning",
    "SweepProfile",
    "SweepResult",
    "TooLargeError",
    "Verification",
    "__version__",
    "algebraic_connectivity",
    "as_graph",
    "biased_optimum",
    "bound_problem",
    "cheeger_bounds",
    "cheeger_constant",
    "cluster_measure",
    "cluster_scores",
    "component_labels",
    "conductance",
    "connected_components",
    "cut_size",
    "edge_expansion",
    "eps_S",
    "fastest_mixing",
    "fedavg",
    "fiedler_vector",
    "fixed_point",
    "flooding_traffic",
    "formation_bound",
    "formation_heterogeneity",
    "generic_problem",
    "global_cycle_bound",
    "gradient_dissimilarity",
    "inter_consensus_bound",
    "internal_conductance",
    "intra_cluster_convergence",
    "intra_consensus_bound",
    "is_connected",
    "is_set_connected",
    "label_histograms",
    "label_jsd",
    "label_skew_split",
    "laplacian",
    "load_digits_federated",
    "mixing_conductance",
    "mixing_matrix",
    "nonconvex_bound",
    "normalized_cut",
    "objective_inconsistency",
    "optimizer_heterogeneity",
    "partition",
    "phi_min",
    "phi_min_rule",
    "plan_formation",
    "random_connected_partition",
    "random_population",
    "read_devices",
    "read_graph",
    "run_bounds",
    "second_eigenvalue",
    "spectral_gap",
    "split_hierarchy",
    "sweep",
    "sweep_cut",
    "sweep_profile",
    "synthetic_classification",
    "synthetic_regression",
    "theorem1_rate",
    "verify",
    "volume",
    "write_graph",
]


_OLD_MODULE_PATHS = {
    "graph": "graphs.graph", "graph_io": "graphs.graph_io", "metrics": "graphs.metrics",
    "spectral": "graphs.spectral", "cheeger": "graphs.cheeger", "mixing": "graphs.mixing",
    "fastest_mixing": "graphs.fastest_mixing", "plotting": "graphs.plotting",
    "clustering": "clusters.clustering", "setpartition": "clusters.setpartition",
    "formation": "clusters.formation", "models": "theory.models",
    "optimizers": "theory.optimizers", "data": "theory.data", "devices": "theory.devices",
    "effective": "theory.effective", "heterogeneity": "theory.heterogeneity",
    "bounds": "theory.bounds", "reference": "theory.reference",
}  # fmt: skip


def _alias_old_module_paths() -> None:
    """Keep the pre-layering module paths importable (``import ssdfl.bounds`` etc.): each old
    path names the module that now holds it."""
    import importlib
    import sys

    for name, new in _OLD_MODULE_PATHS.items():
        sys.modules.setdefault(f"{__name__}.{name}", importlib.import_module(f"{__name__}.{new}"))


def __getattr__(name: str) -> object:
    if name in _OLD_MODULE_PATHS:
        import sys

        return sys.modules[f"{__name__}.{name}"]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_alias_old_module_paths()
