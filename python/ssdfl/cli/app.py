"""Root typer application and the one error boundary shared by every subcommand.

Flag vocabulary (every command): ``--out`` (output file or directory), ``--json`` (print the
numbers of a table as JSON instead), and the global ``--quiet`` / ``--debug``, accepted before
or after the command name. Errors: every exception becomes ``error: <one line>`` on stderr and
exit status 2 (as click's usage errors; 130 for Ctrl-C); ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import sys
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

try:  # recent typer vendors click as typer._click; older versions use click itself
    from typer._click.exceptions import ClickException
except ImportError:  # pragma: no cover
    from click import ClickException  # type: ignore[assignment]  # click's class, same role

from ssdfl.errors import SsdflError

#: Options the root accepts anywhere on the command line (moved before the command name).
GLOBAL_FLAGS = ("--debug", "--quiet", "-q")
_state: dict[str, bool] = {"debug": False, "quiet": False}


def one_line(exc: BaseException) -> str:
    """An exception as one line: its message with whitespace collapsed; the class name is
    prefixed unless it is one of ssdfl's errors or a plain OS/type error."""
    msg = " ".join(str(exc).split()) or type(exc).__name__
    plain = isinstance(exc, (SsdflError, OSError, TypeError, ValueError))
    if isinstance(exc, OSError) and exc.filename is not None and str(exc.filename) not in msg:
        msg = f"{msg}: {exc.filename}"
    if isinstance(exc, UnicodeDecodeError):
        plain = False
    if isinstance(exc, ArithmeticError):  # named in words, not by class (issue 24 item 6)
        what = {"ZeroDivisionError": "a division by zero", "OverflowError": "a number too large "
                "for floating point"}.get(type(exc).__name__, "an arithmetic error")  # fmt: skip
        return (f"{what} in the computation ({msg}): an input value is out of range (check the "
                "numeric options and files given)")  # fmt: skip
    if type(exc).__module__.startswith(("botocore", "boto3")):  # S3: the service's own words
        return f"S3 store: {msg}"
    return msg if plain else f"{type(exc).__name__}: {msg}"


class _BoundaryGroup(TyperGroup):
    """The root command group: global flags anywhere, and the error boundary."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        head, rest, seen_dd = [], [], False
        for a in args:
            if a == "--":
                seen_dd = True
            if not seen_dd and a in GLOBAL_FLAGS:
                head.append(a)
            else:
                rest.append(a)
        return super().parse_args(ctx, head + rest)

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        try:  # typer turns a Ctrl-C while parsing into a silent exit 130: say it
            return super().make_context(*args, **kwargs)
        except KeyboardInterrupt:
            if _state["debug"]:
                raise
            err_console.print("[yellow]interrupted[/]")
            raise typer.Exit(130) from None

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, ClickException):
            raise
        except KeyboardInterrupt:
            if _state["debug"]:
                raise
            err_console.print("[yellow]interrupted[/]")
            raise typer.Exit(130) from None
        except Exception as exc:
            if _state["debug"]:
                raise
            err_console.print(f"[bold red]error:[/] {escape(one_line(exc))}")
            raise typer.Exit(2) from None


app = typer.Typer(
    name="ssdfl",
    cls=_BoundaryGroup,
    help="Plan and verify serverless semi-decentralized federated learning (SSD-FL): "
    "graph metrics, Cheeger-based cluster formation, bounds, simulation, sharded aggregation.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
console = Console()
err_console = Console(stderr=True, soft_wrap=True)  # error messages stay on one line


def table_console() -> Console:
    """Console for tables: the terminal's width on a terminal, otherwise wide enough that no
    table is cut (pipes and files get whole rows)."""
    if console.is_terminal:
        return console
    return Console(width=10_000, soft_wrap=True, force_terminal=False, color_system=None)


def quiet() -> bool:
    """Whether ``--quiet`` was given."""
    return _state["quiet"]


def _version(value: bool) -> None:
    if value:
        from ssdfl._core import __version__

        console.print(f"ssdfl {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", help="Print the version and exit.", is_eager=True, callback=_version
    ),
    quiet_: bool = typer.Option(False, "--quiet", "-q", help="Only warnings and errors."),
    debug: bool = typer.Option(False, "--debug", help="Debug logging; tracebacks on errors."),
) -> None:
    """Plan and verify serverless semi-decentralized federated learning."""
    from ssdfl._progress import setup_logging

    _state["quiet"], _state["debug"] = quiet_, debug
    setup_logging(quiet=quiet_, debug=debug)


def main() -> None:
    """Console-script entry point (the error boundary lives in the root group)."""
    from ssdfl.cli._signals import handle_sigterm

    handle_sigterm()  # SIGTERM (kill, timeout) cleans up like Ctrl-C
    try:
        app()
    except KeyboardInterrupt:  # outside a command (e.g. while parsing)
        err_console.print("[yellow]interrupted[/]")
        sys.exit(130)


# The subcommands register themselves on ``app`` when their modules are imported; importing them
# here makes ``ssdfl.cli.app`` complete on import. They import only typer/rich and the names
# their options need at module level; each command imports its heavy layers when it runs.
from ssdfl.cli import churn, export, form, info, shard, simulate  # noqa: E402, F401
