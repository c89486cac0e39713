"""The import contracts of ``pyproject.toml`` (``lint-imports``): kept on the real tree, broken
by an upward import planted in a temporary copy of the package — directly, or through the
package root's lazy re-exports (``from ssdfl import plan_formation``), the hole a blanket
``ssdfl.** -> ssdfl`` ignore would leave open (docs/architecture.md)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))
pytestmark = pytest.mark.skipif(not Path(LINT).exists(), reason="import-linter not installed")


def _lint(tree: Path) -> subprocess.CompletedProcess:
    """``lint-imports`` on ``tree`` (its pyproject, scripts and python/ssdfl), run from there."""
    env = {**os.environ, "PYTHONPATH": str(tree / "python")}
    cmd = [LINT, "--config", str(tree / "pyproject.toml"), "--no-cache"]
    return subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the Python sources and the contract configuration (no build artefacts)."""
    skip = shutil.ignore_patterns("*.so", "*.pyd", "__pycache__", "templates")
    shutil.copytree(ROOT / "python" / "ssdfl", tmp_path / "python" / "ssdfl", ignore=skip)
    shutil.copytree(ROOT / "scripts", tmp_path / "scripts", ignore=skip)
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def _plant(tree: Path, module: str, line: str) -> None:
    p = tree / "python" / "ssdfl" / module
    p.write_text(p.read_text(encoding="utf-8") + f"\n{line}\n", encoding="utf-8")


def test_contracts_are_kept_on_the_real_tree(tree: Path) -> None:
    r = _lint(tree)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "3 kept, 0 broken" in r.stdout


def test_upward_import_through_the_root_breaks_a_contract(tree: Path) -> None:
    _plant(tree, "graphs/metrics.py", "from ssdfl import plan_formation  # noqa")
    r = _lint(tree)
    assert r.returncode != 0, r.stdout
    assert "2 kept, 1 broken" in r.stdout
    assert "ssdfl.graphs.metrics:" in r.stdout and "from ssdfl import plan_formation" in r.stdout


@pytest.mark.parametrize("line", ["import ssdfl", "from ssdfl import _core, Graph"])
def test_any_other_root_import_breaks_it(tree: Path, line: str) -> None:
    _plant(tree, "clusters/formation.py", f"{line}  # noqa")
    r = _lint(tree)
    assert r.returncode != 0 and "2 kept, 1 broken" in r.stdout, r.stdout


def test_root_helper_importing_a_layer_breaks_a_contract(tree: Path) -> None:
    _plant(tree, "_atomic.py", "from ssdfl.graphs.graph import Graph  # noqa")
    r = _lint(tree)
    assert r.returncode != 0 and "2 kept, 1 broken" in r.stdout, r.stdout
    assert "ssdfl._atomic -> ssdfl.graphs.graph" in r.stdout


def test_direct_upward_import_breaks_the_layers(tree: Path) -> None:
    _plant(tree, "graphs/metrics.py", "from ssdfl.planner.plan import plan_formation  # noqa")
    r = _lint(tree)
    assert r.returncode != 0, r.stdout
    assert "2 kept, 1 broken" in r.stdout
    assert "ssdfl.graphs.metrics -> ssdfl.planner.plan" in r.stdout
