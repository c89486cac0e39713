"""Short run of the formation.json fuzz target (the long run: ``python
tests/fuzz/fuzz_formation.py --n 20000``; docs/reliability.md)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fuzz_formation as ff


def test_seeds_are_valid_and_accepted(tmp_path: Path) -> None:
    gs = ff.graphs()
    for key, doc in ff.seeds():
        assert ff.expected_valid(doc, gs[key])
        assert ff.check(json.dumps(doc).encode(), gs[key], tmp_path) == "accepted"


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: d["formation"]["clusters"][0].append("d"),  # a node in two clusters
        lambda d: d["formation"]["clusters"][1].remove("h"),  # not a partition
        lambda d: d["formation"]["clusters"][0].append("zz"),  # not a graph node
        lambda d: d["per_cluster"][0]["fmmc_weights"][0].__setitem__(2, -0.1),
        lambda d: d["per_cluster"][0]["fmmc_weights"][0].__setitem__(2, 0.9),  # row sum > 1
        lambda d: d["per_cluster"][0]["fmmc_weights"].append(["a", "d", 0.1]),  # outside
        lambda d: d["formation"].__setitem__(
            "clusters", [["a", "b", "d"], ["c", "e", "f", "7", "h"]]
        ),  # disconnected
        lambda d: d["nodes"].__setitem__(0, True),
        lambda d: d["config"].__setitem__("mixing_rule", "bogus"),
        lambda d: d["formation"].__setitem__("S", 2.0),
    ],
)
def test_each_documented_rule_refuses(edit, tmp_path: Path) -> None:
    gs = ff.graphs()
    doc = json.loads(json.dumps(ff.seeds()[0][1]))
    edit(doc)
    assert not ff.expected_valid(doc, gs["named"])
    assert ff.check(json.dumps(doc).encode(), gs["named"], tmp_path) == "refused"


def test_v1_float_index_and_nan_weight_refused(tmp_path: Path) -> None:
    gs = ff.graphs()
    doc = json.loads(json.dumps(ff.seeds()[2][1]))
    doc["clusters"][2][0] = 6.0
    assert ff.check(json.dumps(doc).encode(), gs["plain"], tmp_path) == "refused"
    text = json.dumps(ff.seeds()[2][1]).replace("0.25", "NaN").encode()
    assert ff.check(text, gs["plain"], tmp_path) == "refused"


def test_short_fuzz_run_has_no_findings() -> None:
    res = ff.run(600, seed=12345)
    assert res["findings"] == [], res["findings"][:3]
    assert res["counts"].get("accepted", 0) > 20 and res["counts"].get("refused", 0) > 200


def test_the_oracle_catches_a_reader_that_skips_a_rule(monkeypatch) -> None:
    """A reader without the FMMC-weight rules must produce wrong acceptances (the fuzz target
    can fail)."""
    import ssdfl.planner.formation_io as fio

    monkeypatch.setattr(fio, "_fmmc", lambda raw, clusters, where, resolve: [None] * len(clusters))
    res = ff.run(400, seed=7)
    assert any(r == "wrong acceptance" for r, _ in res["findings"])
