"""Every notebook in notebooks/ runs top to bottom (nbclient, python3 kernel of this venv) and
is committed *executed*: with the outputs of one top-to-bottom run of its current code
(``python scripts/execute_notebooks.py`` saves them). New notebooks are picked up by the glob."""

from __future__ import annotations

import hashlib
import json
import sys
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
BUDGET_S = 300.0  # wall-clock budget per notebook


def execute(nb: nbformat.NotebookNode, cwd: Path) -> None:
    """Run ``nb`` in a fresh python3 kernel; the whole notebook gets ``BUDGET_S`` seconds (each
    cell's timeout is what remains of the budget)."""
    deadline = time.monotonic() + BUDGET_S
    client = NotebookClient(
        nb,
        kernel_name="python3",
        timeout_func=lambda cell: max(1, int(deadline - time.monotonic())),
        resources={"metadata": {"path": str(cwd)}},
    )
    client.execute()


def test_quickstart_exists() -> None:
    assert ROOT / "notebooks" / "quickstart.ipynb" in NOTEBOOKS


MAIN_JOBS = ("form_formation.ipynb", "verify_bound.ipynb", "shard_aggregation.ipynb")


def test_one_notebook_per_main_job() -> None:
    assert {p.name for p in NOTEBOOKS} >= set(MAIN_JOBS)


def code_digest(nb: nbformat.NotebookNode) -> str:
    """SHA-256 of the code cells' sources (as scripts/execute_notebooks.py stores it)."""
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    return hashlib.sha256(json.dumps(code, ensure_ascii=False).encode()).hexdigest()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_executed(path: Path) -> None:
    """Saved outputs come from one clean run of the current code: execution counts 1, 2, …
    in cell order, no error output, and the stored digest of the code cells matches."""
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    counts = [c.execution_count for c in code]
    assert counts == list(range(1, len(code) + 1)), f"{path.name}: re-execute it ({counts})"
    assert any(c.outputs for c in code), f"{path.name} has no outputs"
    for k, cell in enumerate(code):
        for o in cell.outputs:
            assert o.output_type != "error", f"{path.name} code cell {k} saved an error"
            text = json.dumps(o.get("text", "")) + json.dumps(
                o.get("data", {}).get("text/plain", "")
            )
            assert str(ROOT) not in text, f"{path.name} code cell {k} shows a local path"
    digest = nb.metadata.get("ssdfl", {}).get("source_sha256")
    assert digest == code_digest(nb), (
        f"{path.name}: code changed since its outputs were saved; run "
        f"python scripts/execute_notebooks.py notebooks/{path.name}"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_uses_the_public_package_only(path: Path) -> None:
    """Notebooks import ssdfl as users do: not helpers from tests/ through sys.path."""
    nb = nbformat.read(path, as_version=4)
    for k, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
        assert "sys.path" not in cell.source, f"{path.name} code cell {k} edits sys.path"
        assert not any(
            ln.strip().startswith(("from tests", "import tests", "from _", "import _"))
            for ln in cell.source.splitlines()
        ), f"{path.name} code cell {k} imports a test helper"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    execute(nb, path.parent)  # raises CellExecutionError on the first failing cell
    errors = [
        o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"
    ]
    assert not errors


def test_kernel_is_this_venv() -> None:
    """The python3 kernel runs this interpreter's environment (so it tests this build)."""
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("import sys, ssdfl; print(sys.prefix, ssdfl.__file__)")]
    )
    execute(nb, ROOT)
    out = [o for o in nb.cells[0].outputs if o.get("name") == "stdout"]
    prefix, module = out[0]["text"].split()
    assert prefix == sys.prefix
    import ssdfl

    assert module == ssdfl.__file__
