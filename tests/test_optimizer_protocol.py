"""The optimizer protocol: an optimizer defined only here (Nesterov momentum) trains in the
simulator with no package change, matches a plain numpy re-implementation, and every bound
refuses it by name; the built-in optimizers declare their fused forms and coverage."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import networkx as nx
import numpy as np
import pytest

from ssdfl import Graph, mixing_matrix
from ssdfl.errors import SsdflError
from ssdfl.simulate import SSDFL, cluster_mixing, simulate
from ssdfl.theory import bounds, effective, reference
from ssdfl.theory.devices import read_devices
from ssdfl.theory.models import Quadratic
from ssdfl.theory.optimizers import (
    BOUNDS,
    OPTIMIZERS,
    SGD,
    Adam,
    LocalOptimizer,
    MomentumSGD,
    OptimizerPopulation,
    ProxSGD,
    register_optimizer,
)


@dataclass(frozen=True)
class Nesterov(LocalOptimizer):
    """Nesterov momentum (PyTorch form): ``b ← ρb + g``, ``d = g + ρb``."""

    rho: float = 0.5  # type: ignore[assignment]
    kind: ClassVar[str] = "nesterov-test"
    uses_anchor: ClassVar[bool] = False
    columns: ClassVar[tuple[str, ...]] = ("rho",)

    def alpha(self, tau: float, eta: float) -> float:
        r = self.rho
        if math.isinf(tau):
            return 1.0 / (1.0 - r)
        # Σ_k d_k for g = 1: τ + ρ Σ_{k<τ} (1 − ρ^{k+1})/(1 − ρ)
        return (tau + r * (tau - r * (1 - r**tau) / (1 - r)) / (1 - r)) / tau

    def state_keys(self) -> tuple[str, ...]:
        return ("nb",)

    def direction(self, g, x, anchor, state, step):
        b = self.rho * state["nb"] + g
        state["nb"] = b
        return g + self.rho * b


def _numpy_nesterov(model, Wa, Wr, X0, rho, scale, eta, tau_a, tau_r, cycles):
    """Plain re-implementation of the schedule for all-Nesterov devices (buffers kept)."""
    X = X0.copy()
    b = np.zeros_like(X)
    out = [X.copy()]
    for _ in range(cycles):
        for _ in range(tau_a):
            g = np.stack([model.A[i] @ (X[i] - model.b[i]) for i in range(len(X))])
            b = rho[:, None] * b + g
            X = Wa @ X - eta * scale[:, None] * (g + rho[:, None] * b)
        for _ in range(tau_r):
            X = Wr @ X
        out.append(X.copy())
    return np.stack(out)


@pytest.fixture(scope="module")
def setup() -> tuple[Graph, Quadratic, np.ndarray]:
    G = Graph.from_networkx(nx.cycle_graph(8))
    model = Quadratic.random(8, 3, np.random.default_rng(2), mu=0.5, L=2.0, heterogeneity=1.0)
    return G, model, np.array([0, 0, 0, 0, 1, 1, 1, 1])


def test_alpha_of_test_optimizer_is_its_brute_force_step_factor() -> None:
    o = Nesterov(0.6)
    pop = OptimizerPopulation([o])
    st = pop.init_state(1)
    x = np.zeros((1, 1))
    for k in range(7):
        x = x - 0.1 * pop.direction(np.ones((1, 1)), x, x, st, k)
    assert o.alpha(7, 0.1) == pytest.approx(-x[0, 0] / (0.1 * 7), rel=1e-12)


@pytest.mark.parametrize("normalize", [False, True])
def test_nesterov_trains_in_simulator(setup, normalize: bool) -> None:
    G, model, labels = setup
    rho = np.array([0.3, 0.5, 0.7, 0.4, 0.6, 0.2, 0.5, 0.8])
    pop = OptimizerPopulation([Nesterov(float(r)) for r in rho])
    assert pop.fused is None  # no fused form: the generic direction() path must run
    x0 = np.random.default_rng(0).normal(size=(8, 3))
    eta, ta, tr, cyc = 0.02, 3, 2, 15
    res = simulate(model, G, SSDFL(clusters=labels), optimizers=pop, tau_a=ta, tau_r=tr,
                   cycles=cyc, eta=eta, x0=x0, normalize=normalize, record_models=True)  # fmt: skip
    # buffers kept across cycles (the default): normalization by the steady state 1/(1 − ρ)
    scale = (1 - rho) if normalize else np.ones(8)
    Wa = cluster_mixing(G, res.labels).toarray()
    Wr = mixing_matrix(G).toarray()
    ref = _numpy_nesterov(model, Wa, Wr, x0, rho, scale, eta, ta, tr, cyc)
    np.testing.assert_allclose(np.stack(res.models), ref, rtol=0, atol=1e-12)
    # and it is not heavy-ball in disguise: the heavy-ball run differs
    hb = simulate(model, G, SSDFL(clusters=labels), optimizers=[MomentumSGD(float(r)) for r in rho],
                  tau_a=ta, tau_r=tr, cycles=cyc, eta=eta, x0=x0, normalize=normalize)  # fmt: skip
    assert np.abs(hb.X - res.X).max() > 1e-6
    # the numpy backend gives the same floats; the Rust backend refuses clearly
    res2 = simulate(model, G, SSDFL(clusters=labels), optimizers=pop, tau_a=ta, tau_r=tr,
                    cycles=cyc, eta=eta, x0=x0, normalize=normalize, backend="numpy")  # fmt: skip
    np.testing.assert_array_equal(res2.X, res.X)
    with pytest.raises(SsdflError, match="fused"):
        simulate(model, G, SSDFL(clusters=labels), optimizers=pop, cycles=1, backend="rust")


def test_mixed_with_builtins_runs_each_direction(setup) -> None:
    """A population mixing the test optimizer with SGD: the generic path groups devices and
    each runs its own direction (checked against the numpy re-implementation with ρ = 0)."""
    G, model, labels = setup
    pop = OptimizerPopulation([Nesterov(0.5) if i % 2 else SGD() for i in range(8)])
    x0 = np.random.default_rng(1).normal(size=(8, 3))
    res = simulate(model, G, SSDFL(clusters=labels), optimizers=pop, tau_a=2, tau_r=1,
                   cycles=6, eta=0.03, x0=x0, record_models=True)  # fmt: skip
    rho = np.array([0.5 if i % 2 else 0.0 for i in range(8)])
    Wa, Wr = cluster_mixing(G, res.labels).toarray(), mixing_matrix(G).toarray()
    ref = _numpy_nesterov(model, Wa, Wr, x0, rho, np.ones(8), 0.03, 2, 1, 6)
    np.testing.assert_allclose(np.stack(res.models), ref, rtol=0, atol=1e-12)


def test_bounds_refuse_uncovered_optimizer(setup) -> None:
    G, model, labels = setup
    pop = OptimizerPopulation([Nesterov(0.5)] * 4 + [SGD()] * 4)
    Wa = cluster_mixing(G, labels).toarray()
    Wr = mixing_matrix(G).toarray()
    for call in (
        lambda: bounds.bound_problem(model, labels, Wa, Wr, pop, 0.05, 3, 1),
        lambda: reference.affine_schedule(model, pop, Wa, Wr, 0.05, 3, 1),
        lambda: effective.fixed_point(model, pop, Wa, Wr, 0.05, 3, 1),
        lambda: effective.EffectiveLoss.from_population(model, Wa, 0.05, pop, np.zeros((8, 3))),
        lambda: bounds.generic_problem(
            labels, Wa, Wr, 0.05, 3, 1, L=2, mu=0.5, zeta2=[0, 0], optimizers=pop
        ),
        lambda: bounds.nonconvex_bound(
            labels,
            Wa,
            Wr,
            0.05,
            3,
            1,
            2,
            np.zeros((8, 3)),
            L=2,
            zeta2=[0, 0],
            zeta_b2=0,
            f_gap=1,
            optimizers=pop,
        ),
        lambda: bounds.theorem1_rate(Wa, 0.05, 0.5, 2.0, optimizers=pop),
    ):
        with pytest.raises(SsdflError, match=r"does not cover Nesterov \(nesterov-test\)"):
            call()
    # Adam too, named; the verify API says so as well
    adam = OptimizerPopulation([Adam()] * 8)
    with pytest.raises(SsdflError, match=r"does not cover Adam"):
        bounds.bound_problem(model, labels, Wa, Wr, adam, 0.05, 3, 1)


def test_builtin_declarations() -> None:
    assert SGD().fused() is not None and SGD().covered_by("theorem3")
    assert ProxSGD(0.2).fused().mu == 0.2 and ProxSGD(0.2).covered_by("theorem1")
    f = MomentumSGD(0.4).fused()
    assert f.rho == 0.4 and f.stores_v and not MomentumSGD(0.4).covered_by("theorem1")
    assert Adam().fused() is None and not any(Adam().covered_by(b) for b in BOUNDS)
    with pytest.raises(SsdflError, match="unknown bound"):
        SGD().covered_by("lemma9")
    # steady state only for optimizers carrying state, and only without reset
    assert MomentumSGD(0.5).cycle_alpha(3, 0.1, reset_state=False) == pytest.approx(2.0)
    assert MomentumSGD(0.5).cycle_alpha(3, 0.1, reset_state=True) == MomentumSGD(0.5).alpha(3, 0.1)
    assert ProxSGD(0.5).cycle_alpha(3, 0.1, reset_state=False) == ProxSGD(0.5).alpha(3, 0.1)


def test_registry_reads_test_optimizer_from_devices_file(tmp_path: Path) -> None:
    g = Graph.from_edges([(0, 1), (1, 2)])
    p = tmp_path / "d.csv"
    p.write_text("id,optimizer,rho\n0,sgd,\n1,nesterov-test,0.25\n2,momentum,0.5\n")
    register_optimizer(Nesterov)
    try:
        dev = read_devices(p, g)
        pop = dev.population()
        assert pop.optimizers == (SGD(), Nesterov(0.25), MomentumSGD(0.5))
    finally:
        OPTIMIZERS.pop("nesterov-test")


def test_recipe_optimizer_gets_coverage_note_and_default_lr(tmp_path: Path) -> None:
    """An optimizer defined only here: the planner's notes name it as not covered by the bounds,
    and a declared ``default_lr`` fills empty ``lr`` cells (asked of the object, not its name)."""
    from ssdfl.planner.plan import PlanConfig, plan_formation
    from ssdfl.planner.predict import with_default_lr

    @dataclass(frozen=True)
    class OwnStep(Nesterov):
        kind: ClassVar[str] = "ownstep-test"
        default_lr: ClassVar[float | None] = 0.123

    g = Graph.from_networkx(nx.cycle_graph(6))
    p = tmp_path / "d.csv"
    p.write_text(
        "id,optimizer,rho,lr\n0,sgd,,\n1,nesterov-test,0.25,\n2,ownstep-test,0.5,\n"
        "3,ownstep-test,0.5,0.7\n4,sgd,,\n5,momentum,0.5,\n"
    )
    register_optimizer(Nesterov)
    register_optimizer(OwnStep)
    try:
        dev = read_devices(p, g)
        notes = dev.population().coverage_note("recursion")
        assert notes is not None
        assert "nesterov-test" in notes and "ownstep-test" in notes and "3 of 6" in notes
        lr = with_default_lr(dev).lr
        assert lr[2] == 0.123 and lr[3] == 0.7  # own value kept
        assert np.isnan(lr[[0, 1, 4, 5]]).all()
        plan = plan_formation(
            g, dev, PlanConfig(fastest_mixing=False, schedule=False), progress=False
        )
        assert any("nesterov-test" in n for n in plan.notes)
    finally:
        OPTIMIZERS.pop("nesterov-test")
        OPTIMIZERS.pop("ownstep-test")
    sgd_only = OptimizerPopulation(SGD(), 4)
    assert sgd_only.coverage_note("recursion") is None
    assert np.isnan(sgd_only.default_lrs()).all()
    assert Adam.default_lr is not None and SGD.default_lr is None
