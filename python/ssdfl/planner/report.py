"""Human-readable outputs of a :class:`~ssdfl.planner.plan.FormationPlan`.

``report.md`` and ``report.html`` come from one jinja2 template (``templates/report.j2``) and
open with the verdict: the recommended formation (the plan's one formation) and why, where the
paper's objective J stands, whether the Theorem-2 bound proves convergence (only when its rate is
< 1 and it ends below its start; said loudly otherwise), whether another schedule is predicted
to train better, and — when training results are attached — whether a baseline beat the pick.
Every table and figure is about the recommended formation, except the ranked alternatives and
J-vs-``S``. A glossary defines every symbol. Every file is written atomically.
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
from ssdfl.planner.plan import J_LABEL, FormationPlan

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
    ("predicted", "the user objective: mean over devices of the training loss at each "
                  "device's own model at the end of the budget, predicted (pilot training on "
                  "proxy data, or the analytic predictor), ± its own uncertainty; lower is "
                  "better. Formations within that uncertainty of the best are a tie, which "
                  "goes to the simplest formation."),
    ("J", "the paper's consensus objective for a formation, lower is better: predicted "
          "steady-state disagreement of the devices' models (per-device average plus the "
          "worst cluster), from the decoupled fixed points of Lemmas 1–2 (docs/formation.md). "
          "It has no budget and does not predict training; its optimum is an alternative."),
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
    ("rate, radius", "Theorem 2: 'rate' is the certified growth factor per cycle of the map the "
                     "bound on (1/N)E‖X − 1x*ᵀ‖² iterates; below 1 the bound converges to "
                     "'radius', otherwise the radius is ∞ and the bound proves nothing. It "
                     "proves convergence only when it also ends below its start. L, μ and ζ "
                     "come from the devices' model (docs/theory.md §7e–§7g)."),
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
    """The bound proves convergence: covered, rate < 1 (finite radius) and the bound after the
    horizon below its start (1)."""
    if b.get("covered") is False:
        return False
    if b.get("proves_convergence") is False:
        return False
    r = b.get("rate")
    end = b.get("bound_after_cycles")
    return (
        r is not None
        and math.isfinite(r)
        and r < 1
        and end is not None
        and math.isfinite(end)
        and end < 1.0
    )  # fmt: skip (the bound starts at 1)


def _radius(b: dict[str, Any]) -> float:
    """Rate ≥ 1 always means radius ∞."""
    r = b.get("rate")
    if r is None or not math.isfinite(r) or r >= 1:
        return math.inf
    return float(b.get("radius", math.inf))


def _sizes(clusters: list[Any]) -> str:
    sizes = sorted((len(c) for c in clusters), reverse=True)
    return ", ".join(map(str, sizes[:8])) + (", …" if len(sizes) > 8 else "")


def _kind(budget: Any) -> str:
    """``"byte"``, ``"cycle"`` or ``"time"`` (as in "at a byte budget")."""
    k = budget.get("kind", "") if isinstance(budget, dict) else str(budget or "")
    return {"bytes": "byte", "cycles": "cycle"}.get(k, k)


def _what(S: int, n: int) -> str:
    if S == 1:
        return "do not cluster (S = 1)"
    if S == n:
        return f"every device alone (S = {n} = N)"
    return f"S = {S} clusters"


# ------------------------------------------------------------------------------ verdict
def _verdict(plan: FormationPlan, sections: list[ReportSection]) -> list[str]:
    cfg = plan.config
    out: list[str] = []
    rec = plan.recommendation
    jo = plan.j_optimum
    wins = [v for v in ((rec or {}).get("baselines") or {}).values() if v.get("beats_pick")]
    if wins:  # a baseline predicted to beat every SSD-FL formation is said first
        best = min(wins, key=lambda v: v.get("predicted") or math.inf)
        out.append(f"**Predicted best at this budget: {best['name']}, not SSD-FL** — it is "
                   f"predicted to beat every SSD-FL formation (details below); what follows "
                   f"is the best SSD-FL formation, for when SSD-FL is what you run.")  # fmt: skip
    if rec is not None:
        b = rec.get("budget") or {}
        out.append(f"**Recommended: {_what(rec['S'], plan.n)}** (sizes {_sizes(plan.clusters)}) "
                   f"— the formation with the lowest predicted device loss at a "
                   f"{_kind(b)} budget ({rec.get('model', '')} model). {rec['verdict']} "
                   f"Everything below is about this formation.")  # fmt: skip
    else:
        out.append(f"**Planned for the paper's objective J alone: {_what(plan.S, plan.n)}** "
                   f"(sizes {_sizes(plan.clusters)}, J = {_fmt(plan.objective, 5)}); no budget "
                   f"or training outcome was predicted.")  # fmt: skip
    if plan.j_uninformative:
        out.append("The paper's consensus objective J is 0 for every formation here (no device "
                   "heterogeneity and σ² = 0), so it cannot rank formations; its MILP optimum "
                   "is not a recommendation.")  # fmt: skip
    elif jo is not None and rec is not None:
        same = [sorted(map(int, c)) for c in jo["clusters"]] == [c.tolist() for c in plan.clusters]
        if same:
            out.append(f"The paper's objective J (steady-state disagreement, no budget) has "
                       f"the same formation as its optimum (J = "
                       f"{_fmt(jo['objective'], 5)}).")  # fmt: skip
        else:
            out.append(f"The paper's objective J (steady-state disagreement, no budget) would "
                       f"pick S = {jo['S']} (J = {_fmt(jo['objective'], 5)}; the recommendation "
                       f"has J = {_fmt(plan.objective, 5)}); J does not predict training, so "
                       f"it is listed as an alternative.")  # fmt: skip
    b = plan.bounds.get("chosen") if plan.bounds else None
    if b is not None:
        if b.get("covered") is False:
            out.append(f"Theorem-2 bound: not covered for this formation "
                       f"({b.get('reason', 'outside the theorem')}).")  # fmt: skip
        elif _converges(b):
            weak = ""
            if _radius(b) >= 1.0:
                weak = (" That radius exceeds the initial distance (1), so the bound guarantees "
                        "boundedness, not progress.")  # fmt: skip
            mu, L = b.get("mu", cfg.get("mu")), b.get("L", cfg.get("L"))
            out.append(f"The Theorem-2 bound proves convergence for the recommended formation: "
                       f"it falls from 1 to {_fmt(b['bound_after_cycles'], 3)} after "
                       f"{b['cycles']} cycles, shrinking by {_fmt(b['rate'], 3)} per cycle "
                       f"towards a radius of {_fmt(_radius(b), 3)} (μ = {mu}, L = {L})."
                       f"{weak}")  # fmt: skip
        else:
            why = (f"its rate per cycle is {_fmt(b['rate'], 4)} ≥ 1, so the radius is ∞"
                   if _radius(b) == math.inf else
                   f"it ends at {_fmt(b['bound_after_cycles'], 3)} after {b['cycles']} cycles, "
                   f"above its start (1)")  # fmt: skip
            out.append(f"⚠ **The Theorem-2 bound proves nothing for the recommended formation**: "
                       f"{why}; convergence is not guaranteed by the theory for these parameters "
                       f"(step size, μ/L, schedule).")  # fmt: skip
    sch = plan.schedule
    if sch is not None and sch.get("best"):
        best, planned = sch["best"], sch.get("planned")
        if (best["tau_a"], best["tau_r"]) != (cfg["tau_a"], cfg["tau_r"]):
            gain = ""
            if planned:
                gain = (f" (predicted device loss {_fmt(best['predicted'])} vs "
                        f"{_fmt(planned['predicted'])} for the planned schedule)")  # fmt: skip
            out.append(
                f"Schedule: for the recommended formation the analytic predictor prefers "
                f"(τ_a, τ_r) = ({best['tau_a']}, {best['tau_r']}) over the planned "
                f"({cfg['tau_a']}, {cfg['tau_r']}) at the same {_kind(cfg.get('budget'))} budget"
                f"{gain}; re-run with --tau-a {best['tau_a']} --tau-r {best['tau_r']} to choose "
                f"the formation for that schedule."
            )
        else:
            out.append(f"Schedule: (τ_a, τ_r) = ({cfg['tau_a']}, {cfg['tau_r']}), the planned "
                       f"one, has the lowest predicted device loss of the grid.")  # fmt: skip
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
    gs = [r for r in plan.greedy.get("sequence", []) if r["admissible"]]
    if gs:
        ax.plot([r["S"] for r in gs], [r["objective"] for r in gs], "s", ms=9, mfc="none",
                mew=1.2, color="C1", label="paper's splitting loop (admissible steps)",
                zorder=4)  # fmt: skip
    jo = plan.j_optimum
    if jo is not None:
        ax.plot([jo["S"]], [jo["objective"]], "*", ms=14, color="C2",
                label=f"J's optimum (S = {jo['S']})", zorder=5)  # fmt: skip
    if plan.objective is not None:
        tag = "recommended" if plan.recommendation is not None else "chosen"
        ax.plot([plan.S], [plan.objective], "D", ms=9, mfc="none", mew=1.6, color="C3",
                label=f"{tag} (S = {plan.S})", zorder=6)  # fmt: skip
    infeasible = [int(s) for s, j in zip(S, J) if not np.isfinite(j)]
    for s in infeasible:
        ax.axvspan(s - 0.5, s + 0.5, color="0.9", lw=0, zorder=0)
    if infeasible:
        ax.text(0.02, 0.95, f"grey: no admissible formation (S ∈ {_ranges(infeasible)})",
                transform=ax.transAxes, fontsize=8, va="top")  # fmt: skip
    ax.set_xlabel("number of clusters S")
    ax.set_ylabel("paper's objective J (lower is better)")
    fin = J[np.isfinite(J)]
    if fin.size and fin.min() > 0 and fin.max() / fin.min() > 20:
        ax.set_yscale("log")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False)
    save_figure(fig, path)


def _plottable(b: dict[str, Any]) -> bool:
    return b.get("covered") is not False and bool(b.get("bound_by_cycle"))


PLOT_CEILING = 1e100
"""Bound values above this are left out of the bound picture (the table still gives them)."""


def _plot_bounds(plan: FormationPlan, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    styles = [("-", "o"), ("--", "s"), (":", "^")]
    for k, (name, b) in enumerate(x for x in plan.bounds.items() if _plottable(x[1])):
        y = np.asarray([np.nan if v is None else v for v in b["bound_by_cycle"]], dtype=float)
        # a diverging bound is drawn up to 1e100: log-scale ticks near the float64 limit
        # overflow (10**309), and nothing above that range reads differently on the picture
        y[~(np.isfinite(y) & (y <= PLOT_CEILING))] = np.nan
        ls, mk = styles[k % len(styles)]
        tag = f"rate {_fmt(b['rate'], 3)}" if _converges(b) else "proves nothing"
        label = "recommended" if name == "chosen" else name
        ax.plot(np.arange(len(y)), y, ls=ls, marker=mk, markevery=max(1, len(y) // 10), ms=5,
                mfc="none", lw=1.4, label=f"{label} ({tag})")  # fmt: skip
    ax.axhline(1.0, color="0.5", lw=0.8, ls=":")
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
        Z[ta.index(r["tau_a"]), tr.index(r["tau_r"])] = r["predicted"]
    Z[~np.isfinite(Z)] = np.nan
    fig, ax = plt.subplots(figsize=(5.8, 4.2))
    cmap = plt.get_cmap("viridis_r")
    im = ax.imshow(np.ma.masked_invalid(Z), origin="lower", cmap=cmap, aspect="auto")
    ax.set_xticks(range(len(tr)), [str(x) for x in tr])
    ax.set_yticks(range(len(ta)), [str(x) for x in ta])
    ax.set_xlabel("τ_r (inter-cluster rounds per cycle)")
    ax.set_ylabel("τ_a (intra-cluster rounds per cycle)")
    best = sch.get("best")
    lo, hi = (np.nanmin(Z), np.nanmax(Z)) if np.isfinite(Z).any() else (0.0, 1.0)
    for r in sch["grid"]:
        i, j = ta.index(r["tau_a"]), tr.index(r["tau_r"])
        v = Z[i, j]
        star = best is not None and (r["tau_a"], r["tau_r"]) == (best["tau_a"], best["tau_r"])
        text = ("—" if not np.isfinite(v) else f"{v:.3g}") + (" ★" if star else "")
        colour = "black"
        if np.isfinite(v) and hi > lo:  # dark text on light cells, light on dark
            rgb = np.asarray(cmap((v - lo) / (hi - lo)))[:3]
            colour = "black" if float(rgb @ [0.299, 0.587, 0.114]) > 0.5 else "white"
        ax.text(j, i, text, ha="center", va="center", fontsize=7, color=colour)
    fig.colorbar(im, label="predicted device loss (analytic, lower is better)")
    ax.set_title(f"schedules of the recommended formation at a {_kind(sch.get('budget'))} budget "
                 "(★ = lowest)", fontsize=9)  # fmt: skip
    save_figure(fig, path)


# ------------------------------------------------------------------------------ context
def _pm(x: Any, spread: Any) -> str:
    if x is None:
        return "—"
    if spread is None or not isinstance(spread, (int, float)) or not math.isfinite(spread):
        return _fmt(x)
    return f"{_fmt(x)} ± {_fmt(spread, 2)}"


def _by_S_text(plan: FormationPlan) -> str:
    Ss = sorted(r["S"] for r in plan.by_S)
    if not Ss:
        return ""
    consecutive = Ss == list(range(Ss[0], Ss[-1] + 1))
    which = (f"for each S from {Ss[0]} to {Ss[-1]}" if consecutive
             else f"for S ∈ {{{', '.join(map(str, Ss))}}}")  # fmt: skip
    text = (f"The paper's consensus objective J (steady-state disagreement, no budget): the "
            f"planner solved a set-partitioning MILP {which}.")  # fmt: skip
    infeasible = [r["S"] for r in plan.by_S if not r["feasible"]]
    if infeasible:
        text += (f" No formation is admissible for S ∈ {_ranges(infeasible)} (shaded): some "
                 "cluster would mix too slowly for the consensus budget ε.")  # fmt: skip
    if plan.j_uninformative:
        text += (" J is 0 for every formation (homogeneous devices, σ² = 0): it is "
                 "uninformative here and names no optimum.")  # fmt: skip
    elif plan.j_optimum is not None:
        text += (f" Its optimum is S = {plan.j_optimum['S']} (J = "
                 f"{_fmt(plan.j_optimum['objective'], 5)}), listed among the alternatives as "
                 f"{J_LABEL}.")  # fmt: skip
    return text


def report_context(
    plan: FormationPlan, graph_name: str = "graph", sections: list[ReportSection] | None = None
) -> dict[str, Any]:
    """Everything the report template shows, as plain values (markdown inline markup)."""
    sections = sections or []
    cfg = plan.config
    rec = plan.recommendation
    inputs = [
        f"devices: {plan.n} ({plan.devices_source})",
        f"schedule (τ_a, τ_r) = ({cfg['tau_a']}, {cfg['tau_r']}), step size η = "
        f"{cfg['eta']}, mixing: {cfg['mixing_rule']}",
    ]
    if rec is not None:
        b = rec.get("budget") or {}
        inputs.append(f"user objective: predicted mean device loss at a {_kind(b)} budget "
                      f"(C = {cfg.get('cycles', b.get('cycles'))} cycles; a byte or time budget "
                      f"is what S = N spends in C cycles), model {rec.get('model')}, seed "
                      f"{cfg.get('seed', 0)}")  # fmt: skip
    inputs.append(f"the paper's objective J: consensus budget ε = {cfg['eps']}, admissibility: "
                  f"{cfg['admissibility']}")  # fmt: skip
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
    alt_rows = []
    if rec is not None:
        alt_rows.append(["1", f"**{rec['id']}**", str(rec["S"]), "**recommended**",
                         _pm(rec.get("predicted"), rec.get("spread")),
                         _fmt(rec.get("cycles"))])  # fmt: skip
    for a in plan.alternatives[:30]:
        role = a.get("role", "alternative")
        if a.get("tie"):
            role += " (within noise)"
        pred = _pm(a.get("predicted"), a.get("spread")) if "predicted" in a else (
            f"J = {_fmt(a.get('objective_J'))}")  # fmt: skip
        alt_rows.append([str(a.get("rank", "")), a["id"], str(a["S"]), role, pred,
                         _fmt(a.get("cycles"))])  # fmt: skip
    alt_text = ""
    if plan.alternatives:
        alt_text = ("Ranked by predicted device loss at the budget (± the prediction's own "
                    "uncertainty); random partitions are yardsticks, never recommended. All "
                    "alternatives with their clusters are in formation.json and "
                    "choice.json.")  # fmt: skip
    bounds_rows, bounds_text, bounds_cycles = [], "", None
    if plan.bounds:
        first = plan.bounds.get("chosen", next(iter(plan.bounds.values())))
        bounds_cycles = first.get("cycles")
        for name, b in plan.bounds.items():
            label = "recommended" if name == "chosen" else name
            if b.get("covered") is False:
                bounds_rows.append([label, "—", "—", "—",
                                    f"not covered ({b.get('reason', '')})"])  # fmt: skip
                continue
            bounds_rows.append([label, _fmt(b["rate"]), _fmt(_radius(b)),
                                _fmt(b["bound_after_cycles"]),
                                "yes" if _converges(b) else "**no**"])  # fmt: skip
        mu, L = first.get("mu", cfg["mu"]), first.get("L", cfg["L"])
        bounds_text = (f"Bound on the mean squared distance of the devices' models to the "
                       f"optimum, (1/N)E‖X − 1x*ᵀ‖², from 1 at the start, devices taken as "
                       f"μ = {mu} strongly convex and L = {L} smooth. It proves convergence "
                       f"only when its rate is < 1 and it ends below its start; a rate ≥ 1 "
                       f"means radius ∞.")  # fmt: skip
    fmm_text = ""
    fm = plan.fastest_mixing
    if fm:
        parts = []
        cl = [c for c in fm.get("clusters", []) if c]
        if cl:
            ratios = [c["gap_ratio"] for c in cl]
            parts.append(f"Per cluster of the recommended formation, FMMC weights widen the "
                         f"spectral gap by × {_fmt(min(ratios), 3)}–{_fmt(max(ratios), 3)} over "
                         f"lazy Metropolis (weights in formation.json; `ssdfl export` writes "
                         f"them).")  # fmt: skip
        if fm.get("graph"):
            fg = fm["graph"]
            parts.append(f"Whole graph: λ₂ {_fmt(fg['baseline_slem'])} (lazy Metropolis) → "
                         f"{_fmt(fg['slem'])} (FMMC), spectral gap × "
                         f"{_fmt(fg['gap_ratio'], 3)}.")  # fmt: skip
        fmm_text = " ".join(parts)
    schedule_text = ""
    if plan.schedule is not None:
        b = plan.schedule.get("best")
        if plan.schedule.get("error"):
            schedule_text = f"No schedule search: {plan.schedule['error']}"
        elif b:
            schedule_text = (f"Schedules of the recommended formation ranked by the analytic "
                             f"predictor at the same budget: best (τ_a, τ_r) = ({b['tau_a']}, "
                             f"{b['tau_r']}), predicted device loss {_fmt(b['predicted'])} in "
                             f"{b['cycles']} cycles, {b['messages_per_cycle']:,} messages per "
                             f"cycle.")  # fmt: skip
        else:
            schedule_text = "No schedule of the grid has a finite prediction."
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
        "formation_caption": (
            f"the recommended formation, S = {plan.S}, coloured by cluster"
            if rec is not None
            else f"the formation (S = {plan.S}) coloured by cluster"
        ),
        "clusters_head": ["#", "size", "λ₂(W_s)", "Φ(W_s)", "Φ is", "H", "B", "λ₂ FMMC", "devices"],
        "clusters_rows": rows,
        "clusters_more": more,
        "alternatives_head": ["rank", "formation", "S", "role", "predicted", "cycles"],
        "alternatives_rows": alt_rows,
        "alternatives_text": alt_text,
        "by_S_text": _by_S_text(plan),
        "by_S_figure": bool(plan.by_S) and not plan.j_uninformative,
        "bounds_rows": bounds_rows,
        "bounds_text": bounds_text,
        "bounds_cycles": bounds_cycles,
        "bounds_figure": any(_plottable(b) for b in plan.bounds.values()),
        "fmm_text": fmm_text,
        "schedule_text": schedule_text,
        "schedule_figure": bool(plan.schedule and plan.schedule.get("grid")),
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
    tag = "recommended" if plan.recommendation is not None else "formation"
    plot_formation(g, plan.assignment, outdir / "formation.png",
                   title=f"{graph_name}: {tag}, S = {plan.S} clusters")  # fmt: skip
    if plan.by_S and not plan.j_uninformative:
        _plot_by_S(plan, outdir / "objective_vs_S.png")
    if any(_plottable(b) for b in plan.bounds.values()):
        _plot_bounds(plan, outdir / "bounds.png")
    if plan.schedule is not None and plan.schedule.get("grid"):
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

    head = "recommended formation" if plan.recommendation is not None else "formation (J)"
    t = Table(title=f"SSD-FL {head}: S = {plan.S}")
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
