"""Validation of a formation plan by simulation (``ssdfl form --simulate``).

The devices' label histograms (or, without them, a 3-label non-IID split) are realised on
scikit-learn's bundled digits data (10 classes, 1797 samples): every device draws, without
replacement and disjointly, samples of each class in proportion to its histogram (classes in
short supply are scaled down uniformly). Devices train softmax regression with their own
optimizers. Runs: SSD-FL on the chosen formation, on the MILP optimum for a few other ``S``,
cSTC (random connected clusters, same ``S``) and sDFL. Outputs ``simulation.csv`` and
``simulation.png`` (accuracy and consensus gap per cycle) and ``predicted_vs_observed.png``
(objective ``J`` of each simulated formation against its observed late-cycle consensus gap,
with Spearman's rank correlation).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ssdfl._atomic import atomic_write
from ssdfl.errors import SsdflError
from ssdfl.graphs.graph import Graph
from ssdfl.graphs.plotting import save_figure
from ssdfl.planner.plan import FormationPlan
from ssdfl.theory.data import FederatedDataset, load_digits_federated
from ssdfl.theory.devices import DeviceTable

__all__ = ["digits_for_devices", "simulate_plan"]


def digits_for_devices(devices: DeviceTable | None, n: int, seed: int = 0) -> FederatedDataset:
    """Digits split so that device ``i``'s labels follow ``devices.label_hist[i]`` (module doc);
    a 3-label split when there are no histograms."""
    if devices is None or devices.label_hist is None:
        return load_digits_federated(n, "k-label", k=3, seed=seed)
    base = load_digits_federated(1, "iid", seed=seed)
    X, y = base.X, base.y
    hist = devices.label_hist
    if hist.shape[1] > 10:
        raise SsdflError(f"digits has 10 classes; the devices file has {hist.shape[1]}")
    classes = [int(c) if str(c).isdigit() else k for k, c in enumerate(devices.classes)]
    rng = np.random.default_rng(seed)
    pools = {c: list(rng.permutation(np.flatnonzero(y == c))) for c in range(10)}
    demand = np.zeros(10)
    for k, c in enumerate(classes):
        demand[c] += hist[:, k].sum()
    scale = min(1.0, min(len(pools[c]) / demand[c] for c in range(10) if demand[c] > 0))
    parts = []
    for i in range(n):
        want = np.floor(hist[i] * scale).astype(int)
        if want.sum() == 0:
            want[int(np.argmax(hist[i]))] = 1
        idx: list[int] = []
        for k, c in enumerate(classes):
            take = min(want[k], len(pools[c]))
            idx += [pools[c].pop() for _ in range(take)]
        if not idx:
            raise SsdflError(f"device {i}: no digits samples left for its classes")
        parts.append(np.sort(np.asarray(idx, dtype=np.int64)))
    return FederatedDataset(X, y, parts, 10, "digits-by-histogram")


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import spearmanr

    if len(a) < 3:
        return float("nan")
    return float(spearmanr(a, b).statistic)


def simulate_plan(
    plan: FormationPlan,
    g: Graph,
    devices: DeviceTable | None,
    out: str | os.PathLike[str],
    cycles: int = 40,
    seed: int = 0,
    extra_S: int = 3,
    progress: bool = False,
    report: Path | None = None,
) -> dict[str, Any]:
    """Run the simulations of the module docstring, write their outputs into ``out`` (and
    append a section to ``report`` if given); returns a summary dict."""
    import matplotlib.pyplot as plt
    import pandas as pd

    from ssdfl.simulate import simulate
    from ssdfl.simulate.devices import population_from_devices
    from ssdfl.theory.devices import homogeneous_devices

    outdir = Path(out)
    cfg = plan.config
    dev = devices or homogeneous_devices(g.n)
    data = digits_for_devices(devices, g.n, seed)
    model = data.logistic()
    pop = population_from_devices(dev)
    common = dict(
        optimizers=pop, tau_a=cfg["tau_a"], tau_r=cfg["tau_r"], cycles=cycles, eta=cfg["eta"],
        seed=seed, mixing=cfg["mixing_rule"], progress=progress, device_metrics=False,
    )  # fmt: skip
    runs: list[tuple[str, int, float | None, Any]] = []
    chosen = plan.assignment
    res = simulate(model, g, "ssdfl", method_kwargs={"clusters": chosen}, **common)
    runs.append(("SSD-FL (chosen)", plan.S, plan.objective, res))
    feas = [r for r in plan.by_S if r["feasible"] and r["S"] != plan.S]
    pick = [feas[int(k)] for k in np.unique(np.linspace(0, len(feas) - 1, extra_S).round())] if (
        feas) else []  # fmt: skip
    for r in pick:
        res = simulate(model, g, "ssdfl", method_kwargs={"clusters": r["clusters"]}, **common)
        runs.append((f"SSD-FL (S={r['S']})", r["S"], r["objective"], res))
    res = simulate(model, g, "cstc", method_kwargs={"clusters": chosen}, **common)
    runs.append(("cSTC (random clusters)", plan.S, None, res))
    runs.append(("sDFL", 1, None, simulate(model, g, "sdfl", **{**common, "tau_r": 1})))
    frames = []
    for name, S, J, res in runs:
        df = res.table()
        df["run"] = name
        df["S_run"] = S
        df["objective_J"] = J
        frames.append(df)
    table = pd.concat(frames, ignore_index=True)
    with atomic_write(outdir / "simulation.csv") as fh:
        table.to_csv(fh, index=False)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for name, _S, _J, res in runs:
        df = res.table()
        axes[0].plot(df["cycle"], df["accuracy"], label=name)
        axes[1].plot(df["cycle"], df["consensus_gap"], label=name)
    axes[0].set_xlabel("global cycle")
    axes[0].set_ylabel("accuracy of the average model")
    axes[1].set_xlabel("global cycle")
    axes[1].set_ylabel("consensus gap (1/N)Σ‖x_i − x̄‖²")
    axes[1].set_yscale("log")
    axes[0].legend(fontsize=7)
    save_figure(fig, outdir / "simulation.png")
    # predicted (J) vs observed late-cycle consensus gap for the SSD-FL formations
    pv = [(J, float(res.table()["consensus_gap"].tail(max(1, cycles // 4)).mean()), S)
          for name, S, J, res in runs if J is not None]  # fmt: skip
    Js = np.array([p[0] for p in pv])
    obs = np.array([p[1] for p in pv])
    rho = _spearman(Js, obs)
    fig, ax = plt.subplots(figsize=(5, 4))
    ax.scatter(Js, obs)
    for J, o, S in pv:
        ax.annotate(f"S={S}", (J, o), fontsize=8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("predicted objective J")
    ax.set_ylabel("observed consensus gap (last quarter of cycles)")
    ax.set_title(f"Spearman ρ = {rho:.2f}", fontsize=9)
    save_figure(fig, outdir / "predicted_vs_observed.png")
    summary = {
        "runs": [
            {
                "run": name,
                "S": S,
                "objective": J,
                "final_accuracy": float(res.table()["accuracy"].iloc[-1]),
                "final_consensus_gap": float(res.table()["consensus_gap"].iloc[-1]),
                "d2d_bytes": float(res.table()["d2d_bytes"].iloc[-1]),
            }
            for name, S, J, res in runs
        ],
        "spearman_J_vs_gap": rho,
    }
    if report is not None:
        lines = ["", "## Simulation (digits, softmax regression, devices' optimizers)", "",
                 "| run | S | J | final accuracy | final consensus gap | D2D bytes |",
                 "|---|---|---|---|---|---|"]  # fmt: skip
        for r in summary["runs"]:
            J = "—" if r["objective"] is None else f"{r['objective']:.4g}"
            lines.append(f"| {r['run']} | {r['S']} | {J} | {r['final_accuracy']:.3f} | "
                         f"{r['final_consensus_gap']:.3g} | {r['d2d_bytes']:.3g} |")  # fmt: skip
        lines += ["", "![simulation](simulation.png)", "",
                  f"Predicted J vs observed consensus gap: Spearman ρ = {rho:.2f}.", "",
                  "![predicted vs observed](predicted_vs_observed.png)", ""]  # fmt: skip
        text = report.read_text() + "\n".join(lines)
        with atomic_write(report) as fh:
            fh.write(text)
    return summary
