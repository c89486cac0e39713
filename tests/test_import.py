"""A light ``import ssdfl`` (issue 21 item 4): the package and the ``ssdfl`` command's
``--version`` / ``--help`` load none of the heavy layers' dependencies; every public name still
resolves, to the object its defining module holds; the old module paths stay importable."""

from __future__ import annotations

import ast
import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

import ssdfl

HEAVY = ("scipy.optimize", "cvxpy", "dask", "matplotlib")
SRC = Path(ssdfl.__file__).resolve().parent
LAZY_PACKAGES = ("ssdfl", "ssdfl.simulate", "ssdfl.aggregation", "ssdfl.planner",
                 "ssdfl.experiments")  # fmt: skip


def _loaded_after(code: str) -> dict[str, bool]:
    """Which of ``HEAVY`` (and numpy, networkx) a fresh interpreter holds after ``code``."""
    probe = ("import sys, json\n" + code + "\nsys.stdout.flush()\n"
             "print('\\n' + json.dumps({m: m in sys.modules for m in "
             f"{[*HEAVY, 'numpy', 'networkx']!r}}}), file=sys.stderr)")  # fmt: skip
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stderr.strip().splitlines()[-1])


def test_import_ssdfl_loads_no_heavy_dependency() -> None:
    loaded = _loaded_after("import ssdfl")
    assert not any(loaded[m] for m in HEAVY), loaded
    assert not loaded["numpy"] and not loaded["networkx"], loaded  # only errors and _core


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["form", "--help"]])
def test_cli_version_and_help_load_no_heavy_dependency(args: list[str]) -> None:
    code = (f"sys.argv = ['ssdfl', *{args!r}]\nfrom ssdfl.cli import main\n"
            "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code")  # fmt: skip
    loaded = _loaded_after(code)
    assert not any(loaded[m] for m in HEAVY), loaded


def _type_checking_imports(package: str) -> dict[str, str]:
    """``{name: module}`` of the ``if TYPE_CHECKING:`` imports in ``package``'s ``__init__``
    (what mypy sees), read from the source."""
    init = SRC.parent.joinpath(*package.split("."), "__init__.py")
    out: dict[str, str] = {}
    for node in ast.parse(init.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            for stmt in node.body:
                if isinstance(stmt, ast.ImportFrom) and stmt.module != "importlib.abc":
                    out.update({a.asname or a.name: str(stmt.module) for a in stmt.names})
    return out


@pytest.mark.parametrize("package", LAZY_PACKAGES)
def test_lazy_names_match_what_mypy_sees_and_resolve(package: str) -> None:
    mod = importlib.import_module(package)
    lazy = mod._LAZY
    assert _type_checking_imports(package) == lazy  # one list for mypy and for the runtime
    assert set(lazy) <= set(mod.__all__)
    assert set(mod.__all__) <= set(dir(mod))
    for name in mod.__all__:  # every public name resolves, to the defining module's object
        value = getattr(mod, name)
        if name in lazy:
            assert value is getattr(importlib.import_module(lazy[name]), name)
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        mod.no_such_name  # noqa: B018


def test_old_module_paths_are_the_same_module_objects() -> None:
    r = subprocess.run([sys.executable, "-c", (
        "import sys, ssdfl\n"
        "assert 'ssdfl.theory.bounds' not in sys.modules  # not imported up front\n"
        "import ssdfl.bounds, ssdfl.theory.bounds as tb\n"
        "assert ssdfl.bounds is tb and tb.__spec__.name == 'ssdfl.theory.bounds'\n"
        "from ssdfl.metrics import conductance\n"
        "from ssdfl.graphs.metrics import conductance as c2\n"
        "assert conductance is c2 and ssdfl.graph.Graph is ssdfl.Graph\n"
        "import ssdfl.fastest_mixing as fm  # an old path and a public function's name\n"
        "assert callable(ssdfl.fastest_mixing) and sys.modules['ssdfl.fastest_mixing'] is "
        "sys.modules['ssdfl.graphs.fastest_mixing']\n"
        "import importlib; importlib.reload(tb)\n"
        "assert ssdfl.graphs.spectral.fiedler_pair  # submodules on attribute access\n"
        "assert ssdfl.simulate.engine.simulate is ssdfl.simulate.simulate\n")],
        capture_output=True, text=True, timeout=300)  # fmt: skip
    assert r.returncode == 0, r.stderr


def test_cli_app_is_complete_on_import() -> None:
    import typer.main

    from ssdfl.cli.app import app

    names = set(typer.main.get_command(app).commands)  # type: ignore[attr-defined]
    assert {"info", "form", "simulate", "shard", "export", "init", "churn"} <= names
