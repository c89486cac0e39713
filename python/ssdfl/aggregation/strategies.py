"""Aggregation strategies (flat, tree, sharded) and in-memory weighted FedAvg.

* **flat** — one aggregator reads every client update and divides once.
* **tree** — clients are split across leaf aggregators which emit *exact* partial sums; partial
  sums are merged up a tree; the root divides. ``tree="lambda-fl"`` is λ-FL's two-level tree
  (``k = ⌈√N⌉`` clients per leaf, one root), ``tree="lifl"`` is LIFL's hierarchy with branching
  ``b = max(2, ⌈N^{1/3}⌉)`` at every level, and an integer ``fan_in=f`` builds a tree of
  branching ``f`` at every level.
* **sharded** (GradsSharding) — the flattened parameter vector (tensors concatenated in order)
  is cut into ``M`` contiguous balanced slices (``q = ⌊P/M⌋``, the first ``P mod M`` slices one
  longer; or cuts only at tensor boundaries with ``per_layer=True``); shard ``j`` is averaged over
  all clients by its own function.

All three use the exact kernel of :mod:`ssdfl.aggregation.reduce`, so their results are
bit-identical to each other for every ``M``, fan-in and client order.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ssdfl.aggregation.reduce import (
    WeightPlan,
    check_dtype,
    plan_weights,
    reduce_final,
    reduce_partial,
)
from ssdfl.errors import SsdflError

Strategy = Literal["flat", "tree", "sharded"]
TreeKind = Literal["lambda-fl", "lifl"]
STRATEGIES: tuple[str, ...] = ("flat", "tree", "sharded")
#: Elements per kernel call when partial sums are produced (bounds temporary memory).
BLOCK: int = 1 << 20


def shard_bounds(p: int, m: int) -> list[tuple[int, int]]:
    """Balanced contiguous slices ``[(start_j, end_j)]`` of ``range(p)`` into ``m`` shards:
    ``q = ⌊p/m⌋``, the first ``p mod m`` shards have ``q + 1`` elements (empty if ``m > p``)."""
    if m < 1:
        raise SsdflError(f"shard count must be >= 1, got {m}")
    if p < 0:
        raise SsdflError(f"parameter count must be >= 0, got {p}")
    q, r = divmod(p, m)
    out, start = [], 0
    for j in range(m):
        length = q + 1 if j < r else q
        out.append((start, start + length))
        start += length
    return out


def layer_shard_bounds(sizes: Sequence[int], m: int) -> list[tuple[int, int]]:
    """``m`` contiguous shards whose cuts fall only on tensor boundaries: cut ``j`` is the
    boundary closest to ``j·P/m`` (ties to the earlier one) not before cut ``j-1``. Shards may be
    empty when there are fewer tensors than shards."""
    if m < 1:
        raise SsdflError(f"shard count must be >= 1, got {m}")
    ends = np.concatenate([[0], np.cumsum(np.asarray(sizes, dtype=np.int64))])
    p = int(ends[-1])
    cuts = [0]
    for j in range(1, m):
        target = j * p / m
        cand = ends[ends >= cuts[-1]]
        cuts.append(int(cand[np.argmin(np.abs(cand - target))]))
    cuts.append(p)
    return [(cuts[j], cuts[j + 1]) for j in range(m)]


def _icbrt_ceil(n: int) -> int:
    b = max(1, round(n ** (1 / 3)))
    while b**3 < n:
        b += 1
    while b > 1 and (b - 1) ** 3 >= n:
        b -= 1
    return b


def tree_levels(
    n: int, *, kind: TreeKind = "lambda-fl", fan_in: int | None = None
) -> list[list[list[int]]]:
    """Tree of aggregators over ``n`` clients as levels of groups.

    ``levels[0]`` groups client indices into leaves; ``levels[l]`` groups the outputs of level
    ``l-1``; the last level has one group (the root). Groups are consecutive runs. ``fan_in``
    (≥ 2) overrides ``kind``.
    """
    if n < 1:
        raise SsdflError("a tree needs at least one client")
    if fan_in is not None:
        if fan_in < 2:
            raise SsdflError(f"fan_in must be >= 2, got {fan_in}")
        per_leaf = branch = fan_in
    elif kind == "lambda-fl":
        per_leaf = math.isqrt(n - 1) + 1 if n > 1 else 1  # ⌈√n⌉
        branch = None
    elif kind == "lifl":
        per_leaf = branch = max(2, _icbrt_ceil(n))
    else:
        raise SsdflError(f"unknown tree kind {kind!r} (use 'lambda-fl' or 'lifl')")

    def chunk(items: int, size: int) -> list[list[int]]:
        return [list(range(i, min(i + size, items))) for i in range(0, items, size)]

    levels = [chunk(n, per_leaf)]
    while len(levels[-1]) > 1:
        width = len(levels[-1])
        levels.append(chunk(width, branch) if branch is not None else [list(range(width))])
    return levels


@dataclass(frozen=True)
class Segment:
    """A named tensor inside the flattened parameter vector."""

    name: str | None
    shape: tuple[int, ...]
    offset: int
    size: int


@dataclass
class Updates:
    """Client updates as per-client lists of flat contiguous views, one per segment."""

    segments: list[Segment]
    data: list[list[np.ndarray]]
    dtype: np.dtype
    is_dict: bool

    @property
    def n(self) -> int:
        return len(self.data)

    @property
    def size(self) -> int:
        return sum(s.size for s in self.segments)

    def pieces(self, start: int, end: int, block: int = BLOCK) -> Iterator[tuple[int, int, int]]:
        """``(segment index, lo, hi)`` pieces covering flat ``[start, end)``, at most ``block``
        long, cut at segment boundaries and at multiples of ``block`` within a segment."""
        for si, seg in enumerate(self.segments):
            a, b = max(start, seg.offset), min(end, seg.offset + seg.size)
            lo = a - seg.offset
            while lo < b - seg.offset:
                hi = min(b - seg.offset, (lo // block + 1) * block)
                yield si, lo, hi
                lo = hi


def as_updates(updates: Sequence[np.ndarray] | Sequence[Mapping[str, np.ndarray]]) -> Updates:
    """Validate client updates (arrays of one shape and float dtype, or dicts of such arrays with
    the same keys and shapes) and expose them as flat views without copying contiguous data."""
    ups = list(updates)
    if not ups:
        raise SsdflError("FedAvg needs at least one client update")
    if isinstance(ups[0], Mapping):
        keys = list(ups[0].keys())
        first = {k: np.asarray(v) for k, v in ups[0].items()}
        segs, off = [], 0
        for k in keys:
            segs.append(Segment(k, tuple(first[k].shape), off, int(first[k].size)))
            off += int(first[k].size)
        dts = {np.asarray(v).dtype for v in first.values()}
        if len(dts) != 1:
            raise TypeError(f"all tensors must share one dtype, got {sorted(map(str, dts))}")
        dt = check_dtype(dts.pop())
        data = []
        for c, u in enumerate(ups):
            if not isinstance(u, Mapping) or list(u.keys()) != keys:
                raise SsdflError(f"client {c}: keys differ from client 0's {keys}")
            row = []
            for s in segs:
                a = np.asarray(u[s.name])
                if a.shape != s.shape or a.dtype != dt:
                    raise SsdflError(
                        f"client {c}: tensor {s.name!r} has shape {a.shape} dtype {a.dtype}, "
                        f"expected {s.shape} {dt}"
                    )
                row.append(np.ascontiguousarray(a).reshape(-1))
            data.append(row)
        return Updates(segs, data, dt, True)
    arr0 = np.asarray(ups[0])
    dt = check_dtype(arr0.dtype)
    seg = Segment(None, tuple(arr0.shape), 0, int(arr0.size))
    data = []
    for c, u in enumerate(ups):
        a = np.asarray(u)
        if a.shape != seg.shape or a.dtype != dt:
            raise SsdflError(
                f"client {c}: update has shape {a.shape} dtype {a.dtype}, expected {seg.shape} {dt}"
            )
        data.append([np.ascontiguousarray(a).reshape(-1)])
    return Updates([seg], data, dt, False)


def _names(n: int, names: Sequence[str] | None) -> list[str]:
    return [str(x) for x in names] if names is not None else [str(i) for i in range(n)]


def _final_range(
    u: Updates, plan: WeightPlan, out: list[np.ndarray], start: int, end: int, names: list[str]
) -> None:
    for si, lo, hi in u.pieces(start, end, block=1 << 62):
        raw = [u.data[c][si][lo:hi] for c in range(u.n)]
        reduce_final(
            raw,
            plan.scaled,
            [],
            plan,
            out[si][lo:hi],
            names=names,
            offset=u.segments[si].offset + lo,
        )


def _tree(
    u: Updates, plan: WeightPlan, out: list[np.ndarray], levels: list[list[list[int]]], names
) -> None:
    pieces = list(u.pieces(0, u.size))
    if len(levels) == 1:  # a single leaf is the root
        _final_range(u, plan, out, 0, u.size, names)
        return
    prev: list[list[np.ndarray]] = []
    for grp in levels[0]:
        ws = plan.scaled[grp]
        prev.append(
            [
                reduce_partial(
                    [u.data[c][si][lo:hi] for c in grp],
                    ws,
                    [],
                    hi - lo,
                    u.dtype,
                    names=[names[c] for c in grp],
                    offset=u.segments[si].offset + lo,
                )
                for si, lo, hi in pieces
            ]
        )
    empty = np.empty(0, dtype=np.float64)
    for level in levels[1:-1]:
        prev = [
            [
                reduce_partial([], empty, [prev[g][b] for g in grp], hi - lo, u.dtype)
                for b, (_si, lo, hi) in enumerate(pieces)
            ]
            for grp in level
        ]
    (root,) = levels[-1]
    for b, (si, lo, hi) in enumerate(pieces):
        reduce_final([], empty, [prev[g][b] for g in root], plan, out[si][lo:hi])


def _from_flower(updates: Any, weights: Any) -> tuple[Any, Any]:
    """Flower's ``list[tuple[NDArrays, int]]`` → dicts of arrays keyed by position, and the
    example counts as weights (unless weights are given)."""
    ups = list(updates)
    if not ups or not all(
        isinstance(x, tuple) and len(x) == 2 and isinstance(x[0], (list, tuple)) for x in ups
    ):
        return ups, weights
    dicts = [{f"{i:06d}": np.asarray(a) for i, a in enumerate(arrs)} for arrs, _ in ups]
    counts = [float(n) for _, n in ups]
    return _FlowerUpdates(dicts), counts if weights is None else weights


class _FlowerUpdates(list):
    """Marks dict updates that came from Flower tuples (the result goes back as a list)."""


def fedavg(
    updates: (
        Sequence[np.ndarray]
        | Sequence[Mapping[str, np.ndarray]]
        | Sequence[tuple[Sequence[np.ndarray], int]]  # Flower's (NDArrays, num_examples)
    ),
    weights: Sequence[float] | np.ndarray | None = None,
    *,
    strategy: Strategy = "sharded",
    shards: int = 4,
    fan_in: int | None = None,
    tree: TreeKind = "lambda-fl",
    per_layer: bool = False,
    names: Sequence[str] | None = None,
) -> Any:
    """Weighted FedAvg ``Σ w_i x_i / Σ w_i`` of client updates, computed exactly and rounded
    once (definition in :mod:`ssdfl.aggregation.reduce`).

    ``updates``: arrays of one shape and dtype (float32/float64), or dicts of such arrays with
    equal keys and shapes (a model state; tensors are flattened in key order), or Flower's fit
    results ``list[tuple[NDArrays, int]]`` (each a list of arrays and its number of examples,
    which become the weights; the result is then a list of arrays). ``strategy`` defaults to
    ``"sharded"`` like ``ssdfl shard run`` (every strategy gives the same bits). ``weights``:
    per-client weights (e.g. sample counts), uniform if ``None``. ``strategy``: ``"flat"``,
    ``"tree"`` (``tree="lambda-fl"|"lifl"`` or ``fan_in=f``) or ``"sharded"`` (``shards=M``,
    ``per_layer=True`` to cut only at tensor boundaries). ``names`` label clients in errors.
    The result has the updates' dtype and shape (a dict for dict input) and is bit-identical for
    every strategy, shard count, fan-in and client order.
    """
    ups, weights = _from_flower(updates, weights)
    u = as_updates(ups)
    plan = plan_weights(weights, u.n)
    nm = _names(u.n, names)
    out = [np.empty(s.size, dtype=u.dtype) for s in u.segments]
    if strategy == "flat":
        _final_range(u, plan, out, 0, u.size, nm)
    elif strategy == "sharded":
        sizes = [s.size for s in u.segments]
        bounds = layer_shard_bounds(sizes, shards) if per_layer else shard_bounds(u.size, shards)
        for a, b in bounds:
            _final_range(u, plan, out, a, b, nm)
    elif strategy == "tree":
        _tree(u, plan, out, tree_levels(u.n, kind=tree, fan_in=fan_in), nm)
    else:
        raise SsdflError(f"unknown strategy {strategy!r}; choose one of {STRATEGIES}")
    if isinstance(ups, _FlowerUpdates):
        return [o.reshape(s.shape) for s, o in zip(u.segments, out)]
    if u.is_dict:
        return {s.name: o.reshape(s.shape) for s, o in zip(u.segments, out)}
    return out[0].reshape(u.segments[0].shape)
