"""Application layer — experiment grids: build runs from flat specifications and sweep them on
dask (``docs/simulator.md``, ``docs/results.md``)."""

from ssdfl.experiments.grid import (
    ExperimentConfig,
    RunSpec,
    build_graph,
    build_problem,
    expand_grid,
    load_config,
    planned_clusters,
    plot_grid,
    run_config,
    run_one,
    sweep,
)

__all__ = [
    "ExperimentConfig",
    "RunSpec",
    "build_graph",
    "build_problem",
    "expand_grid",
    "load_config",
    "planned_clusters",
    "plot_grid",
    "run_config",
    "run_one",
    "sweep",
]
