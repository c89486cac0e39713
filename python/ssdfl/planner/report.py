"""Human-readable outputs of a :class:`~ssdfl.planner.plan.FormationPlan`: a markdown report with
pictures (graph coloured by cluster, objective vs S, Theorem-2 bound, schedule grid) and a
concise console table. Every file is written atomically."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ssdfl._atomic import atomic_write
from ssdfl.graphs.graph import Graph
from ssdfl.graphs.plotting import plot_formation, save_figure
from ssdfl.planner.plan import FormationPlan

__all__ = ["console_table", "write_report"]


def _fmt(x: Any, nd: int = 4) -> str:
    if x is None:
        return "—"
    if isinstance(x, float):
        if not np.isfinite(x):
            return "∞"
        return f"{x:.{nd}g}"
    return str(x)


def _plot_by_S(plan: FormationPlan, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    S = [r["S"] for r in plan.by_S if r["feasible"]]
    J = [r["objective"] for r in plan.by_S if r["feasible"]]
    ax.plot(S, J, "o-", label="MILP optimum for each S")
    gs = [r for r in plan.greedy["sequence"] if r["admissible"]]
    if gs:
        ax.plot([r["S"] for r in gs], [r["objective"] for r in gs], "s", mfc="none",
                label="paper's splitting sequence (admissible)")  # fmt: skip
    ax.axvline(plan.S, color="0.5", ls="--", lw=0.8)
    infeasible = [r["S"] for r in plan.by_S if not r["feasible"]]
    if infeasible:
        ax.text(0.02, 0.95, f"no admissible formation for S ∈ {_ranges(infeasible)}",
                transform=ax.transAxes, fontsize=8, va="top")  # fmt: skip
    ax.set_xlabel("number of clusters S")
    ax.set_ylabel("objective J (steady-state disagreement)")
    if J and min(J) > 0:
        ax.set_yscale("log")
    ax.legend(fontsize=8)
    save_figure(fig, path)


def _ranges(xs: list[int]) -> str:
    out, start, prev = [], xs[0], xs[0]
    for x in [*xs[1:], None]:
        if x is not None and x == prev + 1:
            prev = x
            continue
        out.append(f"{start}" if start == prev else f"{start}–{prev}")
        if x is not None:
            start = prev = x
    return ", ".join(out)


def _plot_bounds(plan: FormationPlan, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    for name, b in plan.bounds.items():
        y = np.asarray([np.inf if v is None else v for v in b["bound_by_cycle"]], dtype=float)
        ax.plot(np.arange(len(y)), y, label=f"{name} (rate {_fmt(b['rate'], 3)})")
    ax.set_xlabel("global cycle")
    ax.set_ylabel("Theorem-2 bound on (1/N)E‖X − 1x*ᵀ‖²")
    ax.set_yscale("log")
    ax.legend(fontsize=8)
    save_figure(fig, path)


def _plot_schedule(plan: FormationPlan, path: Path) -> None:
    import matplotlib.pyplot as plt

    sch = plan.schedule
    assert sch is not None
    ta = sorted({r["tau_a"] for r in sch["grid"]})
    tr = sorted({r["tau_r"] for r in sch["grid"]})
    Z = np.full((len(ta), len(tr)), np.nan)
    for r in sch["grid"]:
        Z[ta.index(r["tau_a"]), tr.index(r["tau_r"])] = r["final_bound"]
    fig, ax = plt.subplots(figsize=(5.5, 4.2))
    im = ax.imshow(np.log10(Z), origin="lower", cmap="viridis_r", aspect="auto")
    ax.set_xticks(range(len(tr)), [str(x) for x in tr])
    ax.set_yticks(range(len(ta)), [str(x) for x in ta])
    ax.set_xlabel("τ_r (inter-cluster rounds)")
    ax.set_ylabel("τ_a (intra-cluster rounds)")
    for r in sch["grid"]:
        i, j = ta.index(r["tau_a"]), tr.index(r["tau_r"])
        mark = "★" if sch["best"] and (r["tau_a"], r["tau_r"]) == (
            sch["best"]["tau_a"], sch["best"]["tau_r"]) else ""  # fmt: skip
        ax.text(j, i, f"{r['final_bound']:.3g}{mark}", ha="center", va="center", fontsize=7,
                color="w")  # fmt: skip
    fig.colorbar(im, label=f"log10 bound after {sch['max_cycles']} cycles")
    ax.set_title("schedule grid (★ = fewest messages to settle)", fontsize=9)
    save_figure(fig, path)


def write_report(
    plan: FormationPlan, g: Graph, out: str | os.PathLike[str], graph_name: str = "graph"
) -> Path:
    """Write ``formation.json``, ``report.md`` and PNG figures into ``out``; returns the
    report path."""
    outdir = Path(out)
    outdir.mkdir(parents=True, exist_ok=True)
    plan.save(outdir / "formation.json")
    plot_formation(g, plan.assignment, outdir / "formation.png",
                   title=f"{graph_name}: S = {plan.S} clusters")  # fmt: skip
    _plot_by_S(plan, outdir / "objective_vs_S.png")
    if plan.bounds:
        _plot_bounds(plan, outdir / "bounds.png")
    if plan.schedule is not None:
        _plot_schedule(plan, outdir / "schedule.png")
    cfg = plan.config
    lines = [
        f"# SSD-FL formation for `{graph_name}`",
        "",
        f"- devices: {plan.n} ({plan.devices_source})",
        f"- schedule: τ_a = {cfg['tau_a']}, τ_r = {cfg['tau_r']}, η = {cfg['eta']}, "
        f"ε = {cfg['eps']} (ε_S = ε/√S), admissibility: {cfg['admissibility']}",
        f"- **chosen: S = {plan.S} clusters**, objective J = {_fmt(plan.objective, 6)}",
    ]
    gr = plan.greedy
    if gr.get("chosen_S") is not None:
        lines.append(
            f"- paper's greedy choice (best admissible formation of the splitting loop): "
            f"S = {gr['chosen_S']}, J = {_fmt(gr['objective'], 6)} "
            f"(MILP improvement {_fmt(gr.get('milp_gain'), 4)})"
        )
    else:
        lines.append("- paper's greedy choice: no admissible formation in the splitting loop")
    ct = gr.get("cheeger_threshold_loop")
    if ct:
        lines.append(
            f"- splitting loop under the Cheeger threshold Φ_min^S stopped at S = {ct['S']} "
            f"({'admissible' if ct['admissible'] else 'not admissible'})"
        )
    if plan.exhaustive is not None:
        lines.append(
            f"- exhaustive search over the same candidates: J = "
            f"{_fmt(plan.exhaustive['objective'], 6)} "
            f"({'agrees' if plan.exhaustive['agrees'] else 'DISAGREES'})"
        )
    for note in plan.notes:
        lines.append(f"- note: {note}")
    lines += ["", "![formation](formation.png)", "", "## Clusters", ""]
    lines.append("| # | size | λ₂(W_s) | Φ(W_s) | exact | heterogeneity H | between B | "
                 "λ₂ FMMC |")  # fmt: skip
    lines.append("|---|---|---|---|---|---|---|---|")
    for i, c in enumerate(plan.per_cluster):
        lines.append(
            f"| {i} | {c['size']} | {_fmt(c['lambda2'])} | {_fmt(c['phi'])} | "
            f"{'yes' if c['phi_exact'] else 'bounds'} | {_fmt(c['heterogeneity'])} | "
            f"{_fmt(c['between'])} | {_fmt(c.get('lambda2_fmmc'))} |"
        )
    lines += ["", "## Objective vs number of clusters", "", "![objective](objective_vs_S.png)", ""]
    if plan.bounds:
        lines += ["## Theorem-2 bound", "", "| formation | rate/cycle | radius | bound after "
                  f"{plan.bounds['chosen']['cycles']} cycles |", "|---|---|---|---|"]  # fmt: skip
        for name, b in plan.bounds.items():
            lines.append(f"| {name} | {_fmt(b['rate'])} | {_fmt(b['radius'])} | "
                         f"{_fmt(b['bound_after_cycles'])} |")  # fmt: skip
        lines += ["", "![bounds](bounds.png)", ""]
    if plan.fastest_mixing and plan.fastest_mixing.get("graph"):
        fg = plan.fastest_mixing["graph"]
        lines += ["## Fastest mixing", "",
                  f"Whole graph: λ₂ {_fmt(fg['baseline_slem'])} (lazy Metropolis) → "
                  f"{_fmt(fg['slem'])} (FMMC, PD), spectral gap × {_fmt(fg['gap_ratio'], 3)}.",
                  ""]  # fmt: skip
    if plan.schedule is not None:
        b = plan.schedule["best"]
        lines += ["## Schedule", ""]
        if b:
            lines.append(f"Best (τ_a, τ_r) = ({b['tau_a']}, {b['tau_r']}): settles in "
                         f"{b['settling_cycles']} cycles, {b['messages_to_settle']} messages "
                         f"(bound {_fmt(b['final_bound'])}).")  # fmt: skip
        lines += ["", "![schedule](schedule.png)", ""]
    tf = plan.traffic
    lines += ["## Traffic", "",
              f"- per cycle: {tf['intra_messages_per_cycle']} intra + "
              f"{tf['inter_messages_per_cycle']} inter messages, "
              f"{tf['bytes_per_cycle'] / 1e6:.1f} MB ({tf['model_params']} float32 parameters)",
              f"- one-time initialization (flooding, {tf['init_rounds']} rounds): "
              f"{tf['init_messages']} messages, {tf['init_bytes'] / 1e3:.1f} kB", ""]  # fmt: skip
    report = outdir / "report.md"
    with atomic_write(report) as fh:
        fh.write("\n".join(lines))
    return report


def console_table(plan: FormationPlan) -> Any:
    """A rich table summarising the plan's clusters."""
    from rich.table import Table

    t = Table(title=f"SSD-FL formation: S = {plan.S}, J = {_fmt(plan.objective, 5)}")
    for col in ("cluster", "size", "λ₂(W_s)", "Φ(W_s)", "H", "B", "nodes"):
        t.add_column(col)
    names = plan.labels
    for i, c in enumerate(plan.per_cluster):
        nodes = ", ".join(str(names[u]) for u in c["nodes"][:10])
        if len(c["nodes"]) > 10:
            nodes += ", …"
        t.add_row(str(i), str(c["size"]), _fmt(c["lambda2"]), _fmt(c["phi"]),
                  _fmt(c["heterogeneity"], 3), _fmt(c["between"], 3), nodes)  # fmt: skip
    return t
