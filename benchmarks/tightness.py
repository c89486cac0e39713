"""Tightness report of the bounds in :mod:`ssdfl.theory.bounds`: bound ÷ observed over a
fixed suite.

Observed values are exact expectations on quadratics (mean and covariance propagated through
the affine schedule), so the ratios carry no Monte-Carlo error. The suite is fixed (seeded):
5 graphs × formations with S = 1, 2, 3 (from ``split_hierarchy`` on the mixing conductance) ×
4 optimizer families × (heterogeneous or common Hessians), common initialization ``X⁰ = 0``,
``η = 0.05``, ``τ_a = 4``, ``τ_r = 2``, ``σ = 0.3``, 8 cycles. Ratios at every round ``t ≥ 1``.

Run: ``python benchmarks/tightness.py`` — prints the table and rewrites the block between
``<!-- tightness:begin -->`` and ``<!-- tightness:end -->`` in ``docs/theory.md``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import networkx as nx
import numpy as np
from tqdm import tqdm

from ssdfl import Graph, mixing_matrix
from ssdfl._atomic import atomic_write
from ssdfl.clusters.clustering import split_hierarchy
from ssdfl.theory.bounds import (
    bound_problem,
    global_cycle_bound,
    intra_cluster_convergence,
    theorem1_rate,
)
from ssdfl.theory.effective import EffectiveLoss, effective_minimizer
from ssdfl.theory.models import Quadratic
from ssdfl.theory.optimizers import random_population
from ssdfl.theory.reference import affine_schedule, block_mixing, exact_moments

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from _bound_helpers import expected_gaps  # noqa: E402

FAMILIES = {
    "SGD": ("sgd",),
    "SGD+prox": ("sgd", "prox"),
    "SGD+momentum": ("sgd", "momentum"),
    "SGD+prox+momentum": ("sgd", "prox", "momentum"),
}
ETA, TAU_A, TAU_R, SIGMA, CYCLES, D = 0.05, 4, 2, 0.3, 8, 2


def graphs() -> dict[str, nx.Graph]:
    er = nx.gnp_random_graph(12, 0.3, seed=3)
    while not nx.is_connected(er):
        er = nx.gnp_random_graph(12, 0.3, seed=int(er.number_of_edges()) + 7)
    rgg = nx.random_geometric_graph(12, 0.45, seed=5)
    rgg = nx.Graph(rgg.edges()) if nx.is_connected(rgg) else nx.barbell_graph(6, 0)
    return {
        "ER(12,0.3)": er,
        "WS(12,4,0.2)": nx.connected_watts_strogatz_graph(12, 4, 0.2, seed=1),
        "RGG(12,0.45)": nx.convert_node_labels_to_integers(rgg),
        "barbell(6,6)": nx.barbell_graph(6, 0),
        "complete(8)": nx.complete_graph(8),
    }


def ratios(obs: np.ndarray, bound: np.ndarray) -> np.ndarray:
    ok = obs > 1e-14
    return (bound[ok] / obs[ok]).ravel()


def run() -> tuple[dict[str, dict[str, list[float]]], int]:
    out: dict[str, dict[str, list[float]]] = {}
    rates: dict[str, list[float]] = {}
    cases = []
    for gname, gx in graphs().items():
        g = Graph.from_networkx(gx)
        forms = split_hierarchy(g, phi_min=0.0, measure="mixing", max_clusters=3)
        for f in forms:
            for fam in FAMILIES:
                for common in (False, True):
                    cases.append((gname, g, np.asarray(f.labels), fam, common))
    for k, (_gname, g, labels, fam0, common) in enumerate(tqdm(cases, desc="tightness suite")):
        fam = fam0 + (" (common A)" if common else "")
        out.setdefault(fam, {})
        rates.setdefault(fam, [])
        rng = np.random.default_rng(1000 + k)
        n = g.n
        Wa, Wr = block_mixing(g, labels), mixing_matrix(g).toarray()
        q = Quadratic.random(n, D, rng, mu=0.5, L=2.0, heterogeneity=1.0, common_hessian=common)
        pop = random_population(
            n, rng, kinds=FAMILIES[fam0], mu_range=(0.01, 0.2), rho_range=(0.05, 0.3)
        )
        X0 = np.zeros((n, D))
        sched = affine_schedule(q, pop, Wa, Wr, ETA, TAU_A, TAU_R)
        mean, cov = exact_moments(sched, X0, CYCLES, SIGMA)
        P = bound_problem(q, labels, Wa, Wr, pop, ETA, TAU_A, TAU_R, sigma=SIGMA)
        x_c = P.x_ref
        obs = expected_gaps(mean, cov, labels, x_c)
        cb = global_cycle_bound(P, CYCLES, X0, x_c)
        tr = cb.trace
        sizes = np.array([np.sum(labels == s) for s in np.unique(labels)])
        keep = sizes >= 2
        res = out[fam]
        res.setdefault("Lemma 1 (E Γ_s)", []).extend(
            ratios(obs["gamma_s"][1:, keep], tr.gamma_s[1:, keep])
        )
        res.setdefault("Lemma 2 (E Γ)", []).extend(ratios(obs["gamma"][1:], tr.gamma[1:]))
        res.setdefault("Theorem 2 ((1/N)E‖X−1x_cᵀ‖²)", []).extend(
            ratios(obs["opt"][1:], tr.opt[1:])
        )
        rates[fam].append(cb.rate)
        if "momentum" not in FAMILIES[fam0]:
            c = np.ones(n)
            F = EffectiveLoss(q, Wa, ETA, mu=pop.mu, anchor=X0 + 1.0, scales=c)
            Xs = effective_minimizer(F)
            s1 = affine_schedule(q, pop, Wa, np.eye(n), ETA, TAU_A, 0)
            m1, c1 = exact_moments(s1, X0 + 1.0, 1, SIGMA)
            o1 = np.sum((m1 - Xs) ** 2, axis=(1, 2)) + np.trace(c1, axis1=1, axis2=2)
            qf = theorem1_rate(
                Wa, ETA, float(np.min(q.mu_i + pop.mu)), float(np.max(q.L_i + pop.mu))
            )
            b1 = intra_cluster_convergence(
                float(np.sum((X0 + 1.0 - Xs) ** 2)), qf, np.arange(TAU_A + 1), ETA, SIGMA**2,
                c, n,
            )  # fmt: skip
            res.setdefault("Theorem 1 (E‖X−X̃*‖²)", []).extend(ratios(o1[1:], b1[1:]))
    for fam in out:
        out[fam]["rate<1"] = [float(np.mean(np.asarray(rates[fam]) < 1))]
    return out, len(cases)


def table(res: dict[str, dict[str, list[float]]], n_cases: int) -> str:
    lines = [
        f"Suite: {n_cases} instances (5 graphs × formations S = 1, 2, 3 × 4 optimizer "
        f"families × Hessians heterogeneous or common), quadratics d = {D} (Hessian "
        "eigenvalues in [0.5, 2], `b_i ~ N(0, I)`), "
        f"η = {ETA}, τ_a = {TAU_A}, τ_r = {TAU_R}, σ = {SIGMA}, {CYCLES} cycles, X⁰ = 0; "
        "prox μ ∈ [0.01, 0.2], momentum ρ ∈ [0.05, 0.3]. Ratio = bound ÷ exact expectation, "
        "pooled over rounds t ≥ 1 (and clusters for Lemma 1). Generated by "
        "`python benchmarks/tightness.py`.",
        "",
        "| optimizers | statement | median | worst (max) | best (min) | Thm-2 rate < 1 |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for fam, rr in res.items():
        frac = rr.get("rate<1", [float("nan")])[0]
        for stmt, vals in rr.items():
            if stmt == "rate<1" or not vals:
                continue
            v = np.asarray(vals)
            lines.append(
                f"| {fam} | {stmt} | {np.median(v):.3g} | {v.max():.3g} | {v.min():.3g} | "
                f"{frac:.0%} |"
            )
    return "\n".join(lines)


def main() -> None:
    t0 = time.perf_counter()
    res, n_cases = run()
    txt = table(res, n_cases)
    print(txt)
    print(f"\n({time.perf_counter() - t0:.1f} s)")
    doc = ROOT / "docs" / "theory.md"
    if doc.exists():
        s = doc.read_text()
        a, b = "<!-- tightness:begin -->", "<!-- tightness:end -->"
        if a in s and b in s:
            s = s[: s.index(a) + len(a)] + "\n" + txt + "\n" + s[s.index(b) :]
            with atomic_write(doc) as fh:
                fh.write(s)
            print(f"updated {doc}")


if __name__ == "__main__":
    main()
