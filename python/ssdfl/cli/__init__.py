"""The ``ssdfl`` command line (typer). Subcommands live in sibling modules and are
registered in :mod:`ssdfl.cli.app`."""

from __future__ import annotations

from ssdfl.cli._signals import quiet_interrupt_at_exit

quiet_interrupt_at_exit()  # before the slow imports below: a Ctrl-C there prints one line
from ssdfl.cli.app import app, main  # noqa: E402

__all__ = ["app", "main"]
