"""The ``ssdfl`` command line (typer). Subcommands live in sibling modules and are
registered in :mod:`ssdfl.cli.app`."""

from __future__ import annotations

from ssdfl.cli.app import app, main

__all__ = ["app", "main"]
