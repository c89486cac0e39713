"""``ssdfl form``: optimal SSD-FL cluster formation for a graph file (the main job)."""

from __future__ import annotations

from pathlib import Path

import typer

from ssdfl.cli.app import app, console, quiet, table_console
from ssdfl.graphs.graph_io import format_help, format_option_help
from ssdfl.planner.estimate import DEFAULT_MAX_EDGES


def _early_checks(update: Path | None, simulate: bool, validate: bool, link_cost: str | None,
                  budget: str, model_params: int) -> None:  # fmt: skip
    """Flag checks before any work: --update repairs the old formation and would ignore
    --simulate, --validate and --link-cost, so they are refused with it; --budget must be a
    known kind; --model-params a positive count."""
    if update is not None:
        ignored = [flag for flag, on in (("--simulate", simulate), ("--validate", validate),
                                         ("--link-cost", link_cost is not None)) if on]  # fmt: skip
        if ignored:
            raise typer.BadParameter(
                f"{' and '.join(ignored)} cannot be combined with --update (it repairs the old "
                "formation and would ignore them); run them on the updated folder's graph "
                "without --update",
                param_hint="--update",
            )
    if budget not in ("bytes", "cycles", "time"):
        raise typer.BadParameter(f"choose bytes, cycles or time, got {budget!r}",
                                 param_hint="--budget")  # fmt: skip
    if model_params < 1:
        raise typer.BadParameter(f"must be a positive parameter count, got {model_params}",
                                 param_hint="--model-params")  # fmt: skip


@app.command()
def form(
    graph: Path = typer.Argument(
        ...,
        help=format_help("D2D graph file"),
        dir_okay=False,
    ),
    devices: Path | None = typer.Option(
        None,
        "--devices",
        exists=True,
        dir_okay=False,
        help="DEVICES.csv: id, optimizer, mu, rho, lr, n_samples, label_<k> "
        "or grad_<j> columns (see docs/formation.md). Absent: homogeneous SGD, IID data.",
    ),
    tau_a: int = typer.Option(20, "--tau-a", help="Intra-cluster rounds per cycle."),
    tau_r: int = typer.Option(5, "--tau-r", help="Inter-cluster rounds per cycle."),
    eps: float = typer.Option(
        0.5, "--eps", help="Consensus budget ε (per cluster ε_S = ε: λ₂^τa ≤ ε)."
    ),
    eta: float = typer.Option(0.05, "--eta", help="Step size η."),
    gamma: float = typer.Option(1.0, "--gamma", help="Weight γ of optimizer heterogeneity."),
    sigma2: float = typer.Option(0.0, "--sigma2", help="Gradient-noise variance σ²."),
    admissibility: str = typer.Option(
        "spectral", "--admissibility", help="'spectral' (λ₂^τa ≤ ε_S) or 'cheeger' (Φ ≥ Φ_min^S)."
    ),
    max_clusters: int | None = typer.Option(
        None, "--max-clusters", min=1, help="Largest S tried (default: no limit)."
    ),
    model_params: int = typer.Option(100_000, "--model-params", help="Parameters per model."),
    fmt: str | None = typer.Option(None, "--format", help=format_option_help()),
    out: Path = typer.Option(
        Path("ssdfl-out"), "--out", "-o", help="Output directory (written whole, replaced whole)."
    ),
    no_fmmc: bool = typer.Option(False, "--no-fmmc", help="Skip the fastest-mixing SDPs."),
    no_schedule: bool = typer.Option(False, "--no-schedule", help="Skip the schedule search."),
    simulate: bool = typer.Option(
        False,
        "--simulate",
        help="Train on bundled digits data with the devices' label "
        "histograms and optimizers; draw predicted vs observed.",
    ),
    cycles: int = typer.Option(
        40, "--cycles", min=1, help="Cycles for --simulate; the cycle budget C of --validate."
    ),
    validate: bool = typer.Option(
        False,
        "--validate",
        help="Train >= 10 formations (the pick, S = 1, S = N, greedy, random clusters, ...) "
        "over --seeds seeds and write validation.json + validation.png (predicted vs observed).",
    ),
    model: str = typer.Option(
        "softmax",
        "--model",
        help="Model the devices train: softmax|mlp|cnn, or your own as "
        "package.module:factory (docs/formation.md); the pilot trains it.",
    ),
    seeds: int = typer.Option(3, "--seeds", min=1, help="--validate seeds per formation."),
    budget: str = typer.Option(
        "bytes",
        "--budget",
        help="What the recommendation optimizes: 'bytes' (the spend of S = N in --cycles "
        "cycles), 'cycles' (--cycles cycles each) or 'time' (the wall-clock of S = N in "
        "--cycles cycles; --bandwidth, --latency, --step-time).",
    ),
    seed: int = typer.Option(
        0, "--seed", min=0, help="Seed of the candidate search (yardsticks, pilot data)."
    ),
    pilot_budget: float | None = typer.Option(
        None,
        "--pilot-budget",
        min=0,
        help="Most device-steps the pilot training may spend (0: no pilot, analytic only).",
    ),
    max_edges: int = typer.Option(
        DEFAULT_MAX_EDGES,
        "--max-edges",
        min=0,
        help="Refuse graphs with more edges, before the work, with a time and memory "
        "estimate (0: no limit; docs/reliability.md).",
    ),
    bandwidth: float | None = typer.Option(
        None, "--bandwidth", help="Time budget: link bandwidth in bytes/s (every link)."
    ),
    latency: float | None = typer.Option(
        None, "--latency", help="Time budget: per-message link latency in seconds."
    ),
    step_time: float | None = typer.Option(
        None, "--step-time", help="Time budget: seconds per local step on a device."
    ),
    link_cost: str | None = typer.Option(
        None,
        "--link-cost",
        help="Per-edge link cost: a file of 'u v cost' lines (unlisted edges cost 1), or "
        "'weight' to use the graph file's edge weights.",
    ),
    update: Path | None = typer.Option(
        None,
        "--update",
        help="OLD_DIR/formation.json: repair that formation for GRAPH (devices matched by "
        "name) instead of planning from scratch; see docs/churn.md.",
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Print formation.json instead of the table."
    ),
    goal: str = typer.Option(
        "global",
        "--goal",
        help="'global' (one model; default) or 'specialised' (clusters may keep their own "
        "models when the label histograms say so; docs/specialised.md).",
    ),
) -> None:
    """Recommend ONE SSD-FL cluster formation of GRAPH (the lowest predicted device loss at the
    --budget, with ranked alternatives) and write formation.json, choice.json and a report
    (markdown + pictures) into --out (a new directory, or one ssdfl wrote before)."""
    from ssdfl._atomic import atomic_dir, check_output_dir
    from ssdfl.cli._inputs import read_cli_graph
    from ssdfl.planner.plan import PlanConfig, plan_formation
    from ssdfl.planner.report import console_table, write_report
    from ssdfl.theory.devices import read_devices

    check_output_dir(out)  # fail before the long work
    _early_checks(update, simulate, validate, link_cost, budget, model_params)
    if update is not None and goal == "specialised":
        raise typer.BadParameter(
            "--goal specialised cannot be combined with --update (the repair keeps one global "
            "formation); run --goal specialised on the new graph without --update",
            param_hint="--goal",
        )
    g = read_cli_graph(graph, fmt)
    from ssdfl.planner.estimate import check_plan_size

    check_plan_size(g.n, g.m, max_edges)  # refuse a too-large graph before the devices file
    dev = read_devices(devices, g) if devices is not None else None  # clear error if not UTF-8
    from ssdfl.planner.specialise import check_goal, goal_specialised

    check_goal(goal, dev)  # before the long work
    cfg = PlanConfig(
        eta=eta, tau_a=tau_a, tau_r=tau_r, eps=eps, gamma=gamma, sigma2=sigma2,
        admissibility=admissibility, max_clusters=max_clusters, model_params=model_params,
        fastest_mixing=not no_fmmc, schedule=not no_schedule, budget=budget, cycles=cycles,
        model=model, seed=seed, pilot_budget=pilot_budget, bandwidth=bandwidth,
        latency=latency, step_time=step_time, max_edges=max_edges,
    )  # fmt: skip
    if update is not None:
        from ssdfl.planner.repair import update_formation

        with atomic_dir(out) as tmp:
            _p, res, rep = update_formation(g, update, dev, cfg, tmp, graph_name=graph.name)
        if as_json:
            print((out / "formation.json").read_text())
            return
        kb = res.traffic["bytes"] / 1e3
        n_cl = res.changes["clusters_after"]
        console.print(f"{res.mode}: {n_cl} clusters, {kb:.1f} kB D2D; wrote {out / rep.name}")
        return
    from ssdfl.planner.predict import link_costs

    cfg.validate()
    lc = link_costs(link_cost, g)
    try:
        plan = plan_formation(g, dev, cfg, progress=not quiet(), link_cost=lc)
    except ArithmeticError as exc:  # name the numeric options, not only the exception (issue 24)
        from ssdfl.errors import SsdflError

        raise SsdflError(
            f"the bounds overflow floating point ({exc}) with --eta {eta:g}, --eps {eps:g}, "
            f"--gamma {gamma:g}, --sigma2 {sigma2:g}, --tau-a {tau_a}, --tau-r {tau_r}, "
            f"--model-params {model_params}: use smaller values (--eta is a step size, "
            "usually below 1)"
        ) from None
    choice = plan.choice
    assert choice is not None  # objective "predicted"
    with atomic_dir(out) as tmp:
        spec = None  # --goal specialised: its section, report part and specialised.json
        if goal == "specialised":
            spec = goal_specialised(plan, g, dev, tau_a=tau_a, tau_r=tau_r, eta=eta,
                                    cycles=cycles, max_clusters=max_clusters)  # fmt: skip
        report = write_report(
            plan,
            g,
            tmp,
            graph_name=graph.name,
            sections=spec.report_sections() if spec is not None else None,
        )
        if spec is not None:
            spec.write(tmp)
        from ssdfl.planner.validate import write_choice

        write_choice(choice, tmp)
        if simulate:
            from ssdfl.planner.validate import simulate_plan

            simulate_plan(plan, g, dev, tmp, cycles=cycles, progress=not quiet(), report=report)
        if validate:
            from ssdfl.planner.validate import validate_formations

            val = validate_formations(
                g, dev, tmp, eta=eta, tau_a=tau_a, tau_r=tau_r, model=model, seeds=seeds,
                cycles=cycles, budget=budget, link_cost=lc, plan=plan, mixing=cfg.mixing_rule,
                choice=choice, report=report,
            )  # fmt: skip
    report = out / report.name
    if as_json:
        print((out / "formation.json").read_text())
        return
    table_console().print(console_table(plan))
    for note in plan.notes:
        console.print(f"[yellow]note:[/] {note}")
    jo = plan.j_optimum
    if plan.j_uninformative:
        console.print("the paper's objective J is 0 for every formation here: uninformative")
    elif jo is not None:
        console.print(f"the paper's objective J (an alternative): its optimum is S = {jo['S']}, "
                      f"J = {jo['objective']:.5g}")  # fmt: skip
    console.print(f"[bold]{choice['verdict']}[/]")
    if spec is not None:
        console.print(f"[bold]{spec.verdict}[/]")
    if validate:
        console.print(val["sentence"])
    console.print(f"wrote {out / 'formation.json'} and {report}")
