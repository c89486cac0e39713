"""Device descriptions: the ``DEVICES.csv`` file of ``ssdfl form`` (``docs/formation.md``,
"Input: DEVICES.csv", holds the column table: type, unit, default and the optimizers that
read each column; ``tests/test_devices.py`` checks that table against :data:`OPTIMIZERS`).

One row per device, matched to a graph node by ``id`` (the node's name). Columns are ``id``,
``optimizer`` (a name of :data:`ssdfl.theory.optimizers.OPTIMIZERS`), the columns its class
declares (:attr:`~ssdfl.theory.optimizers.LocalOptimizer.columns`: ``mu``, ``rho``, ``beta1``,
``beta2``, ``eps`` for the built-in ones), ``lr``, ``n_samples``, a label histogram
``label_<k>`` and gradient statistics ``grad_<j>``.

:func:`read_devices` reads a CSV file, a pandas ``DataFrame``, a mapping column → sequence or
a list of row dicts. Every error is a :class:`DeviceFileError` that names the row (file and
line, or row number and id) and the column.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ssdfl.errors import DeviceFileError, SsdflError
from ssdfl.graphs.graph import Graph
from ssdfl.theory.optimizers import (
    OPTIMIZERS,
    LocalOptimizer,
    OptimizerPopulation,
    make_optimizer,
)

__all__ = [
    "BASE_COLUMNS",
    "DeviceFileError",
    "DeviceTable",
    "column_default",
    "homogeneous_devices",
    "optimizer_columns",
    "population_from_devices",
    "read_devices",
]

BASE_COLUMNS = ("id", "optimizer", "lr", "n_samples", "label_<k>", "grad_<j>")
"""Columns every device may have, whatever its optimizer (the others come from the registry)."""

_LABEL = re.compile(r"^label_(.+)$")
_GRAD = re.compile(r"^grad_(\d+)$")

DeviceSource = (
    str | os.PathLike[str] | Mapping[str, Sequence[Any]] | Sequence[Mapping[str, Any]] | Any
)
"""What :func:`read_devices` accepts: a path, a pandas DataFrame, a mapping column → sequence
or a sequence of row mappings."""


def optimizer_columns() -> dict[str, list[str]]:
    """Column → names of the registered optimizers that read it (registry order)."""
    out: dict[str, list[str]] = {}
    for kind, cls in OPTIMIZERS.items():
        for c in cls.columns:
            out.setdefault(c, []).append(kind)
    return out


def column_default(kind: str, column: str) -> float | None:
    """Default of optimizer ``kind``'s ``column`` when a devices row leaves it empty, or
    ``None`` when the column is required (not in ``optional_columns``)."""
    cls = OPTIMIZERS[kind]
    if column not in cls.columns:
        raise SsdflError(f"optimizer {kind!r} has no column {column!r}")
    if column not in cls.optional_columns:
        return None
    for f in dataclasses.fields(cls):
        if f.name == column and f.default is not dataclasses.MISSING:
            return float(f.default)
    raise SsdflError(f"optional column {column!r} of {kind!r} has no constructor default")


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

    def _param(self, i: int, col: str) -> float | None:
        if col in ("mu", "rho"):
            return float(getattr(self, col)[i])
        if col in self.params:
            return float(self.params[col][i])
        return None  # not given: the optimizer's own default (optional columns only)

    def optimizer_of(self, i: int) -> LocalOptimizer:
        """Device ``i``'s optimizer object (built through the registry)."""
        kind = self.optimizer[i]
        cls = OPTIMIZERS.get(kind)
        if cls is None:
            raise SsdflError(f"device {i}: unknown optimizer {kind!r}")
        vals = {c: v for c in cls.columns if (v := self._param(i, c)) is not None}
        return make_optimizer(kind, **vals)

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

    def subset(self, idx: np.ndarray) -> DeviceTable:
        """The rows ``idx`` (in that order), e.g. the devices of one connected component."""
        from dataclasses import replace

        return replace(
            self, optimizer=[self.optimizer[i] for i in idx], mu=self.mu[idx],
            rho=self.rho[idx], lr=self.lr[idx], n_samples=self.n_samples[idx],
            label_hist=None if self.label_hist is None else self.label_hist[idx],
            grads=None if self.grads is None else self.grads[idx],
            params={k: v[idx] for k, v in self.params.items()},
        )  # fmt: skip

    def to_records(self) -> list[dict[str, Any]]:
        out = []
        for i in range(self.n):
            rec: dict[str, Any] = {
                "optimizer": self.optimizer[i],
                "n_samples": float(self.n_samples[i]),
            }
            cls = OPTIMIZERS.get(self.optimizer[i])
            for c in cls.columns if cls is not None else ():
                v = self._param(i, c)
                if v is not None:
                    rec[c] = v
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


# ----------------------------------------------------------------------------- input forms
@dataclass
class _Rows:
    """A devices description brought to one shape: the header as given, and per row its
    location text and its cells (``str`` from a file; any Python value from memory)."""

    source: str
    header: list[str]
    rows: list[tuple[str, list[Any]]]
    from_file: bool
    header_loc: str


def _from_file(p: Path) -> _Rows:
    if not p.exists():
        raise FileNotFoundError(f"devices file not found: {p}")
    try:
        text = p.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = p.read_bytes()[: e.start].count(b"\n") + 1
        raise DeviceFileError(
            f"{p}:{line}: not UTF-8 text (byte 0x{e.object[e.start]:02x} at offset {e.start})"
        ) from None
    lines = list(io.StringIO(text, newline=""))  # \n, \r\n and \r end a line, as csv
    content = [
        (k + 1, ln) for k, ln in enumerate(lines) if ln.strip() and not ln.lstrip().startswith("#")
    ]
    if not content:
        raise DeviceFileError(f"{p}: empty devices file")
    try:
        parsed = list(csv.reader([ln for _, ln in content], skipinitialspace=True))
    except csv.Error as e:
        raise DeviceFileError(f"{p}: not a CSV file: {e}") from None
    if len(parsed) != len(content):  # a quoted field spanning lines
        raise DeviceFileError(f"{p}: a quoted field spans several lines")
    rows = [(f"{p}:{line}", cells) for (line, _), cells in zip(content[1:], parsed[1:])]
    return _Rows(str(p), parsed[0], rows, True, f"{p}:{content[0][0]}")


def _from_columns(cols: Mapping[str, Any], source: str) -> _Rows:
    header = [str(c) for c in cols]
    seqs = [list(v) if not isinstance(v, str | bytes) else None for v in cols.values()]
    for h, s in zip(header, seqs):
        if s is None:
            raise DeviceFileError(f"{source}: column {h!r}: expected a sequence of values")
    lens = {h: len(s) for h, s in zip(header, seqs) if s is not None}
    if len(set(lens.values())) > 1:
        raise DeviceFileError(f"{source}: columns have different lengths: {lens}")
    n = next(iter(lens.values()), 0)
    rows = [(f"{source} row {k}", [s[k] for s in seqs if s is not None]) for k in range(n)]
    return _Rows(source, header, rows, False, f"{source}")


def _from_records(recs: Sequence[Any], source: str) -> _Rows:
    header: list[str] = []
    for k, r in enumerate(recs):
        if not isinstance(r, Mapping):
            raise DeviceFileError(f"{source} row {k}: expected a mapping column → value")
        header += [str(c) for c in r if str(c) not in header]
    rows = [
        (f"{source} row {k}", [{str(c): v for c, v in r.items()}.get(h) for h in header])
        for k, r in enumerate(recs)
    ]
    return _Rows(source, header, rows, False, f"{source}")


def _from_dataframe(df: Any) -> _Rows:
    if "id" not in [str(c).strip().lower() for c in df.columns] and df.index.name == "id":
        df = df.reset_index()
    header = [str(c) for c in df.columns]
    rows = [
        (f"DataFrame row {k} (index {idx!r})", list(vals))
        for k, (idx, vals) in enumerate(zip(df.index, df.itertuples(index=False, name=None)))
    ]
    return _Rows("DataFrame", header, rows, False, "DataFrame")


def _rows_of(source: DeviceSource) -> _Rows:
    if isinstance(source, str | os.PathLike):
        return _from_file(Path(source))
    if hasattr(source, "columns") and hasattr(source, "itertuples"):  # pandas DataFrame
        return _from_dataframe(source)
    if isinstance(source, Mapping):
        return _from_columns(source, "devices")
    if isinstance(source, Sequence) and not isinstance(source, str | bytes):
        return _from_records(source, "devices")
    raise TypeError(
        "read_devices takes a path, a pandas DataFrame, a mapping column → sequence or a "
        f"list of row dicts, not {type(source).__name__}"
    )


# ----------------------------------------------------------------------------- cell values
def _cell(v: Any) -> Any:
    """``None`` for an empty cell ("" in a file; ``None`` or NaN — pandas' missing value —
    in memory), the stripped text for strings, the value itself otherwise."""
    if v is None:
        return None
    if isinstance(v, str):
        v = v.strip()
        return v or None
    if isinstance(v, float | np.floating) and math.isnan(v):
        return None
    return v


def _num(
    loc: str,
    col: str,
    raw: Any,
    *,
    lo: float | None = None,
    lo_open: bool = False,
    hi_open: float | None = None,
    whole: bool = False,
) -> float:
    if isinstance(raw, bool | np.bool_ | complex | np.complexfloating):
        raise DeviceFileError(f"{loc}: column {col!r}: {raw!r} is not a real number")
    if isinstance(raw, str) and not _NUMBER.fullmatch(raw):
        raise DeviceFileError(
            f"{loc}: column {col!r}: {raw!r} is not a number (plain decimal notation such as "
            "12, 0.5 or 1e-3)"
        )
    try:
        v = float(raw)
    except (TypeError, ValueError, OverflowError):
        raise DeviceFileError(f"{loc}: column {col!r}: {raw!r} is not a number") from None
    if not math.isfinite(v):
        raise DeviceFileError(f"{loc}: column {col!r}: {raw!r} is not finite")
    if lo is not None and (v < lo or (lo_open and v == lo)):
        rel = ">" if lo_open else "≥"
        raise DeviceFileError(f"{loc}: column {col!r}: {v:g} must be {rel} {lo:g}")
    if hi_open is not None and v >= hi_open:
        raise DeviceFileError(f"{loc}: column {col!r}: {v:g} must be < {hi_open:g}")
    if whole and v != math.floor(v):
        raise DeviceFileError(
            f"{loc}: column {col!r}: {v:g} is not a whole number (label columns count samples)"
        )
    if whole and v > MAX_COUNT:
        raise DeviceFileError(
            f"{loc}: column {col!r}: {v:g} samples exceed 2^53 (not exact as a float64 count)"
        )
    return v


#: A number as text: optional sign, ASCII digits with an optional fraction and exponent, or
#: inf / nan (refused later as not finite). ``float()`` alone also takes ``1_0`` (= 10) and
#: non-ASCII digits.
_NUMBER = re.compile(r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf(?:inity)?|nan)",
                     re.IGNORECASE | re.ASCII)  # fmt: skip
#: Largest sample count (label column, or a label-count sum): exact in float64.
MAX_COUNT = 2.0**53


def _check_id(loc: str, rid: Any) -> None:
    """An id from memory must be a node name's type: ``str`` or an integer (numpy integers and
    integral floats included). Booleans, complex numbers, containers and other objects are
    refused: ``True == 1`` and ``1+0j == 1`` would otherwise match node 1."""
    ok = (
        isinstance(rid, str)
        or (isinstance(rid, int | np.integer) and not isinstance(rid, bool | np.bool_))
        or (isinstance(rid, float | np.floating) and float(rid).is_integer())
    )
    if not ok:
        raise DeviceFileError(
            f"{loc}: column 'id': {rid!r} ({type(rid).__name__}) is not a device id; ids are "
            "node names: text or whole numbers"
        )


def _id_key(v: Any) -> Any:
    """Normalise an id read from memory: integral floats (pandas) become ints."""
    if isinstance(v, float | np.floating) and float(v).is_integer():
        return int(v)
    if isinstance(v, np.integer):
        return int(v)
    return v


def _preview(names: Iterable[Any], k: int = 5) -> str:
    names = list(names)
    more = f" … ({len(names)} in all)" if len(names) > k else ""
    return ", ".join(repr(x) for x in names[:k]) + more


# ----------------------------------------------------------------------------- the reader
def read_devices(source: DeviceSource, g: Graph) -> DeviceTable:
    """Read a devices description and align its rows with ``g``'s nodes.

    ``source``: a CSV path (header required; ``#`` lines and blank lines skipped), a pandas
    ``DataFrame`` (``id`` a column or the index), a mapping column → sequence, or a list of
    row dicts. Column names are case-insensitive. Checks (each a :class:`DeviceFileError`
    naming row and column): unknown or duplicate columns; an ``id`` that is not a node name of
    ``g``, twice, or missing for some node; an unknown optimizer or a missing required
    coefficient; coefficients the optimizer rejects; ``lr``/``n_samples`` not finite and > 0;
    label counts negative, fractional or all zero; ``n_samples`` differing from the label-count
    sum; gradient cells empty or not finite.
    """
    src = _rows_of(source)
    where = src.header_loc
    header = [str(h).strip().lower() for h in src.header]
    if "id" not in header:
        raise DeviceFileError(f"{where}: header has no 'id' column: {list(src.header)}")
    dups = sorted({h for h in header if header.count(h) > 1})
    if dups:
        raise DeviceFileError(f"{where}: duplicate column names (case-insensitive): {dups}")
    opt_cols = optimizer_columns()
    known = {"id", "optimizer", "lr", "n_samples"} | set(opt_cols)
    for j, h in enumerate(header):
        if h not in known and not _LABEL.match(h) and not _GRAD.match(h):
            raise DeviceFileError(
                f"{where}: unknown column {src.header[j]!r} (known: id, optimizer, lr, "
                f"n_samples, {', '.join(opt_cols)}, label_<k>, grad_<j>)"
            )
    label_cols = [(j, m.group(1)) for j, h in enumerate(header) if (m := _LABEL.match(h))]
    grad_cols = sorted(
        ((int(m.group(1)), j) for j, h in enumerate(header) if (m := _GRAD.match(h)))
    )
    if grad_cols and [k for k, _ in grad_cols] != list(range(len(grad_cols))):
        raise DeviceFileError(
            f"{where}: gradient columns must be grad_0 … grad_{len(grad_cols) - 1}"
        )

    names = g.node_names()
    index: dict[Any, int] = {}
    for i, name in enumerate(names):
        index.setdefault(name, i)
    by_text = {str(name): i for i, name in enumerate(names)}
    n = g.n
    t = homogeneous_devices(n)
    t.source = src.source
    hist = np.zeros((n, len(label_cols))) if label_cols else None
    grads = np.zeros((n, len(grad_cols))) if grad_cols else None
    seen_at: dict[int, str] = {}
    col = {h: j for j, h in enumerate(header)}
    for loc, raw_row in src.rows:
        if len(raw_row) != len(header):
            raise DeviceFileError(f"{loc}: {len(raw_row)} fields, header has {len(header)}")
        row = [_cell(v) for v in raw_row]
        rid = row[col["id"]]
        if rid is None:
            raise DeviceFileError(f"{loc}: column 'id' is empty")
        if not src.from_file:
            _check_id(loc, rid)
        key = rid if src.from_file else _id_key(rid)
        found = index.get(key) if not src.from_file else None
        if found is None:
            found = by_text.get(str(key))
        if found is None:
            raise DeviceFileError(
                f"{loc}: column 'id': device id {rid!r} is not a node of the graph "
                f"(node names: {_preview(names)})"
            )
        i = found
        if i in seen_at:
            raise DeviceFileError(
                f"{loc}: column 'id': device id {rid!r} appears twice (first at {seen_at[i]})"
            )
        seen_at[i] = loc
        loc = f"{loc} (id {names[i]!r})" if not src.from_file else loc

        def get(c: str, row: list[Any] = row) -> Any:
            return row[col[c]] if c in col else None

        opt = get("optimizer")
        if opt is not None and not isinstance(opt, str):
            raise DeviceFileError(
                f"{loc}: column 'optimizer': {opt!r} is not an optimizer name (text such as "
                f"{', '.join(repr(k) for k in OPTIMIZERS)}; empty means sgd)"
            )
        kind = (opt or "sgd").lower()
        if kind not in OPTIMIZERS:
            raise DeviceFileError(
                f"{loc}: column 'optimizer': {kind!r} is not one of {tuple(OPTIMIZERS)}"
            )
        t.optimizer[i] = kind
        cls = OPTIMIZERS[kind]
        vals: dict[str, float] = {}
        for c in cls.columns:
            if get(c) is None:
                default = column_default(kind, c)
                if default is None:
                    raise DeviceFileError(f"{loc}: a {kind} device needs column {c!r}")
                v = default
            else:
                v = _num(loc, c, get(c))
            vals[c] = v
            if c in ("mu", "rho"):
                getattr(t, c)[i] = v
            else:
                t.params.setdefault(c, np.zeros(n))[i] = v
        for c in opt_cols:  # a coefficient of another optimizer: unused, but still a number
            if c not in cls.columns and get(c) is not None:
                _num(loc, c, get(c))
        try:  # the optimizer validates its own coefficients
            make_optimizer(kind, **vals)
        except SsdflError as e:
            cols = ", ".join(repr(c) for c in vals)
            raise DeviceFileError(f"{loc}: column {cols}: {e}") from None
        if get("lr") is not None:
            t.lr[i] = _num(loc, "lr", get("lr"), lo=0.0, lo_open=True)
        n_given = get("n_samples") is not None
        if n_given:
            t.n_samples[i] = _num(loc, "n_samples", get("n_samples"), lo=0.0, lo_open=True)
        if hist is not None:
            for k, (j, _) in enumerate(label_cols):
                raw = row[j] if row[j] is not None else 0
                hist[i, k] = _num(loc, src.header[j], raw, lo=0.0, whole=True)
            total = float(hist[i].sum())
            if not total <= MAX_COUNT:
                raise DeviceFileError(
                    f"{loc}: the label counts sum to {total:g} samples, above 2^53 (not exact "
                    "as a float64 count)"
                )
            if total <= 0:
                raise DeviceFileError(f"{loc}: the label histogram is all zero")
            if not n_given:
                t.n_samples[i] = total
            elif t.n_samples[i] != total:
                raise DeviceFileError(
                    f"{loc}: column 'n_samples': {t.n_samples[i]:g} differs from the sum of the "
                    f"label columns, {total:g} (leave n_samples empty to use the sum)"
                )
        if grads is not None:
            for k, j in grad_cols:
                if row[j] is None:
                    raise DeviceFileError(f"{loc}: column {src.header[j]!r} is empty")
                grads[i, k] = _num(loc, src.header[j], row[j])
    if len(seen_at) < n:
        missing = [names[i] for i in range(n) if i not in seen_at]
        raise DeviceFileError(
            f"{src.source}: {len(missing)} graph node(s) have no row: {_preview(missing)}"
        )
    t.label_hist = hist
    t.classes = [c for _, c in label_cols]
    t.grads = grads
    return t


def population_from_devices(devices: DeviceTable) -> OptimizerPopulation:
    """One optimizer per row of a devices file, built through the registry
    (:data:`ssdfl.theory.optimizers.OPTIMIZERS`); the same as :meth:`DeviceTable.population`.
    Per-device step sizes are ``devices.step_sizes(eta)`` (pass them as
    ``simulate(..., eta=...)``)."""
    return devices.population()
