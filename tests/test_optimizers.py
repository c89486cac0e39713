"""Local optimizers: FedNova step factors against brute-force runs, vectorized population
against per-device scalar loops, normalization, input validation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ssdfl.errors import SsdflError
from ssdfl.theory.optimizers import (
    SGD,
    Adam,
    MomentumSGD,
    OptimizerPopulation,
    ProxSGD,
    random_population,
)


def _brute_alpha(opt, tau: int, eta: float) -> float:
    """Run ``tau`` steps with a constant gradient g = 1 (a linear loss): the displacement is
    exactly ``−η ‖a‖₁ g`` (FedNova), so α = displacement / (−η τ)."""
    pop = OptimizerPopulation([opt])
    x = np.zeros((1, 1))
    anchor = x.copy()
    state = pop.init_state(1)
    for k in range(tau):
        x = x - eta * pop.direction(np.ones((1, 1)), x, anchor, state, k)
    return float(-x[0, 0] / (eta * tau))


@given(
    tau=st.integers(1, 40),
    eta=st.floats(1e-3, 0.5),
    mu=st.floats(0.0, 3.0),
    rho=st.floats(0.0, 0.95),
)
def test_alpha_matches_brute_force(tau: int, eta: float, mu: float, rho: float) -> None:
    assert SGD().alpha(tau, eta) == 1.0
    assert math.isclose(
        ProxSGD(mu).alpha(tau, eta),
        _brute_alpha(ProxSGD(mu), tau, eta),
        rel_tol=1e-10,
        abs_tol=1e-12,
    )
    assert math.isclose(
        MomentumSGD(rho).alpha(tau, eta), _brute_alpha(MomentumSGD(rho), tau, eta), rel_tol=1e-10
    )


def test_momentum_steady_state_and_limits() -> None:
    m = MomentumSGD(0.8)
    assert math.isclose(m.alpha(math.inf, 0.1), 5.0)
    assert math.isclose(m.alpha(10_000, 0.1), 5.0, rel_tol=1e-3)
    assert m.alpha(1, 0.1) == pytest.approx(1.0)
    assert ProxSGD(0.0).alpha(7, 0.1) == 1.0
    assert ProxSGD(2.0).alpha(1, 0.1) == pytest.approx(1.0)


def _adam_reference(gs: np.ndarray, b1: float, b2: float, eps: float) -> list[float]:
    m = s = 0.0
    out = []
    for k, g in enumerate(gs):
        m = b1 * m + (1 - b1) * g
        s = b2 * s + (1 - b2) * g * g
        out.append((m / (1 - b1 ** (k + 1))) / (math.sqrt(s / (1 - b2 ** (k + 1))) + eps))
    return out


def test_adam_matches_scalar_reference() -> None:
    rng = np.random.default_rng(1)
    gs = rng.normal(size=6)
    pop = OptimizerPopulation([Adam(0.8, 0.99, 1e-6)])
    st_ = pop.init_state(1)
    z = np.zeros((1, 1))
    got = [float(pop.direction(np.array([[g]]), z, z, st_, k)[0, 0]) for k, g in enumerate(gs)]
    np.testing.assert_allclose(got, _adam_reference(gs, 0.8, 0.99, 1e-6), rtol=1e-12)


@given(seed=st.integers(0, 2**31), n=st.integers(1, 12), d=st.integers(1, 4))
def test_population_equals_per_device_loop(seed: int, n: int, d: int) -> None:
    rng = np.random.default_rng(seed)
    pop = random_population(n, rng, kinds=("sgd", "prox", "momentum", "adam"))
    X = rng.normal(size=(n, d))
    A = rng.normal(size=(n, d))
    state = pop.init_state(d)
    D_prev = np.zeros((n, d))
    singles = [OptimizerPopulation([o]) for o in pop.optimizers]
    sstates = [s.init_state(d) for s in singles]
    for k in range(3):
        G = rng.normal(size=(n, d))
        D = pop.direction(G, X, A, state, k)
        for i, (s, ss) in enumerate(zip(singles, sstates)):
            di = s.direction(G[i : i + 1], X[i : i + 1], A[i : i + 1], ss, k)
            # scalar formula, independent of the classes
            o = pop.optimizers[i]
            if o.kind in ("sgd", "prox", "momentum"):
                np.testing.assert_allclose(
                    di,
                    G[i : i + 1]
                    + o.mu * (X[i : i + 1] - A[i : i + 1])
                    + (o.rho * D_prev[i : i + 1]),
                    rtol=1e-12,
                    atol=1e-12,
                )
            np.testing.assert_allclose(D[i : i + 1], di, rtol=1e-12, atol=1e-14)
        D_prev = D.copy()  # momentum buffer = previous direction
        X = X - 0.1 * D


def test_scales_normalization() -> None:
    pop = OptimizerPopulation([SGD(), ProxSGD(0.5), MomentumSGD(0.5)])
    a = pop.alphas(5, 0.1)
    np.testing.assert_allclose(pop.scales(5, 0.1, True) * a, 1.0)
    np.testing.assert_array_equal(pop.scales(5, 0.1, False), 1.0)
    np.testing.assert_array_equal(pop.mu, [0, 0.5, 0])
    np.testing.assert_array_equal(pop.rho, [0, 0, 0.5])
    assert len(pop[[1, 2]]) == 2


def test_bad_input() -> None:
    with pytest.raises(SsdflError):
        MomentumSGD(1.0)
    with pytest.raises(SsdflError):
        ProxSGD(-1.0)
    with pytest.raises(SsdflError):
        SGD().alpha(0, 0.1)
    with pytest.raises(SsdflError):
        SGD().alpha(3, -0.1)
    with pytest.raises(SsdflError):
        ProxSGD(30.0).alpha(3, 0.1)
    with pytest.raises(TypeError):
        OptimizerPopulation(["sgd"])  # type: ignore[list-item]
    with pytest.raises(SsdflError):
        OptimizerPopulation([])
    with pytest.raises(SsdflError):
        OptimizerPopulation(SGD())
    pop = OptimizerPopulation(SGD(), n=2)
    with pytest.raises(SsdflError):
        pop.direction(np.zeros((3, 1)), np.zeros((3, 1)), np.zeros((3, 1)), {}, 0)
    with pytest.raises(SsdflError):
        random_population(3, np.random.default_rng(0), kinds=("lbfgs",))
