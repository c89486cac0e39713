"""Specialised models (issue 20, docs/specialised.md): does keeping one model per cluster beat
the global model on each device's own label distribution, and does the planner's
``specialised`` goal know when?

    nice python experiments/specialised.py [--seeds 5] [--models softmax,mlp] [--workers 2]
        [--graphs sbm,rgg,karate] [--labels aligned,random] [--no-upd]
        [--out docs/results/specialised.csv]

Instances (5 seeds each; graph, label assignment and data split are redrawn per seed):

* ``sbm``: stochastic block model, 5 blocks of 8 devices (p_in 0.6, p_out 0.02);
* ``rgg``: random geometric graph, 40 devices, radius 0.3, in the unit square;
* ``karate``: Zachary's karate club (34 devices), its two factions (``club``).

Labels ``aligned``: block ``b`` (rgg: the vertical strip ``⌊5x⌋``) holds classes ``{2b, 2b+1}``;
karate's faction ``f`` holds ``{5f, …, 5f+4}``; ``random``: every device the same number of
classes drawn at random. Each class's training samples are shared equally among its holders.
Models: digits softmax (80/20 split per class), MNIST-1D MLP (32 hidden units; the package's
held-out set). Every device is evaluated on 30 held-out samples of its own label distribution.

Methods (``τ_a = 10``, ``τ_r = 2``, ``C = 20`` cycles, SGD):

* ``global``: S = 1, the planner's global recommendation (the global planner picks S = 1
  on these instances; we use S = 1 directly);
* ``global+ft``: ``global`` followed by ``τ_a`` local fine-tuning steps (no bytes);
* ``global+ftC``: the same with ``C·τ_a`` fine-tuning steps (as many as ``local`` takes);
* ``local``: local training only (0 bytes);
* ``specialised``: the pick of :func:`ssdfl.planner.specialise.plan_specialised` (label
  histograms, digits surrogate; options: global, global + ``τ_a`` / ``5τ_a`` / ``C·τ_a``
  fine-tuning steps, local-only, one clustering with periods 1 / 5 / never; 2 surrogate
  seeds), run as picked (a global or local pick is run as such);
* ``specialised-upd``: the same goal with histograms withheld (clusters from warm-up update
  cosine similarity; warm-up bytes added; pilot on the devices' model) — softmax only;
* ``ifca``: IFCA-style, ``k`` = the number of planted groups shared models at a server, each
  device joins the model with the lowest loss on its training data, ``τ_a`` local steps,
  per-group averaging; cycles cut so its server bytes (``(k+1)·N·d`` per cycle) stay within
  the global model's D2D bytes.

All methods spend at most the bytes of ``global`` (same cycles; clusters use a subset of the
edges). Output: one row per (instance, labels, model, seed, method).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd

from ssdfl._atomic import atomic_write
from ssdfl.planner.specialise import plan_specialised
from ssdfl.simulate import SSDFL, simulate
from ssdfl.simulate.metrics import own_distribution_sets, own_losses_accuracies
from ssdfl.theory.models import DeviceModel

TAU_A, TAU_R, CYCLES, BPP = 10, 2, 20, 4
ETA = {"softmax": 0.1, "mlp": 0.1}


# --------------------------------------------------------------------------- instances
def _connected(make: Callable[[int], nx.Graph], seed: int) -> nx.Graph:
    for k in range(100):
        g = make(seed + 1000 * k)
        if nx.is_connected(g):
            return nx.convert_node_labels_to_integers(g)
    raise RuntimeError("no connected draw")


def instance(kind: str, seed: int) -> tuple[nx.Graph, np.ndarray, int]:
    """Graph, group of every device (the communities labels may follow), classes per device."""
    if kind == "sbm":
        P = np.full((5, 5), 0.02)
        np.fill_diagonal(P, 0.6)
        g = _connected(lambda s: nx.stochastic_block_model([8] * 5, P.tolist(), seed=s), seed)
        return g, np.repeat(np.arange(5), 8), 2
    if kind == "rgg":
        g = _connected(lambda s: nx.random_geometric_graph(40, 0.3, seed=s), seed)
        x = np.array([g.nodes[i]["pos"][0] for i in range(40)])
        return g, np.minimum((x * 5).astype(int), 4), 2
    if kind == "karate":
        g = nx.karate_club_graph()
        grp = np.array([0 if g.nodes[i]["club"] == "Mr. Hi" else 1 for i in range(34)])
        h = nx.Graph()
        h.add_nodes_from(range(34))  # node order = device index (as_graph keeps node order)
        h.add_edges_from(g.edges())
        return h, grp, 5
    raise ValueError(kind)


def class_sets(groups: np.ndarray, per: int, aligned: bool, rng: np.random.Generator) -> list:
    if aligned:
        return [list(range(per * b, per * b + per)) for b in groups]
    return [sorted(rng.choice(10, per, replace=False).tolist()) for _ in groups]


def data(name: str, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Training pool and held-out pool of the data set."""
    from ssdfl.theory.data import load_digits_federated, load_mnist1d_federated

    if name == "softmax":
        ds = load_digits_federated(1, "iid", seed=0)
        rng = np.random.default_rng(seed)
        test = np.zeros(len(ds.y), dtype=bool)
        for c in range(10):
            ix = rng.permutation(np.flatnonzero(ds.y == c))
            test[ix[: len(ix) // 5]] = True
        return ds.X[~test], ds.y[~test], ds.X[test], ds.y[test]
    ds = load_mnist1d_federated(1, "iid", seed=0)
    assert ds.X_test is not None and ds.y_test is not None
    return ds.X, ds.y, ds.X_test, ds.y_test


def build(name: str, sets: list, seed: int) -> tuple[DeviceModel, DeviceModel, np.ndarray]:
    """(training model, own-distribution held-out model, label histograms)."""
    from ssdfl.theory.models import LogisticRegression
    from ssdfl.theory.nn import MLP

    Xtr, ytr, Xte, yte = data(name, seed)
    rng = np.random.default_rng(seed + 17)
    n = len(sets)
    idx: list[list[int]] = [[] for _ in range(n)]
    for c in range(10):
        holders = [i for i in range(n) if c in sets[i]]
        pool = rng.permutation(np.flatnonzero(ytr == c))
        for i, part in zip(holders, np.array_split(pool, max(len(holders), 1))):
            idx[i] += part.tolist()
    Zs = [Xtr[np.sort(ix)] for ix in idx]
    ys = [ytr[np.sort(ix)] for ix in idx]
    H = np.stack([np.bincount(y, minlength=10) for y in ys]).astype(float)
    Zo, yo = own_distribution_sets(Xte, yte, H, 30, rng)
    if name == "softmax":
        return LogisticRegression(Zs, ys, 10, 1e-3), LogisticRegression(Zo, yo, 10, 1e-3), H
    return (MLP(Zs, ys, 10, (32,), "relu", 1e-4), MLP(Zo, yo, 10, (32,), "relu", 1e-4), H)


# ----------------------------------------------------------------------------- methods
def _x0(model: DeviceModel, seed: int) -> np.ndarray | None:
    init = getattr(model, "init", None)  # neural nets: one seeded He-uniform start for all
    return None if init is None else np.asarray(init(seed))


def _row(method: str, own: DeviceModel, X: np.ndarray, nbytes: float, **kw: Any) -> dict:
    loss, acc = own_losses_accuracies(own, X)
    assert acc is not None
    return {"method": method, "own_loss_mean": float(loss.mean()),
            "own_loss_p90": float(np.percentile(loss, 90)), "own_acc_mean": float(acc.mean()),
            "own_acc_min": float(acc.min()), "own_acc_p10": float(np.percentile(acc, 10)),
            "bytes": float(nbytes), **kw}  # fmt: skip


def ifca(model: DeviceModel, k: int, cycles: int, eta: float, x0: np.ndarray | None,
         seed: int) -> tuple[np.ndarray, float]:  # fmt: skip
    """IFCA-style training at a server (numpy): ``k`` models (initial: ``x0`` plus small
    seeded noise, to break symmetry); each cycle every device takes the model with the lowest
    loss on its data, ``τ_a`` local SGD steps, and the server averages each group. Returns the
    devices' final models and the server bytes ``(k + 1)·N·d·4`` per cycle."""
    n, d = model.n_devices, model.dim
    rng = np.random.default_rng(seed)
    base = np.zeros(d) if x0 is None else np.asarray(x0, float).reshape(-1, d)[0]
    M = base + 0.01 * rng.standard_normal((k, d))
    X = np.zeros((n, d))
    for _ in range(cycles):
        L = np.stack([model.loss(np.tile(M[j], (n, 1))) for j in range(k)])
        pick = np.argmin(L, axis=0)
        X = M[pick].copy()
        for _ in range(TAU_A):
            X -= eta * model.grad(X)
        for j in range(k):
            if np.any(pick == j):
                M[j] = X[pick == j].mean(axis=0)
        X = M[pick]
    return X, float(cycles * (k + 1) * n * d * BPP)


def run_case(case: tuple[str, bool, int, list[str], bool]) -> list[dict]:
    kind, aligned, seed, models, with_upd = case
    g, groups, per = instance(kind, seed)
    assert list(g.nodes()) == list(range(g.number_of_nodes()))  # device i is node i
    sets = class_sets(groups, per, aligned, np.random.default_rng(seed))
    n = g.number_of_nodes()
    rows: list[dict] = []
    t0 = time.perf_counter()
    H0 = np.zeros((n, 10))
    for i, s in enumerate(sets):
        H0[i, s] = 1.0
    sp_plan = plan_specialised(g, H0 * 30, tau_a=TAU_A, tau_r=TAU_R, cycles=CYCLES, eta=0.1,
                               periods=(1, 5, 0), n_S=1, seeds=2)  # fmt: skip
    t_plan = time.perf_counter() - t0
    base = {"graph": kind, "labels": "aligned" if aligned else "random", "seed": seed, "n": n}
    for name in models:
        model, own, _H = build(name, sets, seed)
        eta = ETA[name]
        x0 = _x0(model, seed)
        kw: dict[str, Any] = dict(tau_a=TAU_A, tau_r=TAU_R, cycles=CYCLES, eta=eta, seed=seed,
                                  x0=x0, device_metrics=False, eval_every=CYCLES,
                                  bytes_per_param=BPP)  # fmt: skip
        b = {**base, "model": name}
        glob = simulate(model, g, SSDFL(clusters=np.zeros(n, int)), **kw)
        B = glob.final["d2d_bytes"]
        rows.append(_row("global", own, glob.X, B, **b))
        ft = simulate(model, g, "pdfl", **{**kw, "tau_r": 0, "cycles": 1, "x0": glob.X})
        rows.append(_row("global+ft", own, ft.X, B, **b))
        ftl = simulate(model, g, "pdfl", **{**kw, "tau_a": CYCLES * TAU_A, "tau_r": 0,
                                            "cycles": 1, "x0": glob.X})  # fmt: skip
        rows.append(_row("global+ftC", own, ftl.X, B, **b))
        loc = simulate(model, g, "pdfl", **{**kw, "tau_r": 0})
        rows.append(_row("local", own, loc.X, 0.0, **b))
        pk = sp_plan.pick
        if pk.kind == "global":
            spec_X, spec_B = glob.X, B
        elif pk.kind == "global+ft":
            spec_X = simulate(model, g, "pdfl", **{**kw, "tau_a": pk.ft_steps, "tau_r": 0,
                                                   "cycles": 1, "x0": glob.X}).X  # fmt: skip
            spec_B = B
        elif pk.kind == "local":
            spec_X, spec_B = loc.X, 0.0
        else:
            spec = simulate(model, g, SSDFL(clusters=pk.labels, inter_every=pk.period), **kw)
            spec_X, spec_B = spec.X, spec.final["d2d_bytes"]
        ru = sp_plan.runner_up
        rows.append(_row("specialised", own, spec_X, spec_B, **b, pick_kind=pk.kind,
                         runner_up=None if ru is None else ru.id,
                         pick=pk.id, pick_S=pk.S, pick_period=pk.period,
                         plan_seconds=t_plan))  # fmt: skip
        k = int(groups.max()) + 1
        cyc = int(min(CYCLES, B // ((k + 1) * n * model.dim * BPP)))
        Xi, bi = ifca(model, k, max(cyc, 1), eta, x0, seed)
        rows.append(_row("ifca", own, Xi, bi, **b, ifca_cycles=max(cyc, 1)))
        if name == "softmax" and with_upd:
            # histograms withheld: update similarity, pilot on the devices' own model with
            # local validation sets drawn from their training data
            Zv, yv = own_distribution_sets(model.Z, model.y_all, _H, 30,  # type: ignore[attr-defined]
                                           np.random.default_rng(seed + 5))  # fmt: skip
            from ssdfl.theory.models import LogisticRegression

            val = LogisticRegression(Zv, yv, 10, 1e-3)
            up = plan_specialised(g, None, model=model, own_test=val, tau_a=TAU_A,
                                  tau_r=TAU_R, cycles=CYCLES, eta=eta, periods=(1, 5, 0),
                                  n_S=1, seeds=1)  # fmt: skip
            pu = up.pick
            su = simulate(model, g, SSDFL(clusters=pu.labels, inter_every=pu.period), **kw)
            rows.append(_row("specialised-upd", own, su.X,
                             su.final["d2d_bytes"] + up.warmup_traffic.get("bytes", 0.0), **b,
                             pick=pu.id, pick_S=pu.S, pick_period=pu.period))  # fmt: skip
    print(f"{kind:6s} {base['labels']:7s} seed {seed}: pick {sp_plan.pick.id} "
          f"({time.perf_counter() - t0:.0f} s)", flush=True)  # fmt: skip
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--models", default="softmax,mlp")
    ap.add_argument("--graphs", default="sbm,rgg,karate")
    ap.add_argument("--labels", default="aligned,random")
    ap.add_argument("--no-upd", action="store_true", help="skip specialised-upd")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", type=Path, default=Path("docs/results/specialised.csv"))
    a = ap.parse_args()
    models = a.models.split(",")
    labs = [x == "aligned" for x in a.labels.split(",")]
    cases = [(k, al, s, models, not a.no_upd) for k in a.graphs.split(",") for al in labs
             for s in range(a.seeds)]  # fmt: skip
    t0 = time.perf_counter()
    if a.workers > 1:
        from multiprocessing import get_context

        with get_context("spawn").Pool(a.workers) as pool:
            parts = pool.map(run_case, cases, chunksize=1)
    else:
        parts = [run_case(c) for c in cases]
    df = pd.DataFrame([r for p in parts for r in p])
    a.out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(a.out) as fh:
        df.to_csv(fh, index=False)
    print(f"wrote {a.out} ({len(df)} rows) in {time.perf_counter() - t0:.0f} s")
    print(summary(df).to_string())


def summary(df: pd.DataFrame) -> pd.DataFrame:
    """Median [IQR] of the mean own-distribution loss and accuracy per case and method."""

    def miqr(x: pd.Series) -> str:
        q1, m, q3 = np.percentile(x, [25, 50, 75])
        return f"{m:.3f} [{q1:.3f}, {q3:.3f}]"

    g = df.groupby(["graph", "labels", "model", "method"], sort=False)
    return g.agg(own_loss=("own_loss_mean", miqr), own_acc=("own_acc_mean", miqr),
                 worst_acc=("own_acc_min", miqr),
                 MB=("bytes", lambda x: f"{np.median(x) / 1e6:.1f}"))  # fmt: skip


def markdown(df: pd.DataFrame) -> str:
    """The tables of docs/results.md ("Specialised models"): per model, median [IQR] of the
    mean own-distribution loss per instance and method, the planner's picks, and whether the
    specialised plan's IQR lies below those of the global model and global + fine-tuning."""
    meths = [m for m in ("specialised", "global", "global+ft", "global+ftC", "local", "ifca",
                         "specialised-upd") if m in set(df.method)]  # fmt: skip
    out = []
    for model, dm in df.groupby("model", sort=False):
        out.append(f"**{model}** — mean own-distribution loss, median [IQR] over "
                   f"{dm.seed.nunique()} seeds (MB: median D2D or server bytes)\n")  # fmt: skip
        out.append(
            "| graph | labels | "
            + " | ".join(meths)
            + " | picks | global recommended | beats global & +ft (τ_a) |"
        )
        out.append("|---" * (len(meths) + 5) + "|")
        for (gname, lab), d in dm.groupby(["graph", "labels"], sort=False):
            cells = []
            q: dict[str, tuple[float, float, float]] = {}
            for m in meths:
                x = d[d.method == m]
                if x.empty:
                    cells.append("—")
                    continue
                q1, md, q3 = np.percentile(x.own_loss_mean, [25, 50, 75])
                q[m] = (q1, md, q3)
                cells.append(f"{md:.3f} [{q1:.3f}, {q3:.3f}] ({np.median(x.bytes) / 1e6:.0f} MB)")
            picks = d[d.method == "specialised"].pick.value_counts()
            pk = ", ".join(f"{k} ×{v}" for k, v in picks.items())
            ok = all(q["specialised"][2] < q[m][0] for m in ("global", "global+ft"))
            sp = d[d.method == "specialised"]
            kinds = sp.pick_kind if "pick_kind" in sp else sp.pick.map(
                lambda x: "global" if x == "global" else "clustered")  # fmt: skip
            ng = int(kinds.isin(["global", "global+ft"]).sum())
            out.append(f"| {gname} | {lab} | " + " | ".join(cells) + f" | {pk} | "
                       f"{ng}/{len(sp)} | {'yes' if ok else 'no'} |")  # fmt: skip
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    import sys

    if len(sys.argv) == 3 and sys.argv[1] == "--markdown":
        print(markdown(pd.read_csv(sys.argv[2])))
    else:
        main()
