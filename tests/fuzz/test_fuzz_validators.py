"""Short run of the validator fuzz targets (config, pricing, devices-df); the long run is
``python tests/fuzz/fuzz_validators.py --n 20000 --seed 0`` (docs/reliability.md)."""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fuzz_validators as fv

_N = int(os.environ.get("SSDFL_FUZZ_EXAMPLES", "40")) * 4


@pytest.mark.parametrize("target", fv.TARGETS)
def test_short_run_finds_nothing(target: str) -> None:
    counts = fv.run([target], _N, seed=12345, verbose=True)[target]
    assert counts["finding"] == 0, counts
    assert counts["accepted"] > 0 and counts["refused"] > 0, counts  # both sides exercised


@pytest.mark.parametrize("target", ["config", "pricing"])
def test_seeds_are_accepted(target: str, tmp_path: Path) -> None:
    seeds = fv.config_seeds() if target == "config" else fv.pricing_seeds()
    for doc in seeds:
        data = fv.to_toml(doc)
        out = (fv.check_config(data, tmp_path) if target == "config"
               else fv.check_pricing(data, tmp_path))  # fmt: skip
        assert out == "accepted", doc


def test_oracles_catch_what_the_audit_found(tmp_path: Path) -> None:
    """The oracles are not vacuous: fed the audit's wrongly accepted values directly, they
    object (the readers refuse these now, so the oracles are called on hand-built objects)."""
    from ssdfl.aggregation.cost import Pricing

    assert fv.pricing_oracle(Pricing(read_mb_s=0.0)) is not None
    assert fv.pricing_oracle(Pricing(request_usd=1e308)) is not None
    import ssdfl
    from ssdfl.theory.devices import homogeneous_devices

    g = ssdfl.Graph.from_edges([(0, 1), (1, 2)])
    t = homogeneous_devices(3)
    assert fv.devices_oracle(t, g, {"id": [0, True, 2]}) is not None  # True is not node 1
    t.n_samples[0] = float("inf")
    assert fv.devices_oracle(t, g, {"id": [0, 1, 2]}) is not None


def test_devices_cases_are_reproducible() -> None:
    a = fv.devices_case(random.Random(7))
    b = fv.devices_case(random.Random(7))
    assert repr(a) == repr(b)
