"""``ssdfl init`` (the initialization protocol, message by message) and ``ssdfl churn``
(training under a membership trace with a re-formation strategy); see docs/churn.md."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from ssdfl.cli.app import app, console, quiet, table_console
from ssdfl.graphs.graph_io import format_help, format_option_help

#: ``init --plan`` runs the planner once per device: refused above this many devices.
PLAN_MAX_DEVICES = 30
#: ``init`` holds every device's view of every record (≈ N² entries): refused above this many
#: devices unless ``--max-devices`` raises it.
INIT_MAX_DEVICES = 2_000


def _read(graph: Path, devices: Path | None, fmt: str | None = None) -> tuple[Any, Any]:
    from ssdfl.cli._inputs import read_cli_graph
    from ssdfl.theory.devices import read_devices

    g = read_cli_graph(graph, fmt)
    dev = read_devices(devices, g) if devices is not None else None  # clear error if not UTF-8
    return g, dev


_GRAPH = typer.Argument(..., help=format_help("D2D graph file"), dir_okay=False)
_DEVICES_HELP = "DEVICES.csv (see docs/formation.md). Absent: homogeneous SGD devices."


@app.command("init")
def init_cmd(
    graph: Path = _GRAPH,
    devices: Path | None = typer.Option(None, "--devices", dir_okay=False, help=_DEVICES_HELP),
    loss: float = typer.Option(0.0, "--loss", help="Per-message loss probability in [0, 1)."),
    delay: int = typer.Option(0, "--delay", help="Extra delivery delay: up to K ticks, uniform."),
    seed: int = typer.Option(0, "--seed", min=0, help="Seed of every loss and delay draw."),
    plan: bool = typer.Option(
        False,
        "--plan",
        help=f"Every device runs the planner on its view (at most {PLAN_MAX_DEVICES} devices); "
        "default: the cluster search partition(g, round(N/10)).",
    ),
    fmt: str | None = typer.Option(None, "--format", help=format_option_help()),
    max_devices: int = typer.Option(
        INIT_MAX_DEVICES,
        "--max-devices",
        help="Refuse larger graphs: every device learns every record (about N² entries, and "
        "an N×N hop-distance matrix for the closed form); raise it for a larger run.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the numbers as JSON."),
) -> None:
    """Simulate the one-time initialization message by message: every device floods its record
    (with loss, delay, ACKs and retransmission), then runs the formation on what it received.
    Prints rounds, messages and bytes to agreement next to the closed form, and whether every
    device computed the same formation."""
    import numpy as np

    from ssdfl._progress import get_logger, stage
    from ssdfl.clusters.flooding import flooding_traffic, record_bytes
    from ssdfl.errors import SsdflError
    from ssdfl.planner.protocol import (
        device_payloads,
        initialization_agreement,
        record_extra_bytes,
    )
    from ssdfl.simulate.protocol import ProtocolView, default_formation, simulate_flooding

    if not 0.0 <= loss < 1.0:
        raise SsdflError(f"--loss must be in [0, 1), got {loss}")
    if delay < 0:
        raise SsdflError(f"--delay must be >= 0, got {delay}")
    g, dev = _read(graph, devices, fmt)
    from ssdfl.errors import DisconnectedGraphError, TooLargeError
    from ssdfl.graphs.metrics import connected_components

    n_comp = len(connected_components(g)) if g.n else 0
    if n_comp > 1:  # before any N×N structure is built
        raise DisconnectedGraphError(f"{graph} has {n_comp:,} connected components; the "
                                     "initialization flooding needs a connected graph")  # fmt: skip
    if g.n > max_devices:
        raise TooLargeError(f"{graph} has {g.n:,} devices; init simulates every message (about "
                            f"N² = {g.n**2:,.0f} record copies) and is refused above "
                            f"{max_devices:,}: raise --max-devices to run it")  # fmt: skip
    if plan and g.n > PLAN_MAX_DEVICES:
        raise SsdflError(
            f"--plan runs the planner on each of the {g.n} devices; refused above "
            f"{PLAN_MAX_DEVICES} devices (drop --plan to check agreement with the cluster search)"
        )
    extra = record_extra_bytes(dev) if dev is not None else 0
    closed = flooding_traffic(g, record_bytes(g, extra))
    log = get_logger(__name__)
    # what a central planner sees of the records: the topology (records carry no edge weights)
    from ssdfl.graphs.graph import Graph

    src, dst, _w = g.edges()
    topo = Graph.from_edges(np.stack([src, dst], axis=1), n=g.n, labels=g.node_names())
    with stage(log, f"initialization flooding over {g.n} devices", enabled=not quiet()):
        if plan:
            from ssdfl.planner.config import PlanConfig
            from ssdfl.planner.plan import plan_formation
            from ssdfl.theory.devices import homogeneous_devices

            cfg = PlanConfig(fastest_mixing=False, schedule=False, theorem2=False, objective="J")
            res = initialization_agreement(g, dev, cfg, loss=loss, max_delay=delay, seed=seed)
            central = plan_formation(topo, dev or homogeneous_devices(g.n), cfg).assignment
        else:
            res = simulate_flooding(
                g, device_payloads(dev) if dev is not None else None, record_bytes(g, extra),
                loss=loss, max_delay=delay, seed=seed,
            )  # fmt: skip
            central = default_formation(ProtocolView(topo, (None,) * g.n))
    matches = bool(res.agreement and np.array_equal(res.formations[0], central))
    n_cl = len(np.unique(res.formations[0])) if res.formations else 0
    out = {
        "devices": g.n, "loss": loss, "max_delay": delay, "seed": seed,
        "formation": "planner" if plan else "partition",
        "rounds": res.rounds, "messages": res.messages, "bytes": res.bytes,
        "closed_form": {"rounds": closed.rounds, "messages": closed.messages,
                        "bytes": closed.bytes},
        "total_messages": res.total_messages, "total_bytes": res.total_bytes,
        "retransmissions": res.retransmissions, "acks": res.acks, "ack_bytes": res.ack_bytes,
        "header_bytes": res.header_bytes, "lost": res.lost,
        "agreement": bool(res.agreement), "clusters": n_cl, "matches_central": matches,
    }  # fmt: skip
    if as_json:
        print(json.dumps(out))
        return
    verdict = (
        f"all {g.n} devices computed the same formation ({n_cl} clusters)"
        + (
            ", equal to the one computed centrally"
            if matches
            else ", NOT the one computed centrally"
        )
        if res.agreement
        else f"the {g.n} devices did NOT all compute the same formation"
    )
    console.print(
        f"[bold]{verdict}[/] after {res.rounds} rounds, {res.messages:,} messages, "
        f"{res.bytes:,} record bytes (closed form without loss: {closed.rounds} rounds, "
        f"{closed.messages:,} messages, {closed.bytes:,} bytes)."
    )
    t = Table(title=f"initialization flooding, loss {loss:g}, delay ≤ {delay}, seed {seed}")
    for c in ("", "simulated", "closed form"):
        t.add_column(c, justify="right" if c else "left")
    t.add_row("rounds to agreement", f"{res.rounds}", f"{closed.rounds}")
    t.add_row("data messages to agreement", f"{res.messages:,}", f"{closed.messages:,}")
    t.add_row("record bytes to agreement", f"{res.bytes:,}", f"{closed.bytes:,}")
    t.add_row("data messages until quiet", f"{res.total_messages:,}", "")
    t.add_row("retransmissions", f"{res.retransmissions:,}", "0")
    t.add_row("lost messages (data + ACK)", f"{res.lost:,}", "0")
    t.add_row("ACK bytes / header bytes", f"{res.ack_bytes:,} / {res.header_bytes:,}", "")
    table_console().print(t)


@contextlib.contextmanager
def _quiet_planner() -> Iterator[None]:
    """Planner and cluster-search stages at WARNING unless ``--debug``."""
    names = ("ssdfl.planner", "ssdfl.clusters")
    if logging.getLogger("ssdfl").level <= logging.DEBUG:
        yield
        return
    old = {n: logging.getLogger(n).level for n in names}
    for n in names:
        logging.getLogger(n).setLevel(logging.WARNING)
    try:
        yield
    finally:
        for n, lv in old.items():
            logging.getLogger(n).setLevel(lv)


@app.command("churn")
def churn_cmd(
    graph: Path = _GRAPH,
    devices: Path | None = typer.Option(
        None,
        "--devices",
        dir_okay=False,
        help="DEVICES.csv: digits samples follow its label histograms and the planner sees it. "
        "Absent: 3-label digits split with a held-out test set.",
    ),
    trace: str = typer.Option(..., "--trace", help="random | regional | mass."),
    rate: float = typer.Option(0.03, "--rate", help="random: leave/join probability per cycle."),
    fraction: float | None = typer.Option(
        None, "--fraction", help="regional / mass: fraction failing (default 0.3 / 0.8)."
    ),
    strategy: list[str] = typer.Option(
        ..., "--strategy", help="none | repair | full | modest (repeat to compare)."
    ),
    cycles: int = typer.Option(24, "--cycles", help="Cycles (bursts at ⌈C/3⌉, back at ⌈2C/3⌉)."),
    seeds: int = typer.Option(5, "--seeds", help="Seeds 0..K-1 (data split, trace, training)."),
    max_clusters: int = typer.Option(
        12, "--max-clusters", help="Largest S the planner tries (initial and full formations)."
    ),
    fmt: str | None = typer.Option(None, "--format", help=format_option_help()),
    out: Path = typer.Option(
        ..., "--out", "-o", help="Output directory (written whole, replaced whole)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the per-seed numbers as JSON."),
) -> None:
    """Train SSD-FL (softmax regression on the bundled digits) on GRAPH's devices under a
    membership trace, with no repair, incremental repair, full re-formation or the MoDeST-style
    baseline; write churn.csv (per cycle and seed), churn_reform.csv, churn_summary.md and
    churn_accuracy.png / churn_stranded.png into --out."""
    from ssdfl._atomic import atomic_dir, atomic_write, check_output_dir
    from ssdfl.errors import SsdflError
    from ssdfl.experiments.churn import (
        STRATEGIES,
        TRACES,
        ChurnSetup,
        headline,
        per_run,
        plot_churn,
        run_churn,
        summary,
    )

    if trace not in TRACES:
        raise SsdflError(f"unknown --trace {trace!r} (one of {', '.join(TRACES)})")
    bad = [s for s in strategy if s not in STRATEGIES]
    if bad:
        raise SsdflError(f"unknown --strategy {bad[0]!r} (one of {', '.join(STRATEGIES)})")
    strategies = list(dict.fromkeys(strategy))
    if fraction is not None and not 0.0 < fraction <= 1.0:
        raise SsdflError(f"--fraction must be in (0, 1], got {fraction}")
    if not 0.0 <= rate < 1.0:
        raise SsdflError(f"--rate must be in [0, 1), got {rate}")
    if max_clusters < 1:
        raise SsdflError(f"--max-clusters must be >= 1, got {max_clusters}")
    if cycles < 1 or seeds < 1:
        raise SsdflError(f"--cycles and --seeds must be >= 1, got {cycles} and {seeds}")
    check_output_dir(out)
    g, dev = _read(graph, devices, fmt)
    base = ChurnSetup()
    setup = ChurnSetup(plan={**base.plan, "max_clusters": max_clusters})
    with _quiet_planner():  # dozens of planner / repair calls: their stages would drown the bar
        df, logs = run_churn(g, trace, strategies, devices=dev, cycles=cycles, seeds=seeds,
                             rate=rate, fraction=fraction, setup=setup,
                             progress=not quiet())  # fmt: skip
    text = summary(df, logs)
    para = headline(df)
    with atomic_dir(out) as tmp:
        with atomic_write(tmp / "churn.csv") as fh:
            df.to_csv(fh, index=False)
        with atomic_write(tmp / "churn_reform.csv") as fh:
            logs.to_csv(fh, index=False)
        with atomic_write(tmp / "churn_summary.md") as fh:
            fh.write(para + "\n\n" + text + "\n")
        plot_churn(df, tmp, f"SSD-FL under churn, {graph.name} (N = {g.n}): median and IQR "
                   f"over {seeds} seed(s) (dotted: failure burst)")  # fmt: skip
    if as_json:
        pr = per_run(df).rename(columns={"acc": "final_device_acc", "dip": "min_acc_after_burst",
                                         "stranded": "max_stranded", "isolated": "max_isolated",
                                         "form": "formation_kB", "train": "training_MB",
                                         "ratio": "formation_over_training",
                                         "rec": "recovery_cycles"})  # fmt: skip
        runs = json.loads(pr.to_json(orient="records", double_precision=15))
        head = {"graph": str(graph), "devices": g.n, "trace": trace, "cycles": cycles}
        print(json.dumps({**head, "seeds": seeds, "out": str(out), "runs": runs}))
        return
    console.print(para)
    print()
    print(text)
    console.print(f"wrote {out / 'churn.csv'}, churn_accuracy.png, churn_stranded.png")
