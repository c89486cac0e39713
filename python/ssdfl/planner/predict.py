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

from ssdfl.errors import SsdflError
from ssdfl.graphs.graph import Graph
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
    """``kind`` ``"bytes"`` or ``"cycles"``; ``cycles`` C; ``units`` the byte budget in
    message units (``None``: ``C`` cycles of inter rounds alone, see module docstring)."""

    kind: str = "bytes"
    cycles: int = 40
    units: float | None = None

    def validate(self) -> None:
        if self.kind not in ("bytes", "cycles"):
            raise SsdflError(f"budget must be 'bytes' or 'cycles', got {self.kind!r}")
        if self.cycles < 1:
            raise SsdflError(f"the cycle budget must be >= 1, got {self.cycles}")
        if self.units is not None and not self.units > 0:
            raise SsdflError(f"the byte budget must be > 0, got {self.units}")


def _labels_of(clusters: Any, n: int) -> np.ndarray:
    from ssdfl.simulate.clusters import cluster_labels

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
    """Cycles formation ``labels`` gets within ``budget``."""
    if budget.kind == "cycles":
        return int(budget.cycles)
    c = cycle_cost(g, labels, tau_a, tau_r, link_cost)
    return max(1, int(budget_units(g, budget, tau_r, link_cost) // c))


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
    for ln, line in enumerate(p.read_text().splitlines(), 1):
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
    from ssdfl.graphs.mixing import block_mixing_matrix, mixing_matrix

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
    from ssdfl.graphs.mixing import mixing_matrix

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
) -> dict[str, Any]:
    """The formation a user should run: the candidate of
    :func:`~ssdfl.planner.candidates.formation_candidates` (always with ``S = 1``, ``S = N``,
    the greedy pick and random clusters) with the lowest predicted device loss at ``budget``.
    Returns ``{"budget", "candidates": [...], "pick": id, "S", "clusters", "cluster":
    bool, "verdict": sentence}``; ``cluster`` is False when the pick is ``S = 1`` ("do not
    cluster")."""
    from ssdfl.planner.candidates import formation_candidates

    devices = with_default_lr(devices)
    cands = formation_candidates(g, plan, rng=seed)
    preds = predict_formations(g, [c["labels"] for c in cands], devices, eta, tau_a, tau_r,
                               budget, link_cost, mixing, model)  # fmt: skip
    rows = [
        {"id": c["id"], "S": c["S"], "source": c["source"], **p,
         "clusters": [np.flatnonzero(c["labels"] == s).tolist() for s in range(c["S"])]}
        for c, p in zip(cands, preds)
    ]  # fmt: skip
    best = min(rows, key=lambda r: (r["predicted"], r["S"]))
    one = next(r for r in rows if r["S"] == 1)
    alone = next(r for r in rows if r["S"] == g.n)
    what = "bytes" if budget.kind == "bytes" else "cycles"
    if best["S"] == 1:
        runner = min((r for r in rows if r["S"] > 1), key=lambda r: r["predicted"])
        why = (
            "every split removes intra-cluster mixing at no saving in local steps"
            if budget.kind == "cycles"
            else f"S = 1's drift {one['drift']:.3g} is lower and its {one['cycles']} cycles "
            f"of progress outweigh what cheaper formations gain"
        )
        verdict = (
            f"Do not cluster: at this {what} budget no clustered formation is predicted to "
            f"beat S = 1 (predicted {one['predicted']:.4g} vs {runner['predicted']:.4g} for the "
            f"best clustered candidate, {runner['id']}); {why}."
        )
    else:
        verdict = (
            f"Cluster into S = {best['S']} ({best['id']}): predicted device loss "
            f"{best['predicted']:.4g} at this {what} budget vs {one['predicted']:.4g} for no "
            f"clustering (S = 1) and {alone['predicted']:.4g} for S = N; it trains "
            f"{best['cycles']} cycles (S = 1: {one['cycles']}) with drift {best['drift']:.3g} "
            f"(S = 1: {one['drift']:.3g})."
        )
    return {
        "budget": {"kind": budget.kind, "cycles": budget.cycles,
                   "units": budget_units(g, budget, tau_r, link_cost)},
        "link_cost": link_cost is not None, "model": model,
        "candidates": rows, "pick": best["id"], "S": best["S"], "clusters": best["clusters"],
        "cluster": best["S"] > 1, "verdict": verdict,
    }  # fmt: skip
