"""A full aggregation round over an object store: clients upload, functions run level by level
on an executor, the result is published atomically.

Layout: each client PUTs its flattened update as one ``.npy`` object; function ``j`` of the
sharded strategy reads elements ``[start_j, end_j)`` of every client object by ranged GETs and
PUTs shard ``j``; tree leaves read whole client objects and PUT exact partial sums; the last
step (shard concatenation = the clients' read-back, or the tree root) writes a temporary object
that is renamed onto the output key only when every function succeeded. On any failure the
temporary objects are deleted and :class:`AggregationError` lists the failed functions.

Integrity: every client object and every function output carries a checksum
(:mod:`ssdfl.aggregation.store`) verified before use; a key listed twice is refused (it would
be counted twice); uploads are exclusive, so two clients under one name fail instead of one
silently replacing the other.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypedDict

import numpy as np

from ssdfl._progress import get_logger, stage
from ssdfl.aggregation.executors import Executor, LocalProcessExecutor
from ssdfl.aggregation.functions import FunctionJob, FunctionReport, InputRef
from ssdfl.aggregation.reduce import check_dtype, plan_weights
from ssdfl.aggregation.store import (
    ObjectStore,
    checksum_key,
    get_array,
    npy_info,
    put_array,
    put_npy_parts,
)
from ssdfl.aggregation.strategies import (
    STRATEGIES,
    Strategy,
    TreeKind,
    layer_shard_bounds,
    shard_bounds,
    tree_levels,
)
from ssdfl.errors import AggregationError, SsdflError

_log = get_logger(__name__)


class _JobCommon(TypedDict):
    """The :class:`FunctionJob` fields every job of one round shares."""

    store: ObjectStore
    dtype: str
    k: int
    w_prime: float
    block: int


@dataclass
class RoundReport:
    """What happened in one aggregation round."""

    output_key: str
    strategy: str
    levels: list[list[FunctionReport]] = field(default_factory=list)
    level_seconds: list[float] = field(default_factory=list)
    publish_seconds: float = 0.0

    @property
    def functions(self) -> list[FunctionReport]:
        return [r for lv in self.levels for r in lv]

    @property
    def wall_seconds(self) -> float:
        return sum(self.level_seconds) + self.publish_seconds

    def max_peak_rss_mb(self) -> float:
        return max((r.peak_rss_mb for r in self.functions), default=0.0)


def upload_clients(
    store: ObjectStore,
    updates: Sequence[np.ndarray] | Sequence[Mapping[str, np.ndarray]],
    prefix: str = "round",
    names: Sequence[str] | None = None,
    *,
    exclusive: bool = True,
) -> list[str]:
    """Client side: flatten each update (dict tensors concatenated in key order) and PUT it as
    ``{prefix}/client_{name}.npy`` with its checksum; writes ``{prefix}/layout.json`` (names and
    shapes) for dicts. Returns the keys. Names must be unique, and with ``exclusive`` (default)
    a name already present in the store is refused (:class:`ObjectExistsError`), so no client's
    update can replace another's."""
    if names is not None:
        if len(names) != len(updates):
            raise SsdflError(f"{len(names)} names given for {len(updates)} client updates")
        seen: dict[str, int] = {}
        for i, nm in enumerate(map(str, names)):
            if nm in seen:
                raise SsdflError(
                    f"clients {seen[nm]} and {i} are both named {nm!r}: each client needs its "
                    "own name (an update would be lost)"
                )
            seen[nm] = i
    keys = []
    layout = None
    for i, u in enumerate(updates):
        name = str(names[i]) if names is not None else f"{i:05d}"
        if isinstance(u, Mapping):
            if layout is None:
                layout = [[k, list(np.shape(v))] for k, v in u.items()]
            flat = np.concatenate([np.ascontiguousarray(u[k]).reshape(-1) for k, _ in layout])
        else:
            flat = np.ascontiguousarray(u).reshape(-1)
        key = f"{prefix}/client_{name}.npy"
        put_array(store, key, flat, exclusive=exclusive)
        keys.append(key)
    if layout is not None:
        store.put(f"{prefix}/layout.json", json.dumps(layout).encode(), exclusive=exclusive)
    return keys


def plan_jobs(
    store: ObjectStore,
    client_keys: Sequence[str],
    weights: Sequence[float] | np.ndarray | None,
    *,
    strategy: Strategy,
    shards: int,
    fan_in: int | None,
    tree: TreeKind,
    per_layer_sizes: Sequence[int] | None,
    tmp: str,
    block: int,
    client_names: Sequence[str] | None = None,
) -> tuple[list[list[FunctionJob]], str, list[tuple[int, int]] | None, np.dtype, int]:
    """Validate client objects and build the levels of function jobs. ``client_names`` label
    the clients in errors (default: the key's last component)."""
    if not client_keys:
        raise SsdflError("no client objects given")
    first: dict[str, int] = {}
    for i, k in enumerate(client_keys):
        if k in first:
            raise SsdflError(
                f"client object {store.url(k)} is listed twice (positions {first[k]} and {i}); "
                "it would be counted twice"
            )
        first[k] = i
    if client_names is not None and len(client_names) != len(client_keys):
        raise SsdflError(f"{len(client_names)} names for {len(client_keys)} client objects")
    # missing/truncated/unsealed → error naming it
    infos = [npy_info(store, k) for k in client_keys]
    dt = check_dtype(infos[0].dtype)
    p = infos[0].size
    for inf in infos[1:]:
        if inf.dtype != dt or inf.size != p:
            raise SsdflError(
                f"client object {store.url(inf.key)} has {inf.size} {inf.dtype} elements, "
                f"but {store.url(infos[0].key)} has {p} {dt}"
            )
    plan = plan_weights(weights, len(client_keys))
    labels = (
        [str(x) for x in client_names]
        if client_names is not None
        else [k.rsplit("/", 1)[-1] for k in client_keys]
    )
    refs = [
        InputRef(k, "raw", float(w), name=nm) for k, w, nm in zip(client_keys, plan.scaled, labels)
    ]
    common = _JobCommon(store=store, dtype=dt.name, k=plan.k, w_prime=plan.w_prime, block=block)
    if strategy == "flat":
        return (
            [
                [
                    FunctionJob(
                        "flat",
                        inputs=refs,
                        start=0,
                        end=p,
                        output_key=f"{tmp}/final.npy",
                        mode="final",
                        **common,
                    )
                ]
            ],
            f"{tmp}/final.npy",
            None,
            dt,
            p,
        )
    if strategy == "sharded":
        if isinstance(shards, bool) or not isinstance(shards, (int, np.integer)) or shards < 1:
            raise SsdflError(f"shards must be an integer >= 1, got {shards!r}")
        if shards > max(p, 1):  # each shard is one function: never more functions than elements
            raise SsdflError(
                f"{shards:,} shards for client objects of {p:,} elements: at most one shard per "
                f"element (shards <= {max(p, 1):,})"
            )
        if per_layer_sizes is not None:
            if sum(per_layer_sizes) != p:
                raise SsdflError("per-layer sizes do not add up to the client object length")
            bounds = layer_shard_bounds(per_layer_sizes, shards)
        else:
            bounds = shard_bounds(p, shards)
        jobs = [
            FunctionJob(
                f"shard-{j}",
                inputs=refs,
                start=a,
                end=b,
                output_key=f"{tmp}/shard_{j:04d}.npy",
                mode="final",
                **common,
            )
            for j, (a, b) in enumerate(bounds)
        ]
        return [jobs], f"{tmp}/final.npy", bounds, dt, p
    if strategy != "tree":
        raise SsdflError(f"unknown strategy {strategy!r}; choose one of {STRATEGIES}")
    levels = tree_levels(len(client_keys), kind=tree, fan_in=fan_in)
    out_levels: list[list[FunctionJob]] = []
    prev: list[str] = []
    for li, level in enumerate(levels):
        last = li == len(levels) - 1
        jobs = []
        for gi, grp in enumerate(level):
            inputs = (
                [refs[c] for c in grp] if li == 0 else [InputRef(prev[g], "partial") for g in grp]
            )
            key = f"{tmp}/final.npy" if last else f"{tmp}/l{li}_{gi:04d}.xps"
            jobs.append(
                FunctionJob(
                    "root" if last else f"tree-l{li}-{gi}",
                    inputs=inputs,
                    start=0,
                    end=p,
                    output_key=key,
                    mode="final" if last else "partial",
                    **common,
                )
            )
        prev = [j.output_key for j in jobs]
        out_levels.append(jobs)
    return out_levels, f"{tmp}/final.npy", None, dt, p


def aggregate_store(
    store: ObjectStore,
    client_keys: Sequence[str],
    output_key: str,
    weights: Sequence[float] | np.ndarray | None = None,
    *,
    strategy: Strategy = "sharded",
    shards: int = 4,
    fan_in: int | None = None,
    tree: TreeKind = "lambda-fl",
    per_layer_sizes: Sequence[int] | None = None,
    executor: Executor | None = None,
    block: int = 1 << 18,
    progress: bool = False,
    client_names: Sequence[str] | None = None,
) -> RoundReport:
    """Aggregate the ``.npy`` client objects ``client_keys`` into ``output_key`` (a 1-D ``.npy``
    of the clients' dtype), bit-identical for every strategy (see :func:`ssdfl.aggregation.fedavg`).
    ``executor`` defaults to :class:`LocalProcessExecutor`; ``progress`` logs the round and
    shows a progress bar of completed functions (:mod:`ssdfl._progress`); ``client_names``
    label clients in errors. Temporary objects are removed in every case (also on Ctrl-C,
    after the executor has ended its processes)."""
    ex = executor if executor is not None else LocalProcessExecutor()
    tmp = f"{output_key}.tmp-{uuid.uuid4().hex[:10]}"
    levels, final_key, bounds, dt, p = plan_jobs(
        store,
        client_keys,
        weights,
        strategy=strategy,
        shards=shards,
        fan_in=fan_in,
        tree=tree,
        per_layer_sizes=per_layer_sizes,
        tmp=tmp,
        block=block,
        client_names=client_names,
    )
    rep = RoundReport(output_key, strategy)
    n_fn = sum(len(lv) for lv in levels)
    label = f"aggregating {len(client_keys)} clients: {strategy}, {n_fn} functions"
    with contextlib.ExitStack() as stack:
        bar = stack.enter_context(stage(_log, label, total=n_fn, enabled=progress))
        stack.callback(store.delete_prefix, tmp)
        for jobs in levels:
            t0 = time.perf_counter()
            reports = ex.run(jobs)
            rep.level_seconds.append(time.perf_counter() - t0)
            rep.levels.append(reports)
            bar.advance(len(jobs))
            bad = [r for r in reports if not r.ok]
            if bad:
                raise AggregationError(
                    f"{len(bad)} of {len(reports)} functions failed, nothing published: "
                    + "; ".join(f"{r.name}: {r.error}" for r in bad)
                )
        t0 = time.perf_counter()
        if bounds is not None:  # concatenate the shards (the clients' read-back step)

            def parts():
                for j in range(len(bounds)):
                    yield memoryview(get_array(store, f"{tmp}/shard_{j:04d}.npy")).cast("B")

            put_npy_parts(store, final_key, dt, (p,), parts())
        npy_info(store, final_key)  # the published object and its checksum agree
        store.move(final_key, output_key)
        store.move(checksum_key(final_key), checksum_key(output_key))
        rep.publish_seconds = time.perf_counter() - t0
    return rep
