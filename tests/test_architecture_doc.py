"""docs/architecture.md names every module of the package and every command of ``ssdfl``.

The modules are listed from the file tree (``python/ssdfl/**.py``) and the commands from the
typer app's click command, both independently of the page. A module counts as named when the
page holds its dotted path (``ssdfl.graphs.structure``) or its file name (``structure.py``) on
a line that names its package (the layer table row ``ssdfl.graphs``); a command when the page
holds it in backquotes on a line about ``ssdfl.cli``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import typer

from ssdfl.cli.app import app

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "python" / "ssdfl"
DOC = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")


def _modules() -> list[str]:
    out = []
    for p in sorted(PKG.rglob("*.py")):
        rel = p.relative_to(PKG.parent).with_suffix("")
        parts = rel.parts
        if parts[-1] == "__init__":
            continue
        out.append(".".join(parts))
    return out


def _named(module: str) -> bool:
    if f"`{module}`" in DOC:
        return True
    package, _, name = module.rpartition(".")
    return any(f"`{package}`" in line and f"`{name}.py`" in line for line in DOC.splitlines())


def test_the_module_list_is_the_tree() -> None:
    mods = _modules()
    assert "ssdfl.graphs.graph" in mods and "ssdfl.errors" in mods
    assert len(mods) == len(list(PKG.rglob("*.py"))) - len(list(PKG.rglob("__init__.py")))


@pytest.mark.parametrize("module", _modules())
def test_every_module_is_named(module: str) -> None:
    assert _named(module), f"docs/architecture.md does not name {module}"


def _commands() -> list[str]:
    return sorted(typer.main.get_command(app).commands)  # type: ignore[attr-defined]


def test_the_check_can_fail() -> None:
    assert not _named("ssdfl.graphs.no_such_module")
    assert not _named("ssdfl.cli.structure")  # structure.py is on the graphs row, not the cli row


def test_every_command_is_named() -> None:
    cmds = _commands()
    assert {"form", "info", "simulate", "shard"} <= set(cmds)
    cli_lines = [line for line in DOC.splitlines() if "`ssdfl.cli`" in line]
    missing = [c for c in cmds if not any(f"`{c}`" in line for line in cli_lines)]
    assert missing == [], f"docs/architecture.md (the ssdfl.cli row) does not name {missing}"
