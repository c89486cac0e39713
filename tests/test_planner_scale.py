"""The planner at scale: every fast path equals its reference (Theorem-2 numbers against
``ssdfl.theory.bounds``, batched cluster numbers against per-cluster computations with networkx /
numpy / scipy, the sparse flooding traffic against the all-pairs one), and the invariant the
N ≈ 1000 failure broke: singletons are admissible at every S, so a formation always exists."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest
from scipy.spatial.distance import jensenshannon

import ssdfl
from ssdfl.clusters import batch
from ssdfl.graphs.mixing import block_mixing_matrix, mixing_matrix
from ssdfl.planner import theorem2 as T
from ssdfl.planner.candidates import generate_candidates
from ssdfl.planner.config import PlanConfig
from ssdfl.planner.plan import plan_formation
from ssdfl.planner.scoring import candidate_table
from ssdfl.simulate.clusters import cluster_labels
from ssdfl.theory import bounds
from ssdfl.theory.devices import DeviceTable

# these tests are about the paper's objective J (its MILP), not the recommendation
FAST = dict(fastest_mixing=False, schedule=False, theorem2=False, objective="J")


def graph(kind: str, n: int, seed: int = 0) -> ssdfl.Graph:
    for s in range(seed, seed + 100):
        if kind == "er":
            h = nx.gnp_random_graph(n, 6 / n, seed=s)
        elif kind == "rgg":
            h = nx.random_geometric_graph(n, math.sqrt(10 / (math.pi * n)), seed=s)
        else:
            h = nx.barabasi_albert_graph(n, 2, seed=s)
        if nx.is_connected(h):
            return ssdfl.Graph.from_edges(np.array(h.edges(), dtype=np.int64), n=n)
    raise AssertionError("no connected graph")


def nx_of(g: ssdfl.Graph) -> nx.Graph:
    """The same graph in networkx, node ``i`` = index ``i``."""
    h = nx.Graph()
    h.add_nodes_from(range(g.n))
    s, d, _ = g.edges()
    h.add_edges_from(zip(s.tolist(), d.tolist()))
    return h


def devices(n: int, seed: int = 0, grads: bool = False) -> DeviceTable:
    rng = np.random.default_rng(seed)
    kinds = rng.integers(3, size=n)
    opt = [["sgd", "prox", "momentum"][k] for k in kinds]
    mu = np.where(kinds == 1, 0.1, 0.0)
    rho = np.where(kinds == 2, 0.5, 0.0)
    hist = rng.integers(0, 30, size=(n, 5)).astype(float)
    hist[:, 0] += 1
    if grads:
        return DeviceTable(opt, mu, rho, np.full(n, np.nan), hist.sum(1),
                           grads=rng.normal(size=(n, 4)))  # fmt: skip
    return DeviceTable(opt, mu, rho, np.full(n, np.nan), hist.sum(1), hist,
                       [str(k) for k in range(5)])  # fmt: skip


def formations(g: ssdfl.Graph, cfg: PlanConfig) -> tuple[list[list[np.ndarray]], object]:
    cands, seq, _ = generate_candidates(g, cfg)
    t = candidate_table(g, cands, devices(g.n), cfg)
    fs = [seq[0], seq[len(seq) // 2], seq[-1], [np.array([u]) for u in range(g.n)]]
    return [sorted([np.sort(c) for c in f], key=lambda c: int(c[0])) for f in fs], t


# ---------------------------------------------------------------- Theorem-2 fast path
@pytest.mark.parametrize("kind,n", [("er", 24), ("rgg", 40), ("ba", 30)])
def test_theorem2_numbers_equal_bounds(kind: str, n: int, monkeypatch) -> None:
    g = graph(kind, n)
    cfg = PlanConfig(sigma2=0.05)
    fs, t = formations(g, cfg)
    # Theorem 2 takes L, μ, ζ from the devices' model (here: given gradients at the optimum)
    dc = T.DeviceConstants(cfg.L, cfg.mu, np.random.default_rng(n).normal(size=(g.n, 3)))
    for sparse in (False, True):
        if sparse:  # force the Lanczos / sparse routes on these small graphs
            monkeypatch.setattr(T, "DENSE_GRAPH", 4)
            monkeypatch.setattr(T, "DENSE_CLUSTER", 3)
        for cl in fs:
            lab = cluster_labels(cl, g.n)
            W, Wa = mixing_matrix(g), block_mixing_matrix(g, lab)
            fc = T.FormationConstants(g, cl, cfg)
            ref = bounds.inter_constants(W, lab)
            for k in ref:
                np.testing.assert_allclose(fc.inter[k], ref[k], rtol=0, atol=1e-9)
            np.testing.assert_array_equal(fc.labels, lab)
            P = T.theorem2_problem(g, cl, t, cfg, cfg.tau_a, cfg.tau_r, fc, device_constants=dc)
            Pr = bounds.generic_problem(lab, Wa, W, cfg.eta, cfg.tau_a, cfg.tau_r, L=cfg.L,
                                        mu=cfg.mu, zeta2=P.zeta_a**2 / P.sizes,
                                        zeta_b=P.zeta_b, sigma2=cfg.sigma2)  # fmt: skip
            assert P.lam_inter == pytest.approx(Pr.lam_inter, abs=1e-9)
            sched = [(5, 1), (10, 2), (20, 5), (40, 10)]
            curves = T.bound_curves(P, sched, 10, math.sqrt(g.n))
            for i, (a, b) in enumerate(sched):
                Q = bounds.generic_problem(lab, Wa, W, cfg.eta, a, b, L=cfg.L, mu=cfg.mu,
                                           zeta2=P.zeta_a**2 / P.sizes, zeta_b=P.zeta_b,
                                           sigma2=cfg.sigma2)  # fmt: skip
                opt = np.asarray(
                    bounds.run_bounds(Q, 10, e0=np.zeros(Q.S), b0=0.0, m0=math.sqrt(g.n)).opt
                )[:: a + b]
                np.testing.assert_allclose(curves[i], opt, rtol=1e-9, atol=1e-12)
            if sparse:
                continue
            num = T.theorem2_numbers(g, cl, t, cfg, cycles=20, constants=fc, device_constants=dc)
            cb = bounds.global_cycle_bound(Pr, 20, np.zeros((g.n, 1)), np.ones(1),
                                           radius_cycles=300)  # fmt: skip
            ends = np.asarray(cb.trace.opt)[:: cfg.tau_a + cfg.tau_r]
            np.testing.assert_allclose(num["bound_by_cycle"], ends, rtol=1e-9, atol=1e-12)
            assert num["rate"] == pytest.approx(cb.rate, rel=1e-9)
            assert num["radius"] == pytest.approx(cb.radius, rel=1e-9)
            assert num["radius_lower"] == pytest.approx(cb.radius_lower, rel=1e-9)
            assert num["radius_certified"] == cb.converges


# ---------------------------------------------------------------- batched cluster numbers
def _lazy_metropolis_slem(h: nx.Graph) -> float:
    nodes = list(h.nodes)
    n = len(nodes)
    if n == 1:
        return 0.0
    W = np.zeros((n, n))
    for a, b in h.edges():
        i, j = nodes.index(a), nodes.index(b)
        W[i, j] = W[j, i] = 1.0 / (1 + max(h.degree(a), h.degree(b)))
    W += np.diag(1 - W.sum(axis=1))
    ev = np.linalg.eigvalsh((np.eye(n) + W) / 2)
    return float(max(abs(ev[-2]), abs(ev[0])))


@pytest.mark.parametrize("kind", ["er", "rgg", "ba"])
def test_batched_slem_equals_networkx_numpy(kind: str, monkeypatch) -> None:
    g = graph(kind, 120)
    h = nx_of(g)
    cands, *_ = generate_candidates(g, PlanConfig(k_max=4))
    monkeypatch.setattr(batch, "LANCZOS_MIN", 60)  # exercise the sparse route too
    lam = batch.mixing_slem_many(g, cands)
    for c, v in zip(cands, lam):
        assert v == pytest.approx(_lazy_metropolis_slem(h.subgraph(c.tolist())), abs=1e-8)
    for rule in ("metropolis", "max-degree", "lazy-weighted-metropolis"):
        small = [c for c in cands if len(c) <= 40]
        ref = [0.0 if len(c) == 1 else ssdfl.second_eigenvalue(mixing_matrix(g.subgraph(c), rule))
               for c in small]  # fmt: skip
        np.testing.assert_allclose(batch.mixing_slem_many(g, small, rule), ref, atol=1e-12)
    assert batch.graph_slem(g, dense_max=10) == pytest.approx(_lazy_metropolis_slem(h), abs=1e-8)


def test_batched_exact_measures_equal_cluster_measure() -> None:
    g = graph("er", 60)
    cands, *_ = generate_candidates(g, PlanConfig(k_max=3))
    small = [c for c in cands if 2 <= len(c) <= 14]
    vals = batch.exact_measures_many(g, small, "mixing", "lazy-metropolis", 24)
    for c, v in zip(small, vals):
        ref = ssdfl.cluster_measure(g, c, measure="mixing", mixing_rule="lazy-metropolis")
        assert ref[3] and v == pytest.approx(ref[0], abs=1e-12)


@pytest.mark.parametrize("grads", [False, True])
def test_batched_heterogeneity_equals_scipy(grads: bool) -> None:
    rng = np.random.default_rng(3)
    n = 40
    dev = devices(n, 3, grads=grads)
    alpha = rng.uniform(0.5, 2.0, n)
    clusters = [np.sort(rng.choice(n, size=k, replace=False)) for k in (1, 2, 5, 9, 17, 40)]
    H, B = batch.heterogeneity_many(clusters, alpha, 0.7, label_hist=dev.label_hist,
                                    n_samples=dev.n_samples, grads=dev.grads,
                                    grad_scale=2.0)  # fmt: skip
    for c, h, b in zip(clusters, H, B):
        a = alpha[c]
        om = a.var() / a.mean() ** 2
        omb = (a.mean() / alpha.mean() - 1) ** 2
        if grads:
            gc = dev.grads[c]
            zeta2 = np.mean([np.sum((x - gc.mean(0)) ** 2) for x in gc])
            assert h == pytest.approx(zeta2 / 2.0 + 0.7 * om, rel=1e-12, abs=1e-14)
            bb = np.sum((gc.mean(0) - dev.grads.mean(0)) ** 2) / 2.0
            assert b == pytest.approx(bb + 0.7 * omb, rel=1e-12, abs=1e-14)
        else:
            hist = dev.label_hist
            w = dev.n_samples[c] / dev.n_samples[c].sum()
            pc = hist[c] / hist[c].sum(1, keepdims=True)
            pbar = w @ pc
            delta = sum(
                wi * np.nan_to_num(jensenshannon(p, pbar, base=2)) ** 2 for wi, p in zip(w, pc)
            )
            pall = hist.sum(0) / hist.sum()
            assert h == pytest.approx(delta + 0.7 * om, rel=1e-9, abs=1e-12)
            jb = np.nan_to_num(jensenshannon(pbar, pall, base=2)) ** 2
            assert b == pytest.approx(jb + 0.7 * omb, rel=1e-9, abs=1e-12)


# ---------------------------------------------------------------- traffic, layout
@pytest.mark.parametrize("kind,n", [("er", 80), ("rgg", 300), ("ba", 150)])
def test_sparse_flooding_equals_all_pairs(kind: str, n: int) -> None:
    from ssdfl.planner.schedule import flooding_traffic_sparse
    from ssdfl.simulate.comm import flooding_traffic, record_bytes

    g = graph(kind, n)
    R = record_bytes(g, 40)
    ref = flooding_traffic(g, R)
    assert flooding_traffic_sparse(g, R) == (ref.rounds, ref.messages, ref.bytes)
    p = ssdfl.Graph.from_networkx(nx.path_graph(9))
    ref = flooding_traffic(p, record_bytes(p))
    assert flooding_traffic_sparse(p, record_bytes(p)) == (ref.rounds, ref.messages, ref.bytes)


def test_spectral_layout_recovers_a_grid() -> None:
    from ssdfl.graphs.plotting import spectral_layout

    # the Laplacian eigenvectors 2, 3 of a 40 × 30 grid are cos(πx/40) and cos(πy/30)
    h = nx.grid_2d_graph(40, 30)
    g = ssdfl.Graph.from_networkx(nx.convert_node_labels_to_integers(h, ordering="sorted"))
    pos = spectral_layout(g)
    xs = np.array([x for x, _ in sorted(h.nodes)], dtype=float)
    ref = np.cos(np.pi * (xs + 0.5) / 40)
    assert abs(np.corrcoef(pos[:, 0], ref)[0, 1]) > 0.999


# ---------------------------------------------------------------- the N ≈ 1000 invariant
def test_singletons_admissible_at_every_S_and_a_formation_beyond_64_clusters() -> None:
    # a long cycle with τ_a = 5, ε = 0.1: only pairs mix fast enough (lazy Metropolis λ = 1/2
    # ≤ 0.1^(1/5) ≈ 0.63 < λ of three devices), so no formation with S ≤ 64 covers 300
    # devices — the old S range (≤ 64) had none at all
    n = 300
    g = ssdfl.Graph.from_networkx(nx.cycle_graph(n))
    cfg = PlanConfig(k_max=2, tau_a=5, eps=0.1, **FAST)
    plan = plan_formation(g, devices(n), cfg)
    assert plan.S > 64
    assert sorted(np.concatenate(plan.clusters).tolist()) == list(range(n))
    h = nx.cycle_graph(n)
    eps_S = bounds.eps_S(plan.S, cfg.eps)
    for c in plan.clusters:
        assert nx.is_connected(h.subgraph(c.tolist()))
        assert _lazy_metropolis_slem(h.subgraph(c.tolist())) ** cfg.tau_a <= eps_S + 1e-12
    # with the S range capped below what any formation needs: a clear error, not "bug"
    with pytest.raises(ssdfl.InfeasibleError, match="max-clusters"):
        plan_formation(g, devices(n), PlanConfig(k_max=2, tau_a=5, eps=0.1, max_clusters=10,
                                                 **FAST))  # fmt: skip


def test_large_geometric_graph_has_a_formation() -> None:
    g = graph("rgg", 1000)
    cfg = PlanConfig(k_max=2, **FAST)
    cands, *_ = generate_candidates(g, cfg)
    t = candidate_table(g, cands, devices(g.n), cfg)
    single = t.size == 1
    for S in (1, 2, 64, 65, 500, g.n):
        assert t.admissible(S, cfg)[single].all()
    plan = plan_formation(g, devices(g.n), cfg)
    assert sorted(np.concatenate(plan.clusters).tolist()) == list(range(g.n))
    assert plan.objective == pytest.approx(min(r["objective"] for r in plan.by_S if r["feasible"]))
