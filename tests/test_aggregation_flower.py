"""fedavg on Flower's fit results, and the Flower strategy (against flwr if installed, else
against a stand-in with Flower's documented interface: FedAvg(accept_failures=...,
fit_metrics_aggregation_fn=...), FitRes.parameters/num_examples/metrics,
flwr.common.ndarrays_to_parameters / parameters_to_ndarrays)."""

from __future__ import annotations

import importlib
import sys
import types
from fractions import Fraction

import numpy as np
import pytest

from ssdfl.aggregation import fedavg


def _results(seed: int = 0):
    rng = np.random.default_rng(seed)
    return [
        (
            [
                rng.standard_normal((3, 2)).astype(np.float32),
                rng.standard_normal(2).astype(np.float32),
            ],
            n,
        )
        for n in (10, 3, 7)
    ]


def test_fedavg_accepts_flower_tuples() -> None:
    res = _results()
    out = fedavg(res)
    assert isinstance(out, list) and [a.shape for a in out] == [(3, 2), (2,)]
    for t in range(2):  # weighted by num_examples, exact rational mean rounded once
        exact = [
            sum(Fraction(n) * Fraction(float(arrs[t].reshape(-1)[e])) for arrs, n in res) / 20
            for e in range(res[0][0][t].size)
        ]
        assert out[t].reshape(-1).tolist() == [float(np.float32(float(x))) for x in exact]
    assert [a.tobytes() for a in fedavg(res[::-1])] == [a.tobytes() for a in out]


def _fake_flwr(monkeypatch) -> None:
    common = types.ModuleType("flwr.common")
    common.ndarrays_to_parameters = lambda arrs: ("params", [np.asarray(a) for a in arrs])
    common.parameters_to_ndarrays = lambda p: list(p[1])
    strategy = types.ModuleType("flwr.server.strategy")

    class FedAvg:
        def __init__(self, *, accept_failures=True, fit_metrics_aggregation_fn=None, **kw):
            self.accept_failures = accept_failures
            self.fit_metrics_aggregation_fn = fit_metrics_aggregation_fn

    strategy.FedAvg = FedAvg
    for name, mod in {"flwr": types.ModuleType("flwr"), "flwr.common": common,
                      "flwr.server": types.ModuleType("flwr.server"),
                      "flwr.server.strategy": strategy}.items():  # fmt: skip
        monkeypatch.setitem(sys.modules, name, mod)
    monkeypatch.delitem(sys.modules, "ssdfl.aggregation.flower", raising=False)


def test_flower_strategy_aggregate_fit(monkeypatch) -> None:
    try:
        import flwr  # noqa: F401
        from flwr.common import ndarrays_to_parameters as to_p
    except ImportError:
        _fake_flwr(monkeypatch)
        to_p = sys.modules["flwr.common"].ndarrays_to_parameters
    flower = importlib.import_module("ssdfl.aggregation.flower")
    res = _results(1)
    fit = [(None, types.SimpleNamespace(parameters=to_p(a), num_examples=n, metrics={"m": n}))
           for a, n in res]  # fmt: skip
    strat = flower.ExactFedAvg(fit_metrics_aggregation_fn=lambda ms: {"n": sum(k for k, _ in ms)})
    params, metrics = strat.aggregate_fit(1, fit, [])
    got = sys.modules["flwr.common"].parameters_to_ndarrays(params)
    assert [a.tobytes() for a in got] == [a.tobytes() for a in fedavg(res)]
    assert metrics == {"n": 20}
    strat.accept_failures = False
    assert strat.aggregate_fit(1, fit, [RuntimeError("x")]) == (None, {})


def test_flower_module_says_what_to_install(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "flwr", None)
    monkeypatch.setitem(sys.modules, "flwr.common", None)
    monkeypatch.delitem(sys.modules, "ssdfl.aggregation.flower", raising=False)
    with pytest.raises(ImportError, match=r"ssdfl\[flower\]"):
        importlib.import_module("ssdfl.aggregation.flower")
