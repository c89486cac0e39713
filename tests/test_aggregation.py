"""Exact FedAvg: bit-identity across strategies/orders and agreement with a Fraction oracle."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from ssdfl.aggregation import (
    NonFiniteUpdateError,
    WeightError,
    exact_mean_reference,
    fedavg,
    layer_shard_bounds,
    plan_weights,
    shard_bounds,
    tree_levels,
)
from ssdfl.errors import SsdflError

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def bits(a: np.ndarray) -> bytes:
    return np.ascontiguousarray(a).tobytes()


def finite_floats(dtype: type) -> st.SearchStrategy[float]:
    width = 32 if dtype == np.float32 else 64
    return st.floats(allow_nan=False, allow_infinity=False, width=width, allow_subnormal=True)


@st.composite
def client_updates(draw: st.DrawFn, max_n: int = 7, max_p: int = 40):
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    n = draw(st.integers(1, max_n))
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=max_p // 3 + 1))
    elems = st.one_of(
        finite_floats(dtype),
        st.sampled_from([0.0, -0.0, 1.0, -1.0]),
        st.floats(-1e3, 1e3, width=32 if dtype == np.float32 else 64),
    )
    xs = [draw(hnp.arrays(dtype, shape, elements=elems)) for _ in range(n)]
    wkind = draw(st.sampled_from(["none", "int", "float"]))
    if wkind == "none":
        w = None
    elif wkind == "int":
        w = draw(st.lists(st.integers(0, 10**6), min_size=n, max_size=n).filter(any))
    else:
        w = draw(st.lists(st.floats(1e-6, 1e6), min_size=n, max_size=n))
    return xs, w


@SETTINGS
@given(client_updates(), st.data())
def test_all_strategies_bit_identical_and_match_oracle(case, data) -> None:
    xs, w = case
    ref = exact_mean_reference(xs, w)
    flat = fedavg(xs, w, strategy="flat")
    assert flat.dtype == xs[0].dtype and flat.shape == xs[0].shape
    assert bits(flat) == bits(ref.reshape(flat.shape))
    m = data.draw(st.integers(1, 3 * max(1, flat.size) + 2), label="shards")
    fan = data.draw(st.integers(2, 5), label="fan_in")
    perm = data.draw(st.permutations(range(len(xs))), label="arrival order")
    xs_p = [xs[i] for i in perm]
    w_p = None if w is None else [w[i] for i in perm]
    for r in (
        fedavg(xs, w, strategy="sharded", shards=m),
        fedavg(xs_p, w_p, strategy="sharded", shards=m),
        fedavg(xs, w, strategy="tree"),
        fedavg(xs_p, w_p, strategy="tree", tree="lifl"),
        fedavg(xs_p, w_p, strategy="tree", fan_in=fan),
    ):
        assert bits(r) == bits(flat)


@SETTINGS
@given(
    st.sampled_from([np.float32, np.float64]),
    st.integers(1, 30),
    st.integers(1, 6),
    st.integers(0, 2**32),
)
def test_extreme_magnitudes_and_cancellation(dtype, n, p, seed) -> None:
    """Huge, tiny (subnormal) and cancelling terms: exact against Fraction, all strategies equal."""
    rng = np.random.default_rng(seed)
    fi = np.finfo(dtype)
    pool = np.array(
        [fi.max, -fi.max, fi.tiny, -fi.tiny, fi.smallest_subnormal, 1.0, -1.0, 0.0, -0.0, 3.0],
        dtype=dtype,
    )
    xs = [pool[rng.integers(0, len(pool), p)] for _ in range(n)]
    w = rng.integers(1, 5, n).astype(float)
    ref = exact_mean_reference(xs, w)
    for strat in ("flat", "sharded", "tree"):
        r = fedavg(xs, w, strategy=strat, shards=4, fan_in=2 if strat == "tree" else None)
        assert bits(r) == bits(ref)
    assert np.all(np.isfinite(ref))


def test_exactness_beats_naive_summation() -> None:
    """(1e30 + 1 − 1e30)/3 is 1/3 exactly; naive float32 summation loses the 1."""
    xs = [np.array([v], dtype=np.float32) for v in (1e30, 1.0, -1e30)]
    assert fedavg(xs)[0] == np.float32(1 / 3)
    assert np.float32(np.float32(1e30) + np.float32(1.0) - np.float32(1e30)) / 3 == 0


def test_uniform_mean_is_correctly_rounded_on_simple_values() -> None:
    xs = [np.full(3, v, dtype=np.float64) for v in (0.1, 0.2, 0.3, 0.4)]
    exact = (Fraction(0.1) + Fraction(0.2) + Fraction(0.3) + Fraction(0.4)) / 4
    assert fedavg(xs)[0] == float(exact)


def test_weights_power_of_two_scaling_invariant_and_weighted() -> None:
    rng = np.random.default_rng(0)
    xs = [rng.standard_normal(50) for _ in range(4)]
    w = np.array([1.0, 3.0, 5.0, 7.0])
    a = fedavg(xs, w)
    assert bits(a) == bits(fedavg(xs, w * 2.0**40)) == bits(fedavg(xs, w / 1024))
    np.testing.assert_allclose(a, np.average(np.stack(xs), axis=0, weights=w), rtol=1e-14)
    # a zero weight removes the client
    assert bits(fedavg([*xs, xs[0] * 1e9], [*w, 0.0])) == bits(a)


def test_signed_zero_and_dtype_shape_preserved() -> None:
    xs = [np.full((2, 3), -0.0, dtype=np.float32)] * 3
    r = fedavg(xs, strategy="sharded", shards=7)
    assert r.shape == (2, 3) and r.dtype == np.float32
    assert not np.any(np.signbit(r))  # exact zero → +0 by definition


def test_dict_updates_and_per_layer_shards() -> None:
    rng = np.random.default_rng(3)
    keys = {"conv.w": (4, 3, 3), "conv.b": (4,), "fc.w": (10, 7), "fc.b": (10,)}
    ups = [
        {k: rng.standard_normal(s).astype(np.float32) for k, s in keys.items()} for _ in range(5)
    ]
    w = [10, 20, 30, 40, 50]
    flat = fedavg(ups, w)
    assert list(flat) == list(keys) and all(flat[k].shape == s for k, s in keys.items())
    for kw in (
        {"strategy": "sharded", "shards": 3, "per_layer": True},
        {"strategy": "sharded", "shards": 9},
        {"strategy": "tree", "tree": "lifl"},
    ):
        r = fedavg(ups, w, **kw)
        assert all(bits(r[k]) == bits(flat[k]) for k in keys)
    ref = exact_mean_reference([np.concatenate([u[k].ravel() for k in keys]) for u in ups], w)
    assert bits(np.concatenate([flat[k].ravel() for k in keys])) == bits(ref)


def test_nonfinite_input_names_the_client() -> None:
    xs = [np.zeros(600, np.float32) for _ in range(4)]
    xs[2] = xs[2].copy()
    xs[2][517] = np.nan
    for strat in ("flat", "sharded", "tree"):
        with pytest.raises(NonFiniteUpdateError, match=r"client bob.*NaN at flat element 517"):
            fedavg(xs, strategy=strat, fan_in=2, names=["a", "b", "bob", "c"])
    xs[2][517] = -np.inf
    with pytest.raises(NonFiniteUpdateError, match="value -inf"):
        fedavg(xs)


def test_bad_inputs() -> None:
    x = np.zeros(3)
    with pytest.raises(WeightError):
        fedavg([x, x], [1.0, -1.0])
    with pytest.raises(WeightError):
        fedavg([x, x], [0.0, 0.0])
    with pytest.raises(WeightError):
        fedavg([x, x], [1.0])
    with pytest.raises(WeightError, match="2\\^-64"):
        fedavg([x, x], [1.0, 1e-30])
    with pytest.raises(TypeError):
        fedavg([np.zeros(3, np.int64)])
    with pytest.raises(SsdflError):
        fedavg([x, np.zeros(4)])
    with pytest.raises(SsdflError):
        fedavg([])
    with pytest.raises(SsdflError):
        fedavg([x], strategy="bogus")  # type: ignore[arg-type]


def test_plan_weights_closed_form() -> None:
    p = plan_weights([1, 1, 1], 3)  # W = 3 = 0.75 · 2^2
    assert (p.k, p.w_prime) == (2, 0.75)
    p = plan_weights([3.0, 5.0], 2)  # scaled by 2^-2: 0.75 + 1.25 = 2 = 0.5 · 2^2
    assert (p.k, p.w_prime) == (2, 0.5)
    assert np.array_equal(p.scaled, [0.75, 1.25])


@given(st.integers(0, 10**6), st.integers(1, 50))
def test_shard_bounds_balanced(p: int, m: int) -> None:
    b = shard_bounds(p, m)
    q, r = divmod(p, m)
    assert [e - s for s, e in b] == [q + 1] * r + [q] * (m - r)
    assert b[0][0] == 0 and b[-1][1] == p
    assert all(b[i][1] == b[i + 1][0] for i in range(m - 1))


def test_layer_shard_bounds_cut_at_tensors() -> None:
    sizes = [100, 5, 300, 7, 100]
    b = layer_shard_bounds(sizes, 3)
    ends = set(np.cumsum([0, *sizes]).tolist())
    assert all(s in ends and e in ends for s, e in b)
    assert b[0][0] == 0 and b[-1][1] == sum(sizes)
    assert b == [(0, 105), (105, 405), (405, 512)]


@pytest.mark.parametrize("n", [1, 2, 3, 7, 20, 27, 50])
def test_tree_shapes(n: int) -> None:
    k = math.ceil(math.sqrt(n))
    lam = tree_levels(n)
    assert sorted(c for g in lam[0] for c in g) == list(range(n))
    assert all(len(g) <= k for g in lam[0]) and len(lam[0]) == math.ceil(n / k)
    assert len(lam[-1]) == 1
    b = max(2, math.ceil(round(n ** (1 / 3), 9)))
    lifl = tree_levels(n, kind="lifl")
    assert len(lifl[0]) == math.ceil(n / b)
    if n == 20:
        assert [len(lv) for lv in lifl] == [7, 3, 1]  # the paper's LIFL layout
        assert [len(g) for g in lifl[0]] == [3, 3, 3, 3, 3, 3, 2]
        assert [len(lv) for lv in lam] == [4, 1]


def test_large_block_boundaries_tree_vs_flat() -> None:
    """Partial sums spanning several kernel blocks merge exactly (block = 2^20 elements)."""
    rng = np.random.default_rng(7)
    xs = [
        (rng.standard_normal((1 << 20) + 1234) * 10.0 ** rng.integers(-20, 20)).astype(np.float32)
        for _ in range(5)
    ]
    flat = fedavg(xs)
    assert bits(fedavg(xs, strategy="tree", fan_in=2)) == bits(flat)
    np.testing.assert_allclose(flat, np.mean(np.stack(xs).astype(np.float64), axis=0), rtol=1e-6)


@SETTINGS
@given(client_updates(max_n=9, max_p=300), st.integers(0, 3))
def test_fast_window_path_equals_wide_accumulator(case, spread) -> None:
    """The kernel's window fast paths give the same bits (final) and bytes (partial sums) as
    the wide accumulator alone, including elements that fall back (values far below the group
    maximum)."""
    from ssdfl import _core

    xs, w = case
    flat = [np.ascontiguousarray(x).reshape(-1) for x in xs]
    if spread:  # force wide exponent spreads inside a group
        scale = np.asarray(10.0 ** (-30 * spread), dtype=flat[0].dtype)
        flat = [x * scale if i % 2 else x for i, x in enumerate(flat)]
    plan = plan_weights(w, len(flat))
    fn = _core.exact_reduce_f32 if flat[0].dtype == np.float32 else _core.exact_reduce_f64
    n = flat[0].shape[0]
    a = np.empty(n, flat[0].dtype)
    b = np.empty(n, flat[0].dtype)
    fn(flat, plan.scaled, [], n, k=plan.k, w_prime=plan.w_prime, out=a, fast=True)
    fn(flat, plan.scaled, [], n, k=plan.k, w_prime=plan.w_prime, out=b, fast=False)
    assert bits(a) == bits(b)
    # exact partial sums: the fast window encoding is byte-identical to the wide one
    pa = fn(flat, plan.scaled, [], n, fast=True)
    pb = fn(flat, plan.scaled, [], n, fast=False)
    assert pa.tobytes() == pb.tobytes()
    # merging partial sums (tree inner nodes and roots): fast i128 merge vs wide accumulator
    half = len(flat) // 2
    parts = [fn(flat[:half], plan.scaled[:half], [], n), fn(flat[half:], plan.scaled[half:], [], n)]
    empty = np.empty(0)
    merged_fast = fn([], empty, parts, n, fast=True)
    assert merged_fast.tobytes() == fn([], empty, parts, n, fast=False).tobytes()
    fn([], empty, parts, n, k=plan.k, w_prime=plan.w_prime, out=a, fast=True)
    fn([], empty, parts, n, k=plan.k, w_prime=plan.w_prime, out=b, fast=False)
    assert bits(a) == bits(b)


def test_mixed_weight_widths_at_the_top_of_the_range() -> None:
    """A 1-bit weight next to a 53-bit one, with values near the dtype's maximum: the widest
    digit window of the accumulator (regression: this once indexed past the layout)."""
    for dt in (np.float32, np.float64):
        big = np.finfo(dt).max
        xs = [np.array([big, -big, 1.0], dtype=dt), np.array([big, big / 3, -1.0], dtype=dt)]
        w = [1.0, 0.7]
        ref = exact_mean_reference(xs, w)
        assert bits(fedavg(xs, w)) == bits(ref)
        assert bits(fedavg(xs, w, strategy="tree", fan_in=2)) == bits(ref)
