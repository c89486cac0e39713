"""Device descriptions: the ``DEVICES.csv`` file of ``ssdfl form``.

One row per device. Columns (header required, order free, case-insensitive names):

===============  ========  =================================================================
column           required  meaning
===============  ========  =================================================================
``id``           yes       the device's node label in the graph file
``optimizer``    no        ``sgd`` (default), ``prox``, ``momentum``, ``adam`` (any name of
                           :data:`ssdfl.theory.optimizers.OPTIMIZERS`)
``mu``           prox      proximal coefficient μ_i ≥ 0
``rho``          momentum  momentum coefficient ρ_i ∈ [0, 1)
``lr``           no        the device's own step size (> 0); default: the global η
``n_samples``    no        local data size n_i > 0 (default 1)
``label_<k>``    no        label histogram: count of samples of class ``k`` (≥ 0)
``grad_<j>``     no        gradient statistics: component ``j`` of ∇F_i(x⁰)
===============  ========  =================================================================

Every graph node must have exactly one row. Errors name the file, the line and the column.
"""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ssdfl.errors import SsdflError
from ssdfl.graphs.graph import Graph
from ssdfl.theory.optimizers import (
    OPTIMIZERS,
    LocalOptimizer,
    OptimizerPopulation,
    make_optimizer,
)

__all__ = ["OPTIMIZER_KINDS", "DeviceTable", "homogeneous_devices", "read_devices"]

OPTIMIZER_KINDS = tuple(OPTIMIZERS)
"""Optimizer names known when the package was imported (the registry is
:data:`ssdfl.theory.optimizers.OPTIMIZERS`)."""
_LABEL = re.compile(r"^label_(.+)$")
_GRAD = re.compile(r"^grad_(\d+)$")


class DeviceFileError(SsdflError):
    """A malformed devices file (the message names the file, line and column)."""


@dataclass
class DeviceTable:
    """Per-device optimizer and data description, aligned with graph nodes ``0..n-1``.

    ``label_hist`` is an ``(n, K)`` count matrix (classes in ``classes``) or ``None``;
    ``grads`` an ``(n, d)`` matrix of gradients at the initial model or ``None``.
    """

    optimizer: list[str]
    mu: np.ndarray
    rho: np.ndarray
    lr: np.ndarray  # NaN where the device uses the global step size
    n_samples: np.ndarray
    label_hist: np.ndarray | None = None
    classes: list[str] = field(default_factory=list)
    grads: np.ndarray | None = None
    source: str = "homogeneous SGD, IID data (no devices file)"
    params: dict[str, np.ndarray] = field(default_factory=dict)
    """Columns of registered optimizers other than ``mu`` / ``rho`` (``(n,)`` arrays)."""

    def _param(self, i: int, col: str) -> float:
        arr = getattr(self, col) if col in ("mu", "rho") else self.params[col]
        return float(arr[i])

    def optimizer_of(self, i: int) -> LocalOptimizer:
        """Device ``i``'s optimizer object (built through the registry)."""
        kind = self.optimizer[i]
        cls = OPTIMIZERS.get(kind)
        if cls is None:
            raise SsdflError(f"device {i}: unknown optimizer {kind!r}")
        return make_optimizer(kind, **{c: self._param(i, c) for c in cls.columns})

    def population(self) -> OptimizerPopulation:
        """One optimizer per device (registry name → class, coefficients from the columns)."""
        return OptimizerPopulation([self.optimizer_of(i) for i in range(self.n)])

    @property
    def n(self) -> int:
        return len(self.optimizer)

    @property
    def homogeneous(self) -> bool:
        return (
            all(o == "sgd" for o in self.optimizer)
            and self.label_hist is None
            and self.grads is None
        )

    def step_sizes(self, eta: float) -> np.ndarray:
        """Per-device step size: its own ``lr`` or the global ``eta``."""
        return np.where(np.isnan(self.lr), eta, self.lr)

    def to_records(self) -> list[dict[str, Any]]:
        out = []
        for i in range(self.n):
            rec: dict[str, Any] = {
                "optimizer": self.optimizer[i],
                "n_samples": float(self.n_samples[i]),
            }
            cls = OPTIMIZERS.get(self.optimizer[i])
            for c in cls.columns if cls is not None else ():
                rec[c] = self._param(i, c)
            if not np.isnan(self.lr[i]):
                rec["lr"] = float(self.lr[i])
            out.append(rec)
        return out


def homogeneous_devices(n: int) -> DeviceTable:
    """``n`` SGD devices with equal data sizes and no label/gradient statistics."""
    return DeviceTable(
        optimizer=["sgd"] * n,
        mu=np.zeros(n),
        rho=np.zeros(n),
        lr=np.full(n, np.nan),
        n_samples=np.ones(n),
    )


def _num(
    path: str,
    line: int,
    col: str,
    raw: str,
    *,
    lo: float | None = None,
    lo_open: bool = False,
    hi_open: float | None = None,
) -> float:
    try:
        v = float(raw)
    except ValueError:
        raise DeviceFileError(f"{path}:{line}: column {col!r}: {raw!r} is not a number") from None
    if not np.isfinite(v):
        raise DeviceFileError(f"{path}:{line}: column {col!r}: {raw!r} is not finite")
    if lo is not None and (v < lo or (lo_open and v == lo)):
        rel = ">" if lo_open else "≥"
        raise DeviceFileError(f"{path}:{line}: column {col!r}: {v} must be {rel} {lo}")
    if hi_open is not None and v >= hi_open:
        raise DeviceFileError(f"{path}:{line}: column {col!r}: {v} must be < {hi_open}")
    return v


def read_devices(path: str | os.PathLike[str], g: Graph) -> DeviceTable:
    """Read a devices CSV (see the module docstring) and align its rows with ``g``'s nodes."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"devices file not found: {p}")
    names = [str(x) for x in g.node_names()]
    index = {name: i for i, name in enumerate(names)}
    with p.open(newline="", encoding="utf-8") as fh:
        lines = list(fh)
    content = [
        (k + 1, ln) for k, ln in enumerate(lines) if ln.strip() and not ln.lstrip().startswith("#")
    ]
    if not content:
        raise DeviceFileError(f"{p}: empty devices file")
    reader = csv.reader([ln for _, ln in content], skipinitialspace=True)
    rows = list(reader)
    header = [h.strip().lower() for h in rows[0]]
    if "id" not in header:
        raise DeviceFileError(f"{p}:{content[0][0]}: header has no 'id' column: {rows[0]}")
    if len(set(header)) != len(header):
        raise DeviceFileError(f"{p}:{content[0][0]}: duplicate column names in the header")
    opt_cols = {c for cls in OPTIMIZERS.values() for c in cls.columns}
    known = {"id", "optimizer", "lr", "n_samples"} | opt_cols
    label_cols = [(j, m.group(1)) for j, h in enumerate(header) if (m := _LABEL.match(h))]
    grad_cols = sorted(
        ((int(m.group(1)), j) for j, h in enumerate(header) if (m := _GRAD.match(h)))
    )
    for j, h in enumerate(header):
        if h not in known and not _LABEL.match(h) and not _GRAD.match(h):
            raise DeviceFileError(f"{p}:{content[0][0]}: unknown column {rows[0][j]!r}")
    if grad_cols and [k for k, _ in grad_cols] != list(range(len(grad_cols))):
        raise DeviceFileError(f"{p}: gradient columns must be grad_0 … grad_{len(grad_cols) - 1}")
    n = g.n
    t = homogeneous_devices(n)
    t.source = str(p)
    hist = np.zeros((n, len(label_cols))) if label_cols else None
    grads = np.zeros((n, len(grad_cols))) if grad_cols else None
    seen = np.zeros(n, dtype=bool)
    col = {h: j for j, h in enumerate(header)}
    for (line, _), row in zip(content[1:], rows[1:]):
        if len(row) != len(header):
            raise DeviceFileError(f"{p}:{line}: {len(row)} fields, header has {len(header)}")
        rid = row[col["id"]].strip()
        if rid not in index:
            raise DeviceFileError(f"{p}:{line}: device id {rid!r} is not a node of the graph")
        i = index[rid]
        if seen[i]:
            raise DeviceFileError(f"{p}:{line}: device id {rid!r} appears twice")
        seen[i] = True

        def get(c: str, row: list[str] = row) -> str:
            return row[col[c]].strip() if c in col else ""

        kind = (get("optimizer") or "sgd").lower()
        if kind not in OPTIMIZERS:
            raise DeviceFileError(
                f"{p}:{line}: column 'optimizer': {kind!r} is not one of {tuple(OPTIMIZERS)}"
            )
        t.optimizer[i] = kind
        vals: dict[str, float] = {}
        for c in OPTIMIZERS[kind].columns:
            if not get(c):
                raise DeviceFileError(f"{p}:{line}: a {kind} device needs column {c!r}")
            vals[c] = _num(str(p), line, c, get(c))
            if c in ("mu", "rho"):
                getattr(t, c)[i] = vals[c]
            else:
                t.params.setdefault(c, np.zeros(n))[i] = vals[c]
        try:  # the optimizer validates its own coefficients
            make_optimizer(kind, **vals)
        except SsdflError as e:
            cols = ", ".join(repr(c) for c in vals)
            raise DeviceFileError(f"{p}:{line}: column {cols}: {e}") from None
        if get("lr"):
            t.lr[i] = _num(str(p), line, "lr", get("lr"), lo=0.0, lo_open=True)
        if get("n_samples"):
            t.n_samples[i] = _num(str(p), line, "n_samples", get("n_samples"), lo=0.0, lo_open=True)
        if hist is not None:
            for k, (j, _) in enumerate(label_cols):
                raw = row[j].strip() or "0"
                hist[i, k] = _num(str(p), line, header[j], raw, lo=0.0)
            if hist[i].sum() <= 0:
                raise DeviceFileError(f"{p}:{line}: the label histogram is all zero")
        if grads is not None:
            for k, j in grad_cols:
                grads[i, k] = _num(str(p), line, header[j], row[j].strip())
    if not seen.all():
        missing = [names[i] for i in np.flatnonzero(~seen)[:5]]
        raise DeviceFileError(
            f"{p}: {int((~seen).sum())} graph node(s) have no row, e.g. {', '.join(missing)}"
        )
    t.label_hist = hist
    t.classes = [c for _, c in label_cols]
    t.grads = grads
    return t
