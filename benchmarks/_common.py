"""Helpers shared by the benchmark scripts: timing, machine facts, markdown tables."""

from __future__ import annotations

import gc
import os
import platform
import time
from collections.abc import Callable, Sequence
from importlib import metadata
from typing import Any


def best_of(fn: Callable[[], Any], repeat: int = 5, warmup: bool = True) -> tuple[float, Any]:
    """Minimum wall time of ``repeat`` calls (after one untimed warm-up call if ``warmup``),
    and the last result. The minimum is the least noisy estimate on a shared machine."""
    out = fn() if warmup else None
    times = []
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def best_of_cpu(
    fn: Callable[[], Any], repeat: int = 5, warmup: bool = True
) -> tuple[float, float, Any]:
    """Like :func:`best_of`, also returning the minimum process CPU time (all threads) of the
    runs: on a loaded machine the CPU time shows the work done, the wall time what a user waits."""
    out = fn() if warmup else None
    walls, cpus = [], []
    for _ in range(repeat):
        gc.collect()
        c0, t0 = time.process_time(), time.perf_counter()
        out = fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return min(walls), min(cpus), out


def machine_facts() -> dict[str, str]:
    """CPU model, logical cores, current load average, Python and library versions."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    facts = {
        "cpu": cpu,
        "logical cores": str(os.cpu_count()),
        "load average (1/5/15 min)": " / ".join(f"{x:.1f}" for x in os.getloadavg()),
        "python": platform.python_version(),
    }
    for pkg in ("ssdfl", "numpy", "scipy", "networkx", "rustworkx"):
        try:
            facts[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            facts[pkg] = "not installed"
    return facts


def fmt_time(t: float | None) -> str:
    if t is None:
        return "—"
    if t >= 1:
        return f"{t:.2f} s"
    if t >= 1e-3:
        return f"{t * 1e3:.1f} ms"
    return f"{t * 1e6:.0f} µs"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A GitHub markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)
