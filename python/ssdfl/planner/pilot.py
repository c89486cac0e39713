"""Pilot simulations that decide among the planner's shortlist (``docs/formation.md``, "Choice").

The analytic predictor of :mod:`ssdfl.planner.predict` shortlists formations; the *pilot* then
trains the shortlist and the baselines (sDFL, STC, MoDeST-style) **at the user's budget** on
*proxy data*: the devices' label histograms realised on a built-in data set (digits for
``softmax``/``mlp``, MNIST-1D for ``cnn``, :func:`ssdfl.theory.data.data_for_devices`),
each device keeping a random ``subsample`` share of its samples (a cheaper, not identical copy
of the task), or on the user's own model (``model="package.module:factory"``).

- **Common random numbers.** Pilot replicate ``r`` uses proxy data, initial model and method
  randomness of seed ``PILOT_SEED0 + r`` for every arm, so differences between arms are paired.
  The replicates do not depend on the planner's ``seed`` (which only draws the random
  yardstick partitions): the same inputs give the same recommendation.
- **Successive halving.** Replicate 0 trains every arm (in shortlist order); each further
  replicate trains the better half of the arms still in the race (plus every arm within noise
  of the best), up to ``seeds`` replicates.
- **Bounded cost.** The cost of a run is the local optimizer steps the simulator computes,
  summed over devices (``N·τ_a·K``, MoDeST included: its round evaluates every device's
  gradient and keeps the trainers'); a run that
  would exceed what is left of ``budget`` is not started (the result says which were skipped).
  The wall-clock seconds are measured and returned.

**User models.** ``factory(devices: DeviceTable, seed: int) -> DeviceModel``: a vectorized
device model (:class:`ssdfl.theory.models.DeviceModel`: ``n_devices == devices.n``, ``dim``,
``loss(X)``, ``grad(X)``, ``L_i``, ``mu_i``, ``subset``) of the devices' task, built for proxy
seed ``seed``; an optional ``init(seed) -> (dim,)`` gives the common initial model (else zeros).
"""

from __future__ import annotations

import importlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ssdfl.errors import ProxyDataError, SsdflError
from ssdfl.graphs.graph import Graph
from ssdfl.simulate import simulate
from ssdfl.simulate.metrics import global_losses
from ssdfl.simulate.modest import ModestState, modest_round
from ssdfl.theory.data import data_for_devices
from ssdfl.theory.devices import DeviceTable
from ssdfl.theory.models import DeviceModel

__all__ = [
    "BUILTIN_MODELS",
    "DEFAULT_PILOT_BUDGET",
    "PILOT_SEED0",
    "Arm",
    "ModelSpec",
    "PilotConfig",
    "ProxyDataError",
    "pilot_losses",
    "resolve_model",
    "run_pilot",
]

BUILTIN_MODELS = {"softmax": "digits", "mlp": "digits", "cnn": "mnist1d"}
"""Built-in model name → the data set its proxy data are drawn from."""

PILOT_SEED0 = 7919
"""Seed of pilot replicate 0 (replicate ``r``: ``PILOT_SEED0 + r``)."""

DEFAULT_PILOT_BUDGET = 400_000.0
"""Default pilot budget in device-steps (local optimizer steps summed over devices and runs)."""

ModelFactory = Callable[[DeviceTable, int], DeviceModel]


@dataclass(frozen=True)
class PilotConfig:
    """``budget``: device-steps the pilot may spend (0: no pilot); ``seeds``: replicates at
    most; ``shortlist``: SSD-FL formations piloted (besides S = 1 and S = N, always in);
    ``subsample``: share of each device's proxy samples kept; ``tol``: relative difference
    below which two arms are a tie whatever their spread; ``baselines``: pilot the baselines."""

    budget: float = DEFAULT_PILOT_BUDGET
    seeds: int = 3
    shortlist: int = 4
    subsample: float = 0.5
    tol: float = 0.01
    baselines: bool = True

    def validate(self) -> None:
        if not (self.budget >= 0 and math.isfinite(self.budget)):
            raise SsdflError(f"the pilot budget must be a finite number >= 0, got {self.budget}")
        if self.seeds < 1:
            raise SsdflError(f"pilot seeds must be >= 1, got {self.seeds}")
        if self.shortlist < 0:
            raise SsdflError(f"the shortlist must be >= 0, got {self.shortlist}")
        if not (0.0 < self.subsample <= 1.0):
            raise SsdflError(f"the pilot subsample must be in (0, 1], got {self.subsample}")
        if not (0.0 <= self.tol < 1.0):
            raise SsdflError(f"the tie tolerance must be in [0, 1), got {self.tol}")


@dataclass(frozen=True)
class ModelSpec:
    """The model the pilot trains: ``name`` (built-in or ``package.module:factory``),
    ``data`` (the built-in data set, ``None`` for a user model), ``factory``, and
    ``constants`` (the key of the analytic predictor's constants used for the shortlist)."""

    name: str
    data: str | None
    factory: ModelFactory = field(repr=False)
    constants: str = "softmax"


def _subsample(parts: list[np.ndarray], frac: float, seed: int) -> list[np.ndarray]:
    if frac >= 1.0:
        return parts
    rng = np.random.default_rng(seed)
    out = []
    for p in parts:
        k = max(1, math.ceil(frac * len(p)))
        out.append(np.sort(rng.choice(p, size=k, replace=False)))
    return out


def _builtin_factory(kind: str, data: str, frac: float) -> ModelFactory:
    def make(devices: DeviceTable, seed: int) -> DeviceModel:
        import dataclasses

        try:
            ds = data_for_devices(devices, devices.n, data, seed)
        except SsdflError as e:
            raise ProxyDataError(f"no proxy data on {data}: {e}") from None
        ds = dataclasses.replace(ds, parts=_subsample(ds.parts, frac, seed + 1))
        return ds.model(kind)

    return make


def resolve_model(model: str, subsample: float = 1.0) -> ModelSpec:
    """A built-in name (``softmax``, ``mlp``, ``cnn``) or ``package.module:factory`` (module
    docstring) → :class:`ModelSpec`. Errors are :class:`~ssdfl.errors.SsdflError`."""
    if model in BUILTIN_MODELS:
        data = BUILTIN_MODELS[model]
        return ModelSpec(model, data, _builtin_factory(model, data, subsample), model)
    if ":" not in model:
        raise SsdflError(
            f"model must be one of {sorted(BUILTIN_MODELS)} or 'package.module:factory', "
            f"got {model!r}"
        )
    mod_name, _, attr = model.partition(":")
    try:
        mod = importlib.import_module(mod_name)
    except ImportError as e:
        raise SsdflError(f"cannot import the model module {mod_name!r}: {e}") from None
    fac = getattr(mod, attr, None)
    if fac is None or not callable(fac):
        raise SsdflError(f"{mod_name!r} has no callable {attr!r} (the model factory)")

    def checked(devices: DeviceTable, seed: int) -> DeviceModel:
        try:
            m = fac(devices, seed)
        except SsdflError:
            raise
        except Exception as e:  # a user's factory: report, do not leak a traceback
            raise SsdflError(f"model factory {model!r} failed: {type(e).__name__}: {e}") from e
        if not isinstance(m, DeviceModel):
            raise SsdflError(f"model factory {model!r} must return a ssdfl DeviceModel, got "
                             f"{type(m).__name__}")  # fmt: skip
        if m.n_devices != devices.n:
            raise SsdflError(f"model factory {model!r} returned {m.n_devices} devices, the "
                             f"graph has {devices.n}")  # fmt: skip
        return m

    return ModelSpec(model, None, checked, "softmax")


@dataclass
class Arm:
    """One pilot arm: ``id``, ``kind`` (``ssdfl``, ``sdfl``, ``stc``, ``modest``), the
    formation ``labels`` (SSD-FL), ``cycles`` within the budget, and its results."""

    id: str
    kind: str
    cycles: int
    labels: np.ndarray | None = None
    losses: dict[int, float] = field(default_factory=dict)
    skipped: bool = False

    def mean(self) -> float:
        return float(np.mean(list(self.losses.values()))) if self.losses else math.inf


MODEST_SAMPLE = 10
MODEST_AGGREGATORS = 3


def modest_sizes(n: int) -> tuple[int, int]:
    """MoDeST committee sizes used by the planner: ``s = min(10, N)`` trainers and
    ``a = min(3, N)`` aggregators."""
    return min(MODEST_SAMPLE, n), min(MODEST_AGGREGATORS, n)


def _run_cost(arm: Arm, n: int, tau_a: int) -> float:
    """Device-steps the simulator computes for ``arm`` (MoDeST's round evaluates every
    device's gradient and keeps the trainers', :func:`ssdfl.simulate.modest.modest_round`)."""
    return float(n * tau_a * arm.cycles)


def _train(
    arm: Arm, g: Graph, m: DeviceModel, x0: Any, devices: DeviceTable, eta: float, tau_a: int,
    tau_r: int, mixing: str, seed: int,
) -> float:  # fmt: skip
    from threadpoolctl import threadpool_limits

    K = max(1, int(arm.cycles))
    with threadpool_limits(1):
        if arm.kind == "modest":
            s, a = modest_sizes(g.n)
            X = np.zeros((m.n_devices, m.dim)) if x0 is None else np.broadcast_to(
                np.asarray(x0, dtype=float), (m.n_devices, m.dim)).copy()  # fmt: skip
            present = np.ones(m.n_devices, dtype=bool)
            st = ModestState.start(X, present)
            rng = np.random.default_rng(seed)
            for _ in range(K):  # no per-round evaluation: only the end counts
                X, _sent = modest_round(m, X, present, st, rng, tau_a=tau_a, eta=eta,
                                        sample_size=s, aggregators=a)  # fmt: skip
        else:
            kw: dict[str, Any] = {}
            if arm.kind == "ssdfl":
                kw["method_kwargs"] = {"clusters": arm.labels}
            r = simulate(m, g, arm.kind, optimizers=devices.population(),
                         tau_a=tau_a, tau_r=tau_r, cycles=K, eta=devices.step_sizes(eta),
                         x0=x0, seed=seed, mixing=mixing, eval_every=K, device_metrics=False,
                         progress=False, **kw)  # fmt: skip
            X = np.asarray(r.X)
    v = float(np.mean(global_losses(m, X))) if len(X) else math.inf
    return v if math.isfinite(v) else math.inf


def _replicate(spec: ModelSpec, devices: DeviceTable, r: int) -> tuple[DeviceModel, Any, int]:
    seed = PILOT_SEED0 + r
    m = spec.factory(devices, seed)
    init = getattr(m, "init", None)
    x0 = init(seed) if callable(init) else None
    return m, x0, seed


_MEMO: dict[str, float] = {}
MEMO_SIZE = 4096
"""Pilot runs remembered per process (a run is a deterministic function of its inputs:
equal seeds give bit-identical simulations), so repeated plans of the same inputs — other
``seed`` values, ``--validate`` after the choice — do not train twice."""


def _key(*parts: Any) -> str:
    import hashlib
    import pickle

    return hashlib.sha256(pickle.dumps(parts, protocol=4)).hexdigest()


class _Replicates:
    """Replicate ``r``'s model and initial point, built on first use (a memoized run needs
    neither)."""

    def __init__(self, spec: ModelSpec, devices: DeviceTable) -> None:
        self.spec, self.devices = spec, devices
        self.cache: dict[int, tuple[DeviceModel, Any, int]] = {}

    def __call__(self, r: int) -> tuple[DeviceModel, Any, int]:
        if r not in self.cache:
            self.cache[r] = _replicate(self.spec, self.devices, r)
        return self.cache[r]


def _train_memo(
    arm: Arm, g: Graph, reps: _Replicates, r: int, devices: DeviceTable, eta: float,
    tau_a: int, tau_r: int, mixing: str, subsample: float,
) -> float:  # fmt: skip
    s, t, w = g.edges()
    key = _key(np.asarray(s).tobytes(), np.asarray(t).tobytes(), np.asarray(w).tobytes(),
               arm.kind, int(arm.cycles),
               None if arm.labels is None else np.asarray(arm.labels).tobytes(),
               devices, float(eta), int(tau_a), int(tau_r), mixing, reps.spec.name,
               float(subsample), PILOT_SEED0 + r)  # fmt: skip
    if key not in _MEMO:
        m, x0, seed = reps(r)
        if len(_MEMO) >= MEMO_SIZE:
            _MEMO.pop(next(iter(_MEMO)))
        _MEMO[key] = _train(arm, g, m, x0, devices, eta, tau_a, tau_r, mixing, seed)
    return _MEMO[key]


def run_pilot(
    g: Graph, arms: list[Arm], devices: DeviceTable, eta: float, tau_a: int, tau_r: int,
    spec: ModelSpec, cfg: PilotConfig, mixing: str = "lazy-metropolis",
) -> dict[str, Any]:  # fmt: skip
    """Successive halving over ``arms`` (module docstring); fills ``arm.losses`` and returns
    ``{"device_steps", "budget", "seconds", "replicates", "skipped": [ids], "runs"}``."""
    cfg.validate()
    t0 = time.perf_counter()
    reps = _Replicates(spec, devices)
    spent = 0.0
    runs = 0
    racing = list(arms)
    replicates = 0
    for r in range(cfg.seeds):
        todo = [a for a in racing if _run_cost(a, g.n, tau_a) <= cfg.budget - spent]
        if r == 0:
            # replicate 0 in shortlist order, skipping what the budget cannot pay
            todo = []
            left = cfg.budget
            for a in racing:
                c = _run_cost(a, g.n, tau_a)
                if c <= left:
                    todo.append(a)
                    left -= c
                else:
                    a.skipped = True
        else:
            left = cfg.budget - spent
            if sum(_run_cost(a, g.n, tau_a) for a in todo) > left or len(todo) < 2:
                break
        if not todo:
            break
        for a in todo:
            a.losses[r] = _train_memo(a, g, reps, r, devices, eta, tau_a, tau_r, mixing,
                                      cfg.subsample)  # fmt: skip
            spent += _run_cost(a, g.n, tau_a)
            runs += 1
        replicates = r + 1
        racing = _survivors(todo, cfg.tol)
        if len(racing) < 2:
            break
    return {"device_steps": spent, "budget": cfg.budget, "seconds": time.perf_counter() - t0,
            "replicates": replicates, "runs": runs,
            "skipped": [a.id for a in arms if a.skipped]}  # fmt: skip


def _survivors(arms: list[Arm], tol: float) -> list[Arm]:
    """The better half of ``arms`` by mean pilot loss, plus every arm within ``tol`` (relative)
    or two paired standard errors of the best."""
    ranked = sorted(arms, key=lambda a: (a.mean(), a.id))
    if not ranked:
        return []
    keep = ranked[: max(2, (len(ranked) + 1) // 2)]
    best = ranked[0]
    for a in ranked[len(keep) :]:
        if paired_gap(a, best)[0] <= noise(a, best, tol):
            keep.append(a)
    return keep


def paired_gap(a: Arm, b: Arm) -> tuple[float, float, int]:
    """Mean and standard error of ``a − b`` over their common replicates, and their number."""
    common = sorted(set(a.losses) & set(b.losses))
    if not common:
        return math.inf, math.inf, 0
    d = np.array([a.losses[r] - b.losses[r] for r in common])
    if not np.all(np.isfinite(d)):
        return (math.inf if a.mean() > b.mean() else -math.inf), 0.0, len(common)
    se = float(np.std(d, ddof=1) / np.sqrt(len(d))) if len(d) >= 2 else 0.0
    return float(d.mean()), se, len(common)


def noise(a: Arm, best: Arm, tol: float) -> float:
    """The tie threshold of ``a`` against ``best``: ``max(tol·|best|, 2·SE(a − best))``."""
    _gap, se, _k = paired_gap(a, best)
    return max(tol * abs(best.mean()), 2.0 * se)


def spread(a: Arm) -> float | None:
    """Standard error of an arm's mean pilot loss (``None`` with fewer than two replicates)."""
    v = np.array(list(a.losses.values()), dtype=float)
    if len(v) < 2 or not np.all(np.isfinite(v)):
        return None
    return float(np.std(v, ddof=1) / np.sqrt(len(v)))


def pilot_losses(
    g: Graph, formations: list[np.ndarray], devices: DeviceTable, eta: float, tau_a: int,
    tau_r: int, cycles: list[int], spec: ModelSpec, seeds: int, subsample: float,
    mixing: str = "lazy-metropolis",
) -> np.ndarray:  # fmt: skip
    """``(len(formations), seeds)`` pilot losses of SSD-FL formations (no budget, no halving;
    the same replicates as :func:`run_pilot`, ``spec`` resolved with the same ``subsample``),
    for validation."""
    out = np.full((len(formations), seeds), np.inf)
    reps = _Replicates(spec, devices)
    for r in range(seeds):
        for j, (lab, K) in enumerate(zip(formations, cycles)):
            arm = Arm(f"f{j}", "ssdfl", K, np.asarray(lab))
            out[j, r] = _train_memo(arm, g, reps, r, devices, eta, tau_a, tau_r, mixing,
                                    subsample)  # fmt: skip
    return out
