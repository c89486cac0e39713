"""Assemble docs/results.md from experiments/results_template.md and the generated
docs/results/<name>.md summaries (written by experiments/run_all.py)."""

from __future__ import annotations

import re
from pathlib import Path

from ssdfl._atomic import atomic_write

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    text = (ROOT / "experiments" / "results_template.md").read_text()

    def sub(m: re.Match[str]) -> str:
        p = ROOT / "docs" / "results" / f"{m.group(1)}.md"
        return p.read_text().strip() if p.exists() else f"*({p.name} not generated yet)*"

    with atomic_write(ROOT / "docs" / "results.md") as fh:
        fh.write(re.sub(r"\{\{(\w+)\}\}", sub, text))


if __name__ == "__main__":
    main()
