"""Peak-memory predictors for aggregation functions.

Two models:

* **Lambda sizing** (the GradsSharding replication package): a function configured with
  ``c·S/M + O`` MiB for a shard (``c`` copies of the input, ``O`` ≈ 450 MiB runtime), ``c·S + O``
  for any tree aggregator, which must hold the full gradient; feasible iff ≤ the ceiling
  (10,240 MiB on AWS Lambda). :func:`lambda_memory_mb`, :func:`tree_ceiling_mb`,
  :func:`min_shards`.
* **This implementation** (:func:`predict_job_mb`): a function holds its whole output until it
  PUTs it, one block buffer per input (widened to whole checksum chunks) and a small
  transient, on top of the runtime ``O``
  (measured: the resident set of a fresh worker process). A shard function's output is
  ``S/M`` bytes of the client dtype; a tree leaf's output is an *exact partial sum*, about
  ``b`` bytes per element (window-encoded 32-bit digits, :func:`partial_bytes_per_element`),
  of the full length; a root's output is ``S``. So the sharded function needs
  ``O + S/M + N·B·itemsize`` and the tree leaf ``O + b·P + k·B·itemsize``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

import numpy as np

from ssdfl.aggregation.functions import InputRef, read_buffer_elements
from ssdfl.aggregation.reduce import check_dtype, reduce_partial
from ssdfl.aggregation.store import CHUNK
from ssdfl.aggregation.strategies import shard_bounds, tree_levels
from ssdfl.errors import SsdflError

if TYPE_CHECKING:
    from ssdfl.aggregation.strategies import TreeKind

MiB = 1 << 20
LAMBDA_CEILING_MB = 10_240
LAMBDA_OVERHEAD_MB = 450.0


def lambda_memory_mb(
    model_mb: float,
    shards: int = 1,
    *,
    copies: float = 3.0,
    overhead_mb: float = LAMBDA_OVERHEAD_MB,
) -> float:
    """Configured function memory ``c·S/M + O`` (``shards=1`` for any tree aggregator)."""
    if shards < 1:
        raise SsdflError("shards must be >= 1")
    return copies * model_mb / shards + overhead_mb


def tree_ceiling_mb(
    limit_mb: float = LAMBDA_CEILING_MB,
    *,
    copies: float = 3.0,
    overhead_mb: float = LAMBDA_OVERHEAD_MB,
) -> float:
    """Largest gradient (MiB) a tree aggregator can hold: ``(L − O)/c``."""
    return (limit_mb - overhead_mb) / copies


def min_shards(
    model_mb: float,
    limit_mb: float = LAMBDA_CEILING_MB,
    *,
    copies: float = 3.0,
    overhead_mb: float = LAMBDA_OVERHEAD_MB,
) -> int:
    """Smallest ``M`` with ``c·S/M + O ≤ L``."""
    if limit_mb <= overhead_mb:
        raise SsdflError(f"limit {limit_mb} MiB does not exceed the runtime overhead {overhead_mb}")
    return max(1, math.ceil(copies * model_mb / (limit_mb - overhead_mb)))


def partial_bytes_per_element(dtype: np.dtype | str, weight_bits: int = 1) -> float:
    """A priori estimate of an exact partial sum's encoded size per element: ``4·(⌈(p + w +
    20)/32⌉ + 1)`` bytes (``p`` mantissa bits, ``w`` significant bits of the scaled weights,
    20 bits of exponent spread within a group of 256 elements). Measured on N(0,1) data:
    8 (float32, unit weights) to 20 bytes (float64, 53-bit weights); the estimate errs high."""
    dt = check_dtype(np.dtype(dtype))
    p = 24 if dt == np.float32 else 53
    return 4.0 * (math.ceil((p + weight_bits + 20) / 32) + 1) + 4.0 / 256


def sample_partial_bytes_per_element(
    samples: list[np.ndarray], weights: np.ndarray, dtype: np.dtype
) -> float:
    """Measured encoded size per element of the exact partial sum of ``samples``."""
    n = int(samples[0].shape[0])
    enc = reduce_partial(samples, np.asarray(weights, dtype=np.float64), [], n, dtype)
    return enc.nbytes / max(n, 1)


@dataclass(frozen=True)
class Prediction:
    """Predicted peak of one function, split into its parts (MiB)."""

    name: str
    runtime_mb: float
    output_mb: float
    buffers_mb: float
    transient_mb: float

    @property
    def total_mb(self) -> float:
        return self.runtime_mb + self.output_mb + self.buffers_mb + self.transient_mb


class JobShape(Protocol):
    """What :func:`predict_job_mb` reads of a job; a
    :class:`~ssdfl.aggregation.functions.FunctionJob` has all of it."""

    @property
    def name(self) -> str: ...
    @property
    def inputs(self) -> Sequence[InputRef]: ...
    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...
    @property
    def dtype(self) -> str: ...
    @property
    def mode(self) -> str: ...
    @property
    def block(self) -> int: ...


@dataclass(frozen=True)
class _ModelJob:
    """A job's shape without a store or data (:func:`predict_model_mb`)."""

    name: str
    inputs: list[InputRef]
    start: int
    end: int
    dtype: str
    mode: Literal["final", "partial"]
    block: int


def predict_job_mb(
    job: JobShape, runtime_mb: float, partial_bpe: float | None = None
) -> Prediction:
    """Predicted peak resident memory of ``job`` (see module docstring)."""
    dt = check_dtype(np.dtype(job.dtype))
    isz = dt.itemsize
    n = job.end - job.start
    blk = min(job.block, max(n, 1))
    raw_blk = read_buffer_elements(job.start, job.end, job.block, CHUNK) if n else 0
    bpe = partial_bpe if partial_bpe is not None else partial_bytes_per_element(dt)
    n_raw = sum(1 for r in job.inputs if r.kind == "raw")
    n_part = len(job.inputs) - n_raw
    buffers = n_raw * raw_blk * isz + n_part * blk * bpe
    out: float
    transient: float
    if job.mode == "final":
        out, transient = n * isz, 0.0
    else:
        out, transient = n * bpe, 2 * blk * bpe
    return Prediction(job.name, runtime_mb, out / MiB, buffers / MiB, transient / MiB)


def predict_model_mb(
    strategy: str,
    elements: int,
    dtype: np.dtype | str,
    clients: int,
    *,
    shards: int = 4,
    fan_in: int | None = None,
    tree: TreeKind = "lambda-fl",
    block: int = 1 << 18,
    runtime_mb: float = LAMBDA_OVERHEAD_MB,
    partial_bpe: float | None = None,
) -> float:
    """Largest predicted function peak (MiB) of a strategy for a model of ``elements``
    parameters, without data (uses :func:`partial_bytes_per_element` for tree leaves)."""
    dt = check_dtype(np.dtype(dtype))
    raw = [InputRef(f"c{i}") for i in range(clients)]

    def job(
        name: str, inputs: list[InputRef], a: int, b: int, mode: Literal["final", "partial"]
    ) -> _ModelJob:
        return _ModelJob(name, inputs, a, b, dt.name, mode, block)

    if strategy == "flat":
        jobs = [job("flat", raw, 0, elements, "final")]
    elif strategy == "sharded":
        a, b = shard_bounds(elements, shards)[0]
        jobs = [job("shard", raw, a, b, "final")]
    elif strategy == "tree":
        lv = tree_levels(clients, kind=tree, fan_in=fan_in)
        if len(lv) == 1:
            jobs = [job("root", raw, 0, elements, "final")]
        else:
            k = max(len(g) for g in lv[0])
            jobs = [job("leaf", raw[:k], 0, elements, "partial")]
            for level in lv[1:]:
                fan = max(len(g) for g in level)
                parts = [InputRef(f"p{i}", "partial") for i in range(fan)]
                last = level is lv[-1]
                jobs.append(job("node", parts, 0, elements, "final" if last else "partial"))
    else:
        raise SsdflError(f"unknown strategy {strategy!r}")
    return max(predict_job_mb(j, runtime_mb, partial_bpe).total_mb for j in jobs)
