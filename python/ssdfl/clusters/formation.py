"""Result types of the cluster search: :class:`Formation` and :class:`Partition`.

A formation of a graph on nodes ``0..n-1`` is a partition into clusters ``C_1..C_S``. For
every cluster it records

- ``conductance``: its internal measure (``measure="graph"``: conductance of the induced
  subgraph, ``h(C) = min cut_C(S)/min(vol_C S, vol_C (C∖S))`` with degrees inside ``C``;
  ``measure="mixing"``: ``Φ(W_C) = min_{0<|S|≤|C|/2} (1/|S|) Σ_{i∈S, j∈C∖S} (W_C)_ij`` for the
  mixing matrix ``W_C`` of the induced subgraph). A one-node cluster has measure 1 (it is
  trivially in consensus; 1 is the largest value either measure takes on larger clusters);
- ``exact``: whether that value is exact (enumeration; or 0 for a cluster whose induced
  subgraph is disconnected, ``method="disconnected"``, which the search never produces) or an
  estimate; ``lower_bound`` and
  ``upper_bound`` always bracket the true value (equal when exact). For an estimate, the value
  is the smallest measure of the cuts examined (so ``value == upper_bound``) and the lower bound
  is the Cheeger bound ``λ₂/2`` (``λ₂`` of the normalized Laplacian of the induced subgraph, or
  of ``I − W_C`` for the mixing measure);
- ``cut_conductance``: ``cut(C, V∖C) / min(vol C, vol V∖C)`` in the whole graph (weighted
  degrees); 0 for a single cluster covering every node.

Clusters are sorted by their smallest node; ``labels[u]`` is the index of ``u``'s cluster.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ssdfl._atomic import atomic_write
from ssdfl.errors import SsdflError

__all__ = ["FORMATION_SCHEMA", "Formation", "Partition"]

FORMATION_SCHEMA = "ssdfl.clusters.formation/1"
"""Schema tag written by :meth:`Formation.to_json` (bumped on incompatible changes)."""


def _canonical(clusters: list[np.ndarray]) -> tuple[list[np.ndarray], np.ndarray]:
    """Sort each cluster and the clusters by smallest member; return them and the permutation."""
    cl = [np.sort(np.asarray(c, dtype=np.int64)) for c in clusters]
    order = np.argsort([c[0] if len(c) else np.iinfo(np.int64).max for c in cl], kind="stable")
    return [cl[i] for i in order], order


@dataclass(eq=False)
class Formation:
    """A partition of the nodes into clusters with per-cluster measures (see module doc).

    Per-cluster arrays (``conductance``, ``lower_bound``, ``upper_bound``, ``exact``,
    ``method``, ``cut_conductance``) are aligned with ``clusters``.
    """

    n: int
    clusters: list[np.ndarray]
    conductance: np.ndarray
    lower_bound: np.ndarray
    upper_bound: np.ndarray
    exact: np.ndarray
    method: list[str]
    cut_conductance: np.ndarray
    measure: str = "graph"
    mixing_rule: str | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        S = len(self.clusters)
        self.clusters = [np.asarray(c, dtype=np.int64) for c in self.clusters]
        self.conductance = np.asarray(self.conductance, dtype=np.float64)
        self.lower_bound = np.asarray(self.lower_bound, dtype=np.float64)
        self.upper_bound = np.asarray(self.upper_bound, dtype=np.float64)
        self.exact = np.asarray(self.exact, dtype=bool)
        self.cut_conductance = np.asarray(self.cut_conductance, dtype=np.float64)
        self.method = [str(m) for m in self.method]
        for name in ("conductance", "lower_bound", "upper_bound", "exact", "cut_conductance"):
            if getattr(self, name).shape != (S,):
                raise SsdflError(f"{name} has shape {getattr(self, name).shape}, expected ({S},)")
        if len(self.method) != S:
            raise SsdflError(f"method has {len(self.method)} entries for {S} clusters")
        if self.measure not in ("graph", "mixing"):
            raise SsdflError(f"measure must be 'graph' or 'mixing', got {self.measure!r}")
        allnodes = (np.concatenate(self.clusters) if S else np.zeros(0, dtype=np.int64)).astype(
            np.int64
        )
        if len(allnodes) != self.n or not np.array_equal(np.sort(allnodes), np.arange(self.n)):
            raise SsdflError("clusters must partition the nodes 0..n-1 (each exactly once)")
        if any(len(c) == 0 for c in self.clusters):
            raise SsdflError("clusters must be non-empty")

    # ------------------------------------------------------------------ derived views
    @property
    def S(self) -> int:
        """Number of clusters."""
        return len(self.clusters)

    @property
    def sizes(self) -> np.ndarray:
        """Number of nodes of every cluster."""
        return np.array([len(c) for c in self.clusters], dtype=np.int64)

    @property
    def labels(self) -> np.ndarray:
        """Cluster index of every node (int64, length ``n``)."""
        lab = np.empty(self.n, dtype=np.int64)
        for i, c in enumerate(self.clusters):
            lab[c] = i
        return lab

    @property
    def min_conductance(self) -> float:
        """Smallest internal measure over the clusters (the formation's weakest cluster)."""
        return float(self.conductance.min())

    @property
    def max_cut_conductance(self) -> float:
        """Largest cut conductance over the clusters."""
        return float(self.cut_conductance.max())

    @property
    def weakest(self) -> int:
        """Index of the cluster with the smallest internal measure (ties: lowest index)."""
        return int(np.argmin(self.conductance))

    def cluster_of(self, u: int) -> int:
        """Index of the cluster holding node ``u``."""
        if not 0 <= u < self.n:
            raise SsdflError(f"node {u} is out of range for {self.n} nodes")
        return int(self.labels[u])

    # -------------------------------------------------------------- serialization
    def _payload(self) -> dict[str, Any]:
        return {
            "schema": FORMATION_SCHEMA,
            "kind": type(self).__name__,
            "n": int(self.n),
            "measure": self.measure,
            "mixing_rule": self.mixing_rule,
            "clusters": [c.tolist() for c in self.clusters],
            "conductance": self.conductance.tolist(),
            "lower_bound": self.lower_bound.tolist(),
            "upper_bound": self.upper_bound.tolist(),
            "exact": self.exact.tolist(),
            "method": list(self.method),
            "cut_conductance": self.cut_conductance.tolist(),
            "info": _jsonable(self.info),
        }

    def to_json(self, indent: int | None = None) -> str:
        """JSON text with a ``schema`` tag; round-trips through :meth:`from_json`."""
        return json.dumps(self._payload(), indent=indent, allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> Formation:
        """Parse :meth:`to_json` output (a :class:`Partition` comes back as one)."""
        d = parse_tagged_json(text, FORMATION_SCHEMA)
        kind = Partition if d.get("kind") == "Partition" else Formation
        if cls is Partition and kind is not Partition:
            raise SsdflError("the JSON holds a Formation, not a Partition")
        try:
            kw = dict(
                n=int(d["n"]),
                clusters=[np.asarray(c, dtype=np.int64) for c in d["clusters"]],
                conductance=d["conductance"],
                lower_bound=d["lower_bound"],
                upper_bound=d["upper_bound"],
                exact=d["exact"],
                method=d["method"],
                cut_conductance=d["cut_conductance"],
                measure=d["measure"],
                mixing_rule=d["mixing_rule"],
                info=d.get("info", {}),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise SsdflError(f"malformed formation JSON: {exc!r}") from None
        return kind(**kw)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write :meth:`to_json` to ``path`` atomically; returns the path."""
        p = Path(path)
        with atomic_write(p, "w") as fh:
            fh.write(self.to_json(indent=1))
        return p

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Formation:
        """Read a file written by :meth:`save`."""
        return cls.from_json(Path(path).read_text())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Formation):
            return NotImplemented
        return self._payload() == other._payload()

    __hash__ = None  # type: ignore[assignment]  # unhashable: == compares contents

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(S={self.S}, n={self.n}, measure={self.measure!r}, "
            f"min_conductance={self.min_conductance:.4g}, sizes={self.sizes.tolist()})"
        )


@dataclass(eq=False, repr=False)
class Partition(Formation):
    """A :class:`Formation` produced by :func:`ssdfl.partition`; ``info`` records the objective,
    the refinement statistics and the seed."""

    @property
    def objective(self) -> str:
        """``"internal"`` or ``"cut"``."""
        return str(self.info.get("objective", "internal"))


def _jsonable(x: Any) -> Any:
    """Plain-JSON form of nested containers of numpy values; non-finite floats become
    ``None`` (JSON has no NaN/inf)."""
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return _jsonable(x.tolist())
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.floating, float)):
        v = float(x)
        return v if np.isfinite(v) else None
    if isinstance(x, (np.bool_,)):
        return bool(x)
    return x


def parse_tagged_json(text: str, schema: str) -> dict[str, Any]:
    """Parse JSON text whose top level is an object with ``"schema": schema``."""
    try:
        d = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SsdflError(f"not valid JSON: {exc}") from None
    if not isinstance(d, dict) or d.get("schema") != schema:
        got = d.get("schema") if isinstance(d, dict) else type(d).__name__
        raise SsdflError(f"expected schema {schema!r}, got {got!r}")
    return d
