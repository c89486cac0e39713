"""Exact, order-independent weighted FedAvg reduction (the numerical kernel of every strategy).

Definition (what every strategy computes, bit for bit). For client updates ``x_i`` of one
floating dtype ``T`` (float32 or float64) and weights ``w_i ≥ 0`` (not all zero), let

* ``A = Σ_i w_i x_i`` and ``W = Σ_i w_i`` — exact real numbers, per element;
* ``k`` the integer with ``2^-k W ∈ [1/2, 1)``;
* ``result = sat_T(fl_T(fl64(2^-k A) ⊘ fl64(2^-k W)))``,

where ``fl64`` rounds a real to binary64 (round to nearest, ties to even, gradual underflow),
``⊘`` is IEEE binary64 division, ``fl_T`` rounds binary64 to ``T`` and ``sat_T`` clamps to
``T``'s finite range. An exact zero ``A = 0`` gives ``+0``. Scaling all weights by a common
power of two leaves the result unchanged.

``A`` is accumulated exactly (fixed-point integers in Rust, :mod:`ssdfl._core`), so it does not
depend on the order in which clients are added, on how they are grouped into partial sums (trees),
or on how elements are sliced (shards): every strategy yields identical bits. See
docs/gradssharding.md for the proof and the error bound (relative error < 3·2^-53 before the
final rounding to ``T``; < 0.5 + 3·2^-29 ulp of float32 after it).

Weights: finite, ≥ 0, at least one > 0, and every nonzero weight ≥ 2^-64 × the largest one.
Non-finite updates (NaN, ±inf) are rejected with :class:`NonFiniteUpdateError` naming the client
and the element.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ssdfl import _core
from ssdfl.errors import NonFiniteUpdateError, PartialSumError, SsdflError, WeightError

SUPPORTED_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
GROUP: int = int(_core.EXACT_GROUP)
LIMBS: dict[np.dtype, int] = {
    np.dtype(np.float32): int(_core.EXACT_LIMBS_F32),
    np.dtype(np.float64): int(_core.EXACT_LIMBS_F64),
}
#: The kernel's typed error (``kind`` plus the kind's fields as attributes).
ExactSumError = _core.ExactSumError


@dataclass(frozen=True)
class WeightPlan:
    """Weights prepared for the exact kernel.

    ``scaled[i] = w_i · 2^-s`` (exact) with ``s = ⌊log2 max w⌋``, so every scaled weight lies in
    ``{0} ∪ [2^-64, 2)``; ``k`` and ``w_prime = fl64(2^-k Σ scaled)`` describe the exact total.
    """

    scaled: np.ndarray
    k: int
    w_prime: float

    @property
    def n(self) -> int:
        return int(self.scaled.shape[0])


def plan_weights(weights: Sequence[float] | np.ndarray | None, n: int) -> WeightPlan:
    """Validate weights (``None`` = uniform) and compute the scaled weights and ``(k, w')``."""
    if n <= 0:
        raise SsdflError("FedAvg needs at least one client update")
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64).reshape(-1)
    if w.shape[0] != n:
        raise WeightError(f"{w.shape[0]} weights given for {n} client updates")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        bad = int(np.flatnonzero(~np.isfinite(w) | (w < 0))[0])
        raise WeightError(f"weight {bad} = {w[bad]!r}: weights must be finite and >= 0")
    wmax = float(w.max())
    if wmax <= 0:
        raise WeightError("all weights are zero")
    s = math.frexp(wmax)[1] - 1  # wmax ∈ [2^s, 2^(s+1))
    scaled = np.ldexp(w, -s)
    # exact: no underflow since every nonzero weight is checked to stay ≥ 2^-64 after scaling
    small = (scaled > 0) & (scaled < 2.0**-64)
    if np.any(small):
        bad = int(np.flatnonzero(small)[0])
        raise WeightError(
            f"weight {bad} = {w[bad]!r} is below 2^-64 times the largest weight {wmax!r}; "
            "such a spread is not supported (drop the client or rescale)"
        )
    total = sum((Fraction(float(x)) for x in scaled), Fraction(0))
    k = total.numerator.bit_length() - total.denominator.bit_length() + 1
    # 2^-k total ∈ [1/2, 1): adjust for the ±1 uncertainty of the bit-length estimate
    while total / Fraction(2) ** k >= 1:
        k += 1
    while total / Fraction(2) ** k < Fraction(1, 2):
        k -= 1
    w_prime = float(total / Fraction(2) ** k)  # Fraction → float is correctly rounded
    return WeightPlan(scaled=np.ascontiguousarray(scaled), k=int(k), w_prime=w_prime)


def check_dtype(dtype: np.dtype | type | str) -> np.dtype:
    """Return ``np.dtype(dtype)`` if it is float32/float64, else raise TypeError."""
    dt = np.dtype(dtype)
    if dt not in SUPPORTED_DTYPES:
        raise TypeError(f"updates must be float32 or float64, got {dt}")
    return dt


def _kernel(dtype: np.dtype):
    return _core.exact_reduce_f32 if dtype == np.float32 else _core.exact_reduce_f64


def _translate(exc: Exception, names: Sequence[str] | None, offset: int) -> Exception:
    """Map the kernel's typed error to the package's exception classes (by ``kind``)."""
    kind = getattr(exc, "kind", "")
    if kind == "non_finite":
        # the kind's fields are attributes set by the binding, not declared in _core.pyi
        c, e, v = int(exc.client), int(exc.element), float(exc.value)  # type: ignore[attr-defined]
        who = names[c] if names is not None and c < len(names) else f"#{c}"
        return NonFiniteUpdateError(
            f"client {who}: non-finite value {'NaN' if math.isnan(v) else v} at flat element "
            f"{offset + e}; "
            "NaN/inf updates cannot be averaged",
            client=who,
            element=offset + e,
            value=v,
        )
    if kind == "malformed_partial":
        which, fault = int(exc.which), str(exc.fault)  # type: ignore[attr-defined]  # as above
        return PartialSumError(str(exc), which=which, fault=fault)
    if kind in ("weight", "weight_total"):
        return WeightError(str(exc))
    return exc


def reduce_final(
    raw: Sequence[np.ndarray],
    weights: np.ndarray,
    partials: Sequence[np.ndarray],
    plan: WeightPlan,
    out: np.ndarray,
    *,
    names: Sequence[str] | None = None,
    offset: int = 0,
) -> np.ndarray:
    """Write the rounded weighted mean of ``raw`` (scaled ``weights``) plus exact ``partials``
    into ``out`` (1-D, contiguous, the updates' dtype). ``names``/``offset`` label errors."""
    dt = check_dtype(out.dtype)
    n = int(out.shape[0])
    try:
        _kernel(dt)(list(raw), weights, list(partials), n, k=plan.k, w_prime=plan.w_prime, out=out)
    except ExactSumError as exc:
        raise _translate(exc, names, offset) from None
    return out


def reduce_partial(
    raw: Sequence[np.ndarray],
    weights: np.ndarray,
    partials: Sequence[np.ndarray],
    n: int,
    dtype: np.dtype,
    *,
    names: Sequence[str] | None = None,
    offset: int = 0,
) -> np.ndarray:
    """Exact partial sum ``Σ w_c raw_c + Σ partials`` of ``n`` elements, window-encoded as a
    ``uint8`` array (format in :mod:`ssdfl_core::exactsum`); merge it with :func:`reduce_final`
    or another :func:`reduce_partial`."""
    dt = check_dtype(dtype)
    try:
        res = _kernel(dt)(list(raw), weights, list(partials), int(n))
    except ExactSumError as exc:
        raise _translate(exc, names, offset) from None
    return res


def exact_mean_reference(
    updates: Sequence[np.ndarray], weights: Sequence[float] | None = None
) -> np.ndarray:
    """Independent pure-Python oracle of the definition above, with :class:`fractions.Fraction`
    (slow; for tests on small inputs)."""
    xs = [np.asarray(u).reshape(-1) for u in updates]
    dt = check_dtype(xs[0].dtype)
    w = [1.0] * len(xs) if weights is None else [float(v) for v in weights]
    wf = [Fraction(v) for v in w]
    total = sum(wf, Fraction(0))
    k = 0
    while total / Fraction(2) ** k >= 1:
        k += 1
    while total / Fraction(2) ** k < Fraction(1, 2):
        k -= 1
    scale = Fraction(2) ** k
    wp = float(total / scale)
    out = np.empty(xs[0].shape[0], dtype=dt)
    big = np.finfo(dt).max
    for e in range(out.shape[0]):
        a = sum((wi * Fraction(float(x[e])) for wi, x in zip(wf, xs)), Fraction(0))
        if a == 0:
            out[e] = 0.0
            continue
        try:
            a64 = float(a / scale)
        except OverflowError:
            a64 = math.copysign(float(np.finfo(np.float64).max), a)
        q = a64 / wp
        with np.errstate(over="ignore"):
            r = dt.type(q)
        if not np.isfinite(r):
            r = dt.type(math.copysign(float(big), q))
        out[e] = r
    return out
