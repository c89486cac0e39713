"""``ssdfl shard plan|run|report``: GradsSharding memory/cost planning, aggregation, plots."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import typer
from rich.table import Table

from ssdfl.cli.app import app, console

shard_app = typer.Typer(
    help="GradsSharding: plan (memory/cost table), run (aggregate client files), report (plots).",
    no_args_is_help=True,
)
app.add_typer(shard_app, name="shard")


@shard_app.command("plan")
def plan(
    model_bytes: int | None = typer.Option(None, "--model-bytes", help="Gradient size in bytes."),
    model_mb: float | None = typer.Option(None, "--model-mb", help="Gradient size in MiB."),
    clients: int = typer.Option(20, "--clients", "-n", min=1, help="Clients per round N."),
    memory_mb: float = typer.Option(10_240, "--memory-mb", help="Function memory ceiling (MiB)."),
    shards: list[int] = typer.Option([], "--shards", "-m", help="Shard counts M (repeatable)."),
    pricing: Path | None = typer.Option(
        None, "--pricing", help="Pricing TOML overriding defaults."
    ),
    bandwidth: float | None = typer.Option(None, "--bandwidth", help="Read MiB/s per function."),
    measure_store: str | None = typer.Option(
        None, "--measure-store", help="Measure read bandwidth of this store (dir or s3://) first."
    ),
) -> None:
    """Print per-design function memory, feasibility, latency and $ per round / 1,000 rounds."""
    from ssdfl.aggregation.cost import crossover_mb, load_pricing, sharded_cost, tree_cost
    from ssdfl.aggregation.memory import min_shards, tree_ceiling_mb
    from ssdfl.errors import SsdflError

    if (model_bytes is None) == (model_mb is None):
        raise SsdflError("give exactly one of --model-bytes or --model-mb")
    size = model_mb if model_mb is not None else model_bytes / 2**20  # type: ignore[operator]
    if size <= 0:
        raise SsdflError("the model size must be positive")
    over: dict[str, float] = {"memory_ceiling_mb": memory_mb}
    if measure_store is not None:
        from ssdfl.aggregation.store import measure_bandwidth, open_store

        bw = measure_bandwidth(open_store(measure_store), mb=32)
        console.print(f"measured read bandwidth of {measure_store}: {bw:.0f} MiB/s")
        over["read_mb_s"] = bw
    if bandwidth is not None:
        over["read_mb_s"] = bandwidth
    p = load_pricing(pricing, **over)
    ms = shards or sorted(
        {
            1,
            4,
            min_shards(size, memory_mb, copies=p.memory_copies, overhead_mb=p.runtime_overhead_mb),
        }
    )
    rows = [sharded_cost(size, clients, m, p) for m in ms]
    rows += [
        tree_cost(size, clients, kind="lambda-fl", p=p),
        tree_cost(size, clients, kind="lifl", p=p),
    ]
    t = Table(
        title=f"S = {size:,.1f} MiB, N = {clients}, ceiling {memory_mb:,.0f} MiB, "
        f"{p.read_mb_s:g} MiB/s"
    )
    for col in (
        "design",
        "functions",
        "MiB/function",
        "feasible",
        "latency s",
        "GB-s",
        "PUT",
        "GET",
        "$/round",
        "$/1k rounds",
    ):
        t.add_column(col, justify="left" if col == "design" else "right")
    for r in rows:
        t.add_row(
            r.design,
            str(r.functions),
            f"{r.memory_mb:,.0f}",
            "yes" if r.feasible else "[red]NO[/]",
            f"{r.latency_s:,.1f}",
            f"{r.gb_seconds:,.1f}",
            str(r.puts),
            str(r.gets),
            f"{r.total_usd:.6f}",
            f"{r.per_1000_rounds_usd:,.2f}",
        )
    console.print(t)
    ceil = tree_ceiling_mb(memory_mb, copies=p.memory_copies, overhead_mb=p.runtime_overhead_mb)
    c = p.memory_copies
    console.print(
        f"tree designs fit up to S = {ceil:,.0f} MiB; GradsSharding needs "
        f"M ≥ {min_shards(size, memory_mb, copies=c, overhead_mb=p.runtime_overhead_mb)}"
    )
    for m in ms:
        x = crossover_mb(clients, m, p=p)
        if x is not None:
            console.print(f"cost crossover vs λ-FL at M = {m}: S ≈ {x:,.0f} MiB")


def _load_client(path: Path) -> np.ndarray | dict[str, np.ndarray]:
    if not path.exists():
        raise FileNotFoundError(f"client file {path} does not exist")
    try:
        obj = np.load(path, allow_pickle=False)
    except Exception as exc:
        from ssdfl.errors import SsdflError

        raise SsdflError(f"client file {path} is not a readable .npy/.npz: {exc}") from None
    if isinstance(obj, np.lib.npyio.NpzFile):
        with obj:
            return {k: obj[k] for k in obj.files}
    return obj


@shard_app.command("run")
def run(
    client_files: list[Path] = typer.Argument(..., help="Client updates (.npy or .npz each)."),
    out: Path = typer.Option(
        ..., "--out", "-o", help="Result file (.npy, or .npz for .npz input)."
    ),
    weights: str | None = typer.Option(None, "--weights", help="Comma-separated client weights."),
    strategy: str = typer.Option("sharded", "--strategy", help="flat | tree | sharded"),
    shards: int = typer.Option(4, "--shards", "-m", min=1),
    fan_in: int | None = typer.Option(None, "--fan-in", help="Tree branching (overrides --tree)."),
    tree: str = typer.Option("lambda-fl", "--tree", help="lambda-fl | lifl"),
    store: str | None = typer.Option(
        None, "--store", help="Object store: a directory or s3://bucket/prefix (default: temp dir)."
    ),
    executor: str = typer.Option("local", "--executor", help="local | inline | dask"),
    scheduler: str | None = typer.Option(None, "--scheduler", help="Dask scheduler address."),
    workers: int | None = typer.Option(None, "--workers", min=1),
    memory_mb: float | None = typer.Option(
        None, "--memory-mb", help="Hard memory cap per function process (local executor)."
    ),
) -> None:
    """Upload the client files to the store, aggregate them on the executor, write ``--out``."""
    from ssdfl._atomic import atomic_path
    from ssdfl.aggregation.executors import get_executor
    from ssdfl.aggregation.memory import predict_job_mb
    from ssdfl.aggregation.pipeline import aggregate_store, plan_jobs, upload_clients
    from ssdfl.aggregation.store import get_array, open_store

    ups = [_load_client(p) for p in client_files]
    w = [float(x) for x in weights.split(",")] if weights else None
    with tempfile.TemporaryDirectory(prefix="ssdfl-shard-") as tmpdir:
        st = open_store(store if store is not None else tmpdir)
        names = [p.stem for p in client_files]
        if len(set(names)) != len(names):
            names = [f"{i:05d}-{n}" for i, n in enumerate(names)]
        keys = upload_clients(st, ups, prefix="ssdfl-round", names=names)
        kind = "dask" if scheduler else executor
        ex = get_executor(kind, max_workers=workers, memory_limit_mb=memory_mb, address=scheduler)
        with ex:
            rep = aggregate_store(
                st,
                keys,
                "ssdfl-round/result.npy",
                w,
                strategy=strategy,  # type: ignore[arg-type]
                shards=shards,
                fan_in=fan_in,
                tree=tree,
                executor=ex,
                progress=True,
            )  # type: ignore[arg-type]
        flat = get_array(st, "ssdfl-round/result.npy")
        levels, *_ = plan_jobs(
            st,
            keys,
            w,
            strategy=strategy,
            shards=shards,
            fan_in=fan_in,  # type: ignore[arg-type]
            tree=tree,
            per_layer_sizes=None,
            tmp="x",
            block=1 << 18,
        )  # type: ignore[arg-type]
        for k in keys:
            st.delete(k)
        st.delete("ssdfl-round/result.npy")
        st.delete("ssdfl-round/layout.json")
    t = Table(title=f"{strategy}: {len(ups)} clients, wall {rep.wall_seconds:.2f} s")
    for col in (
        "function",
        "ok",
        "seconds",
        "MiB read",
        "MiB written",
        "peak RSS MiB",
        "predicted MiB",
    ):
        t.add_column(col, justify="right")
    jobs = {j.name: j for lv in levels for j in lv}
    for r in rep.functions:
        pred = predict_job_mb(jobs[r.name], r.baseline_rss_mb).total_mb if r.name in jobs else 0
        t.add_row(
            r.name,
            "yes" if r.ok else "no",
            f"{r.seconds:.2f}",
            f"{r.bytes_read / 2**20:.1f}",
            f"{r.bytes_written / 2**20:.1f}",
            f"{r.peak_rss_mb:.0f}",
            f"{pred:.0f}",
        )
    console.print(t)
    out.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(ups[0], dict):
        res, off = {}, 0
        for k, v in ups[0].items():
            res[k] = flat[off : off + v.size].reshape(v.shape)
            off += v.size
        with atomic_path(out if out.suffix == ".npz" else out.with_suffix(".npz")) as tmp:
            np.savez(tmp, **res)
        console.print(f"wrote {out if out.suffix == '.npz' else out.with_suffix('.npz')}")
    else:
        res_arr = flat.reshape(np.shape(ups[0]))
        target = out if out.suffix == ".npy" else out.with_suffix(".npy")
        with atomic_path(target) as tmp, open(tmp, "wb") as fh:
            np.save(fh, res_arr)
        console.print(f"wrote {target}")


@shard_app.command("report")
def report(
    out_dir: Path = typer.Option(Path("docs/img"), "--out-dir", help="Directory for the PNGs."),
    clients: int = typer.Option(20, "--clients", "-n", min=1),
    shards: int = typer.Option(4, "--shards", "-m", min=1),
    pricing: Path | None = typer.Option(None, "--pricing"),
) -> None:
    """Write the cost/latency-vs-size and memory-vs-size plots of the model."""
    from ssdfl.aggregation.cost import load_pricing
    from ssdfl.aggregation.plots import plot_cost_vs_size, plot_memory_vs_size

    p = load_pricing(pricing)
    a = plot_cost_vs_size(
        out_dir / "gradssharding_cost.png", clients=clients, shards=shards, pricing=p
    )
    b = plot_memory_vs_size(out_dir / "gradssharding_memory.png", pricing=p)
    console.print(f"wrote {a} and {b}")
