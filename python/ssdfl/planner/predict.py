"""What a user of a formation gets: the devices' own models at a byte or cycle budget, predicted
from formation-time information only.

**Budgets.** One SSD-FL cycle of a formation with intra-cluster edges ``E_in`` costs
``c(f) = 2(τ_a Σ_{e∈E_in} w_e + τ_r Σ_{e∈E} w_e)`` message units (``w_e`` = per-edge link cost,
1 by default; a message carries one model, ``4·d`` bytes). A *cycle budget* gives every
formation ``C`` cycles; a *byte budget* ``B`` (in message units) gives formation ``f``
``⌊B / c(f)⌋`` cycles (at least 1). The default byte budget is what ``C`` cycles of
inter-cluster rounds alone cost, ``B = C·2τ_r Σ_e w_e`` — the spend of ``S = N`` in ``C``
cycles — so no formation trains more than ``C`` cycles.

**Prediction (decision, see docs/formation.md).** The planner may not train on the task it is
judged on; it predicts the mean device loss at the budget from the graph, the devices file and
two global constants:

    predicted(f) = 1/(1 + a·s̄·T_f/10)  +  c·D_f/(s̄·τ_a)²

- ``T_f = τ_a·K_f`` local steps within the budget (``K_f`` cycles) at the mean effective step
  ``s̄ = mean_i η_i α_i``: *progress* of the shared model, a ``1/T`` non-convex rate (more
  local steps per byte are worth more);
- ``D_f`` the *heterogeneity drift*: the per-device disagreement ``(1/N)‖E_K‖²`` at the end of
  cycle ``K_f`` of the linear drift model ``E ← W_intra((1 − κ)E) − (I − J)ΣH`` (each of the
  ``τ_a`` intra rounds; ``κ = RESTORING``, the pull of each device's own loss back towards the
  others) and ``E ← W E`` (each of the ``τ_r`` inter rounds), from consensus. ``H``
  holds the devices' heterogeneity directions ``h_i`` (label distribution minus the
  sample-weighted mean, or gradient statistic minus the mean, unit RMS over devices) and
  ``Σ = diag(η_i α_i)`` their step sizes times the FedNova step factors (steady state for
  momentum buffers kept across cycles). Exactly, ``E_K = Σ_{j<K} M^j u`` with the block mixing
  product per cycle ``M = W^{τ_r} ((1 − κ)W_intra)^{τ_a}`` and
  ``u = −W^{τ_r} Σ_{k<τ_a} ((1 − κ)W_intra)^k (I − J)ΣH``: clusters that mix well inside but whose
  boundaries follow the graph's bottlenecks leave their drift in the slowest modes of ``W``,
  which the ``τ_r`` inter rounds barely remove. It is measured in units of one cycle of
  unmixed drift, ``(s̄τ_a)²``, so the two terms are dimensionless.
- ``a``, ``c`` (per model, ``PREDICTOR_CONSTANTS``: the MLP on digits is step-bound, the CNN
  on MNIST-1D drift-bound, softmax regression in between) and ``κ`` (one value) are constants
  fitted once on the tuning instances of ``benchmarks/planner_validation.py`` — never on the
  task being planned; the user names the model they will train (``--model``). At a cycle
  budget ``T_f`` is the same for every formation and only ``D_f`` ranks them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ssdfl.clusters.labels import cluster_labels
from ssdfl.errors import ProxyDataError, SsdflError
from ssdfl.graphs.graph import Graph
from ssdfl.graphs.mixing import block_mixing_matrix, mixing_matrix, random_matching
from ssdfl.planner.candidates import formation_candidates
from ssdfl.planner.pilot import (
    Arm,
    PilotConfig,
    modest_sizes,
    noise,
    paired_gap,
    resolve_model,
    run_pilot,
    spread,
)
from ssdfl.theory.devices import DeviceTable

__all__ = [
    "Budget",
    "budget_cycles",
    "choose_formation",
    "cycle_cost",
    "drift_disagreement",
    "heterogeneity_directions",
    "link_costs",
    "predict_formations",
    "read_link_cost",
]


@dataclass(frozen=True)
class Budget:
    """What every formation may spend. ``kind``: ``"bytes"``, ``"cycles"`` or ``"time"``;
    ``cycles`` C; ``units`` the byte budget in message units (``None``: ``C`` cycles of inter
    rounds alone, see module docstring); ``seconds`` the wall-clock budget (``None``: what
    ``S = N`` takes for ``C`` cycles). Time budgets use ``bandwidth`` (bytes/s), ``latency``
    (s) — each a number or one value per edge of ``g.edges()`` — ``compute`` (seconds per
    local step, a number or one per device) and ``model_bytes`` (bytes of one model message;
    ``None``: ``4·d`` of the model the planner trains, :func:`cycle_time`)."""

    kind: str = "bytes"
    cycles: int = 40
    units: float | None = None
    seconds: float | None = None
    bandwidth: Any = 1.25e6
    latency: Any = 0.01
    compute: Any = 0.005
    model_bytes: float | None = None

    def validate(self) -> None:
        if self.kind not in ("bytes", "cycles", "time"):
            raise SsdflError(f"budget must be 'bytes', 'cycles' or 'time', got {self.kind!r}")
        if self.cycles < 1:
            raise SsdflError(f"the cycle budget must be >= 1, got {self.cycles}")
        if self.units is not None and not self.units > 0:
            raise SsdflError(f"the byte budget must be > 0, got {self.units}")
        if self.seconds is not None and not (self.seconds > 0 and np.isfinite(self.seconds)):
            raise SsdflError(f"the time budget must be > 0 seconds, got {self.seconds}")
        for name, v, pos in (("bandwidth", self.bandwidth, True), ("latency", self.latency, False),
                             ("compute", self.compute, False)):  # fmt: skip
            a = np.asarray(v, dtype=float)
            if not np.all(np.isfinite(a)) or (np.any(a <= 0) if pos else np.any(a < 0)):
                raise SsdflError(f"{name} must be finite and {'> 0' if pos else '>= 0'}")
        if self.model_bytes is not None and not self.model_bytes > 0:
            raise SsdflError(f"model_bytes must be > 0, got {self.model_bytes}")


DEFAULT_MODEL_BYTES = 4.0 * 650
"""Bytes of one model message when neither the budget nor a model says (softmax on digits)."""


def _per(v: Any, n: int, what: str) -> np.ndarray:
    a = np.asarray(v, dtype=float)
    if a.ndim == 0:
        return np.full(n, float(a))
    if a.shape != (n,):
        raise SsdflError(f"{what}: expected one number or {n} values, got shape {a.shape}")
    return a


def link_seconds(g: Graph, budget: Budget) -> np.ndarray:
    """Seconds to send one model over each edge of ``g.edges()``: latency + bytes/bandwidth."""
    mb = budget.model_bytes or DEFAULT_MODEL_BYTES
    return _per(budget.latency, g.m, "latency") + mb / _per(budget.bandwidth, g.m, "bandwidth")


def cycle_time(g: Graph, labels: np.ndarray, tau_a: int, tau_r: int, budget: Budget) -> float:
    """Seconds of one synchronous SSD-FL cycle: ``τ_a`` intra rounds, each the slowest
    device's step plus the slowest intra-cluster link (clusters run in parallel), then
    ``τ_r`` inter rounds over the slowest link of the graph."""
    s, t, _ = g.edges()
    link = link_seconds(g, budget)
    comp = float(np.max(_per(budget.compute, g.n, "compute")))
    intra = labels[s] == labels[t]
    t_in = float(link[intra].max()) if intra.any() else 0.0
    t_all = float(link.max()) if len(link) else 0.0
    return tau_a * (comp + t_in) + tau_r * t_all


def budget_seconds(g: Graph, budget: Budget, tau_a: int, tau_r: int) -> float:
    """The time budget in seconds (default: ``C`` cycles of ``S = N``)."""
    if budget.seconds is not None:
        return float(budget.seconds)
    return budget.cycles * cycle_time(g, np.arange(g.n), tau_a, tau_r, budget)


def _labels_of(clusters: Any, n: int) -> np.ndarray:

    return cluster_labels(clusters, n)


def cycle_cost(
    g: Graph, labels: np.ndarray, tau_a: int, tau_r: int, link_cost: np.ndarray | None = None
) -> float:
    """Message units of one cycle (module docstring); ``link_cost`` aligned with ``g.edges()``."""
    s, t, _ = g.edges()
    w = np.ones(len(s)) if link_cost is None else np.asarray(link_cost, dtype=float)
    intra = float(w[labels[s] == labels[t]].sum())
    return 2.0 * (tau_a * intra + tau_r * float(w.sum()))


def budget_units(g: Graph, budget: Budget, tau_r: int, link_cost: np.ndarray | None) -> float:
    """The byte budget in message units (default: ``C`` cycles of inter rounds alone)."""
    if budget.units is not None:
        return float(budget.units)
    w = np.ones(g.m) if link_cost is None else np.asarray(link_cost, dtype=float)
    return budget.cycles * 2.0 * tau_r * float(w.sum())


def budget_cycles(
    g: Graph, labels: np.ndarray, tau_a: int, tau_r: int, budget: Budget,
    link_cost: np.ndarray | None = None,
) -> int:  # fmt: skip
    """Cycles formation ``labels`` gets within ``budget`` (at least 1)."""
    if budget.kind == "cycles":
        return int(budget.cycles)
    if budget.kind == "time":
        T = budget_seconds(g, budget, tau_a, tau_r)
        return max(1, int(T // cycle_time(g, labels, tau_a, tau_r, budget)))
    c = cycle_cost(g, labels, tau_a, tau_r, link_cost)
    return max(1, int(budget_units(g, budget, tau_r, link_cost) // c))


def baseline_cycles(
    g: Graph, method: str, tau_a: int, tau_r: int, budget: Budget,
    link_cost: np.ndarray | None = None,
) -> int:  # fmt: skip
    """Cycles (``τ_a`` local steps each) baseline ``method`` gets within ``budget``:
    ``sdfl`` gossips over every edge in each of its ``τ_a`` iterations (``2τ_a Σ_e w_e``
    message units per cycle); ``stc`` over a random matching (the expected ``Σ_{e∈M} w_e`` of
    64 matchings of a fixed stream); ``modest`` sends ``s·a(2K − 1)`` messages in ``K`` rounds
    (:func:`ssdfl.simulate.modest.modest_messages`, each at the mean link cost; the overlay's
    multi-hop relays are not counted). At a time budget: sDFL/STC rounds take the slowest
    device step plus the slowest link; a MoDeST round ``τ_a`` steps plus two hops of mean
    latency and ``s`` models over the mean bandwidth."""

    if method not in ("sdfl", "stc", "modest"):
        raise SsdflError(f"baseline must be sdfl, stc or modest, got {method!r}")
    if budget.kind == "cycles":
        return int(budget.cycles)
    s_, t_, _ = g.edges()
    w = np.ones(len(s_)) if link_cost is None else np.asarray(link_cost, dtype=float)
    sz, ag = modest_sizes(g.n)
    if budget.kind == "time":
        T = budget_seconds(g, budget, tau_a, tau_r)
        link = link_seconds(g, budget)
        comp = float(np.max(_per(budget.compute, g.n, "compute")))
        if method == "modest":
            mb = budget.model_bytes or DEFAULT_MODEL_BYTES
            lat = float(np.mean(_per(budget.latency, g.m, "latency")))
            bw = float(np.mean(_per(budget.bandwidth, g.m, "bandwidth")))
            per = tau_a * comp + 2.0 * mean_hops(g) * (lat + sz * mb / bw)
        else:
            per = tau_a * (comp + (float(link.max()) if len(link) else 0.0))
        return max(1, int(T // per))
    B = budget_units(g, budget, tau_r, link_cost)
    if method == "sdfl":
        return max(1, int(B // (2.0 * tau_a * float(w.sum()))))
    if method == "stc":
        rng = np.random.default_rng(0)
        key = {(int(x), int(y)): k for k, (x, y) in enumerate(zip(s_, t_))}
        per_round = []
        for _ in range(64):
            a, b = random_matching(s_, t_, g.n, rng)  # a subset of the edges (s_, t_)
            per_round.append(float(sum(w[key[(int(x), int(y))]] for x, y in zip(a, b))))
        return max(1, int(B // (2.0 * tau_a * max(float(np.mean(per_round)), 1e-12))))
    wbar = float(w.mean()) if len(w) else 1.0
    return max(1, int((B / (sz * ag * wbar * mean_hops(g)) + 1.0) // 2.0))


def mean_hops(g: Graph, sources: int = 64) -> float:
    """Mean shortest-path length (hops) from up to ``sources`` evenly spaced nodes to all
    others (exact for ``N ≤ sources``); 1 for a single node."""
    from scipy.sparse.csgraph import shortest_path

    if g.n < 2:
        return 1.0
    idx = np.unique(np.linspace(0, g.n - 1, min(sources, g.n)).round().astype(np.int64))
    D = shortest_path(g.to_scipy(), unweighted=True, indices=idx)
    D = D[np.isfinite(D) & (D > 0)]
    return float(D.mean()) if D.size else 1.0


def read_link_cost(path: str, g: Graph) -> np.ndarray:
    """Per-edge link costs from a whitespace/comma separated file ``u v cost`` (node labels
    as in the graph file, ``#`` comments); edges not listed cost 1. Returns costs aligned with
    ``g.edges()``."""
    import re
    from pathlib import Path

    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"link-cost file not found: {p}")
    index = {str(x): i for i, x in enumerate(g.node_names())}
    s, t, _ = g.edges()
    pos = {(int(a), int(b)): k for k, (a, b) in enumerate(zip(s, t))}
    cost = np.ones(len(s))
    if not p.is_file():
        raise SsdflError(f"link-cost file {p} is not a file")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise SsdflError(f"link-cost file {p} is not UTF-8 text (byte {exc.start})") from None
    for ln, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = [x for x in re.split(r"[,\s]+", line) if x]
        if len(parts) != 3:
            raise SsdflError(f"{p}:{ln}: expected 'u v cost', got {line!r}")
        if parts[0] not in index or parts[1] not in index:
            raise SsdflError(f"{p}:{ln}: {parts[0]!r}–{parts[1]!r} are not both graph nodes")
        u, v = index[parts[0]], index[parts[1]]
        k = pos.get((u, v), pos.get((v, u)))
        if k is None:
            raise SsdflError(f"{p}:{ln}: {parts[0]}–{parts[1]} is not an edge of the graph")
        try:
            c = float(parts[2])
        except ValueError:
            raise SsdflError(f"{p}:{ln}: cost {parts[2]!r} is not a number") from None
        if not (c > 0 and np.isfinite(c)):
            raise SsdflError(f"{p}:{ln}: cost must be a positive finite number, got {c}")
        cost[k] = c
    return cost


def link_costs(spec: str | None, g: Graph) -> np.ndarray | None:
    """``None`` (every link costs 1), ``"weight"`` (the graph file's edge weights) or a path
    read by :func:`read_link_cost`."""
    if spec is None:
        return None
    if spec == "weight":
        _s, _t, w = g.edges()
        w = np.asarray(w, dtype=float)
        if not (np.all(np.isfinite(w)) and np.all(w > 0)):
            raise SsdflError("--link-cost weight needs positive finite edge weights")
        return w
    return read_link_cost(spec, g)


def heterogeneity_directions(devices: DeviceTable) -> np.ndarray:
    """``(N, q)`` heterogeneity directions ``h_i`` (module docstring), unit RMS over devices;
    zeros for homogeneous devices."""
    n = devices.n
    if devices.grads is not None:
        H = devices.grads - devices.grads.mean(axis=0)
    elif devices.label_hist is not None:
        P = devices.label_hist / devices.label_hist.sum(axis=1, keepdims=True)
        w = devices.n_samples / devices.n_samples.sum()
        H = P - w @ P
    else:
        return np.zeros((n, 1))
    rms = float(np.sqrt(np.mean(np.sum(H * H, axis=1))))
    return H / rms if rms > 0 else H


PREDICTOR_CONSTANTS: dict[str, tuple[float, float]] = {
    # model → (a = progress rate, c = drift weight), fitted once on the tuning instances of
    # benchmarks/planner_validation.py (grid search of mean Spearman + share of regret ≤ 5 %,
    # docs/formation.md); the MLP is step-bound, the CNN drift-bound
    "softmax": (3.0, 3.0),
    "mlp": (0.1, 0.3),
    "cnn": (0.1, 3.0),
}
RESTORING = 0.03
"""κ: each local step pulls a device's deviation back by this fraction (its own loss's
curvature; one constant for every model, fitted with ``PREDICTOR_CONSTANTS``)."""


def with_default_lr(devices: DeviceTable) -> DeviceTable:
    """A copy in which devices without their own ``lr`` whose optimizer declares a
    :attr:`~ssdfl.theory.optimizers.LocalOptimizer.default_lr` get it (Adam: its normalized
    steps are not on the scale of the SGD step size η)."""
    import dataclasses

    lr = devices.lr.copy()
    own = devices.population().default_lrs()  # the optimizer's own step size, or NaN
    fill = np.isnan(lr) & ~np.isnan(own)
    lr[fill] = own[fill]
    return dataclasses.replace(devices, lr=lr)


def step_factors(devices: DeviceTable, eta: float, tau_a: int) -> np.ndarray:
    """``(N,)`` ``η_i α_i``: each device's step size times its FedNova step factor (momentum:
    steady state ``1/(1 − ρ)``: an optimizer that carries state keeps it across cycles)."""
    pop = devices.population()
    alpha = np.array([o.cycle_alpha(tau_a, eta, reset_state=False) for o in pop.optimizers])
    return devices.step_sizes(eta) * alpha


def drift_disagreement(
    g: Graph, labels: np.ndarray, H: np.ndarray, step: np.ndarray, tau_a: int, tau_r: int,
    cycles: int, mixing: str = "lazy-metropolis", kappa: float = 0.0, W: Any = None,
) -> float:  # fmt: skip
    """``D_f = (1/N)‖E_K‖²`` of the module docstring (sparse products, no dense powers); with
    ``kappa`` every local step first contracts the deviations by ``1 − κ``. ``W``: the
    whole graph's mixing matrix, if already built."""

    if W is None:
        W = mixing_matrix(g, mixing)
    Wi = block_mixing_matrix(g, labels, mixing)
    SH = step[:, None] * H
    SH = SH - SH.mean(axis=0)
    keep = 1.0 - kappa
    acc = np.zeros_like(SH)
    for _ in range(tau_a):
        acc = Wi @ (keep * acc) + SH
    for _ in range(tau_r):
        acc = W @ acc
    E = np.zeros_like(SH)
    for _ in range(cycles):
        for _ in range(tau_a):
            E = Wi @ (keep * E)
        for _ in range(tau_r):
            E = W @ E
        E = E + acc
        E = E - E.mean(axis=0)
    return float(np.mean(np.sum(E * E, axis=1)))


def predict_formations(
    g: Graph,
    formations: list[Any],
    devices: DeviceTable,
    eta: float,
    tau_a: int,
    tau_r: int,
    budget: Budget,
    link_cost: np.ndarray | None = None,
    mixing: str = "lazy-metropolis",
    model: str = "softmax",
    constants: tuple[float, float] | None = None,
) -> list[dict[str, Any]]:
    """Predicted mean device loss (relative units, lower is better) of every formation at
    ``budget`` (module docstring), with its parts, cycles and message units per cycle.
    ``constants`` overrides ``PREDICTOR_CONSTANTS[model]``."""
    budget.validate()
    if constants is None:
        if model not in PREDICTOR_CONSTANTS:
            raise SsdflError(f"model must be one of {sorted(PREDICTOR_CONSTANTS)}, got {model!r}")
        constants = PREDICTOR_CONSTANTS[model]
    progress_rate, drift_weight = constants
    devices = with_default_lr(devices)
    H = heterogeneity_directions(devices)
    step = step_factors(devices, eta, tau_a)
    sbar = float(np.mean(step))

    W = mixing_matrix(g, mixing)  # one whole-graph matrix for every formation
    out = []
    for f in formations:
        lab = _labels_of(f, g.n)
        K = budget_cycles(g, lab, tau_a, tau_r, budget, link_cost)
        D = drift_disagreement(g, lab, H, step, tau_a, tau_r, K, mixing, RESTORING, W=W)
        D /= (sbar * tau_a) ** 2
        prog = 1.0 / (1.0 + progress_rate * sbar * tau_a * K / 10.0)
        out.append({
            "predicted": prog + drift_weight * D, "progress": prog, "drift": D,
            "cycles": int(K), "cost_per_cycle": cycle_cost(g, lab, tau_a, tau_r, link_cost),
        })  # fmt: skip
    return out


BASELINE_NAMES = {
    "sdfl": "sDFL (D-SGD: a local step and a gossip round over every edge)",
    "stc": "STC (pairwise averaging over random matchings)",
    "modest": "MoDeST-style sampling (10 trainers, 3 aggregators per round)",
}
ANALYTIC_TOL = 0.05
"""Relative tie width of analytic-only predictions (no pilot ran): the analytic predictor's
constants are not fitted to the task, so differences below 5 % are not taken as real."""


def _fmt(v: float | None, sp: float | None) -> str:
    if v is None or not np.isfinite(v):
        return "n/a"
    return f"{v:.4g}" if sp is None else f"{v:.4g} ± {sp:.2g}"


def _name(r: dict[str, Any], n: int) -> str:
    if r["S"] == 1:
        return "S = 1 (no clustering)"
    if r["S"] == n:
        return "S = N (every device alone)"
    return f"S = {r['S']} ({r['id']})"


def choose_formation(
    g: Graph,
    devices: DeviceTable,
    eta: float,
    tau_a: int,
    tau_r: int,
    budget: Budget,
    link_cost: np.ndarray | None = None,
    plan: Any | None = None,
    mixing: str = "lazy-metropolis",
    seed: int = 0,
    model: str = "softmax",
    pilot: Any | None = None,
    pilot_budget: float | None = None,
) -> dict[str, Any]:
    """The formation a user should run (``docs/formation.md``, "Choice").

    1. Candidates (:func:`~ssdfl.planner.candidates.formation_candidates`): ``S = 1``,
       ``S = N``, the greedy pick, the splitting loop, the MILP picks, and random connected
       partitions drawn from ``seed`` — the latter are *yardsticks* (shown, never picked).
    2. The analytic predictor (:func:`predict_formations`) shortlists: ``S = 1``, ``S = N`` and
       the ``pilot.shortlist`` best other non-random candidates.
    3. The pilot (:mod:`ssdfl.planner.pilot`) trains the shortlist and the baselines sDFL, STC
       and MoDeST-style at ``budget`` on proxy data (successive halving, common random
       numbers, at most ``pilot.budget`` device-steps; ``pilot_budget`` overrides it, 0 = no
       pilot). A candidate's ``predicted`` value is its mean pilot loss (``spread``: its
       standard error), or, if not piloted, its analytic value calibrated on the piloted ones
       by least squares (``spread``: the fit's residual RMS).
    4. The best piloted formation and every formation within noise of it (paired difference
       ≤ ``max(tol·best, 2·SE)``) are ``ties``; the pick is the simplest of them: fewest
       clusters (``S = 1`` first), then least traffic per cycle. A baseline whose pilot loss
       is lower than the pick's by more than the noise is named first in the verdict.

    Returns ``{"budget", "model", "candidates", "pick", "S", "clusters", "cluster",
    "verdict", "ties", "baselines", "pilot"}``; ``clusters`` lists node positions."""
    import dataclasses

    cfg = pilot if pilot is not None else PilotConfig()
    if pilot_budget is not None:
        cfg = dataclasses.replace(cfg, budget=float(pilot_budget))
    cfg.validate()
    budget.validate()
    spec = resolve_model(model, cfg.subsample)
    devices = with_default_lr(devices)
    proxy_error = ""
    if budget.kind == "time" and budget.model_bytes is None:
        try:
            dim = int(spec.factory(devices, 0).dim)  # the message is one model of d floats
        except ProxyDataError as e:
            proxy_error, dim = str(e), 650
        budget = dataclasses.replace(budget, model_bytes=4.0 * dim)
    cands = formation_candidates(g, plan, rng=seed)
    preds = predict_formations(g, [c["labels"] for c in cands], devices, eta, tau_a, tau_r,
                               budget, link_cost, mixing, spec.constants)  # fmt: skip
    rows: list[dict[str, Any]] = []
    for c, p in zip(cands, preds):
        rows.append({
            "id": c["id"], "S": c["S"], "source": c["source"],
            "yardstick": bool(c.get("yardstick", False)), "analytic": p["predicted"],
            "progress": p["progress"], "drift": p["drift"], "cycles": p["cycles"],
            "cost_per_cycle": p["cost_per_cycle"],
            "clusters": [np.flatnonzero(c["labels"] == s).tolist() for s in range(c["S"])],
            "labels": c["labels"],
        })  # fmt: skip
    eligible = [r for r in rows if not r["yardstick"]]
    n = g.n
    ends = [r for r in eligible if r["S"] in (1, n)]
    others = sorted((r for r in eligible if r["S"] not in (1, n)),
                    key=lambda r: (r["analytic"], r["S"], r["id"]))  # fmt: skip
    short = [r for r in ends if r["S"] == 1] + others[: cfg.shortlist] + [
        r for r in ends if r["S"] == n and n > 1]  # fmt: skip
    arms = [Arm(r["id"], "ssdfl", r["cycles"], r["labels"]) for r in short]
    if cfg.baselines:
        arms += [Arm(b, b, baseline_cycles(g, b, tau_a, tau_r, budget, link_cost))
                 for b in ("sdfl", "stc", "modest")]  # fmt: skip
    info: dict[str, Any] = {"budget": cfg.budget, "device_steps": 0.0, "seconds": 0.0,
                            "replicates": 0, "runs": 0, "skipped": []}  # fmt: skip
    if cfg.budget > 0 and not proxy_error:
        try:
            info = run_pilot(g, arms, devices, eta, tau_a, tau_r, spec, cfg, mixing)
        except ProxyDataError as e:  # built-in data too small for these devices: analytic
            proxy_error = str(e)
            for arm in arms:
                arm.losses.clear()
    info["proxy_error"] = proxy_error or None
    by_id = {a.id: a for a in arms}
    piloted = [r for r in rows if r["id"] in by_id and by_id[r["id"]].losses]
    for r in rows:
        a = by_id.get(r["id"])
        if a is not None and a.losses:
            r["predicted"], r["spread"], r["predicted_by"] = a.mean(), spread(a), "pilot"
            r["pilot"] = [a.losses[k] for k in sorted(a.losses)]
        else:
            r["pilot"] = None
    _calibrate(rows, piloted)
    tol = cfg.tol
    if piloted:
        depth = max(len(by_id[r["id"]].losses) for r in piloted)
        deep = [r for r in piloted if len(by_id[r["id"]].losses) == depth]
        best = min(deep, key=lambda r: (r["predicted"], r["S"], r["id"]))
        b_arm = by_id[best["id"]]
        ties = [
            r
            for r in piloted
            if r is not best
            and paired_gap(by_id[r["id"]], b_arm)[0] <= noise(by_id[r["id"]], b_arm, tol)
        ]
        how = (f"pilot: {depth} proxy replicate{'s' if depth > 1 else ''} of {spec.name}"
               + (f" on {spec.data} drawn from the devices' label histograms, "
                  f"{100 * cfg.subsample:.0f} % of the samples" if spec.data else "")
               + f"; {info['runs']} runs, {info['device_steps']:.3g} device-steps"
               + (f"; not piloted within the pilot budget: {', '.join(info['skipped'])}"
                  if info["skipped"] else ""))  # fmt: skip
    else:
        best = min(eligible, key=lambda r: (r["analytic"], r["S"], r["id"]))
        ties = [
            r
            for r in eligible
            if r is not best and r["analytic"] <= best["analytic"] * (1 + ANALYTIC_TOL)
        ]
        why_not = (
            "--pilot-budget 0"
            if cfg.budget <= 0
            else proxy_error
            if proxy_error
            else f"the pilot budget ({cfg.budget:.3g} device-steps) pays for no run"
        )
        how = (f"analytic prediction only, no pilot ({why_not}); differences below "
               f"{100 * ANALYTIC_TOL:.0f} % are ties")  # fmt: skip
    for r in rows:  # not piloted and not calibrated: the analytic value
        r.setdefault("predicted", r["analytic"])
        r.setdefault("spread", None)
        r.setdefault("predicted_by", "analytic")
    group = [best, *ties]
    pick = min(group, key=lambda r: (r["S"], r["cost_per_cycle"], r["id"]))
    tie_rows = sorted((r for r in group if r is not pick), key=lambda r: (r["S"], r["id"]))
    # baselines: predicted at the same budget
    baselines: dict[str, Any] = {}
    lead = ""
    p_arm = by_id.get(pick["id"])
    winners = []
    for b in ("sdfl", "stc", "modest"):
        a = by_id.get(b)
        if a is None:
            continue
        baselines[b] = {"name": BASELINE_NAMES[b], "cycles": a.cycles,
                        "predicted": a.mean() if a.losses else None, "spread": spread(a),
                        "pilot": [a.losses[k] for k in sorted(a.losses)] or None}  # fmt: skip
        if a.losses and p_arm is not None and p_arm.losses:
            gap = paired_gap(a, p_arm)[0]
            if gap < -noise(a, p_arm, tol):
                baselines[b]["beats_pick"] = True
                winners.append((a.mean(), b))
            else:
                baselines[b]["beats_pick"] = False
    what = {"bytes": "byte", "cycles": "cycle", "time": "time"}[budget.kind]
    if winners:
        wm, wb = min(winners)
        lead = (f"{BASELINE_NAMES[wb]} is predicted to beat every SSD-FL formation at this "
                f"{what} budget: device loss {_fmt(wm, baselines[wb]['spread'])} vs "
                f"{_fmt(pick.get('predicted'), pick.get('spread'))} for the best formation. "
                f"Among SSD-FL formations: ")  # fmt: skip
    pv = _fmt(pick.get("predicted", pick["analytic"]), pick.get("spread"))
    if tie_rows:
        within = "; ".join(
            f"{_name(r, n)} within noise ({_fmt(r.get('predicted'), r.get('spread'))})"
            for r in tie_rows
        )
        tail = f"; {within} — the simplest formation within noise is recommended"
    else:
        rest = [r for r in rows if r is not pick and not r["yardstick"]]
        nxt = min(rest, key=lambda r: r["predicted"]) if rest else None
        tail = ("; no other formation within noise" + (
            f" (next: {_name(nxt, n)}, {_fmt(nxt['predicted'], nxt.get('spread'))})"
            if nxt is not None else ""))  # fmt: skip
    if pick["S"] == 1:
        why = (
            "; every split removes intra-cluster mixing at no saving in local steps"
            if budget.kind == "cycles"
            else ""
        )
        head = (f"Do not cluster (S = 1): predicted device loss {pv} at this {what} budget"
                f"{tail}{why}")  # fmt: skip
    else:
        head = (f"Cluster into {_name(pick, n)}: predicted device loss {pv} at this {what} "
                f"budget, {pick['cycles']} cycles{tail}")  # fmt: skip
    verdict = lead + (head[0].lower() + head[1:] if lead else head) + f" ({how})."
    for r in rows:
        r.pop("labels")
    bud: dict[str, Any] = {"kind": budget.kind, "cycles": budget.cycles,
                           "units": budget_units(g, budget, tau_r, link_cost)}  # fmt: skip
    if budget.kind == "time":
        bud["seconds"] = budget_seconds(g, budget, tau_a, tau_r)
        bud["model_bytes"] = budget.model_bytes
    return {
        "budget": bud, "link_cost": link_cost is not None, "model": spec.name,
        "candidates": rows, "pick": pick["id"], "S": pick["S"], "clusters": pick["clusters"],
        "cluster": pick["S"] > 1, "verdict": verdict, "ties": [r["id"] for r in tie_rows],
        "baselines": baselines, "baseline_wins": bool(winners),
        "pilot": {**info, "seeds": cfg.seeds, "subsample": cfg.subsample, "tol": tol,
                  "shortlist": [r["id"] for r in short], "data": spec.data},
    }  # fmt: skip


def _calibrate(rows: list[dict[str, Any]], piloted: list[dict[str, Any]]) -> None:
    """Rows without a pilot value get ``a + b·analytic`` fitted by least squares on the
    piloted rows (≥ 3 with finite values and distinct analytic values; ``spread`` = residual
    RMS), else keep the analytic value."""
    pts = [(r["analytic"], r["predicted"]) for r in piloted if np.isfinite(r["predicted"])]
    x = np.array([p[0] for p in pts])
    y = np.array([p[1] for p in pts])
    if len(pts) < 3 or np.ptp(x) == 0:
        return
    A = np.vstack([np.ones_like(x), x]).T
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    rms = float(np.sqrt(np.mean((A @ coef - y) ** 2)))
    for r in rows:
        if r.get("predicted_by") == "pilot":
            continue
        r["predicted"] = float(coef[0] + coef[1] * r["analytic"])
        r["spread"] = rms
        r["predicted_by"] = "analytic, calibrated on the pilot"
