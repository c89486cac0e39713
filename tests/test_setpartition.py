"""Set-partitioning MILP (cvxpy + HiGHS) against exhaustive enumeration."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ssdfl
from conftest import set_partitions
from ssdfl.clusters.setpartition import exhaustive_set_partition, solve_set_partition


@settings(max_examples=40)
@given(
    n=st.integers(1, 6),
    seed=st.integers(0, 2**31),
    fixed=st.booleans(),
    density=st.floats(0.2, 1.0),
)
def test_milp_matches_exhaustive_and_brute_force(
    n: int, seed: int, fixed: bool, density: float
) -> None:
    rng = np.random.default_rng(seed)
    subsets = [
        np.array(s)
        for r in range(1, n + 1)
        for s in itertools.combinations(range(n), r)
        if rng.random() < density or r == 1
    ]
    cost = rng.uniform(0, 3, len(subsets))
    vmax = rng.uniform(0, 3, len(subsets))
    admissible = rng.random(len(subsets)) < 0.9
    admissible[[j for j, s in enumerate(subsets) if len(s) == 1]] = True
    S = int(rng.integers(1, n + 1)) if fixed else None
    # brute force over all set partitions of V
    index = {tuple(s.tolist()): j for j, s in enumerate(subsets)}
    best = None
    for part in set_partitions(list(range(n))):
        js = [index.get(tuple(sorted(b))) for b in part]
        if any(j is None or not admissible[j] for j in js) or (S is not None and len(js) != S):
            continue
        obj = cost[js].sum() + vmax[js].max()
        best = obj if best is None else min(best, obj)
    args = (n, subsets, cost, vmax, admissible, S)
    if best is None:
        with pytest.raises(ssdfl.InfeasibleError):
            exhaustive_set_partition(*args)
        with pytest.raises(ssdfl.InfeasibleError):
            solve_set_partition(*args)
        return
    ex = exhaustive_set_partition(*args)
    milp = solve_set_partition(*args)
    assert ex.objective == pytest.approx(best, abs=1e-9)
    assert milp.objective == pytest.approx(best, abs=1e-6)
    covered = np.concatenate([subsets[j] for j in milp.chosen])
    assert sorted(covered.tolist()) == list(range(n))


def test_uncovered_node_is_infeasible_with_a_clear_message() -> None:
    with pytest.raises(ssdfl.InfeasibleError, match=r"node\(s\) \[2\]"):
        solve_set_partition(3, [np.array([0, 1]), np.array([2])], admissible=np.array([1, 0]))


def test_bad_input() -> None:
    with pytest.raises(ssdfl.SsdflError, match="outside"):
        solve_set_partition(2, [np.array([0, 5])])
    with pytest.raises(ssdfl.SsdflError, match="≥ 0"):
        solve_set_partition(1, [np.array([0])], max_term=np.array([-1.0]))
    with pytest.raises(ssdfl.SsdflError, match="not installed"):
        solve_set_partition(1, [np.array([0])], solver="NOPE")


@settings(max_examples=40)
@given(n=st.integers(1, 6), seed=st.integers(0, 2**31), density=st.floats(0.2, 1.0))
def test_one_model_over_all_S_equals_the_best_per_S(n: int, seed: int, density: float) -> None:
    """Admissibility that depends on S (each candidate admissible up to its own S, or only in a
    window of S): one MILP over the S range equals a brute force over every set partition."""
    from ssdfl.clusters.setpartition import solve_set_partition_all_S

    rng = np.random.default_rng(seed)
    subsets = [
        np.array(s)
        for r in range(1, n + 1)
        for s in itertools.combinations(range(n), r)
        if rng.random() < density or r == 1
    ]
    cost = rng.uniform(0, 3, len(subsets))
    vmax = rng.uniform(0, 3, len(subsets))
    lo_S = rng.integers(1, n + 1, len(subsets))
    hi_S = np.maximum(lo_S, rng.integers(1, n + 1, len(subsets)))
    single = np.array([len(s) == 1 for s in subsets])
    lo_S[single], hi_S[single] = 1, n

    def adm(S: int) -> np.ndarray:
        return (lo_S <= S) & (S <= hi_S)

    s_range = (1, int(rng.integers(1, n + 1)))
    index = {tuple(s.tolist()): j for j, s in enumerate(subsets)}
    best = None
    for part in set_partitions(list(range(n))):
        S = len(part)
        js = [index.get(tuple(sorted(b))) for b in part]
        if not s_range[0] <= S <= s_range[1] or any(j is None or not adm(S)[j] for j in js):
            continue
        obj = cost[js].sum() + vmax[js].max()
        if best is None or obj < best[0] - 1e-12 or (abs(obj - best[0]) <= 1e-12 and S < best[1]):
            best = (obj, S)
    if best is None:
        with pytest.raises(ssdfl.InfeasibleError):
            solve_set_partition_all_S(n, subsets, cost, vmax, adm, s_range)
        return
    r = solve_set_partition_all_S(n, subsets, cost, vmax, adm, s_range)
    assert r.objective == pytest.approx(best[0], abs=1e-6)
    assert r.S == len(r.chosen) and s_range[0] <= r.S <= s_range[1]
    assert all(adm(r.S)[j] for j in r.chosen)
    assert sorted(np.concatenate([subsets[j] for j in r.chosen]).tolist()) == list(range(n))


def test_all_S_model_falls_back_to_presolve_when_the_fast_attempt_stops() -> None:
    """The all-S model's first attempt (no presolve, a node limit) and the fallback (presolve,
    no limit) give the same optimum: the fallback forced on random instances, checked against
    the fast path and a per-S brute force of the same MILP."""
    import ssdfl.clusters.setpartition as SP

    real = SP._highs
    calls: list[bool] = []

    def stop_fast(*args, presolve=True, node_limit=None):  # type: ignore[no-untyped-def]
        calls.append(presolve)
        if not presolve:
            return 1, None, "stopped at the node limit (forced)"
        return real(*args, presolve=presolve, node_limit=node_limit)

    rng = np.random.default_rng(7)
    for _ in range(6):
        n = int(rng.integers(3, 7))
        subsets = [np.array(s) for r in range(1, n + 1) for s in itertools.combinations(range(n), r)
                   if r == 1 or rng.random() < 0.5]  # fmt: skip
        cost, vmax = rng.uniform(0, 3, len(subsets)), rng.uniform(0, 3, len(subsets))

        def adm(S: int, k: int = len(subsets)) -> np.ndarray:
            return np.ones(k, dtype=bool)

        fast = SP.solve_set_partition_all_S(n, subsets, cost, vmax, adm, (1, n))
        SP._highs = stop_fast
        try:
            calls.clear()
            slow = SP.solve_set_partition_all_S(n, subsets, cost, vmax, adm, (1, n))
        finally:
            SP._highs = real
        assert calls and calls.count(False) == calls.count(True)  # each attempt fell back
        assert slow.objective == pytest.approx(fast.objective, abs=1e-9)
        assert slow.S == fast.S  # fewest clusters among the optima, both ways
        per_S = []
        for S in range(1, n + 1):
            try:
                per_S.append(solve_set_partition(n, subsets, cost, vmax, n_clusters=S).objective)
            except ssdfl.InfeasibleError:  # no exact cover with S clusters
                continue
        assert fast.objective == pytest.approx(min(per_S), abs=1e-9)
