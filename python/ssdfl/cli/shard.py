"""ssdfl shard plan|run|report: GradsSharding memory/cost planning, aggregation, plots.

-m/--shards is the shard count M everywhere (plan and report take several, run one).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeGuard, cast

import numpy as np
import typer
from rich.table import Table

from ssdfl.aggregation.executors import EXECUTORS
from ssdfl.cli.app import app, console, table_console
from ssdfl.errors import SsdflError

if TYPE_CHECKING:
    from ssdfl.aggregation.strategies import Strategy, TreeKind

shard_app = typer.Typer(
    help="GradsSharding: plan (memory/cost table), run (aggregate client files), report (plots).",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(shard_app, name="shard")

RUN_PREFIX = "ssdfl-run-"
TEMP_PREFIX = "ssdfl-shard-"
LOCK = ".lock"


#: Largest accepted --model-mb / --bandwidth (MiB, MiB/s): beyond it the cost model overflows.
_MAX_MB = 1e12


def _positive(name: str, value: float | None, upper: float = _MAX_MB) -> None:
    if value is not None and not (math.isfinite(value) and 0 < value <= upper):
        raise typer.BadParameter(
            f"must be a finite number > 0 and <= {upper:g}, got {value}", param_hint=name
        )


def _model_size(model_bytes: int | None, model_mb: float | None) -> float:
    if (model_bytes is None) == (model_mb is None):
        raise typer.BadParameter("give exactly one of --model-bytes or --model-mb")
    _positive("--model-mb", model_mb)
    _positive("--model-bytes", model_bytes, upper=_MAX_MB * 2**20)
    if model_mb is not None:
        return model_mb
    assert model_bytes is not None  # exactly one of the two, checked above
    return model_bytes / 2**20


def _is_strategy(text: str) -> TypeGuard[Strategy]:
    from ssdfl.aggregation.strategies import STRATEGIES

    return text in STRATEGIES


@shard_app.command("plan")
def plan(
    model_bytes: int | None = typer.Option(None, "--model-bytes", help="Gradient size in bytes."),
    model_mb: float | None = typer.Option(None, "--model-mb", help="Gradient size in MiB."),
    clients: int = typer.Option(20, "--clients", "-n", min=1, help="Clients per round N."),
    memory_mb: float = typer.Option(10_240, "--memory-mb", help="Function memory ceiling (MiB)."),
    shards: list[int] = typer.Option(
        [], "--shards", "-m", min=1, help="Shard count M (repeat for several)."
    ),
    pricing: Path | None = typer.Option(
        None, "--pricing", exists=True, dir_okay=False, help="Pricing TOML overriding defaults."
    ),
    bandwidth: float | None = typer.Option(None, "--bandwidth", help="Read MiB/s per function."),
    measure_store: str | None = typer.Option(
        None, "--measure-store", help="Measure read bandwidth of this store (dir or s3://) first."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the rows as JSON."),
) -> None:
    """Print per-design function memory, feasibility, latency and $ per round / 1,000 rounds."""
    from ssdfl.aggregation.cost import crossover_mb, load_pricing, sharded_cost, tree_cost
    from ssdfl.aggregation.memory import min_shards, tree_ceiling_mb

    size = _model_size(model_bytes, model_mb)
    _positive("--memory-mb", memory_mb)
    _positive("--bandwidth", bandwidth)
    over: dict[str, float] = {"memory_ceiling_mb": memory_mb}
    notes = []
    if measure_store is not None:
        from ssdfl.aggregation.store import measure_bandwidth, open_store

        if "://" not in measure_store and not Path(measure_store).is_dir():
            raise SsdflError(f"--measure-store {measure_store} is not an existing directory")

        bw = measure_bandwidth(open_store(measure_store), mb=32)
        notes.append(f"measured read bandwidth of {measure_store}: {bw:.0f} MiB/s")
        over["read_mb_s"] = bw
    if bandwidth is not None:
        over["read_mb_s"] = bandwidth
    p = load_pricing(pricing, **over)
    c, o = p.memory_copies, p.runtime_overhead_mb
    m_min = min_shards(size, memory_mb, copies=c, overhead_mb=o)
    ms = shards or sorted({1, 4, m_min})
    rows = [sharded_cost(size, clients, m, p) for m in ms]
    rows += [
        tree_cost(size, clients, kind="lambda-fl", p=p),
        tree_cost(size, clients, kind="lifl", p=p),
    ]
    ceil = tree_ceiling_mb(memory_mb, copies=c, overhead_mb=o)
    cross = {m: crossover_mb(clients, m, p=p) for m in ms}
    if as_json:
        out = {
            "model_mb": size, "clients": clients, "memory_ceiling_mb": memory_mb,
            "read_mb_s": p.read_mb_s, "tree_ceiling_mb": ceil, "min_shards": m_min,
            "crossover_mb": {str(m): x for m, x in cross.items()},
            "rows": [
                {"design": r.design, "functions": r.functions, "memory_mb": r.memory_mb,
                 "feasible": r.feasible, "latency_s": r.latency_s, "gb_seconds": r.gb_seconds,
                 "puts": r.puts, "gets": r.gets, "usd_per_round": r.total_usd,
                 "usd_per_1000_rounds": r.per_1000_rounds_usd}
                for r in rows
            ],
        }  # fmt: skip
        print(json.dumps(out))
        return
    for n in notes:
        console.print(n)
    t = Table(
        title=f"S = {size:,.1f} MiB, N = {clients}, ceiling {memory_mb:,.0f} MiB, "
        f"{p.read_mb_s:g} MiB/s"
    )
    for col in ("design", "functions", "MiB/function", "feasible", "latency s", "GB-s", "PUT",
                "GET", "$/round", "$/1k rounds"):  # fmt: skip
        t.add_column(col, justify="left" if col == "design" else "right")
    for r in rows:
        t.add_row(
            r.design, str(r.functions), f"{r.memory_mb:,.0f}",
            "yes" if r.feasible else "[red]NO[/]", f"{r.latency_s:,.1f}",
            f"{r.gb_seconds:,.1f}", str(r.puts), str(r.gets), f"{r.total_usd:.6f}",
            f"{r.per_1000_rounds_usd:,.2f}",
        )  # fmt: skip
    table_console().print(t)
    console.print(f"tree designs fit up to S = {ceil:,.0f} MiB; GradsSharding needs M ≥ {m_min}")
    for m, x in cross.items():
        if x is not None:
            console.print(f"cost crossover vs λ-FL at M = {m}: S ≈ {x:,.0f} MiB")


# ----------------------------------------------------------------------------------- run
def _load_client(path: Path) -> np.ndarray | dict[str, np.ndarray]:
    if path.is_dir():
        raise SsdflError(f"client file {path} is a directory")
    if not path.exists():
        raise FileNotFoundError(f"client file {path} does not exist")
    try:
        obj = np.load(path, allow_pickle=False)
        if isinstance(obj, np.lib.npyio.NpzFile):
            with obj:
                return {k: obj[k] for k in obj.files}
        return obj
    except Exception as exc:
        raise SsdflError(f"client file {path} is not a readable .npy/.npz: {exc}") from None


def _check_clients(
    files: list[Path], ups: list[np.ndarray | dict[str, np.ndarray]]
) -> list[np.ndarray] | list[dict[str, np.ndarray]]:
    """Every client like the first (same kind, keys, shapes, float dtype), naming the files;
    returns the clients as a list of that one kind."""
    ref, f0 = ups[0], files[0]
    for f, u in zip(files[1:], ups[1:]):
        if isinstance(ref, dict) and isinstance(u, dict):
            if list(u) != list(ref):
                raise SsdflError(
                    f"client file {f} has arrays {sorted(u)} but {f0} has {sorted(ref)}; every "
                    "client needs the same names"
                )
            pairs = [(k, u[k], ref[k]) for k in ref]
        elif not isinstance(ref, dict) and not isinstance(u, dict):
            pairs = [("", u, ref)]
        else:
            raise SsdflError(f"client file {f} is {'.npz' if isinstance(u, dict) else '.npy'} "
                             f"but {f0} is not: use one kind")  # fmt: skip
        for k, a, b in pairs:
            if a.shape != b.shape or a.dtype != b.dtype:
                what = f"array {k!r} " if k else ""
                raise SsdflError(f"client file {f}: {what}has shape {a.shape} {a.dtype}, but "
                                 f"{f0} has {b.shape} {b.dtype}")  # fmt: skip
    dts = {a.dtype for a in (ref.values() if isinstance(ref, dict) else [ref])}
    if len(dts) != 1 or next(iter(dts)) not in (np.float32, np.float64):
        raise SsdflError(f"client file {f0}: updates must be float32 or float64, got "
                         f"{sorted(map(str, dts))}")  # fmt: skip
    if isinstance(ref, dict):
        return [u for u in ups if isinstance(u, dict)]
    return [u for u in ups if not isinstance(u, dict)]


def _parse_weights(text: str | None, n: int) -> list[float] | None:
    if text is None:
        return None
    try:
        w = [float(x) for x in text.split(",")]
    except ValueError:
        raise typer.BadParameter(
            f"expected comma-separated numbers such as 10,20,30; got {text!r}",
            param_hint="--weights",
        ) from None
    if len(w) != n:
        raise typer.BadParameter(f"{len(w)} weights for {n} client files", param_hint="--weights")
    return w


def _try_lock(path: Path) -> int | None:
    """An exclusive flock on ``path`` (fd), or None if another live process holds it. The
    kernel drops the lock when its holder dies, even by SIGKILL."""
    try:
        fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def _sweep_stale(parent: Path, prefix: str) -> list[Path]:
    """Remove ``parent/<prefix>*`` directories whose run is dead (their lock file is free)."""
    removed = []
    with contextlib.suppress(OSError):
        for d in sorted(parent.glob(prefix + "*")):
            if not d.is_dir() or d.is_symlink() or not (d / LOCK).exists():
                continue
            fd = _try_lock(d / LOCK)
            if fd is None:
                continue
            try:
                shutil.rmtree(d, ignore_errors=True)
                removed.append(d)
            finally:
                os.close(fd)
    return removed


@contextlib.contextmanager
def _locked_dir(parent: Path, prefix: str) -> Iterator[Path]:
    """A fresh directory ``parent/<prefix><id>`` locked for this process's lifetime and
    removed on exit; directories of dead runs under the same prefix are swept first."""
    _sweep_stale(parent, prefix)
    d = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    fd = _try_lock(d / LOCK)
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)
        if fd is not None:
            os.close(fd)


def _distinct_files(files: list[Path]) -> None:
    """Refuse a client file listed twice (also under another spelling or through a link):
    it would be counted twice in the average."""
    seen: dict[tuple[int, int] | str, Path] = {}
    for f in files:
        try:
            st = f.stat()
            key: tuple[int, int] | str = (st.st_dev, st.st_ino)
        except OSError:
            key = os.path.abspath(f)  # a missing file is reported by the loader
        if key in seen:
            raise SsdflError(f"client file {f} is listed twice (also as {seen[key]}); each "
                             "client counts once in the average")  # fmt: skip
        seen[key] = f


def _existing_store_dir(path: Path) -> None:
    """A local ``--store`` is an existing directory, or a new one in an existing directory (as
    ``mkdir`` without ``-p``): a mistyped path must not create a chain of directories."""
    if path.exists() and not path.is_dir():
        raise SsdflError(f"--store {path} is not a directory")
    parent = path.absolute().parent
    if not path.exists() and not parent.is_dir():
        raise SsdflError(f"--store {path}: {parent} does not exist; create it first (or leave "
                         "--store out for a temporary store)")  # fmt: skip


@shard_app.command("run")
def run(
    client_files: list[Path] = typer.Argument(..., help="Client updates (.npy or .npz each)."),
    out: Path = typer.Option(
        ..., "--out", "-o", help="Result file (.npy, or .npz for .npz input)."
    ),
    weights: str | None = typer.Option(None, "--weights", help="Comma-separated client weights."),
    strategy: str = typer.Option("sharded", "--strategy", help="flat | tree | sharded"),
    shards: int = typer.Option(4, "--shards", "-m", min=1, help="Shard count M."),
    fan_in: int | None = typer.Option(
        None, "--fan-in", min=2, help="Tree branching (overrides --tree)."
    ),
    tree: str = typer.Option("lambda-fl", "--tree", help="lambda-fl | lifl"),
    store: str | None = typer.Option(
        None, "--store", help="Object store: a directory or s3://bucket/prefix (default: temp dir)."
    ),
    executor: str = typer.Option("local", "--executor", help=" | ".join(EXECUTORS)),
    scheduler: str | None = typer.Option(None, "--scheduler", help="Dask scheduler address."),
    workers: int | None = typer.Option(None, "--workers", min=1),
    memory_mb: float | None = typer.Option(
        None, "--memory-mb", help="Hard memory cap per function process (local executor)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the function table as JSON."),
) -> None:
    """Upload the client files to the store, aggregate them on the executor, write --out.

    Each run uses its own prefix in the store and removes everything it uploaded, also on
    errors and Ctrl-C.
    """
    from ssdfl._atomic import atomic_path, check_out
    from ssdfl.aggregation.executors import get_executor
    from ssdfl.aggregation.memory import predict_job_mb
    from ssdfl.aggregation.pipeline import aggregate_store, plan_jobs, upload_clients
    from ssdfl.aggregation.store import LocalStore, ObjectStore, get_array, open_store
    from ssdfl.aggregation.strategies import STRATEGIES
    from ssdfl.cli.app import quiet

    if not _is_strategy(strategy):
        raise typer.BadParameter(
            f"{strategy!r} is not a strategy: choose one of {', '.join(STRATEGIES)}",
            param_hint="--strategy",
        )
    _positive("--memory-mb", memory_mb)
    if out.is_dir():
        raise SsdflError(f"--out {out} is a directory; give a file name such as avg.npy")
    check_out(out, kind="file")
    _distinct_files(client_files)
    if store is not None and "://" not in store:
        _existing_store_dir(Path(store))
    ups = _check_clients(client_files, [_load_client(p) for p in client_files])
    w = _parse_weights(weights, len(ups))
    elems = sum(a.size for a in (ups[0].values() if isinstance(ups[0], dict) else [ups[0]]))
    if strategy == "sharded" and shards > max(elems, 1):
        raise typer.BadParameter(
            f"{shards:,} shards for clients of {elems:,} elements: at most one shard per "
            f"element (--shards <= {elems:,})",
            param_hint="--shards",
        )
    labels = [str(p) for p in client_files]
    run_id = f"{RUN_PREFIX}{uuid.uuid4().hex[:12]}"
    with contextlib.ExitStack() as stack:
        st: ObjectStore
        if store is None:
            st = LocalStore(stack.enter_context(_locked_dir(Path(tempfile.gettempdir()),
                                                            TEMP_PREFIX)))  # fmt: skip
        else:
            st = open_store(store)
            if isinstance(st, LocalStore):  # a run prefix of a dead run is swept, ours locked
                run_dir = stack.enter_context(_locked_dir(st.root, RUN_PREFIX))
                run_id = run_dir.name
            else:
                stack.callback(st.delete_prefix, run_id + "/")
        names = [f"{i:05d}" for i in range(len(ups))]
        keys = upload_clients(st, ups, prefix=run_id, names=names)
        kind = "dask" if scheduler else executor
        ex = stack.enter_context(
            get_executor(kind, max_workers=workers, memory_limit_mb=memory_mb, address=scheduler)
        )
        result_key = f"{run_id}/result.npy"
        kind_of_tree = cast("TreeKind", tree)  # validated by tree_levels when a tree is built
        rep = aggregate_store(
            st, keys, result_key, w, executor=ex, progress=not quiet(), client_names=labels,
            strategy=strategy, shards=shards, fan_in=fan_in, tree=kind_of_tree,
        )  # fmt: skip
        flat = get_array(st, result_key)
        levels, *_ = plan_jobs(
            st, keys, w, per_layer_sizes=None, tmp="x", block=1 << 18,
            strategy=strategy, shards=shards, fan_in=fan_in, tree=kind_of_tree,
        )  # fmt: skip
    jobs = {j.name: j for lv in levels for j in lv}
    rows: list[dict[str, Any]] = []
    for r in rep.functions:
        pred = predict_job_mb(jobs[r.name], r.baseline_rss_mb).total_mb if r.name in jobs else 0
        rows.append({"function": r.name, "ok": r.ok, "seconds": r.seconds,
                     "mib_read": r.bytes_read / 2**20, "mib_written": r.bytes_written / 2**20,
                     "peak_rss_mib": r.peak_rss_mb, "predicted_mib": pred})  # fmt: skip
    if isinstance(ups[0], dict):
        res, off = {}, 0
        for k, v in ups[0].items():
            res[k] = flat[off : off + v.size].reshape(v.shape)
            off += v.size
        target = out if out.suffix == ".npz" else out.with_suffix(".npz")
        with atomic_path(target) as tmp:
            np.savez(tmp, allow_pickle=True, **res)  # numpy's default, named: keys are data
    else:
        target = out if out.suffix == ".npy" else out.with_suffix(".npy")
        with atomic_path(target) as tmp, open(tmp, "wb") as fh:
            np.save(fh, flat.reshape(np.shape(ups[0])))
    if as_json:
        print(json.dumps({"strategy": strategy, "clients": len(ups), "out": str(target),
                          "wall_seconds": rep.wall_seconds, "functions": rows}))  # fmt: skip
        return
    t = Table(title=f"{strategy}: {len(ups)} clients, wall {rep.wall_seconds:.2f} s")
    for col in ("function", "ok", "seconds", "MiB read", "MiB written", "peak RSS MiB",
                "predicted MiB"):  # fmt: skip
        t.add_column(col, justify="right")
    for row in rows:
        t.add_row(
            row["function"], "yes" if row["ok"] else "no", f"{row['seconds']:.2f}",
            f"{row['mib_read']:.1f}", f"{row['mib_written']:.1f}", f"{row['peak_rss_mib']:.0f}",
            f"{row['predicted_mib']:.0f}",
        )  # fmt: skip
    table_console().print(t)
    console.print(f"wrote {target}")


# -------------------------------------------------------------------------------- report
@shard_app.command("report")
def report(
    out: Path = typer.Option(
        Path("shard-report"), "--out", "-o", help="New directory for the PNGs (replaced whole)."
    ),
    out_dir: Path | None = typer.Option(None, "--out-dir", hidden=True),
    clients: int = typer.Option(20, "--clients", "-n", min=1, help="Clients per round N."),
    shards: list[int] = typer.Option(
        [], "--shards", "-m", min=1, help="Shard count M (repeat for several; default 4)."
    ),
    model_mb: float | None = typer.Option(
        None, "--model-mb", help="Mark this gradient size (MiB) in the plots."
    ),
    pricing: Path | None = typer.Option(None, "--pricing", exists=True, dir_okay=False),
) -> None:
    """Write the cost/latency-vs-size and memory-vs-size plots of the model into --out."""
    from ssdfl._atomic import atomic_dir, check_output_dir
    from ssdfl.aggregation.cost import load_pricing
    from ssdfl.aggregation.plots import plot_cost_vs_size, plot_memory_vs_size

    _positive("--model-mb", model_mb)
    target = out_dir if out_dir is not None else out
    check_output_dir(target)
    ms = shards or [4]
    p = load_pricing(pricing)
    with atomic_dir(target) as tmp:
        a = plot_cost_vs_size(tmp / "gradssharding_cost.png", clients=clients, shards=ms[0],
                              pricing=p, model_mb=model_mb)  # fmt: skip
        b = plot_memory_vs_size(tmp / "gradssharding_memory.png", pricing=p,
                                shard_counts=sorted({1, *ms}), model_mb=model_mb)  # fmt: skip
    console.print(f"wrote {target / a.name} and {target / b.name}")
