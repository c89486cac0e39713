"""Shared fixtures and hypothesis strategies."""

from __future__ import annotations

import os
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"

settings.register_profile(
    "ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=25, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def examples() -> Path:
    return EXAMPLES


@st.composite
def weighted_graphs(
    draw: st.DrawFn,
    min_n: int = 2,
    max_n: int = 12,
    connected: bool = False,
    weighted: bool = True,
) -> nx.Graph:
    """Random networkx graphs on nodes 0..n-1 with positive float weights (or unit weights).

    With ``connected=True`` a random spanning tree is added first, so the graph is connected.
    """
    n = draw(st.integers(min_n, max_n))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    p = draw(st.floats(0.05, 0.9))
    g = nx.gnp_random_graph(n, p, seed=int(seed))
    if connected:
        perm = rng.permutation(n)
        for k in range(1, n):
            g.add_edge(int(perm[k]), int(perm[rng.integers(0, k)]))
    for u, v in g.edges():
        g[u][v]["weight"] = float(rng.uniform(0.1, 5.0)) if weighted else 1.0
    return g


def set_partitions(items: list[int]):
    """Every set partition of ``items`` (Bell-number many): an independent brute force."""
    if not items:
        yield []
        return
    first, rest = items[0], items[1:]
    for part in set_partitions(rest):
        for i in range(len(part)):
            yield [*part[:i], [first, *part[i]], *part[i + 1 :]]
        yield [[first], *part]


def fd_grad(model, X: np.ndarray) -> np.ndarray:
    """Per-device gradients of ``model.loss`` by forward finite differences
    (``scipy.optimize.approx_fprime``, step 1e-7): an independent check of ``model.grad``."""
    from scipy.optimize import approx_fprime

    out = np.empty_like(X)
    for i in range(X.shape[0]):

        def f(x: np.ndarray, i: int = i) -> float:
            Y = X.copy()
            Y[i] = x
            return float(model.loss(Y)[i])

        out[i] = approx_fprime(X[i], f, 1e-7)
    return out
