"""Experiment grids: build a run from a flat specification and sweep grids on dask.

A run is a :class:`RunSpec` (graph family and size, data set and non-IID split, schedule,
optimizer mix, method, seed, …). :func:`run_one` builds everything from it deterministically
and returns the run's tidy table (:meth:`ssdfl.simulate.SimulationResult.table`) with the spec
as extra columns. :func:`sweep` expands a grid (``{field: [values…]}``, Cartesian product over
fields) and runs it on a ``dask.distributed`` cluster — a fresh ``LocalCluster`` by default, an
existing scheduler ``address`` or ``client`` otherwise — and concatenates one table.

Graphs (``graph``; ``graph_param`` overrides the default parameter):

==============  =====================================================  =================
``er``          Erdős–Rényi ``G(N, p)``                                ``p = 0.1``
``rgg``         random geometric graph in the unit square             ``r = √(2·ln N / N)``
``ba``          Barabási–Albert                                        ``m = 2``
``ws``          Watts–Strogatz (ring of ``k`` neighbours, rewiring 0.3) ``k = 4``
``complete``    complete graph                                         —
a file path     any graph file :func:`ssdfl.read_graph` reads          —
==============  =====================================================  =================

Random families are redrawn (seed, seed + 10⁶, …) until connected; the draw is a function of
``graph_seed`` (default: the run's ``seed``) only, so every method of a grid sees the same graph.

Data (``dataset``): ``digits`` (scikit-learn's 8×8 digits, standardized, 20 % stratified
held-out test set), ``mnist1d`` (MNIST-1D generated offline by
:func:`ssdfl.theory.data.load_mnist1d_federated`: 4 000 training signals of length 40, 1 000
held-out), ``synthetic`` (Gaussian classes, 10 classes, 20 features), ``quadratic`` (random
strongly convex quadratics, ``d = 10``). ``model`` for the classification data sets:
``"softmax"`` (softmax regression, the default), ``"mlp"`` (one hidden layer of 32 ReLU
units) or ``"cnn"`` (1-D CNN, two conv layers of 8 channels, kernel 5, stride 2), all with
``l2``; the networks start every device from the same He-uniform draw ``model.init(seed)``
(:mod:`ssdfl.theory.nn`). ``quadratic`` has no ``model`` choice (leave it ``"softmax"``).
``split``: ``"1-label"``, ``"3-label"`` (any ``"k-label"``), ``"iid"`` or
``"dirichlet-α"``. ``cluster_how`` (SSD-FL / cSTC): ``"hierarchy"`` (default; the paper's
splitting loop stopped at ``n_clusters`` = ``round(N/10)`` unless given), ``"partition"``, or
``"plan"`` (the formation of :func:`ssdfl.planner.plan.plan_formation`; cSTC then uses its ``S``).
``optimizers``: ``"sgd"``, ``"mixed"`` (each device draws SGD, prox or
momentum, as in the paper; μ ∈ [0.01, 1], ρ ∈ [0.1, 0.9]) or any ``+``-joined subset of
``sgd``/``prox``/``momentum``/``adam``. ``adam_lr``: step size of the devices whose
optimizer keeps its own step scale (``LocalOptimizer.default_lr`` is set: Adam, whose
normalized steps are not on the scale of η; the planner's default is that ``default_lr``),
``None`` = ``eta``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import math
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd

from ssdfl._atomic import atomic_write
from ssdfl._progress import get_logger, stage
from ssdfl.errors import ConfigError, SsdflError
from ssdfl.graphs.graph import Graph
from ssdfl.graphs.graph_io import read_graph
from ssdfl.graphs.mixing import MIXING_RULES
from ssdfl.planner.plan import PlanConfig, plan_formation
from ssdfl.simulate import (
    SimulationResult,
    make_method,
    plot_curves,
    save_figure,
    simulate,
    threshold_table,
)
from ssdfl.simulate.methods import METHODS
from ssdfl.theory.data import (
    FederatedDataset,
    label_skew_split,
    load_mnist1d_federated,
    synthetic_classification,
)
from ssdfl.theory.devices import DeviceTable
from ssdfl.theory.models import DeviceModel, Quadratic
from ssdfl.theory.optimizers import OPTIMIZERS, OptimizerPopulation, random_population

__all__ = [
    "ExperimentConfig",
    "RunSpec",
    "build_graph",
    "build_problem",
    "expand_grid",
    "load_config",
    "plot_grid",
    "run_config",
    "run_one",
    "sweep",
]

_log = get_logger(__name__)


@dataclass(frozen=True)
class RunSpec:
    """One simulation run (see the module docstring for the field values)."""

    graph: str = "er"
    n_devices: int = 30
    graph_param: float | None = None
    graph_seed: int | None = None
    dataset: str = "digits"
    model: str = "softmax"
    split: str = "3-label"
    tau_a: int = 5
    tau_r: int = 1
    optimizers: str = "mixed"
    method: str = "ssdfl"
    seed: int = 0
    n_clusters: int | None = None
    cluster_how: str = "hierarchy"
    eta: float = 0.02
    adam_lr: float | None = None
    cycles: int = 100
    normalize: bool = False
    reset_state: bool = False
    inter_local_steps: bool = False
    batch_size: int | None = None
    sigma: float = 0.0
    l2: float = 1e-3
    mixing: str = "lazy-metropolis"
    bytes_per_param: int = 4
    eval_every: int = 1
    device_metrics: bool = True
    stop_accuracy: float | None = None

    def label(self) -> dict[str, Any]:
        """The spec as a flat dict (columns of the result table)."""
        return dataclasses.asdict(self)


def build_graph(
    family: str, n: int, param: float | None = None, seed: int = 0, max_tries: int = 1000
) -> Graph:
    """Connected graph of the given family (module docstring); deterministic in ``seed``."""
    if n < 2:
        raise SsdflError(f"need at least 2 devices, got {n}")
    fam = family.lower()
    if fam == "complete":
        return Graph.from_networkx(nx.complete_graph(n))
    if fam not in ("er", "rgg", "ba", "ws"):
        from pathlib import Path

        if Path(family).exists():
            g = read_graph(family)
            if g.n != n:
                raise SsdflError(f"{family} has {g.n} nodes but the run asks for {n} devices")
            return g
        raise SsdflError(f"unknown graph family {family!r} (er, rgg, ba, ws, complete or a file)")
    for t in range(max_tries):
        s = int(seed) + 1_000_000 * t
        if fam == "er":
            g = nx.gnp_random_graph(n, 0.1 if param is None else param, seed=s)
        elif fam == "rgg":
            r = math.sqrt(2.0 * math.log(n) / n) if param is None else param
            g = nx.random_geometric_graph(n, r, seed=s)
        elif fam == "ba":
            g = nx.barabasi_albert_graph(n, 2 if param is None else int(param), seed=s)
        else:
            g = nx.watts_strogatz_graph(n, 4 if param is None else int(param), 0.3, seed=s)
        if nx.is_connected(g):
            return Graph.from_networkx(nx.convert_node_labels_to_integers(g), weight=None)
    raise SsdflError(f"no connected {family} graph with N={n} in {max_tries} draws")


def _split(spec: RunSpec) -> tuple[str, int, float]:
    s = spec.split.lower()
    if s == "iid":
        return "iid", 1, 0.5
    if s.endswith("-label"):
        return "k-label", int(s.split("-")[0]), 0.5
    if s.startswith("dirichlet"):
        return "dirichlet", 1, float(s.split("-")[1]) if "-" in s else 0.5
    raise SsdflError(f"unknown split {spec.split!r} (1-label, 3-label, iid, dirichlet-α)")


def _digits(spec: RunSpec) -> tuple[FederatedDataset, tuple[np.ndarray, np.ndarray]]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    data = load_digits()
    X = np.asarray(data.data, dtype=np.float64) / 16.0
    y = np.asarray(data.target, dtype=np.int64)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.2, random_state=0, stratify=y)
    mu, sd = Xtr.mean(0), Xtr.std(0)
    sd = np.where(sd > 0, sd, 1.0)
    Xtr, Xte = (Xtr - mu) / sd, (Xte - mu) / sd
    scheme, k, alpha = _split(spec)
    parts = label_skew_split(ytr, spec.n_devices, scheme, k=k, alpha=alpha, rng=spec.seed)
    return FederatedDataset(Xtr, ytr, parts, 10, f"digits-{spec.split}"), (Xte, yte)


DATASETS = ("digits", "mnist1d", "synthetic", "quadratic")
MODELS = ("softmax", "mlp", "cnn")


def build_problem(
    spec: RunSpec,
) -> tuple[DeviceModel, OptimizerPopulation, tuple[np.ndarray, np.ndarray] | None]:
    """``(model, optimizers, test_data)`` of a spec (deterministic in ``spec.seed``)."""
    rng = np.random.default_rng([spec.seed, 7])
    test = None
    if spec.model not in MODELS:
        raise SsdflError(f"unknown model {spec.model!r} ({', '.join(MODELS)})")
    if spec.dataset == "digits":
        ds, test = _digits(spec)
    elif spec.dataset == "mnist1d":
        scheme, k, alpha = _split(spec)
        ds = load_mnist1d_federated(spec.n_devices, scheme, k=k, alpha=alpha, seed=spec.seed)
        assert ds.X_test is not None and ds.y_test is not None
        test = (ds.X_test, ds.y_test)
    elif spec.dataset == "synthetic":
        scheme, k, alpha = _split(spec)
        ds = synthetic_classification(
            spec.n_devices, n_samples=100 * spec.n_devices, dim=20, n_classes=10,
            scheme=scheme, k=k, alpha=alpha, separation=0.35, seed=spec.seed,
        )  # fmt: skip
    elif spec.dataset == "quadratic":
        if spec.model != "softmax":
            raise SsdflError(f"dataset 'quadratic' has no model choice, got model {spec.model!r}")
        ds = None
    else:
        raise SsdflError(f"unknown dataset {spec.dataset!r} ({', '.join(DATASETS)})")
    if ds is None:
        model: DeviceModel = Quadratic.random(
            spec.n_devices, 10, rng, mu=0.5, L=2.0, heterogeneity=1.0
        )
    else:
        model = ds.model(spec.model, l2=spec.l2)
    kinds = ("sgd", "prox", "momentum") if spec.optimizers == "mixed" else spec.optimizers
    kinds_t = tuple(kinds.split("+")) if isinstance(kinds, str) else tuple(kinds)
    pop = random_population(spec.n_devices, rng, kinds_t)
    return model, pop, test


def run_one(spec: RunSpec, single_thread: bool = True) -> pd.DataFrame:
    """Run one spec; its tidy table with the spec's fields as columns, ``label`` (method name,
    plus the cluster source if not the default and ``+norm``) and ``run_seconds`` (wall
    time). ``single_thread`` limits BLAS to one thread (one run per dask worker thread)."""
    import contextlib

    ctx: Any = contextlib.nullcontext()
    if single_thread:
        from threadpoolctl import threadpool_limits

        ctx = threadpool_limits(limits=1)
    with ctx:
        t0 = time.perf_counter()
        res = _simulate_spec(spec)
        df = res.table()
    for k, v in spec.label().items():
        if k not in df:  # simulate's own columns (method display name, n_clusters, …) win
            df[k] = v
    label = str(res.params["method"])
    if (
        spec.method.lower().replace("-", "") in ("ssdfl", "cstc")
        and spec.cluster_how != "hierarchy"
    ):
        label += f" ({spec.cluster_how})"
    if spec.normalize:
        label += " +norm"
    df["label"] = label
    df["run_seconds"] = time.perf_counter() - t0
    return df


def planned_clusters(
    g: Graph, model: DeviceModel, pop: OptimizerPopulation, spec: RunSpec
) -> list[np.ndarray]:
    """The formation chosen by :func:`ssdfl.planner.plan.plan_formation` for this run's devices
    (their optimizers and, for classification, label histograms) and schedule."""
    n = g.n
    hist = None
    classes: list[str] = []
    C = int(getattr(model, "n_classes", 0))
    if C and hasattr(model, "offsets"):
        # data models carry offsets and y_all together (mypy cannot narrow by the hasattr alone)
        y, off = model.y_all, model.offsets  # type: ignore[attr-defined]
        hist = np.stack([np.bincount(y[off[i] : off[i + 1]], minlength=C) for i in range(n)])
        classes = [str(c) for c in range(C)]
    counts = getattr(model, "counts", np.ones(n))
    lr = np.full(n, np.nan)
    if spec.adam_lr is not None:
        lr[~np.isnan(pop.default_lrs())] = spec.adam_lr
    dev = DeviceTable(
        optimizer=[str(k) for k in pop.kinds], mu=pop.mu.copy(), rho=pop.rho.copy(),
        lr=lr, n_samples=np.asarray(counts, dtype=float),
        label_hist=None if hist is None else hist.astype(float), classes=classes,
        source=f"experiment spec seed={spec.seed}",
    )  # fmt: skip
    cfg = PlanConfig(eta=spec.eta, tau_a=max(spec.tau_a, 1), tau_r=max(spec.tau_r, 1),
                     fastest_mixing=False, schedule=False, objective="J")  # fmt: skip
    return list(plan_formation(g, dev, cfg).clusters)


def _simulate_spec(spec: RunSpec) -> SimulationResult:
    g = build_graph(
        spec.graph, spec.n_devices, spec.graph_param,
        spec.seed if spec.graph_seed is None else spec.graph_seed,
    )  # fmt: skip
    model, pop, test = build_problem(spec)
    x_star = model.optimum() if spec.dataset == "quadratic" else None
    init = getattr(model, "init", None)  # networks: a common He-uniform start (0 is a saddle)
    x0 = init(spec.seed) if spec.model != "softmax" and init is not None else None
    name = spec.method.lower().replace("-", "")
    kw: dict[str, Any] = {}
    if name in ("ssdfl", "cstc"):
        kw = {"inter_local_steps": spec.inter_local_steps}
        if spec.cluster_how == "plan":
            kw["clusters"] = planned_clusters(g, model, pop, spec)
        else:
            S = spec.n_clusters if spec.n_clusters is not None else max(1, round(g.n / 10))
            kw["n_clusters"] = S
            if name == "ssdfl":
                kw["how"] = spec.cluster_how
    # the engine's metrics give accuracies for softmax regression only; for the networks the
    # models are recorded and their accuracies added here (same definitions, same test set)
    net = callable(getattr(model, "accuracies", None)) and test is not None
    eta: float | np.ndarray = spec.eta
    if spec.adam_lr is not None:
        eta = np.where(np.isnan(pop.default_lrs()), spec.eta, spec.adam_lr)
    res = simulate(
        model, g, make_method(spec.method, **kw), optimizers=pop, tau_a=spec.tau_a,
        tau_r=spec.tau_r, cycles=spec.cycles, eta=eta, normalize=spec.normalize,
        reset_state=spec.reset_state, sigma=spec.sigma, batch_size=spec.batch_size,
        x0=x0, seed=spec.seed, mixing=spec.mixing, bytes_per_param=spec.bytes_per_param,
        eval_every=spec.eval_every, test_data=test, x_star=x_star,
        device_metrics=spec.device_metrics,
        stop_at=None if spec.stop_accuracy is None else {"accuracy": spec.stop_accuracy},
        progress=False, record_models=net,
    )  # fmt: skip
    if net:
        _add_network_accuracies(res, model, test, spec.device_metrics)
    return res


def _add_network_accuracies(
    res: SimulationResult, model: Any, test: Any, device_metrics: bool
) -> None:
    """``accuracy`` (of x̄) and, with ``device_metrics``, ``device_acc_mean``/``_min`` (of each
    device's own model) on the held-out set for every recorded evaluation of a network run;
    the recorded models are dropped afterwards."""
    Z, y = test
    for row, X in zip(res.history, res.models):
        if not np.all(np.isfinite(X)):
            continue
        row["accuracy"] = float(model.accuracies(X.mean(axis=0)[None], Z, y)[0])
        if device_metrics:
            acc = model.accuracies(X, Z, y)
            row["device_acc_mean"] = float(acc.mean())
            row["device_acc_min"] = float(acc.min())
    res.models = []


def expand_grid(
    grid: Mapping[str, Sequence[Any] | Any], base: Mapping[str, Any] | RunSpec | None = None
) -> list[RunSpec]:
    """Cartesian product of ``grid`` (field → list of values; a scalar is a one-value list)
    on top of ``base``. Unknown fields raise :class:`SsdflError`."""
    fields = {f.name for f in dataclasses.fields(RunSpec)}
    b = dataclasses.asdict(base) if isinstance(base, RunSpec) else dict(base or {})
    bad = sorted((set(grid) | set(b)) - fields)
    if bad:
        raise SsdflError(f"unknown run fields {bad}; known: {sorted(fields)}")
    keys = list(grid)
    vals = [v if isinstance(v, list | tuple) else [v] for v in (grid[k] for k in keys)]
    return [RunSpec(**{**b, **dict(zip(keys, combo))}) for combo in itertools.product(*vals)]


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Start a dask cluster with SIGINT ignored and SIGTERM blocked in this thread. A Ctrl-C in
    the middle of its start-up left a half-built cluster whose atexit close printed a
    traceback, and the worker processes (spawned from dask's event-loop thread) printed theirs.
    Processes started meanwhile inherit the ignored SIGINT (it survives ``exec``), so a
    terminal's Ctrl-C reaches only this process, which then closes the cluster. A Ctrl-C during
    the start-up itself (a second or two) is dropped; a SIGTERM is delivered on exit."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    old_int = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old_int)
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)


def sweep(
    grid: Mapping[str, Sequence[Any] | Any] | Iterable[RunSpec],
    base: Mapping[str, Any] | RunSpec | None = None,
    *,
    address: str | None = None,
    client: Any = None,
    n_workers: int | None = None,
    threads_per_worker: int = 1,
    processes: bool = True,
    progress: bool = True,
) -> pd.DataFrame:
    """Run every spec of ``grid`` (:func:`expand_grid`, or an iterable of :class:`RunSpec`)
    on dask and return one tidy table (runs in grid order, column ``run`` = index).

    Cluster: ``client`` if given, else a ``Client(address)`` if ``address`` is given, else a
    fresh ``LocalCluster(n_workers, threads_per_worker, processes)`` closed at the end. A run
    that raises stops the sweep with that error.
    """
    from dask.distributed import Client, LocalCluster, as_completed

    specs = list(grid) if not isinstance(grid, Mapping) else expand_grid(grid, base)
    if not specs or not all(isinstance(s, RunSpec) for s in specs):
        raise SsdflError("the grid must expand to at least one RunSpec")
    own: list[Any] = []
    try:
        if client is None:
            if address is not None:
                client = Client(address)
            else:
                with _signals_deferred():  # workers inherit the mask: Ctrl-C is ours to handle
                    cluster = LocalCluster(
                        n_workers=n_workers, threads_per_worker=threads_per_worker,
                        processes=processes, dashboard_address=":0",
                    )  # fmt: skip
                    own.append(cluster)
                    client = Client(cluster)
            own.insert(0, client)
        assert client is not None
        futures = client.map(run_one, specs, pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        tables: list[pd.DataFrame | None] = [None] * len(specs)
        with stage(_log, f"sweep: {len(specs)} runs", total=len(specs), enabled=progress) as bar:
            for fut in as_completed(futures):
                df = fut.result()
                df.insert(0, "run", index[fut.key])
                tables[index[fut.key]] = df
                bar.advance(1)
    except KeyboardInterrupt:  # closing busy workers is expected now: no warnings about it
        import logging

        logging.getLogger("distributed").setLevel(logging.ERROR)
        raise
    finally:
        for obj in own:
            obj.close()
    return pd.concat(tables, ignore_index=True)


# ----------------------------------------------------------------------------- config files
@dataclass
class ExperimentConfig:
    """A config file: ``base`` (RunSpec fields), ``grid`` (field → values), ``thresholds``
    per metric (``{"accuracy": [0.8, 0.9]}``; ``loss``-type metrics count "≤"), ``by`` (table
    columns that group the threshold summary and the plots; the last one is the line colour),
    ``name`` and the dask options (``workers``, ``address``)."""

    name: str
    base: dict[str, Any]
    grid: dict[str, Any] | list[dict[str, Any]]
    thresholds: dict[str, list[float]]
    by: list[str] = dataclasses.field(default_factory=lambda: ["method"])
    workers: int | None = None
    address: str | None = None

    def specs(self) -> list[RunSpec]:
        """The runs: the grid's Cartesian product, or the union over a list of grids."""
        grids = self.grid if isinstance(self.grid, list) else [self.grid]
        return [s for g in grids for s in expand_grid(g, self.base)]


def load_config(path: str | Any) -> ExperimentConfig:
    """Read a TOML (``.toml``) or JSON config::

    name = "base"
    thresholds = [0.8, 0.9]      # optional; metric = "accuracy" by default
    [base]                       # RunSpec fields shared by all runs
    dataset = "digits"
    cycles = 100
    [grid]                       # Cartesian product
    method = ["ssdfl", "sdfl"]
    seed = [0, 1, 2]
    [dask]                       # optional
    workers = 2                  # or address = "tcp://host:8786"
    """
    import json
    from pathlib import Path

    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"config file not found: {p}")
    if p.is_dir():
        raise ConfigError(f"{p} is a directory, not a config file")
    data = p.read_bytes()
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{p}: {len(data):,} bytes; a config is at most {MAX_CONFIG_BYTES:,}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(f"{p}:{line}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset "
                          f"{exc.start}); save the config as UTF-8") from None  # fmt: skip
    try:
        if p.suffix.lower() == ".json":
            raw = json.loads(text)
        else:
            try:
                import tomllib
            except ModuleNotFoundError:  # Python 3.10
                import tomli as tomllib  # type: ignore[no-redef,unused-ignore]  # same API
            raw = tomllib.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ConfigError(f"{p}: cannot parse config: {exc}") from None
    if not isinstance(raw, dict):
        raise SsdflError(f"{p}: the config must be a table/object")
    if not raw:
        raise ConfigError(f"{p}: the config is empty; give at least [base] or [grid] "
                          "(docs/simulator.md)")  # fmt: skip
    unknown = set(raw) - {"name", "base", "grid", "thresholds", "by", "dask", "limits"}
    if unknown:
        raise SsdflError(f"{p}: unknown config keys {sorted(unknown)}")
    dask_opts = raw.get("dask", {})
    if not isinstance(dask_opts, dict):
        raise SsdflError(f'{p}: [dask] must be a table (workers = 2 or address = "tcp://…")')
    thr = raw.get("thresholds", {})
    if isinstance(thr, list):  # documented short form: accuracy thresholds
        thr = {"accuracy": thr}
    if not isinstance(thr, dict):
        raise SsdflError(f"{p}: thresholds must be a table metric → list of values")
    for k, v in thr.items():
        vals = v if isinstance(v, list) else [v]
        if not all(isinstance(t, (int, float)) and not isinstance(t, bool) for t in vals):
            raise SsdflError(f"{p}: thresholds for {k!r} must be numbers, got {v!r}")
        thr[k] = vals
    grid = raw.get("grid", {})
    if not (isinstance(grid, dict) or (isinstance(grid, list) and all(
            isinstance(x, dict) for x in grid))):  # fmt: skip
        raise SsdflError(f"{p}: grid must be a table field → list of values (or a list of "
                         f"such tables), got {grid!r}")  # fmt: skip
    if not isinstance(raw.get("base", {}), dict):
        raise SsdflError(f"{p}: base must be a table of RunSpec fields")
    by = raw.get("by", ["method"])
    if not (isinstance(by, str) or (isinstance(by, list) and all(isinstance(b, str) for b in by))):
        raise SsdflError(f"{p}: by must be a column name or a list of names, got {by!r}")
    name = _safe_name(raw.get("name", p.stem), p)
    w = dask_opts.get("workers")
    if w is not None and (isinstance(w, bool) or not isinstance(w, int) or w < 1):
        raise SsdflError(f"{p}: dask workers must be an integer >= 1, got {w!r}")
    cfg = ExperimentConfig(
        name=name,
        base=dict(raw.get("base", {})),
        grid=[dict(x) for x in grid] if isinstance(grid, list) else dict(grid),
        thresholds={str(k): [float(t) for t in v] for k, v in thr.items()},
        by=[str(b) for b in ([by] if isinstance(by, str) else by)],
        workers=w,
        address=dask_opts.get("address"),
    )
    for g in cfg.grid if isinstance(cfg.grid, list) else [cfg.grid]:
        for k, v in g.items():
            if not isinstance(v, list):
                raise SsdflError(f"{p}: grid field {k!r} must be a list of values, got {v!r}")
    limits = _limits(raw.get("limits", {}), p)
    _check_top(cfg, raw, p)
    try:
        specs = cfg.specs()  # validate field names early
    except (TypeError, SsdflError) as exc:
        raise ConfigError(f"{p}: {exc}") from None
    if not specs:
        raise ConfigError(f"{p}: the grid expands to no runs (grid = [] has no tables)")
    if len(specs) > limits["max_runs"]:
        raise ConfigError(f"{p}: {len(specs):,} runs exceed the limit {limits['max_runs']:,}; "
                          "raise it with [limits] max_runs = N")  # fmt: skip
    for spec in specs:
        _validate_spec(spec, p)
        _check_values(spec, p, limits)
    return cfg


def _safe_name(name: Any, path: Any) -> str:
    """A config ``name`` usable as a file stem inside the output directory (no separators, no
    ``..``, not absolute, not hidden): output paths can never leave ``--out``."""
    if not isinstance(name, str) or not name.strip():
        raise SsdflError(f"{path}: name must be a non-empty string, got {name!r}")
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        raise ConfigError(f"{path}: name is {len(name.encode('utf-8'))} bytes long; at most "
                          f"{MAX_NAME_BYTES} (it becomes file names inside --out)")  # fmt: skip
    if any(not ch.isprintable() for ch in name):
        raise ConfigError(f"{path}: name {name!r} holds control characters")
    if (
        "/" in name or "\\" in name or name in (".", "..") or name.startswith(".")
        or "\x00" in name
    ):  # fmt: skip
        raise SsdflError(
            f"{path}: name {name!r} must be a plain file name (no '/', '\\', '..' or leading "
            "'.'); outputs are written inside --out"
        )
    return name


def _validate_spec(spec: RunSpec, path: Any) -> None:
    """Type-check a run's fields against :class:`RunSpec` and parse the ones with a syntax
    (``split``, ``method``) so that a bad config fails before any run starts."""
    import typing

    hints = typing.get_type_hints(RunSpec)
    for f in dataclasses.fields(RunSpec):
        v = getattr(spec, f.name)
        want = hints[f.name]
        opts = typing.get_args(want) or (want,)
        ok = (
            (v is None and type(None) in opts)
            or (bool in opts and isinstance(v, bool))
            or (int in opts and isinstance(v, int) and not isinstance(v, bool))
            or (float in opts and isinstance(v, (int, float)) and not isinstance(v, bool))
            or (str in opts and isinstance(v, str))
        )
        if not ok:
            names = " or ".join("null" if t is type(None) else t.__name__ for t in opts)
            raise SsdflError(f"{path}: field {f.name} must be {names}, got {v!r}")
    try:
        _split(spec)
    except (ValueError, IndexError):
        raise SsdflError(
            f"{path}: split {spec.split!r} is not 1-label, 3-label, iid or dirichlet-α "
            "(α a number, e.g. dirichlet-0.5)"
        ) from None
    if spec.dataset not in DATASETS:
        raise SsdflError(f"{path}: unknown dataset {spec.dataset!r} ({', '.join(DATASETS)})")
    if spec.model not in MODELS:
        raise SsdflError(f"{path}: unknown model {spec.model!r} ({', '.join(MODELS)})")
    if spec.dataset == "quadratic" and spec.model != "softmax":
        raise SsdflError(f"{path}: dataset 'quadratic' has no model choice (model {spec.model!r})")
    if spec.method.lower().replace("-", "").replace("_", "") not in METHODS:
        raise SsdflError(f"{path}: unknown method {spec.method!r} ({', '.join(METHODS)})")


# ------------------------------------------------------------------------ config value rules
#: Largest config file read (bytes).
MAX_CONFIG_BYTES = 1 << 20
#: Longest ``name`` in UTF-8 bytes: it becomes ``<name>_thresholds.csv`` and temporaries
#: inside ``--out``, and file names are at most 255 bytes.
MAX_NAME_BYTES = 100
#: Defaults of the ``[limits]`` table; a config raises them there (docs/simulator.md).
CONFIG_LIMITS: dict[str, float] = {
    "max_devices": 10_000,  # n_devices of one run
    "max_runs": 10_000,  # runs of the whole grid
    "max_cycles": 1_000_000,  # cycles of one run
    "max_memory_gb": 4.0,  # estimated memory of one run (resource_estimate)
}
#: Training samples of the bundled data sets (every device needs at least one).
DATASET_SAMPLES = {"digits": 1437, "mnist1d": 4000}
#: Input features per data set (for the memory estimate; quadratic: its dimension).
DATASET_FEATURES = {"digits": 64, "mnist1d": 40, "synthetic": 20, "quadratic": 10}
CLUSTER_HOW = ("hierarchy", "partition", "plan")
#: Table columns ``by`` may name besides the run fields (:func:`run_one`).
BY_COLUMNS = ("label", "run")


def _limits(raw: Any, path: Any) -> dict[str, float]:
    """The ``[limits]`` table over :data:`CONFIG_LIMITS` (positive finite numbers only)."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: [limits] must be a table such as max_devices = 20000")
    bad = sorted(set(raw) - set(CONFIG_LIMITS))
    if bad:
        raise ConfigError(f"{path}: unknown [limits] keys {bad}; known: {sorted(CONFIG_LIMITS)}")
    out = dict(CONFIG_LIMITS)
    for k, v in raw.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
            raise ConfigError(f"{path}: [limits] {k} must be a finite number > 0, got {v!r}")
        out[k] = float(v)
    return out


def _check_top(cfg: ExperimentConfig, raw: dict[str, Any], path: Any) -> None:
    """Rules of the top-level keys: non-empty grid lists, ``by`` fields once each, thresholds
    non-empty lists of finite numbers (accuracies in [0, 1])."""
    fields = {f.name for f in dataclasses.fields(RunSpec)} | set(BY_COLUMNS)
    if not cfg.by:
        raise ConfigError(f"{path}: by must name at least one run field")
    seen: set[str] = set()
    for b in cfg.by:
        if b in seen:
            raise ConfigError(f"{path}: by lists {b!r} twice")
        seen.add(b)
        if b not in fields:
            raise ConfigError(f"{path}: by {b!r} is not a run field ({', '.join(sorted(fields))})")
    for metric, vals in cfg.thresholds.items():
        if not metric.strip():
            raise ConfigError(f"{path}: a thresholds metric name is empty")
        if not vals:
            raise ConfigError(f"{path}: thresholds.{metric} is empty; give at least one value "
                              "or leave the metric out")  # fmt: skip
        for t in vals:
            if not math.isfinite(t):
                raise ConfigError(f"{path}: thresholds.{metric} holds {t}; values must be finite")
            if "acc" in metric and not 0.0 <= t <= 1.0:
                raise ConfigError(f"{path}: thresholds.{metric} = {t} is not an accuracy in [0, 1]")
        if len(set(vals)) != len(vals):
            raise ConfigError(f"{path}: thresholds.{metric} lists a value twice: {vals}")
    grids = cfg.grid if isinstance(cfg.grid, list) else [cfg.grid]
    for g in grids:
        for k, v in g.items():
            if isinstance(v, list) and not v:
                raise ConfigError(f"{path}: grid field {k!r} is an empty list; give at least one "
                                  "value (or remove the field)")  # fmt: skip
    addr = raw.get("dask", {}).get("address")
    if addr is not None and (not isinstance(addr, str) or not addr.strip()):
        raise ConfigError(f"{path}: dask address must be a non-empty string, got {addr!r}")


def resource_estimate(spec: RunSpec) -> float:
    """Estimated peak bytes of one run: the per-device state (about 16 vectors of the model
    dimension d per device) and, with ``batch_size`` B, the mini-batch arrays (sample indices,
    gathered rows, activations: ``N · B · (features + 44) · 8`` bytes). An order of magnitude
    for refusing a run before allocation, not a measurement."""
    n = spec.n_devices
    p = DATASET_FEATURES.get(spec.dataset, 64)
    hidden = 32 if spec.model in ("mlp", "cnn") else 0
    d = (p + 1) * 10 + hidden * (p + 11)
    state = 16.0 * n * d * 8
    batch = 0.0 if spec.batch_size is None else float(n) * spec.batch_size * (p + 44) * 8
    return state + batch


def _finite(spec: RunSpec, path: Any, name: str, lo: float, lo_open: bool = False,
            hi: float = math.inf, none_ok: bool = False) -> None:  # fmt: skip
    v = getattr(spec, name)
    if v is None and none_ok:
        return
    ok = v is not None and math.isfinite(v) and (v > lo if lo_open else v >= lo) and v <= hi
    if not ok:
        rng = f"{'>' if lo_open else '>='} {lo:g}" + (f" and <= {hi:g}" if hi < math.inf else "")
        raise ConfigError(f"{path}: {name} = {v!r} must be a finite number {rng}")


def _check_values(spec: RunSpec, path: Any, limits: dict[str, float]) -> None:
    """Value rules of one run (ranges, finiteness, graph family vs ``n_devices``, data set
    sizes, the memory estimate); the message names the field, the value and the rule."""
    n = spec.n_devices
    if n < 2:
        raise ConfigError(f"{path}: n_devices = {n}; a run needs at least 2 devices")
    if n > limits["max_devices"]:
        lim = limits["max_devices"]
        raise ConfigError(f"{path}: n_devices = {n:,} exceeds the limit {lim:,.0f}; raise it "
                          "with [limits] max_devices = N")  # fmt: skip
    fam, param = spec.graph.lower(), spec.graph_param
    if param is not None and not math.isfinite(param):
        raise ConfigError(f"{path}: graph_param = {param} must be finite")
    if fam == "er" and param is not None and not 0.0 < param <= 1.0:
        raise ConfigError(f"{path}: graph_param = {param} is an edge probability of 'er': (0, 1]")
    if fam == "rgg" and param is not None and not param > 0:
        raise ConfigError(f"{path}: graph_param = {param} is the radius of 'rgg': > 0")
    if fam in ("ba", "ws"):
        k = (2 if fam == "ba" else 4) if param is None else param
        lo, what = (1, "edges per new node m") if fam == "ba" else (2, "ring neighbours k")
        if k != int(k) or not lo <= k < n:
            raise ConfigError(f"{path}: '{fam}' with n_devices = {n} needs {what} an integer "
                              f"in [{lo}, {n - 1}], got {k:g} (set graph_param or "
                              "n_devices)")  # fmt: skip
    if fam not in ("er", "rgg", "ba", "ws", "complete"):
        from pathlib import Path

        try:
            is_file = Path(spec.graph).is_file()
        except (OSError, ValueError):  # a name too long for the OS, a NUL byte
            is_file = False
        if not is_file:
            raise ConfigError(f"{path}: graph {spec.graph!r} is neither a family (er, rgg, ba, "
                              "ws, complete) nor a graph file")  # fmt: skip
    for name in ("seed", "graph_seed"):
        v = getattr(spec, name)
        if v is not None and not 0 <= v < 2**63:
            raise ConfigError(f"{path}: {name} = {v} must be in [0, 2^63)")
    cap = DATASET_SAMPLES.get(spec.dataset)
    if cap is not None and n > cap:
        raise ConfigError(f"{path}: n_devices = {n} exceeds the {cap} training samples of "
                          f"{spec.dataset!r} (every device needs data)")  # fmt: skip
    scheme, k_lab, alpha = _split(spec)
    if scheme == "k-label" and not 1 <= k_lab <= 10:
        raise ConfigError(f"{path}: split {spec.split!r}: k must be in [1, 10] (10 classes)")
    if scheme == "dirichlet" and not (math.isfinite(alpha) and alpha > 0):
        raise ConfigError(f"{path}: split {spec.split!r}: α must be a finite number > 0")
    if spec.tau_a < 0 or spec.tau_r < 0 or spec.tau_a + spec.tau_r < 1:
        raise ConfigError(f"{path}: tau_a = {spec.tau_a}, tau_r = {spec.tau_r}: both >= 0 and "
                          "at least one round per cycle")  # fmt: skip
    if not 1 <= spec.cycles <= limits["max_cycles"]:
        lim = limits["max_cycles"]
        raise ConfigError(f"{path}: cycles = {spec.cycles} must be in [1, {lim:,.0f}] (raise "
                          "with [limits] max_cycles)")  # fmt: skip
    _finite(spec, path, "eta", 0.0, lo_open=True)
    _finite(spec, path, "adam_lr", 0.0, lo_open=True, none_ok=True)
    _finite(spec, path, "sigma", 0.0)
    _finite(spec, path, "l2", 0.0)
    _finite(spec, path, "stop_accuracy", 0.0, lo_open=True, hi=1.0, none_ok=True)
    if spec.n_clusters is not None and not 1 <= spec.n_clusters <= n:
        raise ConfigError(f"{path}: n_clusters = {spec.n_clusters} must be in [1, n_devices = {n}]")
    if spec.cluster_how not in CLUSTER_HOW:
        raise ConfigError(f"{path}: cluster_how {spec.cluster_how!r} is not one of "
                          f"{', '.join(CLUSTER_HOW)}")  # fmt: skip
    kinds = spec.optimizers.split("+") if spec.optimizers != "mixed" else []
    if spec.optimizers != "mixed" and (not kinds or any(k not in OPTIMIZERS for k in kinds)):
        raise ConfigError(f"{path}: optimizers {spec.optimizers!r} is not 'mixed' or a "
                          f"'+'-joined subset of {', '.join(sorted(OPTIMIZERS))}")  # fmt: skip
    if spec.mixing not in MIXING_RULES:
        raise ConfigError(f"{path}: mixing {spec.mixing!r} is not one of {', '.join(MIXING_RULES)}")
    if spec.batch_size is not None and spec.batch_size < 1:
        raise ConfigError(f"{path}: batch_size = {spec.batch_size} must be >= 1 (or left out)")
    if not 1 <= spec.bytes_per_param <= 16:
        raise ConfigError(f"{path}: bytes_per_param = {spec.bytes_per_param} must be in [1, 16]")
    if spec.eval_every < 1:
        raise ConfigError(f"{path}: eval_every = {spec.eval_every} must be >= 1")
    est = resource_estimate(spec)
    if est > limits["max_memory_gb"] * 2**30:
        raise ConfigError(
            f"{path}: a run with n_devices = {n}, batch_size = {spec.batch_size} needs about "
            f"{est / 2**30:,.1f} GiB (limit {limits['max_memory_gb']:g} GiB); lower them or "
            "raise [limits] max_memory_gb"
        )


def run_config(
    cfg: ExperimentConfig,
    out_dir: str | Any | None = None,
    *,
    serial: bool = False,
    workers: int | None = None,
    address: str | None = None,
    client: Any = None,
    progress: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Run a config; returns ``(table, thresholds)``. With ``out_dir`` writes
    ``<name>.csv``, ``<name>_thresholds.csv`` and plots ``<name>_<metric>.png`` (vs cycles) and
    ``<name>_<metric>_bytes.png`` (vs D2D bytes), atomically."""
    from pathlib import Path

    if out_dir is not None:
        _safe_name(cfg.name, "config")  # output files stay inside out_dir
    specs = cfg.specs()
    if serial:
        tables = []
        label = f"{cfg.name}: {len(specs)} runs"
        with stage(_log, label, total=len(specs), enabled=progress) as bar:
            for i, s in enumerate(specs):
                df = run_one(s, single_thread=False)
                df.insert(0, "run", i)
                tables.append(df)
                bar.advance(1)
        table = pd.concat(tables, ignore_index=True)
    else:
        table = sweep(
            specs, address=address or cfg.address, client=client,
            n_workers=workers or cfg.workers, progress=progress,
        )  # fmt: skip
    by = [c for c in cfg.by if c in table] or ["method"]
    parts = [
        threshold_table(table, ths, metric=metric, by=by).assign(metric=metric)
        for metric, ths in cfg.thresholds.items()
        if metric in table
    ]
    thr = pd.concat(parts, ignore_index=True) if parts else None
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        with atomic_write(out / f"{cfg.name}.csv") as fh:
            table.to_csv(fh, index=False)
        if thr is not None:
            with atomic_write(out / f"{cfg.name}_thresholds.csv") as fh:
                thr.to_csv(fh, index=False)
        plot_grid(table, by, list(cfg.thresholds) or ["loss"], out / f"{cfg.name}.png", cfg.name)
    return table, thr


def plot_grid(
    table: pd.DataFrame, by: Sequence[str], metrics: Sequence[str], path: Any, title: str = ""
) -> None:
    """One figure: a row per value of ``by[:-1]`` (one row if ``by`` has one key), columns =
    each metric vs cycles and vs D2D bytes, lines = ``by[-1]``; saved atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = [m for m in metrics if m in table] or ["loss"]
    hue = by[-1]
    facets = list(table.groupby(list(by[:-1]), sort=True)) if len(by) > 1 else [((), table)]
    ncol = 2 * len(metrics)
    fig, axes = plt.subplots(
        len(facets), ncol, figsize=(3.6 * ncol, 2.8 * len(facets)), squeeze=False
    )
    for r, (key, sub) in enumerate(facets):
        key_t = key if isinstance(key, tuple) else (key,)
        label = ", ".join(f"{k}={v}" for k, v in zip(by[:-1], key_t))
        for c, metric in enumerate(metrics):
            for j, x in enumerate(("cycle", "d2d_bytes")):
                ax = axes[r][2 * c + j]
                plot_curves(sub, y=metric, x=x, hue=hue, ax=ax, title=label or None)
                if r or c or j:
                    leg = ax.get_legend()
                    if leg is not None:
                        leg.remove()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)
