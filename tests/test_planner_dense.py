"""The planner's size guard on dense graphs (issue 24, item 5): K₂₀₀₀ is refused at once with
the estimate, the limit can be raised, and the estimate is logged (``ssdfl.planner.estimate``)."""

from __future__ import annotations

import logging
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from ssdfl.errors import SsdflError
from ssdfl.graphs.structure import Graph
from ssdfl.planner.config import PlanConfig
from ssdfl.planner.estimate import (
    DEFAULT_MAX_EDGES,
    PlanTooLargeError,
    check_plan_size,
    estimate_plan,
)
from ssdfl.planner.plan import plan_formation


def complete_edges(n: int) -> np.ndarray:
    iu, ju = np.triu_indices(n, k=1)
    return np.stack([iu, ju], axis=1)


def fast_cfg(**kw: object) -> PlanConfig:
    return PlanConfig(pilot_budget=0, fastest_mixing=False, schedule=False, theorem2=False, **kw)


def test_k2000_is_refused_within_seconds_of_cpu() -> None:
    n = 2000
    g = Graph.from_edges(complete_edges(n), n=n)
    assert g.m == n * (n - 1) // 2 == 1_999_000  # closed form of K_n's edge count
    t0 = time.process_time()
    with pytest.raises(PlanTooLargeError) as exc:
        plan_formation(g)
    cpu = time.process_time() - t0
    assert cpu < 5.0, cpu
    msg = str(exc.value)
    assert "1,999,000 edges" in msg and "2,000 devices" in msg
    assert "--max-edges" in msg and "PlanConfig.max_edges" in msg
    assert f"{DEFAULT_MAX_EDGES:,}" in msg
    assert "CPU" in msg and "GiB" in msg
    assert isinstance(exc.value, SsdflError)


def test_limit_can_be_raised_and_the_plan_is_unchanged() -> None:
    n = 30
    g = Graph.from_edges(complete_edges(n), n=n)  # 435 edges
    with pytest.raises(PlanTooLargeError, match="435 edges"):
        plan_formation(g, config=fast_cfg(max_edges=434))
    raised = plan_formation(g, config=fast_cfg(max_edges=435))
    unlimited = plan_formation(g, config=fast_cfg(max_edges=0))
    assert [c.tolist() for c in raised.clusters] == [c.tolist() for c in unlimited.clusters]
    assert sorted(x for c in raised.clusters for x in c.tolist()) == list(range(n))


@pytest.mark.parametrize("bad", [-1, 1.5, "10", True])
def test_max_edges_is_validated(bad: object) -> None:
    with pytest.raises(SsdflError, match="max_edges"):
        PlanConfig(max_edges=bad).validate()  # type: ignore[arg-type]


def test_estimate_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("ssdfl.test_planner_dense")
    with caplog.at_level(logging.DEBUG, logger="ssdfl"):
        est = check_plan_size(2000, 1_999_000, None, log)  # no limit: logged, not refused
    recs = [r for r in caplog.records if "estimate" in r.getMessage()]
    assert len(recs) == 1 and recs[0].levelno == logging.INFO
    assert "1,999,000 edges" in recs[0].getMessage()
    assert est.cpu_s > estimate_plan(400, 79_800).cpu_s > estimate_plan(100, 4_950).cpu_s
    # small plans log at DEBUG only
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger="ssdfl"):
        check_plan_size(30, 435, DEFAULT_MAX_EDGES, log)
    assert [r.levelno for r in caplog.records if "estimate" in r.getMessage()] == [logging.DEBUG]


def test_plan_formation_logs_the_estimate(caplog: pytest.LogCaptureFixture) -> None:
    g = Graph.from_edges(complete_edges(12), n=12)
    with caplog.at_level(logging.DEBUG, logger="ssdfl"):
        plan_formation(g, config=fast_cfg())
    msgs = [r.getMessage() for r in caplog.records if "(estimate)" in r.getMessage()]
    assert msgs and "12 devices, 66 edges" in msgs[0]


def test_cli_refuses_k2000_at_once_and_writes_nothing(tmp_path: Path) -> None:
    n = 2000
    e = complete_edges(n)
    path = tmp_path / "k2000.edgelist"
    path.write_text("\n".join(f"{a} {b}" for a, b in e.tolist()) + "\n")
    out = tmp_path / "out"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    r = subprocess.run(
        [sys.executable, "-c", "from ssdfl.cli import main; main()", "form", str(path),
         "--out", str(out)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    assert r.returncode != 0
    err = " ".join(r.stderr.split())
    assert "--max-edges" in err and "1,999,000 edges" in err, r.stderr
    assert "Traceback" not in r.stderr
    assert not out.exists()
    assert cpu < 30.0, cpu  # start-up imports + reading 2·10⁶ edges; no planning
