"""The ``specialised`` planner goal: formations whose clusters keep their own models
(``docs/specialised.md``).

Options. ``S = 1`` (the global model: one cluster, the paper's schedule); the global model
followed by ``k`` local fine-tuning steps on every device (``global+ft<k>``, no extra bytes);
local-only training (``local``: ``cycles·τ_a`` local steps, no bytes); and, for a few ``S``,
clusters from graph connectivity *and* data similarity, each with the inter-cluster rounds every
cycle (``period = 1``), every ``k`` cycles, or never (``period = 0``: one model per cluster).

Clusters (:func:`affinity_clusters`). Every D2D edge ``(i, j)`` gets the affinity
``a_ij = exp(−D_ij / h)`` with ``D_ij`` the dissimilarity of the two devices' data: the
Jensen–Shannon divergence (bits, :func:`ssdfl.clusters.batch.jsd`) of their label histograms,
or, when histograms are not disclosed, ``(1 − cos θ_ij) / 2`` with ``θ_ij`` the angle between
their model updates after a short warm-up (:func:`update_affinity`, after Sattler et al.'s
clustered FL: the updates are what neighbours exchange in the warm-up's gossip rounds anyway).
Spectral clustering of the affinity-weighted graph (normalized Laplacian, ``S`` eigenvectors,
k-means with a fixed seed), then every cluster split into its connected components in ``G``
(a cluster must be able to gossip). ``S`` candidates are ranked by the devices' mean
dissimilarity to their cluster (label histograms: ``JSD(p_i, q_c)`` with ``q_c`` the cluster's
pooled histogram), ties (within ``0.02``) to the smaller ``S``; the best ``n_S`` are kept.

Prediction. The predicted own-distribution loss of an option is the mean over devices of the
cross-entropy of device ``i``'s model on held-out data from its own label distribution
(:mod:`ssdfl.simulate.metrics`), measured on a *surrogate* run: the bundled digits data split
by the devices' label histograms (softmax regression, ``cycles`` cycles, the user's ``τ_a``,
``τ_r``, ``η``), median over ``seeds`` surrogate seeds; or, for :func:`plan_specialised` with a
``model``, a pilot run of the devices' own model evaluated on their local validation sets. Every
option spends at most the bytes of ``S = 1`` (intra-cluster edges are a subset of the graph's
edges and inter rounds run at most as often), so options are compared at no more bytes than
the global model.

Decision. Every option within the tie margin of the lowest predicted loss ``L*`` (``L (1 −
tie) ≤ L*``) ties with the best; the pick is the simplest of them: the global model, then the
global model + fine-tuning (fewer steps first), then clustered options (fewer clusters, then
``period = 0``, then the longer period), then local-only. The verdict names the pick and the
runner-up (the lowest-loss other option). The global model (with or without fine-tuning) is
therefore recommended when no data-aligned clusters the graph allows are predicted to pay.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.csgraph as csg

from ssdfl._atomic import atomic_write
from ssdfl.clusters.batch import jsd
from ssdfl.errors import SsdflError
from ssdfl.graphs.graph import Graph, GraphLike, as_graph
from ssdfl.graphs.metrics import is_connected
from ssdfl.planner.report import ReportSection
from ssdfl.planner.validate import split_by_histogram
from ssdfl.simulate import SSDFL, simulate
from ssdfl.simulate.metrics import own_distribution_sets
from ssdfl.theory.data import load_digits_federated
from ssdfl.theory.devices import DeviceTable, homogeneous_devices
from ssdfl.theory.models import DeviceModel, LogisticRegression

__all__ = [
    "SpecialisedGoal",
    "SpecialisedOption",
    "SpecialisedPlan",
    "affinity_clusters",
    "check_goal",
    "choose",
    "cluster_dissimilarity",
    "edge_affinity",
    "export_model_groups",
    "goal_specialised",
    "local_tie_note",
    "model_groups",
    "plan_specialised",
    "specialised_section",
    "surrogate_digits",
    "update_affinity",
    "write_model_groups",
]

GROUPS_SCHEMA = "ssdfl.model-groups/1"


@dataclass(frozen=True)
class SpecialisedOption:
    """One option: ``labels`` (cluster of every device), inter-cluster ``period`` (1 every
    cycle, ``k`` every ``k`` cycles, 0 never), where the clusters come from (``source``), and
    the surrogate's median predictions: mean own-distribution loss / accuracy, worst-device
    accuracy, and D2D bytes over the surrogate's cycles."""

    id: str
    S: int
    period: int
    source: str
    labels: np.ndarray
    own_loss: float
    own_acc: float
    own_acc_min: float
    d2d_bytes: float
    own_loss_seeds: tuple[float, ...] = ()
    kind: str = "clustered"
    ft_steps: int = 0

    @property
    def is_global(self) -> bool:
        """True for the global model, with or without local fine-tuning (one shared model)."""
        return self.kind in ("global", "global+ft")

    @property
    def n_models(self) -> int:
        """Distinct models at the end of a cycle: ``S`` when clusters never mix, else 1."""
        return self.S if self.period == 0 else 1

    def rank(self) -> tuple[int, ...]:
        """Simplicity order of the tie rule (module docstring): smaller is simpler."""
        if self.kind == "global":
            return (0,)
        if self.kind == "global+ft":
            return (1, self.ft_steps)
        if self.kind == "local":
            return (3,)
        return (2, self.S, 0 if self.period == 0 else 1, -self.period)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["labels"] = self.labels.tolist()
        d["own_loss_seeds"] = list(self.own_loss_seeds)
        return d


@dataclass(frozen=True)
class SpecialisedPlan:
    """Result of :func:`plan_specialised`: every option, the ``pick``, the global model's
    option, whether the pick specialises, the dissimilarity source and the ``verdict``."""

    options: list[SpecialisedOption]
    pick: SpecialisedOption
    global_option: SpecialisedOption
    similarity: str
    verdict: str
    config: dict[str, Any] = field(default_factory=dict)
    warmup_traffic: dict[str, float] = field(default_factory=dict)
    runner_up: SpecialisedOption | None = None

    @property
    def specialised(self) -> bool:
        """True when the pick is not the global model (with or without fine-tuning)."""
        return not self.pick.is_global

    @property
    def clusters(self) -> list[list[int]]:
        """The pick's clusters (device indices)."""
        lab = self.pick.labels
        return [np.flatnonzero(lab == s).tolist() for s in range(int(lab.max()) + 1)]

    @property
    def period(self) -> int:
        return self.pick.period


# ----------------------------------------------------------------------------- affinities
def _edges(g: Graph) -> tuple[np.ndarray, np.ndarray]:
    s, t, _ = g.edges()
    return np.asarray(s, dtype=np.int64), np.asarray(t, dtype=np.int64)


def _hist(hist: np.ndarray | DeviceTable, n: int) -> np.ndarray:
    H = hist.label_hist if isinstance(hist, DeviceTable) else hist
    if H is None:
        raise SsdflError("the devices have no label histograms (label_<k> columns)")
    H = np.asarray(H, dtype=np.float64)
    if H.ndim != 2 or H.shape[0] != n:
        raise SsdflError(f"label histograms must be an ({n}, C) array, got shape {H.shape}")
    if np.any(H < 0) or np.any(H.sum(1) <= 0) or not np.all(np.isfinite(H)):
        raise SsdflError("label histograms must be finite, non-negative, no row all zero")
    return H


def edge_affinity(g: GraphLike, dissim: np.ndarray, bandwidth: float = 0.1) -> sp.csr_array:
    """Symmetric ``(N, N)`` affinity ``a_ij = exp(−D_ij / h)`` on the edges of ``g``, from the
    per-edge dissimilarities ``dissim`` (in the order of ``g.edges()``, values in ``[0, 1]``)."""
    gg = as_graph(g)
    s, t = _edges(gg)
    D = np.asarray(dissim, dtype=np.float64)
    if D.shape != s.shape or not np.all(np.isfinite(D)):
        raise SsdflError(f"need one finite dissimilarity per edge ({len(s)}), got {D.shape}")
    if not bandwidth > 0:
        raise SsdflError(f"bandwidth must be > 0, got {bandwidth}")
    w = np.exp(-np.clip(D, 0.0, None) / bandwidth)
    A = sp.coo_array((np.r_[w, w], (np.r_[s, t], np.r_[t, s])), shape=(gg.n, gg.n))
    return sp.csr_array(A)


def histogram_dissimilarity(g: GraphLike, hist: np.ndarray | DeviceTable) -> np.ndarray:
    """Per-edge Jensen–Shannon divergence (bits) of the endpoints' label histograms."""
    gg = as_graph(g)
    H = _hist(hist, gg.n)
    s, t = _edges(gg)
    return np.asarray(jsd(H[s], H[t]), dtype=np.float64)


def update_affinity(
    model: DeviceModel,
    g: GraphLike,
    *,
    warmup_cycles: int = 2,
    tau_a: int = 5,
    eta: float = 0.05,
    bytes_per_param: int = 4,
    seed: int = 0,
) -> tuple[np.ndarray, dict[str, float]]:
    """Per-edge dissimilarity ``(1 − cos θ_ij) / 2`` of the model updates ``Δ_i = x_i − x_0``
    after a warm-up of ``warmup_cycles`` cycles of ``τ_a`` local steps followed by one gossip
    round over ``G`` (pDFL; every device starts at ``x_0 = 0``, so a device knows each
    neighbour's update from the model the neighbour sent in the gossip round — nothing is sent
    for the similarity itself). The similarity uses the updates *before* the last gossip round.
    Returns the dissimilarities (order of ``g.edges()``) and the warm-up's traffic
    (``msgs``, ``bytes``: ``2m`` messages of ``d`` parameters per gossip round)."""
    gg = as_graph(g)
    if warmup_cycles < 1:
        raise SsdflError(f"warmup_cycles must be >= 1, got {warmup_cycles}")
    res = simulate(model, gg, "pdfl", tau_a=tau_a, tau_r=1, cycles=warmup_cycles - 1, eta=eta,
                   seed=seed, device_metrics=False, bytes_per_param=bytes_per_param,
                   eval_every=max(warmup_cycles - 1, 1))  # fmt: skip
    X = np.asarray(res.X, dtype=np.float64)
    loc = simulate(model, gg, "pdfl", tau_a=tau_a, tau_r=0, cycles=1, eta=eta, seed=seed + 1,
                   device_metrics=False, x0=X)  # fmt: skip
    U = np.asarray(loc.X, dtype=np.float64)  # updates from x_0 = 0 (last cycle: local only)
    nrm = np.linalg.norm(U, axis=1)
    nrm[nrm == 0] = 1.0
    s, t = _edges(gg)
    cos = np.einsum("ij,ij->i", U[s], U[t]) / (nrm[s] * nrm[t])
    msgs = float(warmup_cycles * 2 * gg.m)
    traffic = {"msgs": msgs, "bytes": msgs * model.dim * bytes_per_param,
               "cycles": float(warmup_cycles)}  # fmt: skip
    return np.clip((1.0 - cos) / 2.0, 0.0, 1.0), traffic


# ------------------------------------------------------------------------------- clusters
def _kmeans(Y: np.ndarray, k: int) -> np.ndarray:
    from sklearn.cluster import KMeans

    return np.asarray(KMeans(n_clusters=k, n_init=10, random_state=0).fit_predict(Y))


def affinity_clusters(g: GraphLike, affinity: sp.csr_array, S: int) -> np.ndarray:
    """Labels ``0..S'−1`` of a spectral clustering of the affinity-weighted graph into ``S``
    groups (normalized Laplacian ``I − D^{-1/2} A D^{-1/2}``, its ``S`` smallest eigenvectors
    with rows normalized, k-means with a fixed seed), each group then split into its connected
    components in ``g`` (so ``S' ≥ S``); labels ordered by smallest member."""
    gg = as_graph(g)
    n = gg.n
    if not 1 <= S <= n:
        raise SsdflError(f"S must be in 1..{n}, got {S}")
    if S == 1:
        lab = np.zeros(n, dtype=np.int64)
    else:
        A = sp.csr_array(affinity, dtype=np.float64)
        deg = np.asarray(A.sum(axis=1)).ravel() + 1e-12
        Dm = sp.diags_array(1.0 / np.sqrt(deg))
        L = np.eye(n) - (Dm @ A @ Dm).toarray()
        L = 0.5 * (L + L.T)
        _, V = np.linalg.eigh(L)
        Y = V[:, :S]
        Y = Y / np.maximum(np.linalg.norm(Y, axis=1, keepdims=True), 1e-12)
        Y = np.round(Y, 10)  # deterministic across BLAS builds at ties
        lab = _kmeans(Y, S)
    s, t = _edges(gg)
    same = lab[s] == lab[t]
    M = sp.coo_array((np.ones(int(same.sum())), (s[same], t[same])), shape=(n, n))
    _, comp = csg.connected_components(M, directed=False)
    first: dict[int, int] = {}
    out = np.empty(n, dtype=np.int64)
    for i, c in enumerate(comp):
        out[i] = first.setdefault(int(c), len(first))
    return out


def cluster_dissimilarity(hist: np.ndarray, labels: np.ndarray) -> float:
    """Mean over devices of ``JSD(p_i, q_c(i))`` (bits), ``q_c`` the pooled label histogram of
    device ``i``'s cluster: 0 when every cluster is label-homogeneous."""
    H = np.asarray(hist, dtype=np.float64)
    lab = np.asarray(labels)
    Q = np.zeros((int(lab.max()) + 1, H.shape[1]))
    np.add.at(Q, lab, H / H.sum(1, keepdims=True))
    return float(np.mean(jsd(H, Q[lab])))


# ------------------------------------------------------------------------------ surrogate
def surrogate_digits(
    hist: np.ndarray, seed: int, per_device_test: int = 30
) -> tuple[DeviceModel, DeviceModel]:
    """The surrogate of the prediction: scikit-learn's digits split 80/20 per class (seeded),
    the 80 % distributed by the label histograms (:func:`ssdfl.planner.validate.
    split_by_histogram`) as softmax regression, and held-out own-distribution sets from the
    20 % (:func:`~ssdfl.simulate.metrics.own_distribution_sets`). Returns ``(model, own)``."""

    H = np.asarray(hist, dtype=np.float64)
    n, C = H.shape
    if C > 10:
        raise SsdflError(f"the digits surrogate has 10 classes; the histograms have {C}")
    base = load_digits_federated(1, "iid", seed=seed)
    rng = np.random.default_rng(seed)
    test = np.zeros(len(base.y), dtype=bool)
    for c in range(10):
        ix = rng.permutation(np.flatnonzero(base.y == c))
        test[ix[: len(ix) // 5]] = True
    tr = np.flatnonzero(~test)
    dev = homogeneous_devices(n)
    dev.label_hist = H
    dev.classes = [str(k) for k in range(C)]
    parts = split_by_histogram(base.y[tr], dev, n, seed, "digits")
    model = LogisticRegression([base.X[tr][p] for p in parts], [base.y[tr][p] for p in parts],
                               10, l2=1e-3)  # fmt: skip
    te = np.flatnonzero(test)
    H10 = np.zeros((n, 10))
    H10[:, :C] = H
    Zo, yo = own_distribution_sets(base.X[te], base.y[te], H10, per_device_test, rng)
    return model, LogisticRegression(Zo, yo, 10, l2=1e-3)


# -------------------------------------------------------------------------------- planner
def _run(model: DeviceModel, own: DeviceModel, g: Graph, labels: np.ndarray, period: int,
         tau_a: int, tau_r: int, cycles: int, eta: float, seed: int
         ) -> tuple[dict[str, Any], np.ndarray]:  # fmt: skip
    res = simulate(model, g, SSDFL(clusters=labels, inter_every=period), tau_a=tau_a,
                   tau_r=tau_r, cycles=cycles, eta=eta, seed=seed, own_test=own,
                   device_metrics=False, eval_every=cycles)  # fmt: skip
    return res.final, np.asarray(res.X)


def _local(model: DeviceModel, own: DeviceModel, g: Graph, steps: int, cycles: int, eta: float,
           seed: int, x0: np.ndarray | None) -> dict[str, Any]:  # fmt: skip
    """``cycles`` rounds of ``steps`` local SGD steps per device, no communication, from
    ``x0`` (the global model's final models for fine-tuning; ``None``: the usual start)."""
    res = simulate(model, g, "pdfl", tau_a=steps, tau_r=0, cycles=cycles, eta=eta, seed=seed,
                   own_test=own, device_metrics=False, eval_every=cycles, x0=x0)  # fmt: skip
    return dict(res.final)


def plan_specialised(
    graph: GraphLike,
    hist: np.ndarray | DeviceTable | None = None,
    *,
    model: DeviceModel | None = None,
    own_test: DeviceModel | None = None,
    tau_a: int = 20,
    tau_r: int = 5,
    cycles: int = 20,
    eta: float = 0.1,
    periods: Sequence[int] = (1, 5, 0),
    ft_steps: Sequence[int] | None = None,
    local: bool = True,
    max_clusters: int | None = None,
    n_S: int = 2,
    seeds: int = 2,
    tie: float = 0.05,
    bandwidth: float = 0.1,
    warmup_cycles: int = 2,
    progress: bool = False,
) -> SpecialisedPlan:
    """Choose between the global model and specialised formations (module docstring).

    ``hist``: ``(N, C)`` label histograms (or a devices table with ``label_<k>`` columns): the
    clusters follow histogram divergence and the prediction runs the digits surrogate. Without
    ``hist``, give ``model`` (the devices' own model) and ``own_test`` (their local validation
    sets, same kind of model): clusters follow the cosine similarity of warm-up updates
    (:func:`update_affinity`, traffic in ``warmup_traffic``) and the prediction is a pilot run
    of ``model`` evaluated on ``own_test``. ``periods``: inter-cluster periods tried for each
    clustering (1 every cycle, ``k`` every ``k`` cycles, 0 never); ``ft_steps``: local
    fine-tuning steps after the global model (default ``τ_a``, ``5 τ_a``, ``cycles·τ_a``; empty:
    none); ``local``: also predict local-only training; ``max_clusters``: largest
    ``S`` (default ``min(8, N // 3)``); ``n_S``: clusterings kept; ``seeds``: surrogate /
    pilot seeds (median); ``tie``: relative margin within which the global model wins."""
    g = as_graph(graph)
    n = g.n
    if n < 2 or not is_connected(g):
        raise SsdflError("the specialised planner needs a connected graph of >= 2 devices")
    for name, v in (("tau_a", tau_a), ("cycles", cycles), ("seeds", seeds), ("n_S", n_S)):
        if int(v) < 1:
            raise SsdflError(f"{name} must be >= 1, got {v}")
    if tau_r < 0 or not eta > 0 or not tie >= 0:
        raise SsdflError("need tau_r >= 0, eta > 0 and tie >= 0")
    pers = sorted({int(p) for p in periods}, key=lambda p: (p == 0, p))
    if any(p < 0 for p in pers) or not pers:
        raise SsdflError(f"periods must be integers >= 0, got {list(periods)}")
    fts = sorted({int(k) for k in (ft_steps if ft_steps is not None
                                   else (tau_a, 5 * tau_a, cycles * tau_a))})  # fmt: skip
    if any(k < 1 for k in fts):
        raise SsdflError(f"ft_steps must be integers >= 1, got {list(fts)}")
    smax = max_clusters if max_clusters is not None else min(8, n // 3)
    smax = max(1, min(int(smax), n))
    traffic: dict[str, float] = {}
    H: np.ndarray | None = None
    if hist is not None and not (isinstance(hist, DeviceTable) and hist.label_hist is None):
        H = _hist(hist, n)
        similarity = "label histograms (Jensen-Shannon divergence)"
        dissim = histogram_dissimilarity(g, H)
    else:
        if model is None or own_test is None:
            raise SsdflError(
                "without label histograms the specialised planner needs the devices' model "
                "and their local validation sets (model=, own_test=)"
            )
        similarity = "model-update cosine similarity after a warm-up"
        dissim, traffic = update_affinity(model, g, warmup_cycles=warmup_cycles, tau_a=tau_a,
                                          eta=eta)  # fmt: skip
    A = edge_affinity(g, dissim, bandwidth)
    # candidate clusterings, ranked by data homogeneity (ties to fewer clusters)
    cands: dict[tuple[int, ...], tuple[int, float]] = {}
    for S in range(2, smax + 1):
        lab = affinity_clusters(g, A, S)
        Sp = int(lab.max()) + 1
        if Sp < 2 or Sp > max(smax, 2) * 2:
            continue
        if H is not None:
            score = cluster_dissimilarity(H, lab)
        else:  # mean edge dissimilarity inside clusters
            s, t = _edges(g)
            inside = lab[s] == lab[t]
            score = float(dissim[inside].mean()) if inside.any() else 1.0
        cands.setdefault(tuple(lab.tolist()), (Sp, score))
    ranked = sorted(cands.items(), key=lambda kv: (round(kv[1][1] / 0.02), kv[1][0]))
    kept = [(np.asarray(k, dtype=np.int64), S) for k, (S, _) in ranked[:n_S]]
    zeros = np.zeros(n, dtype=np.int64)
    # (id, labels, period, kind, fine-tuning steps)
    specs: list[tuple[str, np.ndarray, int, str, int]] = [("global", zeros, 1, "global", 0)]
    specs += [(f"global+ft{k}", zeros, 1, "global+ft", k) for k in fts]
    src = "histograms" if H is not None else "updates"
    for lab, S in kept:
        for p in pers:
            specs.append((f"S{S}-{src}-p{p}", lab, p, "clustered", 0))
    if local:
        specs.append(("local", np.arange(n, dtype=np.int64), 0, "local", 0))
    results: dict[str, list[dict[str, Any]]] = {sid: [] for sid, *_ in specs}
    for r in range(int(seeds)):
        if H is not None:
            m, own = surrogate_digits(H, seed=r)
        else:
            assert model is not None and own_test is not None
            m, own = model, own_test
        fin, Xg = _run(m, own, g, zeros, 1, tau_a, tau_r, cycles, eta, seed=r)
        for sid, lab, p, kind, k in specs:
            if kind == "global":
                out = fin
            elif kind == "global+ft":  # the global model's bytes, then k local steps
                out = {**_local(m, own, g, k, 1, eta, r, Xg), "d2d_bytes": fin["d2d_bytes"]}
            elif kind == "local":
                out = _local(m, own, g, tau_a, cycles, eta, r, None)
            else:
                out = _run(m, own, g, lab, p, tau_a, tau_r, cycles, eta, seed=r)[0]
            results[sid].append(out)
    options = []
    for sid, lab, p, kind, k in specs:
        rs = results[sid]
        med = {key: float(np.median([x[key] for x in rs]))
               for key in ("own_loss_mean", "own_acc_mean", "own_acc_min", "d2d_bytes")
               }  # fmt: skip
        options.append(SpecialisedOption(
            id=sid, S=int(lab.max()) + 1, period=p,
            source=src if kind == "clustered" else ("S = 1" if kind != "local" else "none"),
            labels=lab, own_loss=med["own_loss_mean"], own_acc=med["own_acc_mean"],
            own_acc_min=med["own_acc_min"], d2d_bytes=med["d2d_bytes"],
            own_loss_seeds=tuple(float(x["own_loss_mean"]) for x in rs), kind=kind, ft_steps=k,
        ))  # fmt: skip
    glob = options[0]
    pick, runner = choose(options, tie)
    best_cl = min((o for o in options if o.kind == "clustered"), key=lambda o: o.own_loss,
                  default=None)  # fmt: skip
    verdict = _verdict(pick, glob, runner, best_cl, tie, similarity)
    verdict += local_tie_note(pick, options, tie)
    cfg = {"tau_a": tau_a, "tau_r": tau_r, "cycles": cycles, "eta": eta, "periods": pers,
           "ft_steps": fts, "local": bool(local),
           "max_clusters": smax, "n_S": n_S, "seeds": seeds, "tie": tie, "bandwidth": bandwidth,
           "predictor": "digits surrogate" if H is not None else "pilot on the devices' model",
           }  # fmt: skip
    return SpecialisedPlan(options, pick, glob, similarity, verdict, cfg, traffic, runner)


def choose(options: Sequence[SpecialisedOption], tie: float
           ) -> tuple[SpecialisedOption, SpecialisedOption | None]:  # fmt: skip
    """The decision rule: the simplest option (:meth:`SpecialisedOption.rank`) among those
    whose predicted loss ``L`` satisfies ``L (1 − tie) ≤ L*`` (``L*`` the lowest), and the
    runner-up (the lowest-loss other option, ``None`` if there is none)."""
    if not options:
        raise SsdflError("no options to choose from")
    best = min(options, key=lambda o: (o.own_loss, o.rank()))
    near = [o for o in options if o.own_loss * (1.0 - tie) <= best.own_loss]
    pick = min(near, key=lambda o: (o.rank(), o.own_loss))
    others = [o for o in options if o is not pick]
    runner = min(others, key=lambda o: (o.own_loss, o.rank())) if others else None
    return pick, runner


def local_tie_note(
    pick: SpecialisedOption, options: Sequence[SpecialisedOption], tie: float
) -> str:
    """A sentence for the verdict when local-only training (no bytes) ties the pick: its
    predicted loss ``L_local`` satisfies ``L_local (1 − tie) ≤ L_pick`` — communication then
    buys little (e.g. random labels, where each device's own data is its own distribution).
    Empty when the pick is local-only or no local option was predicted."""
    loc = next((o for o in options if o.kind == "local"), None)
    if loc is None or pick.kind == "local" or loc.own_loss * (1.0 - tie) > pick.own_loss:
        return ""
    return (
        f" Local-only training (no communication) predicts {loc.own_loss:.3g}, within {tie:.0%}"
        f" of the pick: here communication buys little over each device training alone."
    )


def _verdict(pick: SpecialisedOption, glob: SpecialisedOption,
             runner: SpecialisedOption | None, best_cl: SpecialisedOption | None, tie: float,
             similarity: str) -> str:  # fmt: skip
    ru = (
        ""
        if runner is None
        else f" Runner-up: {runner.id} ({runner.own_loss:.3g}, accuracy {runner.own_acc:.3f})."
    )
    if pick.is_global:
        what = ("Keep one global model (S = 1)" if pick.kind == "global" else
                f"Keep one global model (S = 1), then {pick.ft_steps} local fine-tuning steps "
                f"on every device ({pick.id})")  # fmt: skip
        cl = (
            "no clustered option was found"
            if best_cl is None
            else f"the best clustered option ({best_cl.id}) predicts {best_cl.own_loss:.3g} — the "
            f"data is not aligned with clusters the graph allows, or not enough to pay"
        )
        return (
            f"{what}: predicted own-distribution loss {pick.own_loss:.3g} (accuracy "
            f"{pick.own_acc:.3f}, worst device {pick.own_acc_min:.3f}); {cl}.{ru} Ties within "
            f"{tie:.0%} go to the simplest option."
        )
    if pick.kind == "local":
        return (
            f"Train locally only (no communication): predicted own-distribution loss "
            f"{pick.own_loss:.3g} (accuracy {pick.own_acc:.3f}, worst device "
            f"{pick.own_acc_min:.3f}) vs {glob.own_loss:.3g} for the global model.{ru}"
        )
    how = ("each cluster keeps its own model" if pick.period == 0
           else f"inter-cluster rounds every {pick.period} cycle(s)")  # fmt: skip
    return (
        f"Specialise: {pick.S} clusters from graph connectivity and {similarity}, {how}; "
        f"predicted own-distribution loss {pick.own_loss:.3g} (accuracy {pick.own_acc:.3f}, "
        f"worst device {pick.own_acc_min:.3f}) vs {glob.own_loss:.3g} (accuracy "
        f"{glob.own_acc:.3f}, worst {glob.own_acc_min:.3f}) for the global model, at "
        f"{pick.d2d_bytes / max(glob.d2d_bytes, 1):.0%} of its D2D bytes.{ru}"
    )


# ------------------------------------------------------------------------- report, export
def model_groups(plan: SpecialisedPlan, names: Sequence[Any] | None = None) -> list[dict]:
    """Which devices share which model: one group per model of the pick (all devices in one
    group when the pick is global or its clusters mix), with device indices and names."""
    n = len(plan.pick.labels)
    nm = list(names) if names is not None else list(range(n))
    groups = plan.clusters if plan.pick.period == 0 else [list(range(n))]
    return [{"model": k, "devices": grp, "names": [_plain(nm[i]) for i in grp]}
            for k, grp in enumerate(groups)]  # fmt: skip


def _plain(x: Any) -> Any:
    return x.item() if isinstance(x, np.generic) else x


def specialised_section(plan: SpecialisedPlan, names: Sequence[Any] | None = None) -> dict:
    """The ``specialised`` section of formation.json's recommendation: goal, verdict, pick
    (clusters, period), model groups, expected own-distribution accuracy of the pick and of
    the global model, every option's prediction, and the dissimilarity source."""
    p, gl = plan.pick, plan.global_option
    expected = {
        "own_loss": p.own_loss, "own_acc": p.own_acc, "own_acc_min": p.own_acc_min,
        "global_own_loss": gl.own_loss, "global_own_acc": gl.own_acc,
        "global_own_acc_min": gl.own_acc_min,
    }  # fmt: skip
    options = [{k: v for k, v in o.to_dict().items() if k != "labels"} for o in plan.options]
    return {
        "goal": "specialised",
        "verdict": plan.verdict,
        "specialised": plan.specialised,
        "pick": p.id,
        "kind": p.kind,
        "ft_steps": p.ft_steps,
        "runner_up": None if plan.runner_up is None else plan.runner_up.id,
        "S": p.S,
        "period": p.period,
        "clusters": plan.clusters,
        "model_groups": model_groups(plan, names),
        "expected": expected,
        "options": options,
        "similarity": plan.similarity,
        "warmup_traffic": plan.warmup_traffic,
        "config": plan.config,
    }


def section_paragraphs(section: dict[str, Any]) -> list[str]:
    """Report paragraphs (markdown) of a :func:`specialised_section`."""
    e = section["expected"]
    rows = ["| option | S | period | predicted own loss | accuracy | worst device | D2D bytes |",
            "| --- | --- | --- | --- | --- | --- | --- |"]  # fmt: skip
    for o in section["options"]:
        rows.append(
            f"| {o['id']} | {o['S']} | {o['period']} | {o['own_loss']:.4g} | "
            f"{o['own_acc']:.3f} | {o['own_acc_min']:.3f} | {o['d2d_bytes']:.4g} |"
        )
    groups = "; ".join(
        f"model {gr['model']}: {', '.join(str(x) for x in gr['names'][:12])}"
        + (" …" if len(gr["names"]) > 12 else "")
        for gr in section["model_groups"]
    )
    return [
        section["verdict"],
        f"Expected own-distribution accuracy: {e['own_acc']:.3f} (worst device "
        f"{e['own_acc_min']:.3f}) vs {e['global_own_acc']:.3f} "
        f"(worst {e['global_own_acc_min']:.3f}) "
        f"for the global model. Similarity: {section['similarity']}; prediction: "
        f"{section['config']['predictor']} ({section['config']['seeds']} seeds, median).",
        f"Model groups — {groups}.",
        "\n".join(rows),
    ]


def write_model_groups(section: dict[str, Any], out_dir: str | os.PathLike[str]) -> Path:
    """Write ``model_groups.json`` (schema ``ssdfl.model-groups/1``: period and groups) of a
    :func:`specialised_section` into ``out_dir``; returns its path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    doc = {"schema": GROUPS_SCHEMA, "specialised": section["specialised"],
           "period": section["period"], "groups": section["model_groups"]}  # fmt: skip
    with atomic_write(out / "model_groups.json") as fh:
        fh.write(json.dumps(doc, indent=1))
    return out / "model_groups.json"


SPECIALISED_FILE = "specialised.json"


@dataclass
class SpecialisedGoal:
    """What ``ssdfl form --goal specialised`` adds to a plan's output: the planner result,
    its formation.json section (:func:`specialised_section`, also stored under
    ``recommendation["specialised"]``), the report section and the one-line verdict."""

    plan: SpecialisedPlan
    section: dict[str, Any]

    @property
    def verdict(self) -> str:
        return self.plan.verdict

    def report_sections(self) -> list[Any]:
        """One :class:`ssdfl.planner.report.ReportSection` ("Specialised models")."""

        title = "Specialised models (--goal specialised)"
        return [ReportSection(title, section_paragraphs(self.section), verdict=[self.verdict])]

    def write(self, out_dir: str | os.PathLike[str]) -> Path:
        """Write ``specialised.json`` (the section) into ``out_dir``; ``ssdfl export`` reads it
        next to formation.json and writes the model groups."""
        out = Path(out_dir) / SPECIALISED_FILE
        with atomic_write(out) as fh:
            fh.write(json.dumps(_jsonable(self.section), indent=1, allow_nan=False))
        return out


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, float) and not np.isfinite(x):
        return None
    return x


def goal_specialised(
    plan: Any,
    g: Graph,
    devices: DeviceTable | None,
    *,
    tau_a: int,
    tau_r: int,
    eta: float,
    cycles: int,
    max_clusters: int | None = None,
) -> SpecialisedGoal:
    """Run :func:`plan_specialised` for ``ssdfl form --goal specialised`` (label histograms
    of the devices file; without them a clear error) and record its section in the plan's
    recommendation (``recommendation["goal"] = "specialised"``, ``["specialised"]``)."""
    check_goal("specialised", devices)
    sp_plan = plan_specialised(g, devices, tau_a=tau_a, tau_r=tau_r, eta=eta, cycles=cycles,
                               max_clusters=max_clusters)  # fmt: skip
    section = _jsonable(specialised_section(sp_plan, getattr(plan, "labels", None) or None))
    rec = getattr(plan, "recommendation", None)
    if isinstance(rec, dict):
        rec["goal"] = "specialised"
        rec["specialised"] = section
    return SpecialisedGoal(sp_plan, section)


def export_model_groups(formation: str | os.PathLike[str], out_dir: str | os.PathLike[str]
                        ) -> list[Path]:  # fmt: skip
    """For ``ssdfl export``: when ``specialised.json`` lies next to ``formation``, write the
    per-cluster model groups (``model_groups.json``) into ``out_dir``; otherwise nothing."""
    src = Path(formation).parent / SPECIALISED_FILE
    if not src.is_file():
        return []
    try:
        section = json.loads(src.read_text(encoding="utf-8"))
        return [write_model_groups(section, out_dir)]
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise SsdflError(f"{src}: not a specialised.json written by ssdfl form ({exc})") from None


GOALS = ("global", "specialised")


def check_goal(goal: str, devices: DeviceTable | None) -> None:
    """Refuse an unknown ``--goal`` or ``specialised`` without label histograms, before the
    long work starts."""
    if goal not in GOALS:
        raise SsdflError(f"--goal must be one of {', '.join(GOALS)}, got {goal!r}")
    if goal == "specialised" and (devices is None or devices.label_hist is None):
        raise SsdflError(
            "--goal specialised needs label histograms: give --devices with label_<k> columns "
            "(without histograms, clusters from update similarity need training data: use "
            "ssdfl.planner.specialise.plan_specialised(graph, model=..., own_test=...))"
        )
