"""Root typer application and the error handling shared by every subcommand."""

from __future__ import annotations

import sys

import typer
from rich.console import Console
from rich.markup import escape

from ssdfl.errors import SsdflError

app = typer.Typer(
    name="ssdfl",
    help="Plan and verify serverless semi-decentralized federated learning (SSD-FL): "
    "graph metrics, Cheeger-based cluster formation, bounds, simulation, sharded aggregation.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True, soft_wrap=True)  # error messages stay on one line


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", help="Print the version and exit."),
) -> None:
    """Plan and verify serverless semi-decentralized federated learning."""
    if version:
        from ssdfl import __version__

        console.print(f"ssdfl {__version__}")
        raise typer.Exit()


def _register() -> None:
    from ssdfl.cli import form as _form  # noqa: F401  (registers commands on import)
    from ssdfl.cli import info as _info  # noqa: F401
    from ssdfl.cli import shard as _shard  # noqa: F401
    from ssdfl.cli import simulate as _simulate  # noqa: F401


def main() -> None:
    """Console-script entry point: clear one-line errors instead of tracebacks."""
    _register()
    try:
        app()
    except (SsdflError, FileNotFoundError, TypeError) as exc:
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}")
        sys.exit(2)
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted[/]")
        sys.exit(130)
