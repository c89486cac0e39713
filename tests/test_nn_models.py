"""Non-convex device models (ssdfl.theory.nn): gradients vs finite differences, the global loss
vs a per-row re-computation, mini-batches vs the full gradient, MNIST-1D generation, and
learning above chance in short decentralized runs with all four optimizers mixed."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import fd_grad
from ssdfl.theory.data import load_digits_federated, load_mnist1d_federated
from ssdfl.theory.nn import CNN1D, MLP
from ssdfl.theory.optimizers import SGD, Adam, MomentumSGD, OptimizerPopulation, ProxSGD


def _data(rng: np.random.Generator, n: int, p: int, classes: int):
    Z = [rng.normal(size=(int(rng.integers(2, 7)), p)) for _ in range(n)]
    y = [rng.integers(0, classes, size=len(z)) for z in Z]
    return Z, y


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31), n=st.integers(1, 4), act=st.sampled_from(["relu", "tanh"]),
       depth=st.integers(1, 2))  # fmt: skip
def test_mlp_gradient_matches_finite_differences(seed: int, n: int, act: str, depth: int) -> None:
    rng = np.random.default_rng(seed)
    Z, y = _data(rng, n, 6, 3)
    m = MLP(Z, y, 3, hidden=(5, 4)[:depth], activation=act, l2=0.03)
    X = rng.normal(scale=0.7, size=(n, m.dim))
    np.testing.assert_allclose(m.grad(X), fd_grad(m, X), atol=2e-5)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31), n=st.integers(1, 4), k=st.integers(1, 4),
       stride=st.integers(1, 2), layers=st.integers(1, 2))  # fmt: skip
def test_cnn_gradient_matches_finite_differences(
    seed: int, n: int, k: int, stride: int, layers: int
) -> None:
    rng = np.random.default_rng(seed)
    Z, y = _data(rng, n, 13, 3)
    m = CNN1D(Z, y, 3, channels=(3, 2)[:layers], kernel=k, stride=stride, l2=0.02)
    X = rng.normal(scale=0.7, size=(n, m.dim))
    np.testing.assert_allclose(m.grad(X), fd_grad(m, X), atol=2e-5)


def test_cnn_matches_a_plain_convolution() -> None:
    """One conv layer, stride 1, checked against numpy's correlate + a plain softmax CE."""
    rng = np.random.default_rng(3)
    Z = [rng.normal(size=(4, 9))]
    y = [np.array([0, 1, 2, 1])]
    m = CNN1D(Z, y, 3, channels=(2,), kernel=3, stride=1, l2=0.0)
    x = rng.normal(size=m.dim)
    P = {k: v[0] for k, v in m.layout.views(x[None]).items()}
    ce = 0.0
    for z, t in zip(Z[0], y[0]):
        fm = np.stack(
            [np.correlate(z, P["K0"][:, 0, c], "valid") + P["c0"][c] for c in range(2)], 1
        )
        h = np.maximum(fm, 0).ravel()
        logit = h @ P["W"] + P["b"]
        ce += np.log(np.exp(logit).sum()) - logit[t]
    assert m.loss(x[None])[0] == pytest.approx(ce / 4, rel=1e-12)


def test_global_losses_and_batches() -> None:
    rng = np.random.default_rng(0)
    Z, y = _data(rng, 3, 8, 4)
    for m in (MLP(Z, y, 4, hidden=(6,)), CNN1D(Z, y, 4, channels=(2,), kernel=3)):
        X = rng.normal(scale=0.5, size=(3, m.dim))
        ref = np.array([m.loss(np.tile(x, (3, 1))).mean() for x in X])
        np.testing.assert_allclose(m.global_losses(X), ref, rtol=1e-12)
        # the mean of many mini-batch gradients converges to the full gradient
        G = np.mean([m.stochastic_grad(X, rng, batch_size=4) for _ in range(3000)], axis=0)
        np.testing.assert_allclose(G, m.grad(X), atol=0.05)
        sub = m.subset([2, 0])
        np.testing.assert_allclose(sub.loss(X[[2, 0]]), m.loss(X)[[2, 0]], rtol=1e-12)


def test_mnist1d_is_generated_offline_and_deterministic() -> None:
    a = load_mnist1d_federated(10, "k-label", k=1, num_samples=1000, seed=1)
    b = load_mnist1d_federated(10, "k-label", k=1, num_samples=1000, seed=1)
    assert a.X.shape == (800, 40) and a.X_test.shape == (200, 40)
    np.testing.assert_array_equal(a.X, b.X)
    assert sorted(np.unique(a.y).tolist()) == list(range(10))
    assert all(len(np.unique(a.y[p])) == 1 for p in a.parts)  # 1 label per device
    state = np.random.get_state()[1].copy()  # noqa: NPY002
    load_mnist1d_federated(5, "iid", num_samples=500, data_seed=7)
    np.testing.assert_array_equal(np.random.get_state()[1], state)  # noqa: NPY002


def _mixed() -> OptimizerPopulation:
    return OptimizerPopulation([SGD(), ProxSGD(0.1), MomentumSGD(0.5), Adam()])


@pytest.mark.parametrize(
    ("data", "kind", "eta", "chance_x"),
    [("digits", "mlp", 0.1, 4.0), ("mnist1d", "cnn", 0.2, 2.0), ("mnist1d", "mlp", 0.2, 2.0)],
)
def test_short_run_learns_above_chance(data: str, kind: str, eta: float, chance_x: float) -> None:
    """2-label devices on a ring, SGD/prox/momentum/Adam mixed (Adam at its own step 0.01, as a
    devices file's ``lr`` column gives it), sDFL: every device's own model
    beats chance (10 %) by the given factor on held-out (MNIST-1D) or all (digits) samples."""
    from threadpoolctl import threadpool_limits

    from ssdfl.simulate import simulate

    if data == "digits":
        ds = load_digits_federated(4, "k-label", k=2, seed=0)
        Zt, yt = ds.X, ds.y
    else:
        ds = load_mnist1d_federated(4, "k-label", k=2, seed=0, num_samples=1500)
        Zt, yt = ds.X_test, ds.y_test
    m = ds.model(kind)
    with threadpool_limits(1):
        r = simulate(m, nx.cycle_graph(4), "sdfl", optimizers=_mixed(), tau_a=5, cycles=60,
                     eta=np.array([eta, eta, eta, 0.01]), x0=m.init(0), device_metrics=False,
                     eval_every=60)  # fmt: skip
    acc = m.accuracies(r.X.mean(axis=0, keepdims=True), Zt, yt)[0]
    assert acc > chance_x * 0.1, acc
    assert np.all(m.loss(r.X) < m.loss(np.tile(m.init(0), (4, 1))))
    losses = r.table()["loss"].to_numpy()
    assert losses[-1] < losses[0]
