"""The fused simulator round with the gradient computed in the kernel, and float32 state.

References: the numpy backend (scipy CSR product + ``model.grad`` + numpy expressions) and each
model's own ``grad``; float32 runs are compared with the float64 run of the same schedule.
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest

from ssdfl import Graph, _core
from ssdfl.errors import SsdflError
from ssdfl.simulate import SeparableQuadratic, simulate
from ssdfl.simulate.accel import fused_gradient
from ssdfl.theory.models import LeastSquares, Quadratic
from ssdfl.theory.optimizers import SGD, Adam, MomentumSGD, OptimizerPopulation, ProxSGD


def _mixed_pop(n: int) -> OptimizerPopulation:
    return OptimizerPopulation(
        [[SGD(), ProxSGD(0.3 + 0.1 * (i % 3)), MomentumSGD(0.2 + 0.1 * (i % 4))][i % 3]
         for i in range(n)]
    )  # fmt: skip


def _graph(n: int) -> Graph:
    return Graph.from_networkx(nx.connected_watts_strogatz_graph(n, 4, 0.3, seed=2))


def _least_squares(n: int, d: int, rng: np.random.Generator) -> LeastSquares:
    counts = 3 + np.arange(n) % 4
    Z = [rng.normal(size=(c, d)) for c in counts]
    y = [z @ rng.normal(size=d) + rng.normal(size=len(z)) for z in Z]
    return LeastSquares(Z, y, l2=0.1)


def _models(n: int, d: int) -> list:
    rng = np.random.default_rng(5)
    return [
        SeparableQuadratic.random(n, d, rng),
        Quadratic.random(n, d, rng),
        _least_squares(n, d, rng),
    ]


@pytest.mark.parametrize("kind", [0, 1, 2])
def test_kernel_gradient_equals_model_grad(kind: int) -> None:
    """Without W and with factor 1 the round is ``x − g``: the in-kernel gradient equals
    ``model.grad`` (bit for bit for the separable quadratic; to rounding otherwise)."""
    if kind == 0:  # n·d above the parallel threshold
        model = SeparableQuadratic.random(70, 600, np.random.default_rng(5))
    else:
        model = _models(12, 9)[kind]
    n, d = model.n_devices, model.dim
    X = np.random.default_rng(1).normal(size=(n, d))
    out = np.empty_like(X)
    spec = fused_gradient(model)
    assert spec is not None
    _core.gossip_round(X, out, factor=np.ones(n), **spec)
    G = model.grad(X)
    if kind == 0:
        np.testing.assert_array_equal(out, X - G)
    else:
        np.testing.assert_allclose(X - out, G, rtol=1e-12, atol=1e-12 * np.abs(G).max())


@pytest.mark.parametrize("method", ["ssdfl", "sdfl", "pdfl"])
def test_fused_separable_bitwise_equal_to_numpy(method: str) -> None:
    """The default (fused gradient for SeparableQuadratic) gives the numpy path's floats."""
    n, d = 64, 600
    model = SeparableQuadratic.random(n, d, np.random.default_rng(0))
    G = _graph(n)
    kw = dict(method_kwargs={"n_clusters": 4} if method == "ssdfl" else {},
              optimizers=_mixed_pop(n), tau_a=3, tau_r=1, cycles=4, eta=0.05,
              device_metrics=False, record_models=True)  # fmt: skip
    fused = simulate(model, G, method, backend="rust", **kw)
    given = simulate(model, G, method, backend="rust", fused_gradient=False, **kw)
    ref = simulate(model, G, method, backend="numpy", **kw)
    for a in (fused, given):
        np.testing.assert_array_equal(np.stack(a.models), np.stack(ref.models))


@pytest.mark.parametrize("kind", [1, 2])
def test_fused_quadratic_and_least_squares_close_to_numpy(kind: int) -> None:
    """Quadratic / LeastSquares: fused only on request in float64 (another summation order),
    then equal to the numpy path to rounding; the default stays bit-identical."""
    model = _models(12, 9)[kind]
    G = _graph(12)
    kw = dict(optimizers=_mixed_pop(12), tau_a=3, tau_r=1, cycles=30, eta=0.05, x0=np.ones(9),
              record_models=True)  # fmt: skip
    ref = simulate(model, G, "ssdfl", backend="numpy", **kw)
    default = simulate(model, G, "ssdfl", **kw)
    np.testing.assert_array_equal(np.stack(default.models), np.stack(ref.models))
    fused = simulate(model, G, "ssdfl", fused_gradient=True, **kw)
    np.testing.assert_allclose(np.stack(fused.models), np.stack(ref.models), rtol=0, atol=1e-11)


@pytest.mark.parametrize("kind", [0, 1, 2])
@pytest.mark.parametrize("method", ["ssdfl", "sdfl", "stc", "fedavg"])
def test_float32_close_to_float64(kind: int, method: str) -> None:
    """float32 state: models within float32 tolerance of the float64 run (the contractive
    iteration does not accumulate rounding), metrics computed in float64."""
    model = _models(12, 9)[kind]
    G = _graph(12)
    kw = dict(method_kwargs={"n_clusters": 3} if method == "ssdfl" else {},
              optimizers=_mixed_pop(12), tau_a=3, tau_r=1, cycles=80, eta=0.05, x0=np.ones(9),
              seed=1)  # fmt: skip
    r64 = simulate(model, G, method, **kw)
    r32 = simulate(model, G, method, dtype="float32", **kw)
    assert r32.X.dtype == np.float32 and r64.X.dtype == np.float64
    scale = np.abs(r64.X).max()
    np.testing.assert_allclose(r32.X, r64.X, rtol=0, atol=1e-4 * scale)
    assert r32.final["loss"] == pytest.approx(r64.final["loss"], rel=1e-5)


def test_float32_numpy_path_and_validation() -> None:
    """Adam (no fused form) runs on the numpy path with float32 storage; bad dtype refused."""
    model = _models(12, 9)[0]
    G = _graph(12)
    pop = OptimizerPopulation([Adam(), SGD(), MomentumSGD(0.5)] * 4)
    kw = dict(optimizers=pop, tau_a=2, cycles=40, eta=0.02, x0=np.ones(9))
    r64 = simulate(model, G, "sdfl", **kw)
    r32 = simulate(model, G, "sdfl", dtype="float32", **kw)
    assert r32.X.dtype == np.float32
    np.testing.assert_allclose(r32.X, r64.X, rtol=0, atol=1e-4 * np.abs(r64.X).max())
    with pytest.raises(SsdflError):
        simulate(model, G, "sdfl", dtype="float16", cycles=1)
    with pytest.raises(TypeError):
        _core.gossip_round(np.zeros((2, 2), np.int64), np.zeros((2, 2), np.int64))
    with pytest.raises(TypeError):  # mixed float types
        _core.gossip_round(np.zeros((2, 2), np.float32), np.zeros((2, 2)))
