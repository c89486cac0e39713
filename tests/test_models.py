"""Device models: gradients vs finite differences, closed forms vs scipy/sklearn, unbiased
stochastic gradients, smoothness constants vs Hessian spectra."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import fd_grad
from ssdfl.errors import SsdflError
from ssdfl.theory.models import LeastSquares, LogisticRegression, Quadratic


def _data(rng: np.random.Generator, n: int, p: int, classes: int = 0, size: int | None = None):
    Z = [rng.normal(size=(size or int(rng.integers(3, 9)), p)) for _ in range(n)]
    if classes:
        y = [rng.integers(0, classes, size=len(z)) for z in Z]
    else:
        y = [rng.normal(size=len(z)) for z in Z]
    return Z, y


@given(seed=st.integers(0, 2**31), n=st.integers(1, 5), d=st.integers(1, 4))
def test_gradients_match_finite_differences(seed: int, n: int, d: int) -> None:
    rng = np.random.default_rng(seed)
    q = Quadratic.random(n, d, rng)
    X = rng.normal(size=(n, d))
    np.testing.assert_allclose(q.grad(X), fd_grad(q, X), atol=2e-5)
    Z, y = _data(rng, n, d)
    ls = LeastSquares(Z, y, l2=0.1)
    np.testing.assert_allclose(ls.grad(X), fd_grad(ls, X), atol=2e-5)
    Zc, yc = _data(rng, n, d, classes=3)
    lr = LogisticRegression(Zc, yc, 3, l2=0.05)
    W = rng.normal(size=(n, lr.dim))
    np.testing.assert_allclose(lr.grad(W), fd_grad(lr, W), atol=2e-5)


@given(seed=st.integers(0, 2**31))
def test_least_squares_is_its_quadratic(seed: int) -> None:
    rng = np.random.default_rng(seed)
    Z, y = _data(rng, 4, 3)
    ls = LeastSquares(Z, y, l2=0.0 if seed % 2 else 0.3)
    q = ls.as_quadratic()
    X = rng.normal(size=(4, 3))
    np.testing.assert_allclose(ls.loss(X), q.loss(X), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(ls.grad(X), q.grad(X), rtol=1e-9, atol=1e-9)
    # optimum of the uniform average vs the stacked weighted least-squares problem
    w = np.array([1 / np.sqrt(len(z)) for z in Z])
    Zs = np.concatenate([wi * z for wi, z in zip(w, Z)])
    ys = np.concatenate([wi * t for wi, t in zip(w, y)])
    if ls.l2 > 0:
        Zs = np.vstack([Zs, np.sqrt(4 * ls.l2) * np.eye(3)])
        ys = np.concatenate([ys, np.zeros(3)])
    np.testing.assert_allclose(ls.optimum(), np.linalg.lstsq(Zs, ys, rcond=None)[0], atol=1e-8)


def test_quadratic_constants_and_weighted_optimum() -> None:
    rng = np.random.default_rng(3)
    q = Quadratic.random(5, 4, rng, mu=0.3, L=3.0)
    assert q.mu == pytest.approx(0.3) and q.L == pytest.approx(3.0)
    w = rng.uniform(0.1, 1.0, size=5)
    x = q.optimum(w)
    X = np.tile(x, (5, 1))
    np.testing.assert_allclose(w @ q.grad(X), 0.0, atol=1e-10)
    # generic L-BFGS path of the base class agrees with the closed form
    from ssdfl.theory.models import DeviceModel

    np.testing.assert_allclose(DeviceModel.optimum(q, w), x, atol=1e-6)
    assert q.global_loss(q.optimum()) <= q.global_loss(x) + 1e-12


def test_logistic_optimum_matches_sklearn() -> None:
    from sklearn.linear_model import LogisticRegression as SkLR

    rng = np.random.default_rng(0)
    n, p, C, m, lam = 4, 3, 3, 20, 0.05
    Z, y = _data(rng, n, p, classes=C, size=m)
    lr = LogisticRegression(Z, y, C, l2=lam)
    x = lr.optimum()
    # sklearn: C_sk Σ CE + ½‖w‖², intercept as a penalized constant column ⇒ C_sk = 1/(λ n m)
    Zall = np.concatenate([np.hstack([z, np.ones((m, 1))]) for z in Z])
    sk = SkLR(C=1 / (lam * n * m), fit_intercept=False, tol=1e-12, max_iter=10000)
    sk.fit(Zall, np.concatenate(y))
    np.testing.assert_allclose(x.reshape(p + 1, C), sk.coef_.T, atol=1e-5)


def test_logistic_smoothness_bound_dominates_hessian() -> None:
    rng = np.random.default_rng(5)
    Z, y = _data(rng, 2, 2, classes=3, size=15)
    lr = LogisticRegression(Z, y, 3, l2=0.01)
    for _ in range(3):
        W = rng.normal(size=(2, lr.dim)) * 3
        for i in range(2):
            # numerical Hessian of device i by differencing the gradient
            H = np.empty((lr.dim, lr.dim))
            for k in range(lr.dim):
                E = np.zeros_like(W)
                E[i, k] = 1e-6
                H[:, k] = (lr.grad(W + E)[i] - lr.grad(W - E)[i]) / 2e-6
            ev = np.linalg.eigvalsh(0.5 * (H + H.T))
            assert ev[-1] <= lr.L_i[i] + 1e-6
            assert ev[0] >= lr.mu_i[i] - 1e-6


@pytest.mark.parametrize("batch", [None, 2])
def test_stochastic_gradient_unbiased_with_variance(batch: int | None) -> None:
    rng = np.random.default_rng(7)
    Z, y = _data(rng, 3, 2, size=6)
    ls = LeastSquares(Z, y)
    X = rng.normal(size=(3, 2))
    R = 40000
    gs = np.stack([ls.stochastic_grad(X, rng, sigma=0.5, batch_size=batch) for _ in range(R)])
    mean = gs.mean(axis=0)
    se = gs.std(axis=0) / np.sqrt(R)
    assert np.all(np.abs(mean - ls.grad(X)) <= 6 * se)
    if batch is None:  # pure additive noise: E‖ξ‖² = σ²
        v = np.sum((gs - ls.grad(X)) ** 2, axis=2).mean(axis=0)
        np.testing.assert_allclose(v, 0.25, rtol=0.03)


def test_subset_and_errors() -> None:
    rng = np.random.default_rng(2)
    q = Quadratic.random(4, 2, rng)
    s = q.subset([1, 3])
    X = rng.normal(size=(4, 2))
    np.testing.assert_allclose(s.grad(X[[1, 3]]), q.grad(X)[[1, 3]])
    Zc, yc = _data(rng, 3, 2, classes=2)
    lr = LogisticRegression(Zc, yc, 2)
    W = rng.normal(size=(3, lr.dim))
    np.testing.assert_allclose(lr.subset([2]).loss(W[[2]]), lr.loss(W)[[2]])
    with pytest.raises(SsdflError):
        q.grad(np.zeros((3, 2)))
    with pytest.raises(SsdflError):
        Quadratic(-np.eye(2)[None], np.zeros((1, 2)))
    with pytest.raises(SsdflError):
        Quadratic(np.array([[[1.0, 2.0], [0.0, 1.0]]]), np.zeros((1, 2)))
    with pytest.raises(SsdflError):
        q.subset([7])
    with pytest.raises(SsdflError):
        q.stochastic_grad(np.zeros((4, 2)), rng, batch_size=2)
    with pytest.raises(SsdflError):
        LogisticRegression([np.zeros((2, 2))], [np.array([0.5, 1.0])])
    with pytest.raises(SsdflError):
        LeastSquares([np.zeros((0, 2))], [np.zeros(0)])
    with pytest.raises(SsdflError):
        q.optimum([0, 0, 0, 0])
