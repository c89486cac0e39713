"""Every notebook in notebooks/ runs top to bottom (nbclient, python3 kernel of this venv) and
is committed without outputs. New notebooks are picked up by the glob automatically."""

from __future__ import annotations

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


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_committed_without_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for k, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name} cell {k} has outputs; clear them"
            assert cell.execution_count is None, f"{path.name} cell {k} has an execution count"


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
