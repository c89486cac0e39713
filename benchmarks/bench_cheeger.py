"""Cheeger constants, spectra and sweep cuts: ssdfl vs networkx / scipy, side by side.

Run by hand (a few minutes; ``--quick`` for a smoke run)::

    python benchmarks/bench_cheeger.py
    python benchmarks/bench_cheeger.py --quick

Parts (every ssdfl result is checked against the reference before its time is reported):

1. exact Cheeger constant at n = 16 (weighted G(n, 0.3) plus a Hamiltonian path):
   ``ssdfl.cheeger_constant(method="exact")`` (Rust Gray-code enumeration, rayon) vs a
   straightforward enumeration with networkx's ``cut_size``/``volume`` and vs a vectorized
   numpy enumeration (all 2^(n−1) sets as a 0/1 matrix); absolute ssdfl times for n = 24, 28,
   30 (and 32 unless ``--quick``).
2. λ₂ and Fiedler vector of the normalized Laplacian on random geometric graphs (2-D unit
   square), Erdős–Rényi, Barabási–Albert and random 10-regular graphs, all of mean degree 10,
   with 10⁴, 10⁵, 10⁶ edges (largest component): ``ssdfl.graphs.spectral.fiedler_pair`` vs
   ``networkx.algebraic_connectivity`` / ``fiedler_vector`` (``method="tracemin_pcg"``), plain
   ``scipy.sparse.linalg.eigsh`` (``k=2, which="SM"``) on 𝓛 and, on the geometric graphs,
   shift-invert ``eigsh`` (``sigma=-1e-3``); goal: at most 1.5× the best scipy time. Slow
   baselines are cut off after ``--cap`` seconds.
4. ``algebraic_connectivity`` (λ₂ of ``L``) vs ``eigsh(L, k=2)`` on ER with 10⁵ and 10⁶ edges
   (``--parts lambda2``).
3. sweep cut along a given vector on a 10⁶-edge graph: ``ssdfl.sweep_cut`` (Rust) vs a
   vectorized numpy/scipy sweep (argsort, edge-rank difference array, cumulative sums).

Times are the best of ``--repeat`` runs (baselines: of 1 run). Ratio = baseline / ssdfl.
"""

from __future__ import annotations

import argparse
import itertools
import math
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from scipy.spatial import cKDTree
from threadpoolctl import threadpool_limits
from tqdm import tqdm

import ssdfl
from ssdfl.graphs.spectral import fiedler_pair

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import best_of, fmt_time, machine_facts, markdown_table


class Timeout(Exception):
    pass


def capped(fn: Callable[[], Any], cap: float) -> tuple[float | None, Any]:
    """Run ``fn`` once with a wall-clock cap (SIGALRM); ``(None, None)`` when cut off."""

    def handler(signum: int, frame: Any) -> None:
        raise Timeout

    old = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, cap)
    t0 = time.perf_counter()
    try:
        out = fn()
        return time.perf_counter() - t0, out
    except Timeout:
        return None, None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def ratio(base: float | None, ours: float, cap: float | None = None) -> str:
    if base is None:
        return f"> {cap / ours:.0f}×" if cap else "—"
    return f"{base / ours:.1f}×" if base / ours < 100 else f"{base / ours:.0f}×"


# ----------------------------------------------------------------------- part 1
def small_graph(n: int, seed: int) -> nx.Graph:
    rng = np.random.default_rng(seed)
    g = nx.gnp_random_graph(n, 0.3, seed=seed)
    g.add_edges_from(zip(range(n - 1), range(1, n)))
    for u, v in g.edges:
        g[u][v]["weight"] = float(rng.uniform(0.5, 5))
    return g


def nx_enumeration(g: nx.Graph) -> float:
    nodes = list(g)
    n = len(nodes)
    best = math.inf
    for k in range(1, n):
        for S in itertools.combinations(nodes[:-1], k):
            T = set(nodes) - set(S)
            den = min(nx.volume(g, S, weight="weight"), nx.volume(g, T, weight="weight"))
            best = min(best, nx.cut_size(g, S, T, weight="weight") / den)
    return best


def numpy_enumeration(g: nx.Graph) -> float:
    n = g.number_of_nodes()
    A = nx.to_numpy_array(g, nodelist=range(n))
    d = A.sum(1)
    best = math.inf
    codes = np.arange(1, 2 ** (n - 1), dtype=np.int64)
    for lo in range(0, len(codes), 1 << 16):
        X = ((codes[lo : lo + (1 << 16), None] >> np.arange(n)) & 1).astype(np.float64)
        vol = X @ d
        cut = vol - np.einsum("ij,ij->i", X @ A, X)
        best = min(best, float(np.min(cut / np.minimum(vol, d.sum() - vol))))
    return best


def part_exact(args: argparse.Namespace) -> str:
    g = small_graph(16, 1)
    t_ours, r = best_of(lambda: ssdfl.cheeger_constant(g, method="exact"), args.repeat)
    t_nx, ref = capped(lambda: nx_enumeration(g), args.cap)
    t_np, ref_np = capped(lambda: numpy_enumeration(g), args.cap)
    for x in (ref, ref_np):
        if x is not None:
            assert abs(r.value - x) <= 1e-9 * x, (r.value, x)
    first = ["16", f"{2**15:,}", fmt_time(t_ours), fmt_time(t_nx), ratio(t_nx, t_ours, args.cap)]
    rows = [[*first, fmt_time(t_np), ratio(t_np, t_ours, args.cap)]]
    sizes = [24, 28] if args.quick else [24, 28, 30, 32]
    for n in tqdm(sizes, desc="exact Cheeger", leave=False):
        h = small_graph(n, n)
        rep = 1 if n >= 30 else args.repeat
        t, _ = best_of(lambda h=h: ssdfl.cheeger_constant(h, method="exact", max_exact=32), rep)
        rows.append([str(n), f"{2 ** (n - 1):,}", fmt_time(t), "—", "—", "—", "—"])
    header = ["n", "cuts", "ssdfl exact", "networkx enum.", "ratio", "numpy enum.", "ratio"]
    return markdown_table(header, rows)


# ----------------------------------------------------------------------- part 2
def rgg(m: int, seed: int) -> sp.csr_array:
    n = m // 5  # mean degree 10
    rng = np.random.default_rng(seed)
    P = rng.random((n, 2))
    pairs = cKDTree(P).query_pairs(math.sqrt(10 / (math.pi * n)), output_type="ndarray")
    return _sym(n, pairs[:, 0], pairs[:, 1])


def er(m: int, seed: int) -> sp.csr_array:
    n = m // 5
    rng = np.random.default_rng(seed)
    s, d = rng.integers(0, n, m), rng.integers(0, n, m)
    k = s != d
    return _sym(n, s[k], d[k])


def ba(m: int, seed: int) -> sp.csr_array:
    G = nx.barabasi_albert_graph(m // 5, 5, seed=seed)  # mean degree 10
    e = np.asarray(G.edges())
    return _sym(G.number_of_nodes(), e[:, 0], e[:, 1])


def regular(m: int, seed: int) -> sp.csr_array:
    G = nx.random_regular_graph(10, m // 5, seed=seed)
    e = np.asarray(G.edges())
    return _sym(G.number_of_nodes(), e[:, 0], e[:, 1])


def _sym(n: int, s: np.ndarray, d: np.ndarray) -> sp.csr_array:
    A = sp.coo_array((np.ones(len(s)), (s, d)), shape=(n, n)).tocsr()
    A = sp.csr_array(A + A.T)
    A.data[:] = 1.0
    _, lab = sp.csgraph.connected_components(A)
    idx = np.flatnonzero(lab == np.bincount(lab).argmax())
    return sp.csr_array(A[idx][:, idx])


def scipy_sm(A: sp.csr_array) -> float:
    L = sp.csgraph.laplacian(A, normed=True)
    with threadpool_limits(1):
        w = spla.eigsh(L, k=2, which="SM", tol=1e-8, return_eigenvectors=False)
    return float(np.sort(w)[1])


def scipy_si(A: sp.csr_array) -> float:
    """Shift-invert ``eigsh`` (SuperLU inside): the best scipy method on geometric graphs; not
    run on expanders, whose LU fills in (no answer in minutes at 10⁵ edges; the C factorization
    cannot be cut off by the alarm)."""
    L = sp.csgraph.laplacian(A, normed=True)
    with threadpool_limits(1):
        w = spla.eigsh(L, k=2, sigma=-1e-3, which="LM", tol=1e-8, return_eigenvectors=False)
    return float(np.sort(w)[1])


def part_spectral(args: argparse.Namespace) -> str:
    sizes = [10**4, 10**5] if args.quick else [10**4, 10**5, 10**6]
    rows = []
    gens = {"rgg": rgg, "er": er, "ba": ba, "regular": regular}
    jobs = [(kind, m) for m in sizes for kind in gens]
    for kind, m in tqdm(jobs, desc="λ₂ / Fiedler", leave=False):
        A = gens[kind](m, 0)
        g = ssdfl.Graph.from_scipy(A)
        rep = 1 if m >= 10**6 else args.repeat
        t_ours, (lam, v) = best_of(lambda g=g: fiedler_pair(g, normalized=True), rep, warmup=False)
        G = nx.from_scipy_sparse_array(A) if m <= args.nx_max else None
        if G is not None:
            t_nx, lam_nx = capped(
                lambda G=G: nx.algebraic_connectivity(G, normalized=True, method="tracemin_pcg"),
                args.cap,
            )
            t_nxv, v_nx = capped(
                lambda G=G: nx.fiedler_vector(G, normalized=True, method="tracemin_pcg"),
                args.cap,
            )
        else:
            t_nx = t_nxv = lam_nx = v_nx = None
        t_sp, lam_sp = capped(lambda A=A: scipy_sm(A), args.cap)
        t_si, lam_si = capped(lambda A=A: scipy_si(A), args.cap) if kind == "rgg" else (None, None)
        for ref in (lam_nx, lam_sp, lam_si):
            if ref is not None:
                assert abs(lam - ref) <= 1e-5 * max(ref, 1e-3), (kind, m, lam, ref)
        if v_nx is not None:
            assert abs(abs(v @ (v_nx / np.linalg.norm(v_nx))) - 1) < 1e-3
        nx_cell = fmt_time(t_nx) if G is not None else "not run"
        nxv_cell = fmt_time(t_nxv) if G is not None else "not run"
        rows.append(
            [
                f"{kind} n={g.n:,} m={g.m:,}",
                f"{lam:.3g}",
                fmt_time(t_ours),
                nx_cell if t_nx or G is None else f"> {args.cap:.0f} s",
                ratio(t_nx, t_ours, args.cap) if G is not None else "—",
                nxv_cell if t_nxv or G is None else f"> {args.cap:.0f} s",
                ratio(t_nxv, t_ours, args.cap) if G is not None else "—",
                fmt_time(t_sp) if t_sp else f"> {args.cap:.0f} s",
                ratio(t_sp, t_ours, args.cap),
                (fmt_time(t_si) if t_si else f"> {args.cap:.0f} s") if kind == "rgg" else "—",
                goal_cell(t_ours, [t for t in (t_sp, t_si) if t is not None], args.cap),
            ]
        )
    header = [
        "graph",
        "λ₂(𝓛)",
        "ssdfl λ₂ + Fiedler",
        "nx alg. conn.",
        "ratio",
        "nx fiedler_vector",
        "ratio",
        "scipy eigsh SM",
        "ratio",
        "scipy shift-invert",
        "goal: ≤ 1.5× best scipy",
    ]
    return markdown_table(header, rows)


def part_lambda2(args: argparse.Namespace) -> str:
    """``ssdfl.algebraic_connectivity`` (λ₂ of ``L = D − A``, networkx's default) vs
    ``scipy.sparse.linalg.eigsh(L, k=2)`` (``which="SA"`` and ``"SM"``, tol 1e-8, one BLAS
    thread for both) on Erdős–Rényi graphs with 10⁵ and 10⁶ edges (mean degree 10, largest
    component), in one process, load average beside each row. Goal (issue 21): ssdfl ≤ 1.5×
    the best eigsh."""
    import os

    rows = []
    sizes = [10**5] if args.quick else [10**5, 10**6]
    for m in sizes:
        A = er(m, 0)
        g = ssdfl.Graph.from_scipy(A)
        L = sp.csr_array(sp.csgraph.laplacian(A))
        load = os.getloadavg()[0]
        rep = 1 if m >= 10**6 else args.repeat

        def ours(g: ssdfl.Graph = g) -> float:
            return ssdfl.algebraic_connectivity(g)

        t_ours, lam = best_of(ours, rep, warmup=False)
        cells, times = [], []
        for which in ("SA", "SM"):

            def ref(which: str = which, L: sp.csr_array = L) -> float:
                with threadpool_limits(1):
                    w = spla.eigsh(L, k=2, which=which, tol=1e-8, return_eigenvectors=False)
                return float(np.sort(w)[1])

            t, lam_ref = capped(ref, args.cap)
            if t is not None:
                assert abs(lam - lam_ref) <= 1e-6 * lam_ref, (lam, lam_ref)
                times.append(t)
            cells.append(fmt_time(t) if t else f"> {args.cap:.0f} s")
        best = min(times) if times else args.cap
        rows.append(
            [
                f"ER n={g.n:,} m={g.m:,}",
                f"{lam:.4g}",
                fmt_time(t_ours),
                *cells,
                f"{t_ours / best:.2f}× {'(met)' if t_ours <= 1.5 * best else '(NOT met)'}",
                f"{load:.1f} / {os.getloadavg()[0]:.1f}",
            ]
        )
    header = [
        "graph",
        "λ₂(L)",
        "ssdfl",
        "eigsh SA",
        "eigsh SM",
        "ssdfl / best eigsh (≤ 1.5)",
        "load before / after",
    ]
    return markdown_table(header, rows)


def goal_cell(ours: float, scipy_times: list[float], cap: float) -> str:
    """``ours / best scipy`` and whether it is at most 1.5 (a baseline cut off at ``cap`` counts
    as ``cap``, so the ratio is then an upper bound)."""
    best = min(scipy_times) if scipy_times else cap
    r = ours / best
    bound = "" if scipy_times else "≤ "
    return f"{bound}{r:.2f}× {'met' if r <= 1.5 else 'NOT met'}"


# ----------------------------------------------------------------------- part 3
def numpy_sweep(A: sp.csr_array, x: np.ndarray) -> tuple[float, int]:
    n = A.shape[0]
    order = np.argsort(x, kind="stable")
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    C = sp.triu(A, 1).tocoo()
    lo = np.minimum(rank[C.row], rank[C.col])
    hi = np.maximum(rank[C.row], rank[C.col])
    diff = np.bincount(lo, C.data, n + 1) - np.bincount(hi, C.data, n + 1)
    cut = np.cumsum(diff)[: n - 1]
    d = np.asarray(A.sum(axis=1)).ravel()
    vol = np.cumsum(d[order])[: n - 1]
    phi = cut / np.minimum(vol, d.sum() - vol)
    k = int(np.argmin(phi))
    return float(phi[k]), k + 1


def part_sweep(args: argparse.Namespace) -> str:
    rows = []
    for kind in ("rgg", "er"):
        A = (rgg if kind == "rgg" else er)(10**6, 1)
        g = ssdfl.Graph.from_scipy(A)
        x = np.random.default_rng(0).standard_normal(g.n) + np.arange(g.n) / g.n
        t_ours, r = best_of(lambda g=g, x=x: ssdfl.sweep_cut(g, x), args.repeat)
        t_np, (phi, k) = best_of(lambda A=A, x=x: numpy_sweep(A, x), args.repeat)
        assert abs(r.value - phi) <= 1e-9 * phi and r.prefix_len == k
        rows.append(
            [f"{kind} n={g.n:,} m={g.m:,}", fmt_time(t_ours), fmt_time(t_np), ratio(t_np, t_ours)]
        )
    return markdown_table(["graph", "ssdfl sweep_cut", "numpy sweep", "ratio"], rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes (smoke run)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--cap", type=float, default=60.0, help="seconds per baseline run")
    ap.add_argument(
        "--nx-max", type=int, default=10**5, help="largest edge count given to networkx"
    )
    ap.add_argument(
        "--parts", default="exact,sweep,spectral,lambda2", help="comma-separated subset to run"
    )
    args = ap.parse_args()
    parts = set(args.parts.split(","))
    facts = machine_facts()
    print("\n".join(f"- {k}: {v}" for k, v in facts.items()))
    if "exact" in parts:
        print("\n### Exact Cheeger constant (volume normalization)\n")
        print(part_exact(args), flush=True)
    if "sweep" in parts:
        print("\n### Sweep cut (1M edges, given vector)\n")
        print(part_sweep(args), flush=True)
    if "lambda2" in parts:
        print("\n### algebraic_connectivity (λ₂ of L) vs eigsh\n")
        print(part_lambda2(args), flush=True)
    if "spectral" in parts:
        print("\n### λ₂ and Fiedler vector of the normalized Laplacian\n")
        print(part_spectral(args), flush=True)
    print(f"\n- load average after: {machine_facts()['load average (1/5/15 min)']}")


if __name__ == "__main__":
    main()
