"""How the bundled examples were produced (re-running rewrites them identically).

- ``er30.edgelist``: Erdős–Rényi G(30, 0.1), the paper's base case, first connected networkx seed.
- ``er30-devices.csv``: the paper's device mix — each device draws its optimizer uniformly from
  {SGD, proximal SGD (μ ∈ {0.01, 0.1}), momentum SGD (ρ ∈ {0.5, 0.9})} and holds a 3-label
  non-IID share of a 10-class dataset (100–300 samples).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent


def er30_devices(seed: int = 7, n: int = 30, classes: int = 10, labels_per_device: int = 3) -> None:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        kind = ["sgd", "prox", "momentum"][rng.integers(3)]
        mu = float(rng.choice([0.01, 0.1])) if kind == "prox" else ""
        rho = float(rng.choice([0.5, 0.9])) if kind == "momentum" else ""
        size = int(rng.integers(100, 301))
        own = rng.choice(classes, size=labels_per_device, replace=False)
        share = rng.dirichlet(np.ones(labels_per_device))
        counts = np.zeros(classes, dtype=int)
        counts[own] = np.floor(share * size).astype(int)
        counts[own[0]] += size - counts.sum()
        rows.append([i, kind, mu, rho, size, *counts.tolist()])
    with open(HERE / "er30-devices.csv", "w", newline="") as fh:
        fh.write(
            "# SSD-FL base case devices: mixed optimizers, 3-label non-IID (examples/generate.py)\n"
        )
        w = csv.writer(fh)
        w.writerow(
            ["id", "optimizer", "mu", "rho", "n_samples", *[f"label_{k}" for k in range(classes)]]
        )
        w.writerows(rows)


if __name__ == "__main__":
    er30_devices()
