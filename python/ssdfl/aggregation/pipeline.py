"""A full aggregation round over an object store: clients upload, functions run level by level
on an executor, the result is published atomically.

Layout: each client PUTs its flattened update as one ``.npy`` object; function ``j`` of the
sharded strategy reads elements ``[start_j, end_j)`` of every client object by ranged GETs and
PUTs shard ``j``; tree leaves read whole client objects and PUT exact partial sums; the last
step (shard concatenation = the clients' read-back, or the tree root) writes a temporary object
that is renamed onto the output key only when every function succeeded. On any failure the
temporary objects are deleted and :class:`AggregationError` lists the failed functions.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ssdfl.aggregation.executors import Executor, LocalProcessExecutor
from ssdfl.aggregation.functions import FunctionJob, FunctionReport, InputRef
from ssdfl.aggregation.reduce import check_dtype, plan_weights
from ssdfl.aggregation.store import (
    ObjectStore,
    get_array,
    npy_header,
    npy_info,
    put_array,
)
from ssdfl.aggregation.strategies import (
    STRATEGIES,
    Strategy,
    TreeKind,
    layer_shard_bounds,
    shard_bounds,
    tree_levels,
)
from ssdfl.errors import SsdflError


class AggregationError(SsdflError):
    """One or more aggregation functions failed; nothing was published."""


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
) -> list[str]:
    """Client side: flatten each update (dict tensors concatenated in key order) and PUT it as
    ``{prefix}/client_{name}.npy``; writes ``{prefix}/layout.json`` (names and shapes) for
    dicts. Returns the keys."""
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
        put_array(store, key, flat)
        keys.append(key)
    if layout is not None:
        store.put(f"{prefix}/layout.json", json.dumps(layout).encode())
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
) -> tuple[list[list[FunctionJob]], str, list[tuple[int, int]] | None, np.dtype, int]:
    """Validate client objects and build the levels of function jobs."""
    if not client_keys:
        raise SsdflError("no client objects given")
    infos = [npy_info(store, k) for k in client_keys]  # missing/truncated → error naming it
    dt = check_dtype(infos[0].dtype)
    p = infos[0].size
    for inf in infos[1:]:
        if inf.dtype != dt or inf.size != p:
            raise SsdflError(
                f"client object {store.url(inf.key)} has {inf.size} {inf.dtype} elements, "
                f"but {store.url(infos[0].key)} has {p} {dt}"
            )
    plan = plan_weights(weights, len(client_keys))
    refs = [
        InputRef(k, "raw", float(w), name=k.rsplit("/", 1)[-1])
        for k, w in zip(client_keys, plan.scaled)
    ]
    common = {"store": store, "dtype": dt.name, "k": plan.k, "w_prime": plan.w_prime}
    common["block"] = block
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
) -> RoundReport:
    """Aggregate the ``.npy`` client objects ``client_keys`` into ``output_key`` (a 1-D ``.npy``
    of the clients' dtype), bit-identical for every strategy (see :func:`ssdfl.aggregation.fedavg`).
    ``executor`` defaults to :class:`LocalProcessExecutor`; ``progress`` shows a tqdm bar of
    completed functions."""
    from tqdm.auto import tqdm

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
    )
    rep = RoundReport(output_key, strategy)
    bar = tqdm(
        total=sum(len(lv) for lv in levels),
        desc=f"{strategy} functions",
        unit="fn",
        disable=not progress,
        leave=False,
    )
    try:
        for jobs in levels:
            t0 = time.perf_counter()
            reports = ex.run(jobs)
            rep.level_seconds.append(time.perf_counter() - t0)
            rep.levels.append(reports)
            bar.update(len(jobs))
            bad = [r for r in reports if not r.ok]
            if bad:
                raise AggregationError(
                    f"{len(bad)} of {len(reports)} functions failed, nothing published: "
                    + "; ".join(f"{r.name}: {r.error}" for r in bad)
                )
        t0 = time.perf_counter()
        if bounds is not None:  # concatenate the shards (the clients' read-back step)

            def parts():
                yield npy_header(dt, (p,))
                for j in range(len(bounds)):
                    yield memoryview(get_array(store, f"{tmp}/shard_{j:04d}.npy")).cast("B")

            store.put_parts(final_key, parts())
        store.move(final_key, output_key)
        rep.publish_seconds = time.perf_counter() - t0
    finally:
        bar.close()
        for k in store.list(tmp):
            store.delete(k)
    return rep
