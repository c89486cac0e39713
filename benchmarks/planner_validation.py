"""Does the planner's formation train best? Predicted vs observed over many instances.

For every instance (graph, label split, model, devices with all four optimizers mixed: SGD,
prox, momentum, Adam) this runs :func:`ssdfl.planner.validate.validate_formations`: the planner
chooses a formation (:func:`ssdfl.planner.predict.choose_formation`: analytic shortlist, then
pilot simulations on proxy data — the devices' label histograms realised on the built-in data
set with fresh draws and half the samples, replicates independent of the judged seeds), then
``--formations`` formations spanning S = 1…N (the pick, S = 1, S = N, the paper's greedy
pick, the MILP-J pick, random clusters of the pick's S, the splitting loop and others) and the
baselines sDFL, STC, MoDeST-style are trained at the same budget on the judged data over
``--seeds`` seeds. Printed per instance: Spearman ρ between predicted (mean pilot loss) and
observed median, the same for the analytic predictor alone, the pick and its ties, the best
formation trained and the pick's regret (observed median of the pick ÷ the best formation
trained − 1), and the baselines predicted vs observed.

Instance sets: ``--set fresh`` (the judged set of issue 19, drawn after the pilot method was
fixed and committed: seeds 21–31), ``--set judge`` (the previous judged set, seeds 11–18, used
while the pilot was developed) and ``--set tune`` (the analytic constants' tuning instances,
seeds 101–106 and 1–8). ``--dump FILE`` stores the raw results (JSON).

Run: ``nice python benchmarks/planner_validation.py --set fresh --seeds 5 --budget bytes``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass

import networkx as nx
import numpy as np

from ssdfl.graphs.graph import as_graph
from ssdfl.planner.plan import PlanConfig, plan_formation
from ssdfl.planner.predict import Budget
from ssdfl.planner.validate import validate_formations
from ssdfl.theory.data import load_digits_federated, load_mnist1d_federated
from ssdfl.theory.devices import DeviceTable
from ssdfl.theory.optimizers import random_population


@dataclass(frozen=True)
class Instance:
    name: str
    family: str
    n: int
    labels: int
    model: str
    seed: int
    data: str = "digits"


JUDGE = [
    Instance("ER-20 1-label softmax", "er", 20, 1, "softmax", 11),
    Instance("RGG-20 2-label MLP", "rgg", 20, 2, "mlp", 12),
    Instance("BA-20 1-label MLP", "ba", 20, 1, "mlp", 13),
    Instance("WS-20 2-label softmax", "ws", 20, 2, "softmax", 14),
    Instance("SBM-21 1-label MLP", "sbm", 21, 1, "mlp", 15),
    Instance("K12 2-label softmax", "complete", 12, 2, "softmax", 16),
    Instance("RGG-16 1-label CNN", "rgg", 16, 1, "cnn", 17, "mnist1d"),
    Instance("ER-16 2-label CNN", "er", 16, 2, "cnn", 18, "mnist1d"),
]
FRESH = [
    Instance("karate 2-label softmax", "karate", 34, 2, "softmax", 21),
    Instance("les misérables 1-label softmax", "lesmis", 77, 1, "softmax", 22),
    Instance("florentine 2-label MLP", "florentine", 15, 2, "mlp", 23),
    Instance("davis southern women 1-label MLP", "davis", 32, 1, "mlp", 24),
    Instance("SBM-24 label-aligned 1-label softmax", "sbm-aligned", 24, 1, "softmax", 25),
    Instance("grid 5x5 2-label CNN", "grid", 25, 2, "cnn", 26, "mnist1d"),
    Instance("ring of 5 5-cliques 1-label softmax", "ring-cliques", 25, 1, "softmax", 27),
    Instance("ER-24 2-label MLP", "er", 24, 2, "mlp", 28),
    Instance("RGG-20 1-label CNN", "rgg", 20, 1, "cnn", 29, "mnist1d"),
    Instance("BA-24 2-label softmax", "ba", 24, 2, "softmax", 30),
    Instance("WS-24 1-label MLP", "ws", 24, 1, "mlp", 31),
]
"""The fresh judged set (issue 19): drawn after the pilot method was committed."""

TUNE = [
    Instance("ER-24 2-label MLP", "er", 24, 2, "mlp", 101),
    Instance("RGG-18 1-label softmax", "rgg", 18, 1, "softmax", 102),
    Instance("SBM-18 2-label softmax", "sbm", 18, 2, "softmax", 103),
    Instance("WS-18 1-label MLP", "ws", 18, 1, "mlp", 104),
    Instance("BA-16 2-label CNN", "ba", 16, 2, "cnn", 105, "mnist1d"),
    Instance("K10 1-label MLP", "complete", 10, 1, "mlp", 106),
    # the first judged set (seeds 1-8): the predictor failed there (docs/results.md), so it
    # became tuning data and the judged set was redrawn with seeds 11-18
    Instance("ER-20 1-label softmax (s1)", "er", 20, 1, "softmax", 1),
    Instance("RGG-20 2-label MLP (s2)", "rgg", 20, 2, "mlp", 2),
    Instance("BA-20 1-label MLP (s3)", "ba", 20, 1, "mlp", 3),
    Instance("WS-20 2-label softmax (s4)", "ws", 20, 2, "softmax", 4),
    Instance("SBM-21 1-label MLP (s5)", "sbm", 21, 1, "mlp", 5),
    Instance("K12 2-label softmax (s6)", "complete", 12, 2, "softmax", 6),
    Instance("RGG-16 1-label CNN (s7)", "rgg", 16, 1, "cnn", 7, "mnist1d"),
    Instance("ER-16 2-label CNN (s8)", "er", 16, 2, "cnn", 8, "mnist1d"),
]


FIXED = {
    "karate": nx.karate_club_graph,
    "lesmis": nx.les_miserables_graph,
    "florentine": nx.florentine_families_graph,
    "davis": nx.davis_southern_women_graph,
    "grid": lambda: nx.grid_2d_graph(5, 5),
    "ring-cliques": lambda: nx.ring_of_cliques(5, 5),
}


def make_graph(family: str, n: int, seed: int) -> nx.Graph:
    """A connected graph of the family (first connected draw from ``seed`` upwards); the
    named real graphs, the grid and the ring of cliques as given (nodes renumbered)."""
    if family in FIXED:
        G = nx.Graph(FIXED[family]())
        G.remove_edges_from(nx.selfloop_edges(G))
        return nx.convert_node_labels_to_integers(G, ordering="sorted")
    if family == "sbm-aligned":
        family = "sbm"
    for s in range(seed, seed + 1000):
        if family == "er":
            G = nx.erdos_renyi_graph(n, 0.2, seed=s)
        elif family == "rgg":
            G = nx.random_geometric_graph(n, 0.35, seed=s)
        elif family == "ba":
            G = nx.barabasi_albert_graph(n, 2, seed=s)
        elif family == "ws":
            G = nx.watts_strogatz_graph(n, 4, 0.1, seed=s)
        elif family == "sbm":
            sizes = [n // 3 + (1 if i < n % 3 else 0) for i in range(3)]
            P = [[0.6 if i == j else 0.03 for j in range(3)] for i in range(3)]
            G = nx.stochastic_block_model(sizes, P, seed=s)
            G = nx.Graph(G)
        elif family == "complete":
            G = nx.complete_graph(n)
        else:
            raise ValueError(family)
        if nx.is_connected(G):
            return nx.convert_node_labels_to_integers(G)
    raise RuntimeError(f"no connected {family} graph")


def make_devices(inst: Instance) -> DeviceTable:
    """Devices of an instance: a ``labels``-label split of the data set (histograms) and one
    optimizer per device drawn from {SGD, prox μ ∈ [0.01, 0.1], momentum ρ ∈ [0.5, 0.9], Adam}."""
    rng = np.random.default_rng(inst.seed)
    if inst.family == "sbm-aligned":
        return _aligned_devices(inst, rng)
    if inst.data == "digits":
        ds = load_digits_federated(inst.n, "k-label", k=inst.labels, seed=inst.seed)
    else:
        ds = load_mnist1d_federated(inst.n, "k-label", k=inst.labels, seed=inst.seed,
                                    num_samples=2500)  # fmt: skip
    pop = random_population(inst.n, rng, kinds=("sgd", "prox", "momentum", "adam"),
                            mu_range=(0.01, 0.1), rho_range=(0.5, 0.9))  # fmt: skip
    cols = sorted({c for o in pop.optimizers for c in getattr(o, "columns", ())} - {"mu", "rho"})
    params = {c: np.array([float(getattr(o, c, np.nan)) for o in pop.optimizers]) for c in cols}
    return DeviceTable(
        optimizer=[str(k) for k in pop.kinds], mu=pop.mu.copy(), rho=pop.rho.copy(),
        lr=np.full(inst.n, np.nan), n_samples=ds.sizes.astype(float),
        label_hist=ds.label_histograms(), classes=[str(c) for c in range(10)],
        source=f"benchmark instance {inst.name}", params=params,
    )  # fmt: skip


def _optimizer_columns(n: int, rng: np.random.Generator) -> dict:
    pop = random_population(n, rng, kinds=("sgd", "prox", "momentum", "adam"),
                            mu_range=(0.01, 0.1), rho_range=(0.5, 0.9))  # fmt: skip
    cols = sorted({c for o in pop.optimizers for c in getattr(o, "columns", ())} - {"mu", "rho"})
    params = {c: np.array([float(getattr(o, c, np.nan)) for o in pop.optimizers]) for c in cols}
    return {"optimizer": [str(k) for k in pop.kinds], "mu": pop.mu.copy(),
            "rho": pop.rho.copy(), "params": params}  # fmt: skip


def _aligned_devices(inst: Instance, rng: np.random.Generator) -> DeviceTable:
    """SBM whose communities hold the same labels: block ``k`` of 3 (the SBM's block order)
    draws its devices' ``labels`` classes from the class group {0–3}, {4–6} or {7–9}."""
    n = inst.n
    sizes = [n // 3 + (1 if i < n % 3 else 0) for i in range(3)]
    groups = [[0, 1, 2, 3], [4, 5, 6], [7, 8, 9]]
    H = np.zeros((n, 10))
    i = 0
    for k, sz in enumerate(sizes):
        for _ in range(sz):
            cls = rng.choice(groups[k], size=inst.labels, replace=False)
            H[i, cls] = 1797 // (n * inst.labels)
            i += 1
    return DeviceTable(**_optimizer_columns(n, rng), lr=np.full(n, np.nan),
                       n_samples=H.sum(axis=1), label_hist=H,
                       classes=[str(c) for c in range(10)],
                       source=f"benchmark instance {inst.name}")  # fmt: skip


def make_budget(kind: str, cycles: int, g, seed: int) -> Budget:
    """``bytes``/``cycles``, or ``time`` with heterogeneous links: bandwidth per edge
    log-uniform in 0.1–10 MB/s, latency 5 ms, per-step compute time per device uniform in
    1–10 ms (seeded by the instance)."""
    if kind != "time":
        return Budget(kind, cycles)
    rng = np.random.default_rng(seed + 77)
    bw = 10 ** rng.uniform(5, 7, size=g.m)
    comp = rng.uniform(0.001, 0.01, size=g.n)
    return Budget("time", cycles, bandwidth=bw, latency=0.005, compute=comp)


def run(inst: Instance, seeds: int, cycles: int, budget: str, tau_a: int, tau_r: int,
        n_formations: int = 8) -> dict:  # fmt: skip
    g = as_graph(make_graph(inst.family, inst.n, inst.seed))
    dev = make_devices(inst)
    t0 = time.perf_counter()
    # the plan supplies the candidates (J's MILP optimum, the greedy pick): its own choice is
    # made analytically (no pilot); validate_formations makes the piloted choice at the budget
    cfg = PlanConfig(eta=0.05, tau_a=tau_a, tau_r=tau_r, fastest_mixing=False, schedule=False,
                     theorem2=False, pilot_budget=0)  # fmt: skip
    plan = plan_formation(g, dev, cfg)
    res = validate_formations(g, dev, None, eta=0.05, tau_a=tau_a, tau_r=tau_r, model=inst.model,
                              data=inst.data, seeds=seeds, cycles=cycles,
                              budget=make_budget(budget, cycles, g, inst.seed),
                              seed0=1000 * inst.seed, plan=plan, n_formations=n_formations,
                              baselines=True)  # fmt: skip
    res["n"] = g.n
    res["seconds"] = time.perf_counter() - t0
    res["instance"] = inst.name
    res["spearman_J"] = spearman_of_J(g, dev, cfg, res)
    return res


def spearman_of_J(g, dev: DeviceTable, cfg: PlanConfig, res: dict) -> float:
    """Spearman ρ of the MILP objective J (Lemma-1/2 disagreement) of the same trained
    formations against their observed medians: how the old objective would have ranked them."""
    from scipy.stats import spearmanr

    from ssdfl.planner.scoring import candidate_table, formation_objective

    J = []
    for f in res["formations"]:
        cl = [np.asarray(sorted(c), dtype=np.int64) for c in f["clusters"]]
        t = candidate_table(g, cl, dev, cfg)
        J.append(formation_objective(t, list(range(len(cl))), g.n))
    return float(spearmanr(J, [f["observed_median"] for f in res["formations"]]).statistic)


def _cell(f: dict) -> str:
    lo, hi = f["observed_iqr"]
    return f"{f['observed_median']:.3f} [{lo:.3f}–{hi:.3f}]"


def summarize(r: dict) -> dict:
    """Per-instance numbers of the table: ρ of the pilot prediction and of the analytic
    predictor, regret of the pick and of "always S = 1", baselines."""
    from scipy.stats import spearmanr

    f = r["formations"]
    med = np.array([x["observed_median"] for x in f])
    best = f[int(np.argmin(med))]
    pick = next(x for x in f if x["chosen"])
    one = next(x for x in f if x["S"] == 1)
    alone = next((x for x in f if x["S"] == r["n"]), None)
    rho_a = float(spearmanr([x["analytic"] for x in f], med).statistic)
    return {
        "pick": pick,
        "best": best,
        "one": one,
        "alone": alone,
        "rho_analytic": rho_a,
        "regret_one": float(one["observed_median"] / best["observed_median"] - 1),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", choices=["fresh", "judge", "tune"], default="fresh")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--cycles", type=int, default=12)
    ap.add_argument("--budget", choices=["bytes", "cycles", "time"], default="bytes")
    ap.add_argument("--tau-a", type=int, default=10)
    ap.add_argument("--tau-r", type=int, default=4)
    ap.add_argument("--formations", type=int, default=8)
    ap.add_argument("--only", default=None, help="run instances whose name contains this")
    ap.add_argument("--dump", default=None, help="write raw results (JSON) here")
    a = ap.parse_args(argv)
    insts = {"fresh": FRESH, "judge": JUDGE, "tune": TUNE}[a.set]
    if a.only:
        insts = [i for i in insts if any(o.lower() in i.name.lower() for o in a.only.split(","))]
    print(f"# planner validation ({a.set} set, {a.budget} budget, {a.cycles} cycles, "
          f"τ_a={a.tau_a}, τ_r={a.tau_r}, {a.seeds} seeds, {a.formations} formations); load "
          f"average {' / '.join(f'{x:.1f}' for x in os.getloadavg())}")  # fmt: skip
    print("| instance | N | ρ (pilot) | ρ (analytic) | pick [ties] | pick observed | best trained "
          "| regret | always S = 1 | sDFL / STC / MoDeST observed (predicted) | pilot "
          "(device-steps, s) | time |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    out = []
    for inst in insts:
        r = run(inst, a.seeds, a.cycles, a.budget, a.tau_a, a.tau_r, a.formations)
        sm = summarize(r)
        r["rho_analytic"], r["regret_one"] = sm["rho_analytic"], sm["regret_one"]
        out.append(r)
        bo, bp = r["baselines_observed"], r["baselines_predicted"]
        bl = " / ".join(
            f"{bo[k]['observed_median']:.3f} ({bp[k]['predicted']:.3f})"
            if bp.get(k, {}).get("predicted") is not None else f"{bo[k]['observed_median']:.3f} (—)"
            for k in ("sdfl", "stc", "modest"))  # fmt: skip
        ties = f" [{', '.join(r['ties'])}]" if r["ties"] else ""
        print(f"| {inst.name} | {r['n']} | {r['spearman']:.2f} | {sm['rho_analytic']:.2f} | "
              f"{sm['pick']['id']}{ties} | {_cell(sm['pick'])} | {sm['best']['id']}: "
              f"{_cell(sm['best'])} | {100 * r['regret']:.1f} % | "
              f"{100 * sm['regret_one']:.1f} % | {bl} | {r['pilot']['device_steps']:.3g}, "
              f"{r['pilot']['seconds']:.0f} s | {r['seconds']:.0f} s |", flush=True)  # fmt: skip
        if a.dump:
            with open(a.dump, "w") as fh:
                json.dump(out, fh, indent=1, default=str)
    rho = np.array([r["spearman"] for r in out])
    rho_a = np.array([r["rho_analytic"] for r in out])
    reg = np.array([r["regret"] for r in out])
    reg1 = np.array([r["regret_one"] for r in out])
    print(f"\nmean Spearman {np.nanmean(rho):.2f} (analytic alone {np.nanmean(rho_a):.2f}); "
          f"regret ≤ 5 % on {int(np.sum(reg <= 0.05))} of {len(out)} instances (mean "
          f"{100 * np.mean(reg):.1f} %, max {100 * np.max(reg):.1f} %); 'always S = 1': ≤ 5 % "
          f"on {int(np.sum(reg1 <= 0.05))}, mean {100 * np.mean(reg1):.1f} %; load average now "
          f"{' / '.join(f'{x:.1f}' for x in os.getloadavg())}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
