"""Validation of a formation plan by simulation (``ssdfl form --simulate``).

The devices' label histograms (or, without them, a 3-label non-IID split) are realised on
scikit-learn's bundled digits data (10 classes, 1797 samples): every device draws, without
replacement and disjointly, samples of each class in proportion to its histogram (classes in
short supply are scaled down uniformly). Devices train softmax regression with their own
optimizers. Runs: SSD-FL on the chosen formation ("SSD-FL (chosen)": the plan's one formation,
i.e. the recommendation of ``ssdfl form``), on the MILP optimum of the paper's objective J for a
few other ``S``, cSTC (random connected clusters, same ``S``) and sDFL. Outputs
``simulation.csv`` and ``simulation.png`` (accuracy and consensus gap per cycle) and
``predicted_vs_observed.png`` (objective ``J`` of each simulated formation against its
observed late-cycle consensus gap, with Spearman's rank correlation).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ssdfl._atomic import atomic_write
from ssdfl.clusters.labels import cluster_labels
from ssdfl.clusters.partitions import random_connected_partition
from ssdfl.errors import SsdflError
from ssdfl.graphs.graph import Graph
from ssdfl.graphs.plotting import save_figure
from ssdfl.planner.pilot import Arm, PilotConfig, _train, pilot_losses, resolve_model
from ssdfl.planner.plan import FormationPlan
from ssdfl.planner.predict import (
    Budget,
    baseline_cycles,
    budget_cycles,
    choose_formation,
    predict_formations,
    with_default_lr,
)
from ssdfl.planner.report import append_validation
from ssdfl.simulate import simulate

# defined in ssdfl.theory.data (below the pilots, which use them too); re-exported here
from ssdfl.theory.data import data_for_devices, digits_for_devices
from ssdfl.theory.data import split_by_histogram as split_by_histogram
from ssdfl.theory.devices import DeviceTable, homogeneous_devices
from ssdfl.theory.models import LogisticRegression

__all__ = [
    "data_for_devices",
    "digits_for_devices",
    "simulate_plan",
    "validate_formations",
    "validation_sentence",
    "write_choice",
]


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import spearmanr

    if len(a) < 3:
        return float("nan")
    return float(spearmanr(a, b).statistic)


def _rank_sentence(rho: float, n: int) -> str:
    """Spearman's ρ of ``n`` points, said with the weight it deserves."""
    if n < 3 or not np.isfinite(rho):
        return f"too few formations ({n}) for a rank correlation"
    if n < 5:
        return f"Spearman ρ = {rho:.2f} over only {n} formations (weak evidence)"
    return f"Spearman ρ = {rho:.2f} over {n} formations"


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

    outdir = Path(out)
    cfg = plan.config
    dev = devices or homogeneous_devices(g.n)
    data = digits_for_devices(devices, g.n, seed)
    model = data.logistic()
    pop = dev.population()
    common = dict(
        optimizers=pop, tau_a=cfg["tau_a"], tau_r=cfg["tau_r"], cycles=cycles, eta=cfg["eta"],
        seed=seed, mixing=cfg["mixing_rule"], progress=progress, device_metrics=False,
    )  # fmt: skip
    runs: list[tuple[str, int, float | None, Any]] = []
    chosen = plan.assignment
    res = simulate(model, g, "ssdfl", method_kwargs={"clusters": chosen},
                   label=f"SSD-FL chosen S={plan.S}", **common)  # fmt: skip
    runs.append(("SSD-FL (chosen)", plan.S, plan.objective, res))
    feas = [r for r in plan.by_S if r["feasible"] and r["S"] != plan.S]
    pick = [feas[int(k)] for k in np.unique(np.linspace(0, len(feas) - 1, extra_S).round())] if (
        feas) else []  # fmt: skip
    for r in pick:
        res = simulate(model, g, "ssdfl", method_kwargs={"clusters": r["clusters"]},
                       label=f"SSD-FL S={r['S']}", **common)  # fmt: skip
        runs.append((f"SSD-FL (S={r['S']})", r["S"], r["objective"], res))
    res = simulate(model, g, "cstc", method_kwargs={"clusters": chosen},
                   label=f"cSTC random S={plan.S}", **common)  # fmt: skip
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
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    styles = ["-", "--", ":", "-."]
    for k, (name, _S, _J, res) in enumerate(runs):
        df = res.table()
        kw = {"label": name, "ls": styles[k % len(styles)], "lw": 1.4}
        axes[0].plot(df["cycle"], df["accuracy"], **kw)
        gap = df["consensus_gap"].to_numpy(dtype=float)
        gap = np.where(gap > 0, gap, np.nan)  # exact consensus (0) has no place on a log axis
        axes[1].plot(df["cycle"], gap, **kw)
        axes[2].plot(df["d2d_bytes"] / 1e6, df["accuracy"], **kw)
    axes[0].set_xlabel("global cycle")
    axes[0].set_ylabel("accuracy of the average model")
    axes[1].set_xlabel("global cycle")
    axes[1].set_ylabel("consensus gap (1/N) Σᵢ ‖xᵢ − x̄‖²")
    axes[1].set_yscale("log")
    axes[2].set_xlabel("D2D traffic (MB)")
    axes[2].set_ylabel("accuracy of the average model")
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncol=min(len(names), 4), fontsize=8,
               frameon=False, bbox_to_anchor=(0.5, -0.02))  # fmt: skip
    fig.tight_layout(rect=(0, 0.1, 1, 1))
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
    rho_txt = _rank_sentence(rho, len(pv))
    ax.set_title(rho_txt, fontsize=9)
    save_figure(fig, outdir / "predicted_vs_observed.png")
    summary: dict[str, Any] = {
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
            J_txt = "—" if r["objective"] is None else f"{r['objective']:.4g}"
            lines.append(f"| {r['run']} | {r['S']} | {J_txt} | {r['final_accuracy']:.3f} | "
                         f"{r['final_consensus_gap']:.3g} | {r['d2d_bytes']:.3g} |")  # fmt: skip
        lines += ["", "![simulation](simulation.png)", "",
                  f"Predicted J vs observed consensus gap: {rho_txt}.", "",
                  "![predicted vs observed](predicted_vs_observed.png)", ""]  # fmt: skip
        text = report.read_text() + "\n".join(lines)
        with atomic_write(report) as fh:
            fh.write(text)
    return summary


# ---------------------------------------------------------------------------------------------
# `ssdfl form --validate`: predicted vs observed device loss over many formations and seeds
# ---------------------------------------------------------------------------------------------

VALIDATION_METRIC = "device_loss_mean"


def _pick_formations(choice: dict[str, Any], g: Graph, n_formations: int, seed: int) -> list[dict]:
    """The formations to train: the pick, S = 1, S = N, the greedy pick, the MILP-J pick,
    two random connected partitions of the pick's S, then the other candidates spread over S."""

    rows = {r["id"]: r for r in choice["candidates"]}
    chosen: list[dict[str, Any]] = []
    keys: set[tuple[int, ...]] = set()

    def add(ident: str, clusters: list, pred_row: dict | None) -> None:
        lab = cluster_labels([np.asarray(c) for c in clusters], g.n)
        k = tuple(lab.tolist())
        if k in keys:
            return
        keys.add(k)
        chosen.append({"id": ident, "S": int(lab.max()) + 1, "labels": lab, "row": pred_row})

    pick = rows[choice["pick"]]
    add(pick["id"], pick["clusters"], pick)
    for r in choice["candidates"]:
        if r["S"] in (1, g.n) or "greedy" in r["id"] or "milp-J" in r["id"]:
            add(r["id"], r["clusters"], r)
    S = pick["S"]
    if 1 < S < g.n:
        rng = np.random.default_rng(seed + 1000)
        for j in range(2):
            lab = random_connected_partition(g, S, rng)
            add(f"random S={S} (pick's S) #{j + 1}",
                [np.flatnonzero(lab == s) for s in range(S)], None)  # fmt: skip

    def key(r: dict) -> tuple[int, ...]:
        return tuple(cluster_labels([np.asarray(c) for c in r["clusters"]], g.n).tolist())

    rest = [r for r in choice["candidates"] if key(r) not in keys]
    rest.sort(key=lambda r: r["S"])
    while len(chosen) < n_formations and rest:
        # spread over S: take the candidate whose S is farthest from the S already chosen
        have = np.array([c["S"] for c in chosen])
        j = max(range(len(rest)), key=lambda i: (np.min(np.abs(have - rest[i]["S"])), -i))
        r = rest.pop(j)
        add(r["id"], r["clusters"], r)
    return chosen


def validate_formations(
    g: Graph,
    devices: DeviceTable | None,
    out: str | os.PathLike[str] | None,
    *,
    eta: float = 0.05,
    tau_a: int = 20,
    tau_r: int = 5,
    model: str = "softmax",
    data: str | None = None,
    seeds: int = 3,
    cycles: int = 20,
    budget: Any = "bytes",
    link_cost: np.ndarray | None = None,
    plan: FormationPlan | None = None,
    n_formations: int = 12,
    pilot: Any | None = None,
    baselines: bool = False,
    mixing: str = "lazy-metropolis",
    seed0: int = 0,
    progress: bool = False,
    choice: dict[str, Any] | None = None,
    report: Path | None = None,
) -> dict[str, Any]:
    """Train ``n_formations`` (≥ 10 when the graph allows) formations spanning ``S = 1..N`` over
    ``seeds`` seeds and compare with the planner's prediction; writes ``validation.json`` and
    ``validation.png`` into ``out`` (if given). ``model``: ``softmax`` | ``mlp`` | ``cnn``;
    ``data``: ``digits`` (default for softmax/mlp) or ``mnist1d`` (default for cnn). The metric
    is the mean over devices of the global training loss at each device's own model at the
    end of the formation's budget (``budget``: ``bytes``, ``cycles``, ``time`` or a
    :class:`~ssdfl.planner.predict.Budget`; see :mod:`ssdfl.planner.predict`), lower is better.
    A formation's ``predicted`` value is its mean loss over the pilot's proxy replicates
    (:func:`ssdfl.planner.pilot.pilot_losses`, the replicates the choice used; its analytic
    value is kept as ``analytic``). ``pilot``: the :class:`~ssdfl.planner.pilot.PilotConfig`
    of the choice. ``baselines``: also train sDFL, STC and MoDeST-style at the same budget and
    report them under ``baselines``."""
    import json

    from scipy.stats import spearmanr
    from threadpoolctl import threadpool_limits

    if seeds < 1:
        raise SsdflError(f"--seeds must be >= 1, got {seeds}")
    if model not in ("softmax", "mlp", "cnn"):
        raise SsdflError(f"--model must be softmax, mlp or cnn, got {model!r}")
    data = data or ("mnist1d" if model == "cnn" else "digits")
    import dataclasses

    dev = with_default_lr(devices or homogeneous_devices(g.n))
    b = budget if isinstance(budget, Budget) else Budget(budget, cycles)
    pcfg = pilot if pilot is not None else PilotConfig()
    if choice is None:
        choice = choose_formation(g, dev, eta, tau_a, tau_r, b, link_cost, plan, mixing, seed0,
                                  model, pilot=pcfg)  # fmt: skip
    if b.kind == "time" and b.model_bytes is None:
        b = dataclasses.replace(b, model_bytes=choice["budget"]["model_bytes"])
    forms = _pick_formations(choice, g, n_formations, seed0)

    preds = predict_formations(g, [f["labels"] for f in forms], dev, eta, tau_a, tau_r, b,
                               link_cost, mixing, model)  # fmt: skip
    n_rep = max(1, int(choice["pilot"].get("replicates", 0) or pcfg.seeds))
    spec = resolve_model(model, pcfg.subsample)
    pil = pilot_losses(
        g,
        [f["labels"] for f in forms],
        dev,
        eta,
        tau_a,
        tau_r,
        [p["cycles"] for p in preds],
        spec,
        n_rep,
        pcfg.subsample,
        mixing,
    )
    pop = dev.population()
    etas = dev.step_sizes(eta)
    obs = np.full((len(forms), seeds), np.nan)
    for s in range(seeds):
        ds = data_for_devices(devices, g.n, data, seed0 + s)
        m = ds.model(model)
        x0 = None if isinstance(m, LogisticRegression) else m.init(seed0 + s)  # softmax: none
        for j, f in enumerate(forms):
            K = budget_cycles(g, f["labels"], tau_a, tau_r, b, link_cost)
            with threadpool_limits(1):
                r = simulate(m, g, "ssdfl", method_kwargs={"clusters": f["labels"]},
                             optimizers=pop, tau_a=tau_a, tau_r=tau_r, cycles=K, eta=etas,
                             x0=x0, seed=seed0 + s, mixing=mixing, eval_every=K,
                             device_metrics=True, progress=False)  # fmt: skip
            v = r.table()[VALIDATION_METRIC].iloc[-1]
            obs[j, s] = float(v) if np.isfinite(v) else np.inf
    base_obs: dict[str, Any] = {}
    if baselines:
        base_obs = _train_baselines(g, devices, dev, data, model, eta, tau_a, tau_r, b,
                                    link_cost, mixing, seed0, seeds)  # fmt: skip
    med = np.median(obs, axis=1)
    q1, q3 = np.percentile(obs, [25, 75], axis=1)
    pred = np.mean(pil, axis=1)
    pred_sd = np.std(pil, axis=1, ddof=1) / np.sqrt(pil.shape[1]) if pil.shape[1] > 1 else (
        np.full(len(forms), np.nan))  # fmt: skip
    rho = float(spearmanr(pred, med).statistic) if len(forms) >= 3 else float("nan")
    pick_j = 0
    best_j = int(np.argmin(med))
    regret = float(med[pick_j] / med[best_j] - 1.0) if med[best_j] > 0 else 0.0
    result = {
        "metric": VALIDATION_METRIC,
        "metric_doc": "mean over devices of the global training loss (1/N)Σ_j F_j at the "
                      "device's own model, at the end of the budget; lower is better",
        "budget": {**choice["budget"], "tau_a": tau_a, "tau_r": tau_r, "eta": eta,
                   "link_cost": link_cost is not None},
        "model": model, "data": data, "seeds": [seed0 + s for s in range(seeds)],
        "spearman": rho,
        "regret": regret,
        "best_observed": forms[best_j]["id"],
        "verdict": choice["verdict"],
        "pilot": {k: v for k, v in choice["pilot"].items() if k != "shortlist"},
        "ties": choice.get("ties", []),
        "baselines_predicted": {k: {kk: vv for kk, vv in v.items() if kk != "name"}
                                for k, v in choice.get("baselines", {}).items()},
        "baselines_observed": base_obs,
        "formations": [
            {"id": f["id"], "S": f["S"],
             "clusters": [np.flatnonzero(f["labels"] == c).tolist() for c in range(f["S"])],
             "predicted": float(pred[j]),
             "spread": None if not np.isfinite(pred_sd[j]) else float(pred_sd[j]),
             "analytic": float(preds[j]["predicted"]), "observed_median": float(med[j]),
             "observed_iqr": [float(q1[j]), float(q3[j])], "observed": obs[j].tolist(),
             "cycles": int(preds[j]["cycles"]), "chosen": j == pick_j}
            for j, f in enumerate(forms)
        ],
    }  # fmt: skip
    result["sentence"] = validation_sentence(result)
    if out is not None:
        outdir = Path(out)
        outdir.mkdir(parents=True, exist_ok=True)
        with atomic_write(outdir / "validation.json") as fh:
            fh.write(json.dumps(result, indent=2, allow_nan=False, default=_no_inf))
        _plot_validation(result, outdir / "validation.png")
    if report is not None:
        append_validation(report, result)
    return result


def _train_baselines(
    g: Graph, devices: DeviceTable | None, dev: DeviceTable, data: str, model: str, eta: float,
    tau_a: int, tau_r: int, b: Any, link_cost: np.ndarray | None, mixing: str, seed0: int,
    seeds: int,
) -> dict[str, Any]:  # fmt: skip
    """Observed device loss of sDFL, STC and MoDeST-style at budget ``b`` on the judged data
    (the runs of :func:`validate_formations`, same seeds): ``{name: {"cycles", "observed",
    "observed_median"}}``."""

    out: dict[str, Any] = {}
    for name in ("sdfl", "stc", "modest"):
        K = baseline_cycles(g, name, tau_a, tau_r, b, link_cost)
        vals = []
        for s in range(seeds):
            ds = data_for_devices(devices, g.n, data, seed0 + s)
            m = ds.model(model)
            x0 = None if isinstance(m, LogisticRegression) else m.init(seed0 + s)
            vals.append(_train(Arm(name, name, K), g, m, x0, dev, eta, tau_a, tau_r, mixing,
                               seed0 + s))  # fmt: skip
        out[name] = {"cycles": K, "observed": vals, "observed_median": float(np.median(vals))}
    return out


def write_choice(choice: dict[str, Any], out: str | os.PathLike[str]) -> Path:
    """``choice.json``: the user-objective pick, its verdict and every candidate's prediction."""
    import json

    path = Path(out) / "choice.json"
    with atomic_write(path) as fh:
        fh.write(json.dumps(choice, indent=2, allow_nan=False))
    return path


def _no_inf(x: Any) -> Any:
    raise TypeError(f"not JSON serializable: {x!r}")


def validation_sentence(result: dict[str, Any]) -> str:
    """One sentence for report.md: how well the prediction ranked the trained formations, and
    whether a baseline beat the pick."""
    f = result["formations"]
    pick = next(x for x in f if x["chosen"])
    best = min(f, key=lambda x: x["observed_median"])
    n_seeds = len(result["seeds"])
    head = (
        f"Validation ({result['model']} on {result['data']}, {len(f)} formations × {n_seeds} "
        f"seeds, {result['budget']['kind']} budget): Spearman ρ = {result['spearman']:.2f} "
        f"between predicted and observed median device loss; "
    )
    if best["id"] == pick["id"]:
        return head + f"the pick ({pick['id']}) was the best formation trained."
    return head + (
        f"{best['id']} beat the pick ({pick['id']}): observed {best['observed_median']:.4g} "
        f"vs {pick['observed_median']:.4g} (regret {100 * result['regret']:.1f} %)."
    )


def _plot_validation(result: dict[str, Any], path: Path) -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.5))
    for x in result["formations"]:
        lo, hi = x["observed_iqr"]
        m = x["observed_median"]
        kw = (
            {"color": "C3", "marker": "*", "ms": 14}
            if x["chosen"]
            else {"color": "C0", "marker": "o"}
        )
        ax.errorbar([x["predicted"]], [m], yerr=[[m - lo], [hi - m]], capsize=3, **kw)
        ax.annotate(x["id"], (x["predicted"], m), fontsize=7, xytext=(3, 3),
                    textcoords="offset points")  # fmt: skip
    ax.set_xlabel("predicted (lower is better)")
    ax.set_ylabel(f"observed {result['metric']} (median, IQR)")
    ax.set_title(f"{result['model']} on {result['data']}, {result['budget']['kind']} budget: "
                 f"Spearman ρ = {result['spearman']:.2f}", fontsize=9)  # fmt: skip
    save_figure(fig, path)
