"""Assemble docs/results.md from experiments/results_template.md: ``{{name}}`` is replaced by
docs/results/<name>.md (written by experiments/run_all.py) and ``{{summary}}`` by
experiments/results_summary.md (the hand-written honest summary of those numbers)."""

from __future__ import annotations

import re
from pathlib import Path

from ssdfl._atomic import atomic_write

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    text = (ROOT / "experiments" / "results_template.md").read_text()

    def sub(m: re.Match[str]) -> str:
        name = m.group(1)
        p = (
            ROOT / "experiments" / "results_summary.md"
            if name == "summary"
            else ROOT / "docs" / "results" / f"{name}.md"
        )
        return p.read_text().strip() if p.exists() else f"*({p.name} not generated yet)*"

    with atomic_write(ROOT / "docs" / "results.md") as fh:
        fh.write(re.sub(r"\{\{(\w+)\}\}", sub, text))


if __name__ == "__main__":
    main()
