"""ssdfl — planning and verifying serverless semi-decentralized federated learning.

The package is layered (``docs/architecture.md``): ``ssdfl.graphs`` (graph basics) →
``ssdfl.clusters`` (cluster search) → ``ssdfl.theory`` (models, optimizers, bounds) →
``ssdfl.simulate`` and ``ssdfl.aggregation`` (engines) → ``ssdfl.planner``,
``ssdfl.experiments`` and ``ssdfl.cli`` (application). Hot loops (graph metrics, Cheeger
enumeration, cluster search, gossip rounds, exact sums) run in Rust (``ssdfl._core``). The public
names are re-exported here and loaded at first use (PEP 562): ``import ssdfl`` itself loads
only the error classes and the compiled extension (``docs/performance.md``, "Import time").
"""

from __future__ import annotations

import importlib
import importlib.machinery
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import TYPE_CHECKING, cast

from ssdfl._core import __version__
from ssdfl._lazy import attach, exports
from ssdfl.errors import (
    DisconnectedGraphError,
    GraphFormatError,
    InfeasibleError,
    SsdflError,
    SsdflWarning,
    TooLargeError,
)

if TYPE_CHECKING:
    from importlib.abc import Loader  # (importlib.abc itself is slow to import)

    from ssdfl.aggregation import fedavg
    from ssdfl.clusters.clustering import cluster_measure, partition, split_hierarchy
    from ssdfl.clusters.formation import Formation, Partition
    from ssdfl.experiments.grid import RunSpec, sweep
    from ssdfl.graphs.cheeger import (
        CheegerResult,
        cheeger_constant,
        internal_conductance,
        mixing_conductance,
    )
    from ssdfl.graphs.fastest_mixing import FastestMixing, fastest_mixing
    from ssdfl.graphs.graph import Graph, Positions, as_graph
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

#: Lazy public names by defining module (one list; ``__all__`` adds the error classes).
_LAZY = exports(
    {
        "ssdfl.aggregation": ("fedavg",),
        "ssdfl.clusters.clustering": ("cluster_measure", "partition", "split_hierarchy"),
        "ssdfl.clusters.formation": ("Formation", "Partition"),
        "ssdfl.experiments.grid": ("RunSpec", "sweep"),
        "ssdfl.graphs.cheeger": (
            "CheegerResult",
            "cheeger_constant",
            "internal_conductance",
            "mixing_conductance",
        ),
        "ssdfl.graphs.fastest_mixing": ("FastestMixing", "fastest_mixing"),
        "ssdfl.graphs.graph": ("Graph", "Positions", "as_graph"),
        "ssdfl.graphs.graph_io": ("read_graph", "write_graph"),
        "ssdfl.graphs.metrics": (
            "component_labels",
            "conductance",
            "connected_components",
            "cut_size",
            "edge_expansion",
            "is_connected",
            "is_set_connected",
            "normalized_cut",
            "volume",
        ),
        "ssdfl.graphs.mixing": (
            "MIXING_RULES",
            "mixing_matrix",
            "second_eigenvalue",
            "spectral_gap",
        ),
        "ssdfl.graphs.spectral": (
            "SweepProfile",
            "SweepResult",
            "algebraic_connectivity",
            "cheeger_bounds",
            "fiedler_vector",
            "laplacian",
            "sweep_cut",
            "sweep_profile",
        ),
        "ssdfl.planner.plan": ("FormationPlan", "PlanConfig", "plan_formation"),
        "ssdfl.simulate": (
            "CSTC",
            "PDFL",
            "SDFL",
            "SSDFL",
            "STC",
            "FedAvg",
            "SeparableQuadratic",
            "SimulationResult",
            "flooding_traffic",
            "random_connected_partition",
        ),
        "ssdfl.theory.bounds": (
            "BoundProblem",
            "bound_problem",
            "eps_S",
            "formation_bound",
            "generic_problem",
            "global_cycle_bound",
            "inter_consensus_bound",
            "intra_cluster_convergence",
            "intra_consensus_bound",
            "nonconvex_bound",
            "phi_min",
            "phi_min_rule",
            "run_bounds",
            "theorem1_rate",
        ),
        "ssdfl.theory.data": (
            "FederatedDataset",
            "label_histograms",
            "label_skew_split",
            "load_digits_federated",
            "synthetic_classification",
            "synthetic_regression",
        ),
        "ssdfl.theory.devices": ("DeviceTable", "read_devices"),
        "ssdfl.theory.effective": (
            "EffectiveLoss",
            "biased_optimum",
            "fixed_point",
            "objective_inconsistency",
        ),
        "ssdfl.theory.heterogeneity": (
            "cluster_scores",
            "formation_heterogeneity",
            "gradient_dissimilarity",
            "label_jsd",
            "optimizer_heterogeneity",
        ),
        "ssdfl.theory.models": (
            "DeviceModel",
            "LeastSquares",
            "LogisticRegression",
            "Quadratic",
            "SmoothNonconvex",
        ),
        "ssdfl.theory.nn": ("CNN1D", "MLP", "NeuralNet"),
        "ssdfl.theory.optimizers": (
            "SGD",
            "Adam",
            "LocalOptimizer",
            "MomentumSGD",
            "OptimizerPopulation",
            "ProxSGD",
            "random_population",
        ),
        "ssdfl.theory.verify": ("Verification", "verify"),
    }
)


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
    "Positions",
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


#: Pre-layering module paths (``import ssdfl.bounds``) → the module that now holds each one.
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


class _OldPathAlias:
    """Keeps the pre-layering module paths importable without loading them up front:
    ``import ssdfl.bounds`` (or ``ssdfl.bounds`` as an attribute) gives the very module object
    ``ssdfl.theory.bounds``, imported only then."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        head, _, tail = fullname.partition(".")
        if head != __name__ or tail not in _OLD_MODULE_PATHS:
            return None
        return importlib.machinery.ModuleSpec(fullname, cast("Loader", self))

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        new = _OLD_MODULE_PATHS[spec.name.partition(".")[2]]
        module = importlib.import_module(f"{__name__}.{new}")
        spec.loader_state = module.__spec__  # the import system overwrites it next
        return module

    def exec_module(self, module: ModuleType) -> None:
        alias = module.__spec__
        if alias is not None and alias.loader_state is not None:
            module.__spec__ = alias.loader_state  # the module keeps its own name and spec


if not any(isinstance(f, _OldPathAlias) for f in sys.meta_path):
    sys.meta_path.append(_OldPathAlias())


class _Root(ModuleType):
    """The package's module type: ``fastest_mixing`` is both a public function and an old
    module path, and ``import ssdfl.fastest_mixing`` must not replace the function by the
    module on the package (as before the names were lazy)."""

    def __setattr__(self, name: str, value: object) -> None:
        if isinstance(value, ModuleType) and name in _LAZY and name in _OLD_MODULE_PATHS:
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Root

_getattr, __dir__ = attach(__name__, _LAZY)


def __getattr__(name: str) -> object:
    if name in _OLD_MODULE_PATHS and name not in _LAZY:
        return importlib.import_module(f"{__name__}.{name}")
    return _getattr(name)
