"""Devices come and go: membership traces and a churn-aware training driver.

The *universe* is every device that is ever present: the model has one row per device and the
D2D graph one node per device; a :class:`MembershipTrace` says which devices are present at each
cycle. Traces: :func:`random_churn` (leaves and joins at a rate), :func:`regional_failure` (a
connected region — a BFS ball — fails at once), :func:`mass_failure` (a MoDeST-like stress:
up to 80 % of the devices fail at once); both failures can come back later.

:func:`simulate_churn` trains SSD-FL under a trace (plain SGD devices, the round update of
:mod:`ssdfl.simulate.engine`: ``X ← W X − η ∇F(X)``) with the engine's public pieces (mixing
matrices, block mixing of clusters, traffic closed forms), segment by segment between
membership changes:

- a **leaving** device's model is lost (its row becomes NaN); a **joining** device starts from
  the model of its present neighbour with the smallest index (from ``x0`` if it has none);
- absent devices neither train nor mix; rounds mix only present devices over the present
  subgraph;
- a cluster whose present members became disconnected keeps training as its connected
  fragments (each fragment mixes inside itself); joiners without a cluster train alone and take
  part in the inter-cluster rounds. Devices outside their cluster's largest fragment and
  unassigned joiners are **stranded**; they stay in every metric until a re-formation
  re-attaches them;
- ``strategy``: ``"none"`` keeps the old formation; ``"repair"`` / ``"full"`` call ``reform``
  (supplied by the application layer, e.g. :mod:`ssdfl.planner.repair`) at every membership
  change, which returns the new labels of the present devices and the D2D bytes it cost;
  ``"modest"`` runs the MoDeST-style baseline (:mod:`ssdfl.simulate.modest`) instead.

Metrics per cycle, over **all present devices**: mean / min / median accuracy of the devices'
own models (classification) or mean loss, ``n_present``, ``stranded``, ``isolated`` (present
devices outside the largest component of the present graph), cumulative ``bytes_train`` and
``bytes_formation`` (initialization plus every re-formation).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
import scipy.sparse.csgraph as csg

from ssdfl.errors import SsdflError
from ssdfl.graphs.graph import Graph, GraphLike, Positions, as_graph
from ssdfl.graphs.mixing import block_mixing_matrix, mixing_matrix
from ssdfl.simulate.metrics import device_accuracies, global_losses
from ssdfl.simulate.modest import ModestState, modest_round
from ssdfl.theory.models import DeviceModel, LogisticRegression

__all__ = [
    "ChurnResult",
    "MembershipTrace",
    "effective_groups",
    "mass_failure",
    "random_churn",
    "regional_failure",
    "simulate_churn",
    "simulate_modest",
]

Reform = Callable[[Graph, np.ndarray, str], tuple[np.ndarray, int]]
"""``reform(present_graph, old_labels, strategy) -> (new_labels, d2d_bytes)``: labels of the
present devices (``-1`` = joiner without a cluster in ``old_labels``)."""


@dataclass(frozen=True)
class MembershipTrace:
    """``present[k]``: devices present during cycle ``k + 1`` (``k = 0..cycles-1``);
    ``initial``: present at the start (the initial formation covers them)."""

    initial: np.ndarray
    present: np.ndarray
    name: str
    burst: int | None = None  # cycle of a failure burst (for recovery times)

    @property
    def cycles(self) -> int:
        return len(self.present)


def _adj(g: Graph) -> sp.csr_array:
    s, t, _ = g.edges()
    A = sp.coo_array((np.ones(len(s)), (s, t)), shape=(g.n, g.n))
    return (A + A.T).tocsr()


def random_churn(
    g: GraphLike, cycles: int, rate: float, start_fraction: float = 0.9, seed: int = 0
) -> MembershipTrace:
    """Each cycle every present device leaves with probability ``rate`` and every absent one
    joins with probability ``rate·p/(1−p)`` (``p = start_fraction``: the present fraction stays
    ``p`` in expectation); at least one device stays."""
    g = as_graph(g)
    if not (0 <= rate < 1 and 0 < start_fraction <= 1):
        raise SsdflError("need 0 <= rate < 1 and 0 < start_fraction <= 1")
    rng = np.random.default_rng(seed)
    cur = rng.random(g.n) < start_fraction
    if not cur.any():
        cur[0] = True
    init = cur.copy()
    pj = min(1.0, rate * start_fraction / max(1 - start_fraction, 1e-12))
    rows = []
    for _ in range(cycles):
        u = rng.random(g.n)
        nxt = np.where(cur, u >= rate, u < pj)
        if not nxt.any():
            nxt = cur.copy()
        rows.append(nxt)
        cur = nxt
    return MembershipTrace(init, np.array(rows), f"random churn {rate:g}/cycle")


def _ball(g: Graph, size: int, rng: np.random.Generator) -> np.ndarray:
    A = _adj(g)
    centre = int(rng.integers(g.n))
    order = csg.breadth_first_order(A, centre, directed=False, return_predecessors=False)
    return np.asarray(order[:size])


def regional_failure(
    g: GraphLike, cycles: int, at: int, fraction: float, back_at: int | None = None, seed: int = 0
) -> MembershipTrace:
    """A connected region (the first ``fraction·N`` devices in BFS order from a random centre)
    fails at cycle ``at`` and, if ``back_at`` is given, comes back then."""
    g = as_graph(g)
    rng = np.random.default_rng(seed)
    region = _ball(g, max(1, round(fraction * g.n)), rng)
    return _burst(g.n, cycles, at, region, back_at, f"regional failure {fraction:.0%}")


def mass_failure(
    g: GraphLike, cycles: int, at: int, fraction: float = 0.8, back_at: int | None = None,
    seed: int = 0,
) -> MembershipTrace:  # fmt: skip
    """MoDeST-like stress: ``fraction`` of the devices, drawn uniformly, fail at cycle ``at``
    (and come back at ``back_at`` if given)."""
    g = as_graph(g)
    rng = np.random.default_rng(seed)
    k = min(g.n - 1, max(1, round(fraction * g.n)))
    failed = rng.choice(g.n, size=k, replace=False)
    return _burst(g.n, cycles, at, failed, back_at, f"mass failure {fraction:.0%}")


def _burst(
    n: int, cycles: int, at: int, nodes: np.ndarray, back_at: int | None, name: str
) -> MembershipTrace:
    if not 1 <= at <= cycles:
        raise SsdflError(f"the failure cycle must be in 1..{cycles}, got {at}")
    pres = np.ones((cycles, n), dtype=bool)
    pres[at - 1 :, nodes] = False
    if back_at is not None:
        pres[back_at - 1 :, nodes] = True
    return MembershipTrace(np.ones(n, dtype=bool), pres, name, burst=at)


def effective_groups(
    A: sp.csr_array, present: np.ndarray, labels: np.ndarray
) -> tuple[np.ndarray, int]:
    """Mixing groups of the present devices: each cluster's present members split into the
    connected components they induce; joiners (label ``-1``) alone. Returns ``(group per
    device, -1 for absent)`` and the number of *stranded* devices (outside their cluster's
    largest fragment, or joiners without a cluster)."""
    n = len(present)
    grp = np.full(n, -1, dtype=np.int64)
    nxt = 0
    stranded = 0
    for lab in np.unique(labels[present]):
        members = np.flatnonzero(present & (labels == lab))
        if lab < 0:
            grp[members] = np.arange(nxt, nxt + len(members))
            nxt += len(members)
            stranded += len(members)
            continue
        k, comp = csg.connected_components(A[members][:, members], directed=False)
        grp[members] = nxt + comp
        nxt += k
        if k > 1:
            stranded += len(members) - int(np.bincount(comp).max())
    return grp, stranded


@dataclass
class ChurnResult:
    """Per-cycle metrics (:meth:`table`), final models ``X`` (NaN rows: absent), the trace."""

    history: list[dict[str, Any]]
    params: dict[str, Any]
    X: np.ndarray = field(repr=False)

    def table(self) -> pd.DataFrame:
        df = pd.DataFrame(self.history)
        for k, v in self.params.items():
            df[k] = v
        return df

    def recovery_cycles(self, metric: str = "device_acc_mean", tol: float = 0.01) -> float:
        """Cycles after the trace's failure burst until ``metric`` is back within ``tol`` of its
        value just before the burst (``nan`` if never, or without a burst)."""
        b = self.params.get("burst")
        if b is None:
            return float("nan")
        df = self.table()
        before = df.loc[df.cycle == b - 1, metric]
        if before.empty:
            return float("nan")
        ok = df[(df.cycle >= b) & (df[metric] >= float(before.iloc[0]) - tol)]
        return float(ok.cycle.iloc[0] - b) if not ok.empty else float("nan")


def simulate_churn(
    model: DeviceModel,
    graph: GraphLike,
    trace: MembershipTrace,
    labels: np.ndarray | None = None,
    *,
    strategy: str = "none",
    reform: Reform | None = None,
    tau_a: int = 5,
    tau_r: int = 1,
    eta: float = 0.05,
    x0: np.ndarray | None = None,
    seed: int = 0,
    mixing: str = "lazy-metropolis",
    bytes_per_param: int = 4,
    init_bytes: int = 0,
    test_data: tuple[np.ndarray, np.ndarray] | None = None,
    modest: dict[str, Any] | None = None,
) -> ChurnResult:
    """Train under ``trace`` (see the module docstring). ``labels``: the initial formation of
    the initially present devices (``(N,)``, any value for absent ones; required unless
    ``strategy="modest"``); ``init_bytes``: the initial formation's D2D bytes;
    ``modest``: parameters of :func:`ssdfl.simulate.modest.modest_round`."""
    g = as_graph(graph)
    n, d = model.n_devices, model.dim
    if g.n != n or trace.present.shape[1] != n:
        raise SsdflError(f"graph ({g.n}), model ({n}) and trace ({trace.present.shape[1]}) "
                         "must have the same devices")  # fmt: skip
    if strategy not in ("none", "repair", "full", "modest"):
        raise SsdflError(f"unknown churn strategy {strategy!r}")
    if strategy in ("repair", "full") and reform is None:
        raise SsdflError(f"strategy {strategy!r} needs a reform function")
    if strategy != "modest" and labels is None:
        raise SsdflError("give the initial formation (labels)")
    rng = np.random.default_rng(seed)
    A = _adj(g)
    X = np.zeros((n, d)) if x0 is None else np.tile(np.asarray(x0, dtype=np.float64), (n, 1))
    base = X[0].copy()
    present = trace.initial.copy()
    X[~present] = np.nan
    lab = np.full(n, -1, dtype=np.int64)
    if labels is not None:
        lab[present] = np.asarray(labels, dtype=np.int64)[present]
    msg_bytes = d * bytes_per_param
    bytes_train = 0
    bytes_form = int(init_bytes)
    # a classifier with its test samples: device accuracies are recorded
    clf_eval: tuple[LogisticRegression, np.ndarray, np.ndarray] | None = None
    if isinstance(model, LogisticRegression):
        Zt, yt = test_data if test_data is not None else (model.Z, model.y_all)
        clf_eval = (model, Zt, yt)
    state: dict[str, Any] = {}
    hist: list[dict[str, Any]] = []
    W_intra: sp.csr_array | None = None
    W_inter: sp.csr_array | None = None
    m_intra = m_inter = 0
    stranded = isolated = 0

    def rebuild() -> None:
        nonlocal W_intra, W_inter, m_intra, m_inter, stranded, isolated
        idx = np.flatnonzero(present)
        sub = g.subgraph(Positions(idx))
        grp, stranded = effective_groups(A, present, lab)
        Wi = block_mixing_matrix(sub, grp[idx], mixing) if len(idx) > 1 else sp.eye(1)
        Wr = mixing_matrix(sub, mixing) if len(idx) > 1 else sp.eye(1)
        W_intra, W_inter = _embed(Wi, idx, n), _embed(Wr, idx, n)
        s, t, _ = sub.edges()
        m_inter = len(s)
        gi = grp[idx]
        m_intra = int(np.count_nonzero(gi[s] == gi[t]))
        _k, comp = csg.connected_components(A[idx][:, idx], directed=False)
        isolated = len(idx) - int(np.bincount(comp).max()) if len(idx) else 0

    def record(cycle: int) -> None:
        idx = np.flatnonzero(present)
        row: dict[str, Any] = {"cycle": cycle, "n_present": len(idx),
                               "stranded": int(stranded), "isolated": int(isolated)}  # fmt: skip
        Xp = X[idx]
        if np.all(np.isfinite(Xp)):
            row["device_loss_mean"] = float(global_losses(model, Xp).mean())
            if clf_eval is not None:
                clf, Zt, yt = clf_eval
                acc = device_accuracies(clf, Xp, Zt, yt)
                row.update(device_acc_mean=float(acc.mean()), device_acc_min=float(acc.min()),
                           device_acc_median=float(np.median(acc)))  # fmt: skip
        row["bytes_train"] = bytes_train
        row["bytes_formation"] = bytes_form
        hist.append(row)

    if strategy != "modest":
        rebuild()
    else:
        state["modest"] = ModestState.start(X, present)
    record(0)
    for k in range(1, trace.cycles + 1):
        new = trace.present[k - 1]
        if not np.array_equal(new, present):
            left = present & ~new
            joined = new & ~present
            X[left] = np.nan
            lab[left] = -1
            for j in np.flatnonzero(joined):
                nb = A.indices[A.indptr[j] : A.indptr[j + 1]]
                nb = nb[present[nb] & new[nb]]
                X[j] = X[nb.min()] if len(nb) else base
            present = new.copy()
            if strategy in ("repair", "full") and reform is not None:
                idx = np.flatnonzero(present)
                new_lab, cost = reform(g.subgraph(Positions(idx)), lab[idx], strategy)
                lab[:] = -1
                lab[idx] = np.asarray(new_lab, dtype=np.int64)
                bytes_form += int(cost)
            if strategy != "modest":
                rebuild()
        if strategy == "modest":
            X, sent = modest_round(
                model, X, present, state["modest"], rng, tau_a=tau_a, eta=eta, **(modest or {})
            )
            bytes_train += sent * msg_bytes
            record(k)
            continue
        assert W_intra is not None and W_inter is not None  # set by rebuild()
        p = present[:, None]
        for _ in range(tau_a):
            G = model.grad(np.nan_to_num(X))
            X = np.where(p, W_intra @ np.nan_to_num(X) - eta * G, X)
            bytes_train += 2 * m_intra * msg_bytes
        for _ in range(tau_r):
            X = np.where(p, W_inter @ np.nan_to_num(X), X)
            bytes_train += 2 * m_inter * msg_bytes
        record(k)
    params = {"strategy": strategy, "trace": trace.name, "seed": seed, "tau_a": tau_a,
              "tau_r": tau_r, "eta": eta, "burst": trace.burst}  # fmt: skip
    return ChurnResult(hist, params, X)


def _embed(W: Any, idx: np.ndarray, n: int) -> sp.csr_array:
    """``W`` on the present devices ``idx``, identity on the others (``n × n``)."""
    W = sp.coo_array(W)
    rows = np.concatenate([idx[W.row], np.setdiff1d(np.arange(n), idx)])
    cols = np.concatenate([idx[W.col], np.setdiff1d(np.arange(n), idx)])
    data = np.concatenate([W.data, np.ones(n - len(idx))])
    return sp.csr_array((data, (rows, cols)), shape=(n, n))


def simulate_modest(
    model: DeviceModel,
    graph: Any,
    *,
    cycles: int = 50,
    tau_a: int = 5,
    eta: float = 0.05,
    sample_size: int = 10,
    aggregators: int = 3,
    seed: int = 0,
    x0: np.ndarray | None = None,
    bytes_per_param: int = 4,
    test_data: tuple[np.ndarray, np.ndarray] | None = None,
) -> Any:
    """MoDeST without churn (every device present): a
    :class:`ChurnResult` with per-cycle metrics and ``bytes_train`` (MoDeST's rounds change
    every cycle, which the engine's fixed per-cycle plans cannot express)."""
    n = model.n_devices
    trace = MembershipTrace(np.ones(n, dtype=bool), np.ones((cycles, n), dtype=bool), "static")
    return simulate_churn(
        model, graph, trace, strategy="modest", tau_a=tau_a, eta=eta, seed=seed, x0=x0,
        bytes_per_param=bytes_per_param, test_data=test_data,
        modest={"sample_size": sample_size, "aggregators": aggregators},
    )  # fmt: skip
