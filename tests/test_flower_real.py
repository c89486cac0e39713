"""ExactFedAvg with the real Flower (flwr) types, against Flower's own FedAvg aggregation and
against an exact rational reference. Skipped when flwr is not installed (``ssdfl[flower]``)."""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
import pytest

flwr = pytest.importorskip("flwr")

from flwr.common import (  # noqa: E402
    Code,
    FitRes,
    Parameters,
    Status,
    ndarrays_to_parameters,
    parameters_to_ndarrays,
)
from flwr.server.strategy import FedAvg  # noqa: E402

from ssdfl.aggregation.flower import ExactFedAvg  # noqa: E402

SHAPES = [(7, 5), (5,), (3, 2, 2)]


def _fit_results(dtype: type, counts: tuple[int, ...], seed: int) -> list[tuple[None, FitRes]]:
    rng = np.random.default_rng(seed)
    out = []
    for n in counts:
        arrs = [(rng.standard_normal(s) * 10.0 ** rng.integers(-3, 4)).astype(dtype)
                for s in SHAPES]  # fmt: skip
        res = FitRes(status=Status(code=Code.OK, message="ok"),
                     parameters=ndarrays_to_parameters(arrs), num_examples=n,
                     metrics={"loss": float(n)})  # fmt: skip
        out.append((None, res))  # Flower's FedAvg reads only the FitRes, never the proxy
    return out


def _exact(results: list[tuple[None, FitRes]], dtype: type) -> list[np.ndarray]:
    """The specified result (docs/gradssharding.md §2): the exact sum A = Σ n_i x_i (rationals)
    rounded to binary64, one IEEE division by W = Σ n_i (exact here), rounded to ``dtype``."""
    arrs = [(parameters_to_ndarrays(r.parameters), r.num_examples) for _, r in results]
    total = sum(n for _, n in arrs)
    out = []
    for t, shape in enumerate(SHAPES):
        flat = [a[t].reshape(-1) for a, _ in arrs]
        vals = [sum(Fraction(n) * Fraction(float(f[e])) for f, (_, n) in zip(flat, arrs))
                for e in range(flat[0].size)]  # fmt: skip
        out.append(
            (np.array([float(v) for v in vals], dtype=np.float64) / float(total))
            .astype(dtype)
            .reshape(shape)
        )
    return out


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("strategy", ["sharded", "flat", "tree"])
def test_exact_fedavg_matches_flower_fedavg(dtype: type, strategy: str) -> None:
    counts = (10, 3, 7, 250, 1)
    results = _fit_results(dtype, counts, seed=5)
    ours, _ = ExactFedAvg(strategy=strategy, shards=3).aggregate_fit(1, results, [])
    assert isinstance(ours, Parameters)
    got = parameters_to_ndarrays(ours)
    # Flower's own FedAvg (in-place and list variants) on the same results
    for inplace in (True, False):
        ref, _ = FedAvg(inplace=inplace).aggregate_fit(1, results, [])
        ref_arrs = parameters_to_ndarrays(ref)
        for a, b in zip(got, ref_arrs):
            assert a.shape == b.shape and a.dtype == b.dtype
            tol = 1e-5 if dtype == np.float32 else 1e-12
            np.testing.assert_allclose(a, b, rtol=tol, atol=tol * np.abs(b).max())
    # ours is the correctly rounded exact weighted mean, bit for bit
    for a, e in zip(got, _exact(results, dtype)):
        assert a.tobytes() == e.tobytes()


def test_exact_fedavg_is_order_independent_with_flower_types() -> None:
    results = _fit_results(np.float32, (4, 9, 1, 16), seed=11)
    strat = ExactFedAvg(fit_metrics_aggregation_fn=lambda ms: {"n": sum(k for k, _ in ms)})
    base, metrics = strat.aggregate_fit(1, results, [])
    assert metrics == {"n": 30}
    ref = [a.tobytes() for a in parameters_to_ndarrays(base)]
    for perm in itertools.permutations(results):
        p, _ = strat.aggregate_fit(1, list(perm), [])
        assert [a.tobytes() for a in parameters_to_ndarrays(p)] == ref


def test_failures_and_empty_results_follow_flower() -> None:
    results = _fit_results(np.float32, (2, 3), seed=1)
    for accept in (True, False):
        ours = ExactFedAvg(accept_failures=accept).aggregate_fit(2, results, [RuntimeError("x")])
        theirs = FedAvg(accept_failures=accept).aggregate_fit(2, results, [RuntimeError("x")])
        assert (ours[0] is None) == (theirs[0] is None)
    assert ExactFedAvg().aggregate_fit(1, [], []) == (None, {})
