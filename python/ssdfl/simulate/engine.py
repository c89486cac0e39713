"""The vectorized round loop.

All devices' models are one ``(N, d)`` array ``X``; a round is one or two whole-array
operations: the optimizer directions ``D = D(X)`` of every device at once
(:class:`~ssdfl.theory.optimizers.OptimizerPopulation`), and gossip as one sparse product ``W @ X``
(block-diagonal ``W_intra`` of the clusters for intra-cluster rounds, ``W`` of ``G`` for
inter-cluster rounds). There is no Python loop over devices on this path.

Round update (docs/theory.md §0, the convention of :mod:`ssdfl.theory.reference`): with a local step
``X ← W X − η C D(X)``; without one ``X ← W X``. ``C = diag(c_i)`` are the effective gradient
normalization factors (:func:`direction_scales`), ``η`` a scalar or one step size per device.

Optimizer state across cycles (decision, see ``docs/simulator.md``): by default the optimizer
buffers (momentum ``v``, Adam moments) are **kept** from one cycle to the next, as a device's
optimizer would run on a real device, and the step counter (Adam's bias correction) counts all
local steps; ``reset_state=True`` zeroes them at every cycle start (the convention of the
theory module's ``reset_momentum=True``). The proximal anchor is the model at the start of the
current cycle in both cases.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ssdfl import _core
from ssdfl._progress import get_logger, stage
from ssdfl.errors import SsdflError
from ssdfl.graphs.graph import GraphLike, as_graph
from ssdfl.graphs.metrics import _is_connected
from ssdfl.simulate.accel import EXACT_FUSED, direction_fn, fused_gradient, gradient_fn
from ssdfl.simulate.methods import Method, Plan, PlanContext, make_method, random_matching
from ssdfl.simulate.metrics import evaluate
from ssdfl.simulate.results import SimulationResult
from ssdfl.theory.models import DeviceModel
from ssdfl.theory.optimizers import SGD, LocalOptimizer, OptimizerPopulation

__all__ = ["SimulationConfig", "direction_scales", "simulate"]


def direction_scales(
    optimizers: OptimizerPopulation,
    local_steps: int,
    eta: float | np.ndarray,
    normalize: bool,
    reset_state: bool = False,
) -> np.ndarray:
    """``(N,)`` factors ``c_i``: 1 without normalization; with it the optimizer's own
    :meth:`~ssdfl.theory.optimizers.LocalOptimizer.normalization` over one cycle's
    ``local_steps``: ``1/α_i(τ)`` (FedNova) when buffers are reset every cycle, and the
    steady-state ``1/α_i(∞)`` for optimizers that carry state across cycles otherwise (their
    gradients keep contributing after the cycle ends)."""
    return optimizers.scales(max(int(local_steps), 1), eta, normalize, reset_state)


def _population(optimizers: Any, n: int) -> OptimizerPopulation:
    if optimizers is None:
        return OptimizerPopulation(SGD(), n)
    if isinstance(optimizers, OptimizerPopulation):
        pop = optimizers
    elif isinstance(optimizers, LocalOptimizer):
        pop = OptimizerPopulation(optimizers, n)
    elif isinstance(optimizers, Sequence):
        pop = OptimizerPopulation(list(optimizers))
    else:
        raise TypeError("optimizers must be an OptimizerPopulation, a LocalOptimizer or a list")
    if len(pop) != n:
        raise SsdflError(f"{len(pop)} optimizers for {n} devices")
    return pop


def _eta(eta: float | np.ndarray, n: int) -> float | np.ndarray:
    arr = np.asarray(eta, dtype=np.float64)
    if arr.ndim == 0:
        if not (arr > 0 and np.isfinite(arr)):
            raise SsdflError(f"eta must be a positive finite number, got {eta}")
        return float(arr)
    if arr.shape != (n,) or np.any(arr <= 0) or not np.all(np.isfinite(arr)):
        raise SsdflError(f"per-device eta must be {n} positive finite numbers")
    return arr


_log = get_logger(__name__)


@dataclass
class SimulationConfig:
    """Everything :func:`simulate` takes besides the model, the graph and the method (fields
    documented there). Build one, reuse it, vary it with :func:`dataclasses.replace`."""

    optimizers: OptimizerPopulation | LocalOptimizer | Sequence[LocalOptimizer] | None = None
    tau_a: int = 5
    tau_r: int = 1
    cycles: int = 50
    eta: float | np.ndarray = 0.05
    normalize: bool = False
    reset_state: bool = False
    sigma: float = 0.0
    batch_size: int | None = None
    x0: np.ndarray | None = None
    seed: int = 0
    mixing: str = "lazy-metropolis"
    bytes_per_param: int = 4
    record_extra_bytes: int | None = None
    eval_every: int = 1
    test_data: tuple[np.ndarray, np.ndarray] | None = None
    x_star: np.ndarray | None = None
    device_metrics: bool = True
    record_models: bool = False
    stop_at: dict[str, float] | None = None
    progress: bool | None = None
    label: str | None = None
    method_kwargs: dict[str, Any] | None = None
    backend: str = "auto"
    dtype: str = "float64"
    fused_gradient: bool | None = None
    own_test: DeviceModel | None = None


def simulate(
    model: DeviceModel,
    graph: GraphLike,
    method: Method | str = "ssdfl",
    config: SimulationConfig | None = None,
    **overrides: Any,
) -> SimulationResult:
    """Train ``model`` (one row of ``X`` per device) on ``graph`` with ``method`` for
    ``cycles`` global cycles and return the per-cycle metrics and traffic.

    The run is described by a :class:`SimulationConfig` (``config``); keyword arguments
    override its fields (``simulate(model, g, "sdfl", cycles=10)`` is
    ``simulate(model, g, "sdfl", SimulationConfig(cycles=10))``).

    Parameters
    ----------
    model, graph
        Vectorized device models (:mod:`ssdfl.theory.models`) and the D2D graph (``model.n_devices``
        nodes, connected).
    method
        A :class:`~ssdfl.simulate.methods.Method` or its name (``method_kwargs`` then
        parametrizes it), see :mod:`ssdfl.simulate.methods`.
    optimizers
        One optimizer per device (default: plain SGD everywhere).
    tau_a, tau_r
        Intra- and inter-cluster rounds per cycle (``τ_a`` = local steps per cycle for every
        method; ``τ_a + τ_r ≥ 1``).
    eta, normalize, reset_state
        Step size (scalar or ``(N,)``), effective gradient normalization
        (:func:`direction_scales`), and whether optimizer buffers are zeroed each cycle.
    sigma, batch_size
        Stochastic gradients (:meth:`~ssdfl.theory.models.DeviceModel.stochastic_grad`).
    x0, seed
        Initial models (default zeros, all devices equal) and the seed of every random stream
        (gradient noise, random matchings, random clusters): equal seeds give bit-identical
        runs.
    mixing, bytes_per_param, record_extra_bytes
        Mixing rule of :func:`~ssdfl.graphs.mixing.mixing_matrix`; bytes per parameter on the wire;
        extra bytes per initialization record (default ``4·C`` for classification, else 0).
    eval_every, test_data, x_star, device_metrics
        Metrics every ``eval_every`` cycles (and after the last) on ``test_data`` ``(Z, y)``,
        distance to ``x_star`` if given (:func:`~ssdfl.simulate.metrics.evaluate`).
    record_models
        Keep a copy of ``X`` at every evaluation (``result.models``).
    own_test
        A model of the same kind whose device ``i`` holds held-out samples of device ``i``'s
        own label distribution (:func:`~ssdfl.simulate.metrics.own_distribution_sets`): adds
        the ``own_*`` columns (device ``i``'s model on its own distribution: mean, worst, 10th
        percentile; :mod:`ssdfl.simulate.metrics`).
    stop_at
        Stop early once every given metric reaches its value (``{"accuracy": 0.9}``: ≥;
        ``loss``/``consensus_gap``/``dist_opt``: ≤).
    progress
        a progress bar over cycles through :mod:`ssdfl._progress` (shown once an application
        called ``setup_logging``; default: on for runs with more than ``10⁹`` parameter
        updates).
    label
        name of the run in progress messages (default: the method's name).
    backend
        ``"rust"``: fused rounds in ``ssdfl._core.gossip_round`` (one parallel pass per round;
        every device must declare a fused form, ``LocalOptimizer.fused()``); ``"numpy"``: scipy
        sparse product plus numpy expressions; ``"auto"`` (default): Rust unless some device
        has no fused form (Adam, user-defined optimizers: their ``direction()`` runs). Both give the
        same floats (tested); randomized gossip and server averaging always use numpy.
    dtype
        ``"float64"`` (default) or ``"float32"``: the float type of the models ``X``, the
        optimizer buffers and the Rust kernel's arithmetic (model data and mixing weights are
        rounded to it once). float32 halves the memory traffic per round; its results differ
        from float64 by rounding (relative ≈ 1e-7 per operation, not accumulating in
        contractive runs: tested within 1e-4 of float64) and a consensus gap cannot drop below
        ≈ (1e-7·|x|)². Metrics are computed in float64 from the float32 models; ``result.X`` is
        float32. The numpy path computes each round in float64 and stores float32.
    fused_gradient
        Compute the model's gradient inside the Rust round (one pass over the state, no
        gradient array; :func:`ssdfl.simulate.accel.fused_gradient`: ``SeparableQuadratic``,
        ``Quadratic``, ``LeastSquares``; deterministic gradients only). ``None`` (default): only
        where the floats equal ``model.grad``'s (``SeparableQuadratic``) in float64, for every
        supported model in float32; ``True``: also ``Quadratic`` / ``LeastSquares`` in float64
        (their sums then run in another order: equal to the numpy path up to rounding, not bit
        for bit); ``False``: never.
    """
    if config is not None and not isinstance(config, SimulationConfig):
        raise TypeError("config must be a SimulationConfig")
    fields = {f.name for f in dataclasses.fields(SimulationConfig)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise TypeError(f"simulate() got unexpected keyword argument(s) {unknown}")
    cfg = dataclasses.replace(config or SimulationConfig(), **overrides)
    return _simulate(model, graph, method, cfg)


def _simulate(
    model: DeviceModel, graph: GraphLike, method: Method | str, cfg: SimulationConfig
) -> SimulationResult:
    """The round loop of :func:`simulate` for one resolved configuration."""
    optimizers, tau_a, tau_r, cycles = cfg.optimizers, cfg.tau_a, cfg.tau_r, cfg.cycles
    eta, normalize, reset_state, sigma = cfg.eta, cfg.normalize, cfg.reset_state, cfg.sigma
    batch_size, x0, seed, mixing = cfg.batch_size, cfg.x0, cfg.seed, cfg.mixing
    bytes_per_param, record_extra_bytes = cfg.bytes_per_param, cfg.record_extra_bytes
    eval_every, test_data, x_star = cfg.eval_every, cfg.test_data, cfg.x_star
    device_metrics, record_models, stop_at = cfg.device_metrics, cfg.record_models, cfg.stop_at
    progress, method_kwargs, backend = cfg.progress, cfg.method_kwargs, cfg.backend
    if cfg.dtype not in ("float64", "float32"):
        raise SsdflError(f"dtype must be 'float64' or 'float32', got {cfg.dtype!r}")
    dt = np.dtype(cfg.dtype)
    g = as_graph(graph)
    n, d = model.n_devices, model.dim
    if g.n != n:
        raise SsdflError(f"the graph has {g.n} nodes but the model has {n} devices")
    if n > 1 and not _is_connected(g):
        raise SsdflError("the D2D graph must be connected")
    for name, val in (("tau_a", tau_a), ("tau_r", tau_r), ("cycles", cycles)):
        if not isinstance(val, int | np.integer) or val < 0:
            raise SsdflError(f"{name} must be an integer >= 0, got {val!r}")
    if tau_a + tau_r < 1:
        raise SsdflError("need tau_a + tau_r >= 1")
    if eval_every < 1:
        raise SsdflError(f"eval_every must be >= 1, got {eval_every}")
    if bytes_per_param <= 0:
        raise SsdflError(f"bytes_per_param must be > 0, got {bytes_per_param}")
    pop = _population(optimizers, n)
    eta_v = _eta(eta, n)
    if not (sigma >= 0 and math.isfinite(sigma)):
        raise SsdflError(f"sigma must be finite and >= 0, got {sigma}")
    if batch_size is not None and batch_size < 1:
        raise SsdflError(f"batch_size must be >= 1, got {batch_size}")
    meth = make_method(method, **(method_kwargs or {}))
    seq = np.random.SeedSequence(seed)
    rng_grad, rng_gossip, rng_plan = (np.random.default_rng(s) for s in seq.spawn(3))
    n_classes = int(getattr(model, "n_classes", 0))
    extra = (
        (4 * n_classes if n_classes else 0) if record_extra_bytes is None else record_extra_bytes
    )
    ctx = PlanContext(int(tau_a), int(tau_r), mixing, int(extra))
    plan: Plan = meth.plan(g, ctx, rng_plan)

    c = direction_scales(pop, plan.local_steps, eta_v, normalize, reset_state)
    factor = eta_v * c  # per-device multiplier of the direction
    factor_col: float | np.ndarray = (
        float(factor[0]) if np.all(factor == factor[0]) else factor[:, None]
    )
    if backend not in ("auto", "rust", "numpy"):
        raise SsdflError(f"backend must be 'auto', 'rust' or 'numpy', got {backend!r}")
    # the fused kernel runs only when every device declares its (μ, ρ) form; otherwise each
    # optimizer's own direction() runs (numpy path)
    if backend == "rust" and pop.fused is None:
        no_fused = sorted({o.kind for o in pop.optimizers if o.fused() is None})
        raise SsdflError(f"the Rust backend needs fused-kernel optimizers; {no_fused} have none")
    use_rust = backend == "rust" or (backend == "auto" and pop.fused is not None)
    factor_vec = np.ascontiguousarray(np.broadcast_to(factor, (n,)), dtype=dt)
    step_kw: dict[str, Any] = {}
    has_prox = has_mom = False
    if pop.fused is not None:
        f_mu, f_rho, f_v = pop.fused
        has_prox, has_mom = bool(np.any(f_mu != 0)), bool(np.any(f_v) or np.any(f_rho != 0))
        if has_prox:
            step_kw.update(mu=np.ascontiguousarray(f_mu, dtype=dt))
        if has_mom:
            step_kw.update(rho=np.ascontiguousarray(f_rho, dtype=dt), is_momentum=f_v.copy())
    # the model's gradient inside the kernel (deterministic gradients; see fused_gradient)
    model_kw: dict[str, Any] | None = None
    fuse = cfg.fused_gradient
    if fuse is None:
        fuse = dt == np.float32 or type(model) in EXACT_FUSED
    if use_rust and fuse and sigma == 0 and batch_size is None:
        model_kw = fused_gradient(model, dt)
    needs_anchor = pop.needs_anchor
    csr = {
        id(ph): {
            "indptr": np.ascontiguousarray(ph.W.indptr, dtype=np.int64),
            "indices": np.ascontiguousarray(ph.W.indices, dtype=np.int64),
            "data": np.ascontiguousarray(ph.W.data, dtype=dt),
        }
        for ph in plan.phases
        if ph.W is not None
    }
    eye = {
        "indptr": np.arange(n + 1, dtype=np.int64),
        "indices": np.arange(n, dtype=np.int64),
        "data": np.ones(n, dtype=dt),
    }
    spare: np.ndarray | None = None  # the second buffer of the fused rounds (double buffering)
    anchor_buf: np.ndarray | None = None
    grad = gradient_fn(model)
    direction = direction_fn(pop)
    state = {k: v.astype(dt, copy=False) for k, v in pop.init_state(d).items()}
    if has_mom and "v" not in state:  # a fused form with a buffer but no declared state key
        state["v"] = np.zeros((n, d), dtype=dt)

    X = np.zeros((n, d), dtype=dt) if x0 is None else np.array(x0, dtype=dt)
    if X.shape == (d,):
        X = np.tile(X, (n, 1))
    if X.shape != (n, d):
        raise SsdflError(f"x0 must have shape ({d},) or ({n}, {d}), got {X.shape}")
    x_star_v = None if x_star is None else np.asarray(x_star, dtype=np.float64)

    counters = {"intra": 0, "inter": 0, "server": 0}
    rounds = local_steps = step = 0
    rows: list[dict[str, Any]] = []
    models: list[np.ndarray] = []
    thresholds = dict(stop_at or {})

    def record(cycle: int, elapsed: float) -> dict[str, Any]:
        row: dict[str, Any] = {"cycle": cycle, "rounds": rounds, "local_steps": local_steps}
        if np.all(np.isfinite(X)):
            row.update(
                evaluate(model, X.astype(np.float64, copy=False), test_data=test_data,
                         x_star=x_star_v, device_metrics=device_metrics,
                         own_test=cfg.own_test)
            )  # fmt: skip
        else:
            row["loss"] = math.nan
        for k in ("intra", "inter"):
            row[f"msgs_{k}"] = counters[k]
            row[f"bytes_{k}"] = counters[k] * d * bytes_per_param
        row["d2d_msgs"] = counters["intra"] + counters["inter"]
        row["d2d_bytes"] = row["d2d_msgs"] * d * bytes_per_param
        row["msgs_server"] = counters["server"]
        row["bytes_server"] = counters["server"] * d * bytes_per_param
        row["seconds"] = elapsed
        rows.append(row)
        if record_models:
            models.append(X.copy())
        return row

    def reached(row: dict[str, Any]) -> bool:
        if not thresholds:
            return False
        for k, v in thresholds.items():
            val = row.get(k)
            if val is None or not np.isfinite(val):
                return False
            if (val < v) if "acc" in k else (val > v):
                return False
        return True

    show = progress if progress is not None else cycles * (tau_a + tau_r) * n * d > 1e9
    t0 = time.perf_counter()
    record(0, 0.0)
    diverged = False
    label = f"simulate {cfg.label or meth.name}: {cycles} cycles"
    with stage(_log, label, total=cycles, enabled=bool(show)) as bar:
        for k in range(1, cycles + 1):
            if needs_anchor:  # the cycle's anchor, copied into one reused buffer
                if anchor_buf is None or anchor_buf.shape != X.shape:
                    anchor_buf = np.empty_like(X)
                np.copyto(anchor_buf, X)
                anchor = anchor_buf
            else:
                anchor = X
            if reset_state:
                pop.reset(state)
                step = 0
            for ph in plan.phases:
                if ph.every != 1 and (ph.every == 0 or k % ph.every != 0):
                    continue  # a periodic phase (e.g. inter-cluster rounds every k cycles)
                fused = use_rust and ph.random_edges is None and not ph.average
                for _ in range(ph.rounds):
                    if ph.local_step and not (fused and model_kw is not None):
                        if batch_size is not None:
                            G = model.stochastic_grad(X, rng_grad, sigma, batch_size)
                        else:
                            G = grad(X)
                            if sigma > 0:  # the noise of DeviceModel.stochastic_grad
                                G += rng_grad.normal(0.0, sigma / math.sqrt(d), size=G.shape)
                    if ph.local_step:
                        step += 1
                        local_steps += 1
                    if fused:
                        # one Rust pass: out = W X − f ⊙ D(X) (rows in parallel, GIL released)
                        out = spare if spare is not None else np.empty_like(X)
                        kw: dict[str, Any] = dict(csr[id(ph)]) if ph.W is not None else {}
                        if ph.local_step:
                            if model_kw is not None:
                                kw.update(model_kw)
                            else:
                                kw.update(grad=np.ascontiguousarray(G, dtype=dt))
                            kw.update(factor=factor_vec, **step_kw)
                            if has_prox:
                                kw.update(anchor=anchor)
                            if has_mom:
                                kw.update(v=state["v"])
                        elif ph.W is None:
                            kw.update(eye)
                        _core.gossip_round(X, out, **kw)
                        spare, X = X, out
                        if ph.W is not None:
                            counters[ph.traffic] += ph.messages
                        rounds += 1
                        continue
                    if ph.local_step:
                        D = direction(G, X, anchor, state, step - 1)
                        D *= factor_col
                    if ph.random_edges is not None:
                        u, v = random_matching(
                            ph.random_edges[0], ph.random_edges[1], n, rng_gossip, ph.edge_prob
                        )
                        Y = X.copy()
                        avg = 0.5 * (X[u] + X[v])
                        Y[u] = avg
                        Y[v] = avg
                        counters[ph.traffic] += 2 * len(u)
                    elif ph.W is not None:
                        Y = ph.W @ X
                        counters[ph.traffic] += ph.messages
                    elif ph.average:
                        Y = np.broadcast_to(X.mean(axis=0), X.shape).copy()
                        counters[ph.traffic] += ph.messages
                    else:
                        Y = X if ph.local_step else X.copy()
                    if ph.local_step:
                        if Y is X:
                            Y = X - D
                        else:
                            Y -= D
                    # the numpy path may promote to float64; the state keeps its dtype
                    X = Y.astype(dt, copy=False)
                    spare = None
                    rounds += 1
            if k % eval_every == 0 or k == cycles:
                row = record(k, time.perf_counter() - t0)
                if not np.isfinite(row["loss"]):
                    diverged = True
                    break
                if reached(row):
                    break
            bar.advance(1)
    params = {
        "method": meth.name,
        "tau_a": int(tau_a),
        "tau_r": int(tau_r),
        "eta": float(np.mean(eta_v)),
        "normalize": bool(normalize),
        "reset_state": bool(reset_state),
        "sigma": float(sigma),
        "batch_size": batch_size,
        "seed": seed,
        "mixing": mixing,
        "n_devices": n,
        "dim": d,
        "n_clusters": plan.info.get("n_clusters"),
        **meth.params(),
    }
    return SimulationResult(
        history=rows,
        params=params,
        init=plan.init,
        labels=plan.labels,
        X=X,
        models=models,
        diverged=diverged,
        bytes_per_param=bytes_per_param,
    )
