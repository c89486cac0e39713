"""Tightness of Theorem 2 at the end of the horizon and at steady state (docs/theory.md §10b).

For each instance: ``ssdfl.verify`` (exact second moments) after ``CYCLES`` cycles gives the
end-of-horizon ratio bound ÷ observed of ``(1/N)E‖X − 1x*ᵀ‖²``; the steady-state ratio is the
certified radius (bias folded in) ÷ the exact expectation after ``LONG`` cycles (the exact
iteration has converged there: its change over the last cycle is below 1e-9 relative).
Run: ``python benchmarks/tightness_steady.py``."""

from __future__ import annotations

import numpy as np

import ssdfl
from tightness_100 import instances  # the same instances (benchmarks/ on sys.path)

CYCLES, LONG = 10, 600
FAMILIES = {"SGD": ("sgd",), "SGD+prox": ("sgd", "prox"), "SGD+momentum": ("sgd", "momentum")}


def main() -> None:
    rows = []
    for fam, q, g, lab, kw in instances(6, FAMILIES):  # tightness_100.py's first 6 seeds
        v = ssdfl.verify(q, g, lab, cycles=CYCLES, **kw)
        end = v.at_end()[2]
        w = ssdfl.verify(q, g, lab, cycles=LONG, **kw)
        ends = w.observed["opt"][w.cycle_ends]
        assert abs(ends[-1] - ends[-2]) <= 1e-9 * ends[-1]
        steady = w.radius / ends[-1] if w.converges else np.inf
        rows.append((fam, end, steady))
    print("| family | instances | end of horizon (10 cycles): median / max "
          "| steady state: median / max | radius finite |")  # fmt: skip
    print("| --- | --- | --- | --- | --- |")
    for fam in FAMILIES:
        e = np.array([r[1] for r in rows if r[0] == fam])
        s = np.array([r[2] for r in rows if r[0] == fam])
        fin = np.isfinite(s)
        sm = f"{np.median(s[fin]):.3g} / {np.max(s[fin]):.3g}" if fin.any() else "—"
        horizon = f"{np.median(e):.3g} / {np.max(e):.3g}"
        print(f"| {fam} | {len(e)} | {horizon} | {sm} | {fin.sum()}/{len(s)} |")


if __name__ == "__main__":
    main()
