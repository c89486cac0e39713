"""Cost and latency model of one serverless aggregation round (Lambda-style pricing).

Every function reads its inputs sequentially at ``read_mb_s`` and writes its output at
``write_mb_s``; its duration is ``bytes_in/read + bytes_out/write`` (aggregation is I/O bound:
compute is < 2 % on Lambda) and it is billed ``memory/1024 · duration`` GB-s. Memory is sized
as in the GradsSharding package: ``c·(bytes held)/1 + O``, i.e. ``c·S/M + O`` for a shard and
``c·S + O`` for a tree aggregator (clamped to ``[min_memory_mb, ∞)``; above
``memory_ceiling_mb`` the design is infeasible). Round cost = compute + requests + S3 PUT/GET
fees; latency = Σ over levels of the slowest function. Object-store operations per round
(``include_client_traffic``): GradsSharding ``PUT N·M + M, GET 2·N·M``; a tree with node set
``V`` (leaves read clients, inner nodes read children) ``PUT N + |V|, GET Σ_v in(v) + N``.
Prices and rates live in ``pricing.toml`` (documented defaults = AWS list prices).
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

from ssdfl.aggregation.strategies import TreeKind, tree_levels
from ssdfl.errors import ConfigError, SsdflError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

#: VGG-16 with a 10-class head (torchvision), float32: 134,301,514 parameters.
VGG16_PARAMS = 134_301_514
VGG16_MB = VGG16_PARAMS * 4 / 2**20  # 512.3 MiB


@dataclass(frozen=True)
class Pricing:
    """Prices and rates (see ``pricing.toml`` for units and sources)."""

    gb_second_usd: float = 0.0000166667
    request_usd: float = 0.0000002
    memory_ceiling_mb: float = 10_240
    min_memory_mb: float = 128
    runtime_overhead_mb: float = 450
    memory_copies: float = 3.0
    put_usd: float = 0.000005
    get_usd: float = 0.0000004
    read_mb_s: float = 45.0
    write_mb_s: float = 60.0
    include_client_traffic: bool = True


#: Tables of a pricing file.
PRICING_SECTIONS = ("function", "store", "round")
#: Value rules of the pricing keys: (lower bound, bound excluded?) for numbers; docs/reliability.md.
PRICING_RULES: dict[str, tuple[float, bool]] = {
    "gb_second_usd": (0.0, False),
    "request_usd": (0.0, False),
    "put_usd": (0.0, False),
    "get_usd": (0.0, False),
    "memory_ceiling_mb": (0.0, True),
    "min_memory_mb": (0.0, True),
    "runtime_overhead_mb": (0.0, False),
    "memory_copies": (1.0, False),
    "read_mb_s": (0.0, True),
    "write_mb_s": (0.0, True),
}
#: Largest value of any pricing number: products with counts and sizes stay finite.
PRICING_MAX = 1e12
#: Largest pricing file read (bytes).
MAX_PRICING_BYTES = 1 << 20


def validate_pricing(values: dict[str, Any], where: str) -> None:
    """Check pricing values, raising :class:`~ssdfl.errors.ConfigError` that starts with
    ``where`` and names the key: known keys only; numbers (not booleans) that are finite and
    within :data:`PRICING_RULES` (prices ≥ 0, rates and memory sizes > 0, ``memory_copies`` ≥ 1,
    all ≤ :data:`PRICING_MAX`, ``min_memory_mb`` ≤ ``memory_ceiling_mb``);
    ``include_client_traffic`` a boolean."""
    valid = set(Pricing.__dataclass_fields__)
    for k, v in values.items():
        if k not in valid:
            raise ConfigError(f"{where}: unknown pricing key {k!r}; known: {sorted(valid)}")
        if k == "include_client_traffic":
            if not isinstance(v, bool):
                raise ConfigError(f"{where}: {k} must be true or false, got {v!r}")
            continue
        lo, strict = PRICING_RULES[k]
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise ConfigError(f"{where}: {k} must be a number, got {v!r}")
        if not math.isfinite(v) or v < lo or (strict and v == lo) or v > PRICING_MAX:
            rel = ">" if strict else ">="
            raise ConfigError(f"{where}: {k} = {v!r} must be a finite number {rel} {lo:g} and "
                              f"<= {PRICING_MAX:g}")  # fmt: skip
    lo_mb = values.get("min_memory_mb", Pricing.min_memory_mb)
    hi_mb = values.get("memory_ceiling_mb", Pricing.memory_ceiling_mb)
    if lo_mb > hi_mb:
        raise ConfigError(f"{where}: min_memory_mb = {lo_mb:g} exceeds memory_ceiling_mb = "
                          f"{hi_mb:g}")  # fmt: skip


def _read_pricing_file(path: Path) -> dict[str, Any]:
    """A pricing file's values (tables of :data:`PRICING_SECTIONS`), errors naming the file."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"pricing file {path} does not exist") from None
    except IsADirectoryError:
        raise ConfigError(f"pricing file {path} is a directory") from None
    if len(data) > MAX_PRICING_BYTES:
        raise ConfigError(f"pricing file {path}: {len(data):,} bytes; at most "
                          f"{MAX_PRICING_BYTES:,}")  # fmt: skip
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"pricing file {path}:{line}: not UTF-8 text (offset {exc.start})"
        ) from None
    try:
        doc = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, RecursionError) as exc:
        raise ConfigError(f"pricing file {path}: {exc}") from None
    out: dict[str, Any] = {}
    for name, section in doc.items():
        if name not in PRICING_SECTIONS or not isinstance(section, dict):
            raise ConfigError(f"pricing file {path}: {name!r} is not one of the tables "
                              f"{', '.join(f'[{s}]' for s in PRICING_SECTIONS)}")  # fmt: skip
        out.update(section)
    validate_pricing(out, f"pricing file {path}")
    return out


def load_pricing(path: str | Path | None = None, **overrides: float | bool) -> Pricing:
    """Defaults from the packaged ``pricing.toml``, then ``path`` (same layout), then keyword
    overrides (e.g. ``read_mb_s=measured``); every value checked (:func:`validate_pricing`)."""
    text = resources.files("ssdfl.aggregation").joinpath("pricing.toml").read_text()
    merged: dict[str, Any] = {}  # values as read from TOML; keys checked against the fields
    for section in tomllib.loads(text).values():
        merged.update(section)
    if path is not None:
        merged.update(_read_pricing_file(Path(path)))
    validate_pricing(dict(overrides), "pricing override")
    merged.update(overrides)
    validate_pricing(merged, f"pricing file {path}" if path is not None else "pricing")
    return Pricing(**merged)


@dataclass
class RoundCost:
    """Cost and latency of one aggregation round."""

    design: str
    model_mb: float
    clients: int
    functions: int
    memory_mb: float  # configured memory of the largest function
    feasible: bool
    latency_s: float
    gb_seconds: float
    puts: int
    gets: int
    compute_usd: float
    request_usd: float
    store_usd: float
    levels: list[int] = field(default_factory=list)

    @property
    def total_usd(self) -> float:
        return self.compute_usd + self.request_usd + self.store_usd

    @property
    def per_1000_rounds_usd(self) -> float:
        return 1000 * self.total_usd


def _mem(held_mb: float, p: Pricing) -> float:
    return max(p.min_memory_mb, math.ceil(p.memory_copies * held_mb + p.runtime_overhead_mb))


def sharded_cost(model_mb: float, clients: int, shards: int, p: Pricing | None = None) -> RoundCost:
    """GradsSharding: ``M`` functions, each reads shard ``j`` of every client."""
    p = p or Pricing()
    if shards < 1 or clients < 1 or model_mb <= 0:
        raise SsdflError("need shards >= 1, clients >= 1 and a positive model size")
    s = model_mb / shards
    mem = _mem(s, p)
    dur = clients * s / p.read_mb_s + s / p.write_mb_s
    gbs = shards * mem / 1024 * dur
    puts, gets = shards, clients * shards
    if p.include_client_traffic:
        puts += clients * shards
        gets += clients * shards
    return RoundCost(
        f"GradsSharding (M={shards})",
        model_mb,
        clients,
        shards,
        mem,
        mem <= p.memory_ceiling_mb,
        dur,
        gbs,
        puts,
        gets,
        gbs * p.gb_second_usd,
        shards * p.request_usd,
        puts * p.put_usd + gets * p.get_usd,
        [shards],
    )


def tree_cost(
    model_mb: float,
    clients: int,
    *,
    kind: TreeKind = "lambda-fl",
    fan_in: int | None = None,
    p: Pricing | None = None,
) -> RoundCost:
    """A tree of full-model aggregators (λ-FL: ``kind="lambda-fl"``, LIFL: ``"lifl"``)."""
    p = p or Pricing()
    if clients < 1 or model_mb <= 0:
        raise SsdflError("need clients >= 1 and a positive model size")
    levels = tree_levels(clients, kind=kind, fan_in=fan_in)
    mem = _mem(model_mb, p)
    lat = gbs = 0.0
    nodes = reads = 0
    for level in levels:
        durs = [len(g) * model_mb / p.read_mb_s + model_mb / p.write_mb_s for g in level]
        lat += max(durs)
        gbs += sum(mem / 1024 * d for d in durs)
        nodes += len(level)
        reads += sum(len(g) for g in level)
    puts, gets = nodes, reads
    if p.include_client_traffic:
        puts += clients
        gets += clients
    name = {"lambda-fl": "λ-FL", "lifl": "LIFL"}.get(kind, kind)
    if fan_in is not None:
        name = f"tree (fan-in {fan_in})"
    return RoundCost(
        name,
        model_mb,
        clients,
        nodes,
        mem,
        mem <= p.memory_ceiling_mb,
        lat,
        gbs,
        puts,
        gets,
        gbs * p.gb_second_usd,
        nodes * p.request_usd,
        puts * p.put_usd + gets * p.get_usd,
        [len(lv) for lv in levels],
    )


def crossover_mb(
    clients: int,
    shards: int,
    *,
    kind: TreeKind = "lambda-fl",
    p: Pricing | None = None,
    lo: float = 0.01,
    hi: float = 1e5,
) -> float | None:
    """Gradient size (MiB) above which GradsSharding is cheaper per round than the tree
    (ignoring feasibility), by bisection on the cost difference; ``None`` if no sign change."""
    p = p or Pricing()

    def diff(s: float) -> float:
        return (
            sharded_cost(s, clients, shards, p).total_usd
            - tree_cost(s, clients, kind=kind, p=p).total_usd
        )

    a, b = lo, hi
    fa, fb = diff(a), diff(b)
    if fa * fb > 0:
        return None
    for _ in range(200):
        m = math.sqrt(a * b)
        fm = diff(m)
        if (fm > 0) == (fa > 0):
            a, fa = m, fm
        else:
            b = m
        if b / a < 1 + 1e-9:
            break
    return math.sqrt(a * b)


#: Measured round-trip $ per 1,000 rounds on AWS Lambda (us-east-1, N = 20), GradsSharding
#: replication package (results/rq3_cross_architecture).
PAPER_MEASURED = {
    ("ResNet-18", 42.7): {"GS M=4": 0.70, "λ-FL": 0.38, "LIFL": 0.52},
    ("VGG-16", 512.3): {"GS M=4": 3.82, "λ-FL": 10.28, "LIFL": 13.03},
}
PAPER_LATENCY = {
    ("ResNet-18", 42.7): {"GS M=4": 7.9, "λ-FL": 10.4, "LIFL": 12.3},
    ("VGG-16", 512.3): {"GS M=4": 67.2, "λ-FL": 117.3, "LIFL": 126.6},
}


def comparison_table(p: Pricing | None = None, clients: int = 20, shards: int = 4) -> list[dict]:
    """Model vs the measured table for ResNet-18 and VGG-16 (N = 20, M = 4)."""
    p = p or Pricing()
    rows = []
    for (model, mb), meas in PAPER_MEASURED.items():
        costs = {
            "GS M=4": sharded_cost(mb, clients, shards, p),
            "λ-FL": tree_cost(mb, clients, kind="lambda-fl", p=p),
            "LIFL": tree_cost(mb, clients, kind="lifl", p=p),
        }
        for name, c in costs.items():
            rows.append(
                {
                    "model": model,
                    "MiB": mb,
                    "design": name,
                    "memory_mb": c.memory_mb,
                    "model_usd_per_1k": c.per_1000_rounds_usd,
                    "measured_usd_per_1k": meas[name],
                    "model_latency_s": c.latency_s,
                    "measured_latency_s": PAPER_LATENCY[(model, mb)][name],
                }
            )
    return rows


def with_bandwidth(p: Pricing, read_mb_s: float) -> Pricing:
    """``p`` with a measured read bandwidth."""
    return replace(p, read_mb_s=float(read_mb_s))
