"""Execute notebooks in place and save them with their outputs (what tests/test_notebooks.py
expects): ``python scripts/execute_notebooks.py [notebooks/NAME.ipynb ...]`` (default: all).

Each notebook runs top to bottom in a fresh ``python3`` kernel with ``notebooks/`` as working
directory; the digest of its code cells is stored in ``metadata.ssdfl.source_sha256`` so the
test can tell that the saved outputs belong to the current code.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]


def source_digest(nb: nbformat.NotebookNode) -> str:
    """SHA-256 of the code cells' sources, in order."""
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    return hashlib.sha256(json.dumps(code, ensure_ascii=False).encode()).hexdigest()


def execute(path: Path, timeout: int = 600) -> float:
    nb = nbformat.read(path, as_version=4)
    t = time.monotonic()
    NotebookClient(
        nb, kernel_name="python3", timeout=timeout,
        resources={"metadata": {"path": str(path.parent)}},
    ).execute()  # fmt: skip
    dt = time.monotonic() - t
    nb.metadata["ssdfl"] = {"source_sha256": source_digest(nb)}
    nbformat.write(nb, path)
    return dt


def main(argv: list[str]) -> None:
    paths = [Path(a).resolve() for a in argv] or sorted((ROOT / "notebooks").glob("*.ipynb"))
    for p in paths:
        print(f"{p.name}: {execute(p):.1f} s", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
