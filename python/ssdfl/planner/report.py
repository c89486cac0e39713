"""Human-readable outputs of a :class:`~ssdfl.planner.plan.FormationPlan`.

``report.md`` and ``report.html`` come from one jinja2 template (``templates/report.j2``) and
open with the verdict: the chosen number of clusters and why, whether the Theorem-2 bound proves
convergence (said loudly when its rate is ≥ 1), whether the recommended schedule differs from
the one the clusters were planned for, and — when training results are attached — whether a
baseline beat the pick. A glossary defines every symbol. Figures: the graph coloured by cluster,
the objective vs ``S``, the Theorem-2 bound by cycle, the schedule grid. Every file is written
atomically.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ssdfl._atomic import atomic_write
from ssdfl.graphs.graph import Graph
from ssdfl.graphs.plotting import plot_formation, save_figure
from ssdfl.planner.plan import FormationPlan

__all__ = [
    "GLOSSARY",
    "ReportFigure",
    "ReportSection",
    "console_table",
    "render_report",
    "report_context",
    "write_report",
]

GLOSSARY: list[tuple[str, str]] = [
    ("S", "number of clusters of a formation (S = 1: no clustering, one cluster of all devices)."),
    ("J", "the planner's objective for a formation, lower is better: predicted steady-state "
          "disagreement of the devices' models (per-device average plus the worst cluster), "
          "built from the decoupled fixed points of Lemmas 1–2 (docs/formation.md)."),
    ("λ₂(W_s)", "second-largest eigenvalue modulus of cluster s's (lazy) mixing matrix: "
                "disagreement inside the cluster shrinks by about λ₂ per gossip round."),
    ("Φ(W_s)", "conductance of cluster s's mixing matrix (Markov-chain form); Cheeger's "
               "inequality ties it to λ₂: 1 − 2Φ ≤ λ₂ ≤ 1 − Φ²/2."),
    ("exact / bounds", "whether Φ was computed exactly (enumeration of all cuts, small "
                       "clusters) or certified between Cheeger bounds (large clusters)."),
    ("H", "heterogeneity of a cluster: label divergence (JSD) or gradient dissimilarity of its "
          "devices plus γ × the spread of their optimizer step factors α. A heuristic score: "
          "it enters no bound."),
    ("B", "between-cluster heterogeneity: divergence of the cluster's average from the "
          "population's (labels or gradients) plus γ × the offset of its mean step factor."),
    ("ε", "consensus budget of the admissibility rule: a cluster is admissible when its "
          "disagreement contracts by at least ε over the τ_a intra-cluster rounds."),
    ("τ_a, τ_r", "intra-cluster rounds (local step + gossip inside the cluster) and "
                 "inter-cluster rounds (gossip over the whole graph) per global cycle."),
    ("rate, radius", "Theorem 2: the bound on (1/N)E‖X − 1x*ᵀ‖² shrinks by 'rate' per cycle "
                     "towards 'radius'. A rate ≥ 1 means the bound proves nothing (radius ∞)."),
    ("FMMC", "fastest-mixing Markov chain: the edge weights minimizing λ₂ on the same graph "
             "(Boyd, Diaconis & Xiao), an upper limit on what re-weighting gossip can gain."),
]  # fmt: skip


@dataclass
class ReportFigure:
    """A figure of a report section: file name (relative to the report) and its caption."""

    file: str
    alt: str


@dataclass
class ReportSection:
    """An extra report section (e.g. training results): title, paragraphs, figures; ``verdict``
    sentences are added to the report's opening verdict."""

    title: str
    paragraphs: list[str] = field(default_factory=list)
    figures: list[ReportFigure] = field(default_factory=list)
    verdict: list[str] = field(default_factory=list)


# ------------------------------------------------------------------------------ formatting
def _fmt(x: Any, nd: int = 4) -> str:
    if x is None:
        return "—"
    if isinstance(x, (float, np.floating)):
        if not np.isfinite(x):
            return "∞"
        return f"{x:.{nd}g}"
    return str(x)


def _mb(nbytes: float) -> str:
    if nbytes >= 1e9:
        return f"{nbytes / 1e9:.2f} GB"
    if nbytes >= 1e6:
        return f"{nbytes / 1e6:.1f} MB"
    return f"{nbytes / 1e3:.1f} kB"


def _ranges(xs: list[int]) -> str:
    if not xs:
        return ""
    out, start, prev = [], xs[0], xs[0]
    for x in [*xs[1:], None]:
        if x is not None and x == prev + 1:
            prev = x
            continue
        out.append(f"{start}" if start == prev else f"{start}–{prev}")
        if x is not None:
            start = prev = x
    return ", ".join(out)


def _names(plan: FormationPlan, nodes: list[int], limit: int = 12) -> str:
    names = [str(plan.labels[u]) for u in nodes[:limit]]
    return ", ".join(names) + (", …" if len(nodes) > limit else "")


def _converges(b: dict[str, Any]) -> bool:
    r = b.get("rate")
    return r is not None and math.isfinite(r) and r < 1


# ------------------------------------------------------------------------------ verdict
def _verdict(plan: FormationPlan, sections: list[ReportSection]) -> list[str]:
    cfg = plan.config
    out: list[str] = []
    sizes = sorted((len(c) for c in plan.clusters), reverse=True)
    one = next((r for r in plan.by_S if r["S"] == 1), None)
    rec = plan.recommendation
    if rec is not None:
        b = rec.get("budget") or {}
        what = "do not cluster (S = 1)" if rec["S"] == 1 else f"S = {rec['S']} clusters"
        out.append(f"**Recommended: {what}** — the formation with the lowest predicted device "
                   f"loss at a {b.get('kind', '')} budget ({rec.get('model', '')} model; "
                   f"candidates and predictions in choice.json). {rec['verdict']}")  # fmt: skip
        out.append("The rest of this report is about the formation that minimizes the consensus "
                   "objective J (steady-state disagreement, no budget):")  # fmt: skip
    if plan.S == 1:
        why = "no split lowers the objective J"
        if one is not None and not one.get("feasible", True):
            why = "S = 1 is the only admissible formation"
        out.append(f"**Do not cluster (S = 1)**: {why}; train with plain decentralized gossip "
                   f"over the whole graph (J = {_fmt(plan.objective, 5)}).")  # fmt: skip
    else:
        size_txt = ", ".join(map(str, sizes[:8])) + (", …" if len(sizes) > 8 else "")
        base = ""
        if one is not None and one.get("feasible") and one.get("objective") is not None:
            base = f", against J = {_fmt(one['objective'], 5)} without clustering (S = 1)"
        elif one is not None and not one.get("feasible"):
            base = "; S = 1 is not admissible under the consensus budget ε"
        head = "J's optimum" if rec is not None else "Chosen"
        out.append(f"**{head}: S = {plan.S} clusters** (sizes {size_txt}): the lowest objective "
                   f"J = {_fmt(plan.objective, 5)} among admissible formations{base}.")  # fmt: skip
    gr = plan.greedy
    if gr.get("chosen_S") is not None:
        gain = gr.get("milp_gain") or 0.0
        same = abs(gain) <= 1e-12 * max(1.0, abs(plan.objective))
        out.append(
            "The paper's greedy splitting loop picks the same formation."
            if same and gr["chosen_S"] == plan.S
            else f"The paper's greedy splitting loop picks S = {gr['chosen_S']} "
            f"(J = {_fmt(gr['objective'], 5)}, {_fmt(gain, 3)} worse)."
        )
    b = plan.bounds.get("chosen") if plan.bounds else None
    if b is not None:
        if _converges(b):
            weak = ""
            if b["radius"] >= 1.0:
                weak = (" That radius exceeds the initial distance (1), so the bound guarantees "
                        "boundedness, not progress.")  # fmt: skip
            out.append(f"The Theorem-2 bound proves convergence for the chosen formation: it "
                       f"shrinks by {_fmt(b['rate'], 3)} per cycle towards a radius of "
                       f"{_fmt(b['radius'], 3)} (μ = {cfg['mu']}, L = {cfg['L']})."
                       f"{weak}")  # fmt: skip
        else:
            alt = ""
            gb = plan.bounds.get("greedy")
            if gb is not None and _converges(gb):
                alt = (f" The greedy formation's bound does converge (rate "
                       f"{_fmt(gb['rate'], 3)}).")  # fmt: skip
            out.append(f"⚠ **The Theorem-2 bound proves nothing for the chosen formation**: its "
                       f"rate per cycle is {_fmt(b['rate'], 4)} ≥ 1, so the radius is ∞ and the "
                       f"plotted bound grows or stalls; convergence is not guaranteed by the "
                       f"theory for these parameters (step size, μ/L, schedule).{alt}")  # fmt: skip
    sch = plan.schedule
    if sch is not None and sch.get("best"):
        best = sch["best"]
        if (best["tau_a"], best["tau_r"]) != (cfg["tau_a"], cfg["tau_r"]):
            replanned = any("re-planned" in n for n in plan.notes)
            out.append(
                f"Schedule: the clusters were planned for (τ_a, τ_r) = ({cfg['tau_a']}, "
                f"{cfg['tau_r']}); for these clusters the schedule search prefers "
                f"({best['tau_a']}, {best['tau_r']}) (fewest messages to settle)."
                + (
                    ""
                    if replanned
                    else f" Re-run with --tau-a {best['tau_a']} --tau-r {best['tau_r']} to "
                    "plan the clusters for that schedule."
                )
            )
        else:
            out.append(f"Schedule: (τ_a, τ_r) = ({cfg['tau_a']}, {cfg['tau_r']}), the one the "
                       f"clusters were planned for, is also the best of the grid.")  # fmt: skip
    for sec in sections:
        out.extend(sec.verdict)
    return out


# ------------------------------------------------------------------------------ figures
def _plot_by_S(plan: FormationPlan, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    rows = sorted(plan.by_S, key=lambda r: r["S"])
    S = np.array([r["S"] for r in rows], dtype=float)
    J = np.array([r["objective"] if r["feasible"] else np.nan for r in rows], dtype=float)
    # a line only between consecutive admissible S; gaps where nothing is admissible
    ax.plot(S, J, "o-", ms=4, lw=1.2, label="best formation for each S (MILP)", zorder=3)
    gs = [r for r in plan.greedy["sequence"] if r["admissible"]]
    if gs:
        ax.plot([r["S"] for r in gs], [r["objective"] for r in gs], "s", ms=9, mfc="none",
                mew=1.2, color="C1", label="paper's splitting loop (admissible steps)",
                zorder=4)  # fmt: skip
    ax.plot([plan.S], [plan.objective], "*", ms=14, color="C3", label=f"chosen (S = {plan.S})",
            zorder=5)  # fmt: skip
    infeasible = [int(s) for s, j in zip(S, J) if not np.isfinite(j)]
    for s in infeasible:
        ax.axvspan(s - 0.5, s + 0.5, color="0.9", lw=0, zorder=0)
    if infeasible:
        ax.text(0.02, 0.95, f"grey: no admissible formation (S ∈ {_ranges(infeasible)})",
                transform=ax.transAxes, fontsize=8, va="top")  # fmt: skip
    ax.set_xlabel("number of clusters S")
    ax.set_ylabel("objective J (lower is better)")
    fin = J[np.isfinite(J)]
    if fin.size and fin.min() > 0 and fin.max() / fin.min() > 20:
        ax.set_yscale("log")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=3, frameon=False)
    save_figure(fig, path)


def _plot_bounds(plan: FormationPlan, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    styles = [("-", "o"), ("--", "s"), (":", "^")]
    for k, (name, b) in enumerate(plan.bounds.items()):
        y = np.asarray([np.nan if v is None else v for v in b["bound_by_cycle"]], dtype=float)
        y[~np.isfinite(y)] = np.nan
        ls, mk = styles[k % len(styles)]
        tag = f"rate {_fmt(b['rate'], 3)}" if _converges(b) else "rate ≥ 1: proves nothing"
        ax.plot(np.arange(len(y)), y, ls=ls, marker=mk, markevery=max(1, len(y) // 10), ms=5,
                mfc="none", lw=1.4, label=f"{name} ({tag})")  # fmt: skip
    ax.set_xlabel("global cycle")
    ax.set_ylabel("Theorem-2 bound on (1/N)E‖X − 1x*ᵀ‖²")
    ax.set_yscale("log")
    ax.legend(fontsize=8)
    save_figure(fig, path)


def _plot_schedule(plan: FormationPlan, path: Path) -> None:
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    sch = plan.schedule
    assert sch is not None
    ta = sorted({r["tau_a"] for r in sch["grid"]})
    tr = sorted({r["tau_r"] for r in sch["grid"]})
    Z = np.full((len(ta), len(tr)), np.nan)
    for r in sch["grid"]:
        v = r["final_bound"]
        Z[ta.index(r["tau_a"]), tr.index(r["tau_r"])] = v if v is not None else np.nan
    Z[~np.isfinite(Z)] = np.nan
    fin = Z[np.isfinite(Z) & (Z > 0)]
    fig, ax = plt.subplots(figsize=(5.8, 4.2))
    norm = LogNorm(vmin=fin.min(), vmax=max(fin.max(), fin.min() * 1.0001)) if fin.size else None
    cmap = plt.get_cmap("viridis_r")
    im = ax.imshow(np.ma.masked_invalid(Z), origin="lower", cmap=cmap, norm=norm, aspect="auto")
    ax.set_xticks(range(len(tr)), [str(x) for x in tr])
    ax.set_yticks(range(len(ta)), [str(x) for x in ta])
    ax.set_xlabel("τ_r (inter-cluster rounds per cycle)")
    ax.set_ylabel("τ_a (intra-cluster rounds per cycle)")
    best = sch.get("best")
    for r in sch["grid"]:
        i, j = ta.index(r["tau_a"]), tr.index(r["tau_r"])
        v = Z[i, j]
        star = best is not None and (r["tau_a"], r["tau_r"]) == (best["tau_a"], best["tau_r"])
        text = ("∞" if not np.isfinite(v) else f"{v:.3g}") + (" ★" if star else "")
        colour = "black"
        if np.isfinite(v) and norm is not None:  # dark text on light cells, light on dark
            rgb = np.asarray(cmap(norm(v)))[:3]
            colour = "black" if float(rgb @ [0.299, 0.587, 0.114]) > 0.5 else "white"
        ax.text(j, i, text, ha="center", va="center", fontsize=7, color=colour)
    fig.colorbar(im, label=f"bound after {sch['max_cycles']} cycles (log scale)")
    ax.set_title("schedule grid (★ = fewest messages to settle)", fontsize=9)
    save_figure(fig, path)


# ------------------------------------------------------------------------------ context
def report_context(
    plan: FormationPlan, graph_name: str = "graph", sections: list[ReportSection] | None = None
) -> dict[str, Any]:
    """Everything the report template shows, as plain values (markdown inline markup)."""
    sections = sections or []
    cfg = plan.config
    inputs = [
        f"devices: {plan.n} ({plan.devices_source})",
        f"planned for (τ_a, τ_r) = ({cfg['tau_a']}, {cfg['tau_r']}), step size η = "
        f"{cfg['eta']}, consensus budget ε = {cfg['eps']}, admissibility: {cfg['admissibility']}, "
        f"mixing: {cfg['mixing_rule']}",
    ]
    ct = plan.greedy.get("cheeger_threshold_loop")
    if ct:
        inputs.append(
            f"the paper's loop under the Cheeger threshold Φ_min^S stopped at S = {ct['S']} "
            f"({'admissible' if ct['admissible'] else 'not admissible'})"
        )
    if plan.exhaustive is not None:
        inputs.append(
            f"exhaustive search over the same candidates: J = "
            f"{_fmt(plan.exhaustive['objective'], 6)} "
            f"({'agrees with' if plan.exhaustive['agrees'] else 'DISAGREES with'} the MILP)"
        )
    limit = 50
    rows = []
    for i, c in enumerate(plan.per_cluster[:limit]):
        rows.append([
            str(i), str(c["size"]), _fmt(c["lambda2"]), _fmt(c["phi"]),
            "exact" if c["phi_exact"] else "bounds", _fmt(c["heterogeneity"]),
            _fmt(c["between"]), _fmt(c.get("lambda2_fmmc")), _names(plan, c["nodes"]),
        ])  # fmt: skip
    more = (f"… and {len(plan.per_cluster) - limit} more clusters (all in formation.json)."
            if len(plan.per_cluster) > limit else "")  # fmt: skip
    infeasible = [r["S"] for r in plan.by_S if not r["feasible"]]
    by_S_text = (f"The planner solved a set-partitioning MILP for each S from 1 to "
                 f"{max(r['S'] for r in plan.by_S)}.")  # fmt: skip
    if infeasible:
        by_S_text += (f" No formation is admissible for S ∈ {_ranges(infeasible)} (shaded): some "
                      "cluster would mix too slowly for the consensus budget ε.")  # fmt: skip
    bounds_rows, bounds_text, bounds_cycles = [], "", None
    if plan.bounds:
        bounds_cycles = plan.bounds.get("chosen", next(iter(plan.bounds.values())))["cycles"]
        for name, b in plan.bounds.items():
            bounds_rows.append([name, _fmt(b["rate"]), _fmt(b["radius"]),
                                _fmt(b["bound_after_cycles"]),
                                "yes" if _converges(b) else "**no** (rate ≥ 1)"])  # fmt: skip
        bounds_text = (f"Bound on the mean squared distance of the devices' models to the "
                       f"optimum, (1/N)E‖X − 1x*ᵀ‖², from 1 at the start, devices taken as "
                       f"μ = {cfg['mu']} strongly convex and L = {cfg['L']} smooth.")  # fmt: skip
    fmm_text = ""
    fm = plan.fastest_mixing
    if fm:
        parts = []
        cl = [c for c in fm.get("clusters", []) if c]
        if cl:
            ratios = [c["gap_ratio"] for c in cl]
            parts.append(f"Per cluster, FMMC weights widen the spectral gap by × "
                         f"{_fmt(min(ratios), 3)}–{_fmt(max(ratios), 3)} over lazy "
                         f"Metropolis (weights in formation.json).")  # fmt: skip
        if fm.get("graph"):
            fg = fm["graph"]
            parts.append(f"Whole graph: λ₂ {_fmt(fg['baseline_slem'])} (lazy Metropolis) → "
                         f"{_fmt(fg['slem'])} (FMMC), spectral gap × "
                         f"{_fmt(fg['gap_ratio'], 3)}.")  # fmt: skip
        fmm_text = " ".join(parts)
    schedule_text = ""
    if plan.schedule is not None:
        b = plan.schedule["best"]
        if b:
            schedule_text = (f"Best (τ_a, τ_r) = ({b['tau_a']}, {b['tau_r']}): its bound settles "
                             f"in {b['settling_cycles']} cycles, {b['messages_to_settle']:,} "
                             f"messages (bound {_fmt(b['final_bound'])}).")  # fmt: skip
        else:
            schedule_text = "No schedule of the grid reaches the target accuracy band."
    tf = plan.traffic
    traffic = [
        f"per cycle: {tf['intra_messages_per_cycle']:,} intra-cluster + "
        f"{tf['inter_messages_per_cycle']:,} inter-cluster messages, "
        f"{_mb(tf['bytes_per_cycle'])} ({tf['model_params']:,} float32 parameters per model)",
        f"one-time initialization (flooding, {tf['init_rounds']} rounds): "
        f"{tf['init_messages']:,} messages, {_mb(tf['init_bytes'])} "
        f"({100 * tf['init_bytes'] / max(tf['bytes_per_cycle'], 1):.2g} % of one cycle)",
    ]
    return {
        "title": f"SSD-FL formation for {graph_name}",
        "verdict": _verdict(plan, sections),
        "inputs": inputs,
        "clusters_head": ["#", "size", "λ₂(W_s)", "Φ(W_s)", "Φ is", "H", "B", "λ₂ FMMC", "devices"],
        "clusters_rows": rows,
        "clusters_more": more,
        "by_S_text": by_S_text,
        "bounds_rows": bounds_rows,
        "bounds_text": bounds_text,
        "bounds_cycles": bounds_cycles,
        "fmm_text": fmm_text,
        "schedule_text": schedule_text,
        "traffic": traffic,
        "extra_sections": sections,
        "notes": list(plan.notes),
        "glossary": GLOSSARY,
    }


def _md_inline(text: str) -> str:
    """``**bold**`` → ``<strong>`` in already-escaped HTML text."""
    from markupsafe import Markup

    return Markup(re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", str(text)))


def render_report(context: dict[str, Any], fmt: str = "md") -> str:
    """Render the report template as ``"md"`` or ``"html"``."""
    import jinja2

    if fmt not in ("md", "html"):
        raise ValueError(f"fmt must be 'md' or 'html', got {fmt!r}")
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("ssdfl.planner", "templates"),
        autoescape=False, keep_trailing_newline=True, trim_blocks=False,
    )  # fmt: skip
    env.filters["md_inline"] = _md_inline
    text = env.get_template("report.j2").render(fmt=fmt, **context)
    return re.sub(r"\n{3,}", "\n\n", text)


def write_report(
    plan: FormationPlan,
    g: Graph,
    out: str | os.PathLike[str],
    graph_name: str = "graph",
    sections: list[ReportSection] | None = None,
) -> Path:
    """Write ``formation.json``, ``report.md``, ``report.html`` and the PNG figures into
    ``out``; returns the path of ``report.md``. ``sections`` are appended (and their verdict
    sentences join the opening verdict)."""
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
    ctx = report_context(plan, graph_name, sections)
    report = outdir / "report.md"
    with atomic_write(report) as fh:
        fh.write(render_report(ctx, "md"))
    with atomic_write(outdir / "report.html") as fh:
        fh.write(render_report(ctx, "html"))
    return report


def console_table(plan: FormationPlan) -> Any:
    """A rich table summarising the plan's clusters (node names, at most 10 per cluster)."""
    from rich.table import Table

    t = Table(title=f"SSD-FL formation: S = {plan.S}, J = {_fmt(plan.objective, 5)}")
    for col in ("cluster", "size", "λ₂(W_s)", "Φ(W_s)", "H", "B", "devices"):
        t.add_column(col)
    for i, c in enumerate(plan.per_cluster[:50]):
        t.add_row(str(i), str(c["size"]), _fmt(c["lambda2"]), _fmt(c["phi"]),
                  _fmt(c["heterogeneity"], 3), _fmt(c["between"], 3),
                  _names(plan, c["nodes"], 10))  # fmt: skip
    if len(plan.per_cluster) > 50:
        t.caption = f"… {len(plan.per_cluster) - 50} more clusters in formation.json"
    return t


def append_validation(report: Path, result: dict[str, Any]) -> None:
    """Append the ``--validate`` section (its sentence, table and plot) to ``report``."""
    lines = ["", "## Validation: predicted vs observed", "", result["sentence"], "",
             "| formation | S | predicted | observed median | IQR | cycles | pick |",
             "|---|---|---|---|---|---|---|"]  # fmt: skip
    for f in result["formations"]:
        lo, hi = f["observed_iqr"]
        lines.append(f"| {f['id']} | {f['S']} | {_fmt(f['predicted'])} | "
                     f"{_fmt(f['observed_median'])} | {_fmt(lo)}–{_fmt(hi)} | {f['cycles']} | "
                     f"{'★' if f['chosen'] else ''} |")  # fmt: skip
    lines += ["", "![validation](validation.png)", ""]
    text = report.read_text() + "\n".join(lines)
    with atomic_write(report) as fh:
        fh.write(text)
