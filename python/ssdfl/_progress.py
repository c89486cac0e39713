"""Progress reporting, one way for the whole package.

Library code logs through :mod:`logging` (loggers named ``ssdfl.<module>``) and wraps every
stage that can take longer than a second in :func:`stage`; it never prints. Applications (the
``ssdfl`` command, notebooks) call :func:`setup_logging` once to show those records on stderr
through rich's handler (no source paths) and to enable rich progress bars.

A stage logs ``"<label> …"`` when it starts and ``"<label>: done in 1.2 s"`` when it ends
(DEBUG if it took under a second, INFO otherwise); with ``total`` and bars enabled it draws a
rich progress bar advanced by :meth:`Stage.advance`.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from typing import Any

__all__ = ["Stage", "bars_enabled", "get_logger", "setup_logging", "stage"]

_ROOT = "ssdfl"
_state: dict[str, Any] = {"bars": False, "console": None}


def get_logger(name: str) -> logging.Logger:
    """The package logger for module ``name`` (``ssdfl.planner.plan`` → itself; other names are
    put under ``ssdfl.``)."""
    return logging.getLogger(name if name.startswith(_ROOT) else f"{_ROOT}.{name}")


def setup_logging(quiet: bool = False, debug: bool = False, bars: bool = True) -> None:
    """Show the package's log records on stderr with rich (INFO; WARNING if ``quiet``; DEBUG if
    ``debug``) and enable progress bars (unless ``quiet`` or ``bars`` is false). Idempotent."""
    from rich.console import Console
    from rich.logging import RichHandler

    console = Console(stderr=True)
    root = logging.getLogger(_ROOT)
    for h in list(root.handlers):
        if getattr(h, "_ssdfl", False):
            root.removeHandler(h)

    class _Handler(RichHandler):
        _ssdfl = True  # marks the package's own handler (replaced on the next call)

    handler = _Handler(
        console=console, show_path=False, show_time=True, omit_repeated_times=False,
        rich_tracebacks=debug, markup=False, log_time_format="%H:%M:%S",
    )  # fmt: skip
    handler.setFormatter(logging.Formatter("%(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else logging.WARNING if quiet else logging.INFO)
    root.propagate = False
    _state["bars"] = bars and not quiet
    _state["console"] = console


def bars_enabled() -> bool:
    """Whether :func:`setup_logging` enabled progress bars."""
    return bool(_state["bars"])


class Stage:
    """Handle of a running :func:`stage`: ``advance(n)`` moves its bar (if any) by ``n``."""

    def __init__(self, progress: Any = None, task: Any = None) -> None:
        self._progress = progress
        self._task = task

    def advance(self, n: float = 1.0) -> None:
        if self._progress is not None:
            self._progress.advance(self._task, n)


@contextlib.contextmanager
def stage(
    log: logging.Logger, label: str, total: float | None = None, enabled: bool = True
) -> Iterator[Stage]:
    """Log the start and duration of ``label``; with ``total`` and bars enabled, draw a rich
    progress bar over ``total`` steps. ``enabled=False`` makes it silent (DEBUG only)."""
    level = logging.INFO if enabled else logging.DEBUG
    log.log(level, "%s …", label)
    t0 = time.perf_counter()
    if enabled and total is not None and bars_enabled():
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        with Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn(), console=_state["console"], transient=True,
        ) as progress:  # fmt: skip
            task = progress.add_task(label, total=total)
            yield Stage(progress, task)
    else:
        yield Stage()
    dt = time.perf_counter() - t0
    log.log(level if dt >= 1.0 else logging.DEBUG, "%s: done in %.1f s", label, dt)
