"""The graph is converted once at each public entry (issue 23): a networkx graph handed to a
public function becomes a :class:`ssdfl.Graph` once, and everything below works on that Graph
(``as_graph`` of a Graph is the identity, never a copy). Counted by wrapping the converter
itself, :func:`ssdfl.graphs.structure.graph_from_object` as ``as_graph`` sees it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import networkx as nx
import numpy as np
import pytest

import ssdfl.graphs.graph as graph_mod
from ssdfl import Graph, PlanConfig, partition, plan_formation
from ssdfl.simulate import SSDFL, simulate
from ssdfl.theory.models import Quadratic


@pytest.fixture
def conversions(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Type names of every non-Graph object ``as_graph`` converts during the test."""
    seen: list[str] = []
    real: Callable[[Any], Graph] = graph_mod.graph_from_object

    def counting(obj: Any) -> Graph:
        if not isinstance(obj, Graph):
            seen.append(type(obj).__name__)
        return real(obj)

    monkeypatch.setattr(graph_mod, "graph_from_object", counting)
    yield seen


def test_plan_formation_converts_a_networkx_graph_once(conversions: list[str]) -> None:
    g = nx.karate_club_graph()
    plan = plan_formation(g, None, PlanConfig(pilot_budget=0, max_clusters=4))
    assert plan.n == 34
    assert conversions == ["Graph"]  # networkx.Graph, converted at the entry only


def test_partition_converts_once(conversions: list[str]) -> None:
    partition(nx.karate_club_graph(), 3)
    assert conversions == ["Graph"]


def test_simulate_converts_once(conversions: list[str]) -> None:
    g = nx.cycle_graph(12)
    model = Quadratic.random(12, 3, np.random.default_rng(0))
    simulate(model, g, SSDFL(clusters=np.repeat(np.arange(3), 4)), cycles=2)
    assert conversions == ["Graph"]


def test_the_counter_sees_conversions(conversions: list[str]) -> None:
    """The wrapper counts: two public calls on a networkx graph are two conversions, a
    Graph none."""
    g = nx.path_graph(5)
    ssdfl_graph = graph_mod.as_graph(g)
    graph_mod.as_graph(ssdfl_graph)
    graph_mod.as_graph(g)
    assert conversions == ["Graph", "Graph"]
