"""Application layer — experiment grids: build runs from flat specifications and sweep them on
dask (``docs/simulator.md``, ``docs/results.md``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ssdfl._lazy import attach, exports

if TYPE_CHECKING:
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

#: Public names by defining module, loaded at first use (PEP 562).
_LAZY = exports(
    {
        "ssdfl.experiments.grid": (
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
        ),
    }
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

__getattr__, __dir__ = attach(__name__, _LAZY)
