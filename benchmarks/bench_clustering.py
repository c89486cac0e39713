"""Cluster search, side by side: ssdfl.partition / ssdfl.split_hierarchy vs METIS (pymetis),
networkx Louvain and greedy modularity, and scikit-learn SpectralClustering, at the same k.

For every graph and method it reports, measured the same way for everyone:
- ``min Φ_int``: the smallest internal conductance over the clusters (conductance of the
  induced subgraph, degrees inside it; 0 for a disconnected cluster). Clusters up to 24 nodes are
  measured exactly (enumeration); larger ones by the best sweep cut of their own Fiedler vector,
  an upper bound marked ``~`` (the same estimator for every method);
- ``max Φ_cut``: the largest ``cut(C, V∖C)/min(vol C, vol V∖C)``;
- ``conn``: whether every cluster induces a connected subgraph;
- wall time of the method (one run, after an untimed warm-up for the fast ones).

Competitors that do not take k: Louvain's finest level with at least k communities is merged
greedily (smallest community into its most-connected neighbour) down to k; greedy modularity
is asked for exactly k (``cutoff=best_n=k``). Run: ``python benchmarks/bench_clustering.py``
(``--quick`` for the small graphs only, ``--markdown FILE`` to write the tables,
``--large-only`` for partition vs METIS at N = 10⁴ and 10⁵ with the 10×-time goal).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import networkx as nx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ssdfl
from _common import machine_facts, markdown_table
from ssdfl._atomic import atomic_write


# ----------------------------------------------------------------------------- graphs
def _lcc(G: nx.Graph) -> nx.Graph:
    G = G.subgraph(max(nx.connected_components(G), key=len)).copy()
    return nx.convert_node_labels_to_integers(G)


def graph_families(quick: bool) -> list[tuple[str, nx.Graph, int]]:
    """(name, graph, k) for every benchmark case; graphs are connected (largest component)."""
    out: list[tuple[str, nx.Graph, int]] = [
        ("ER N=30 p=0.1", _lcc(nx.erdos_renyi_graph(30, 0.1, seed=1)), 3),
        ("ER N=30 p=0.2", _lcc(nx.erdos_renyi_graph(30, 0.2, seed=1)), 3),
        ("RGG N=50 r=0.3", _lcc(nx.random_geometric_graph(50, 0.3, seed=1)), 4),
        ("BA N=50 m=2", nx.barabasi_albert_graph(50, 2, seed=1), 4),
        ("WS N=50 k=4 p=0.1", nx.connected_watts_strogatz_graph(50, 4, 0.1, seed=1), 4),
        (
            "SBM 4×40 (0.4/0.01)",
            _lcc(nx.stochastic_block_model([40] * 4, _pmat(4, 0.4, 0.01), seed=1)),
            4,
        ),
    ]
    if quick:
        return out
    out += [
        ("RGG N=1000 r=0.06", _lcc(nx.random_geometric_graph(1000, 0.06, seed=2)), 8),
        ("BA N=1000 m=3", nx.barabasi_albert_graph(1000, 3, seed=2), 8),
        ("WS N=1000 k=6 p=0.1", nx.connected_watts_strogatz_graph(1000, 6, 0.1, seed=2), 8),
        (
            "SBM 8×125 (0.1/0.002)",
            _lcc(nx.stochastic_block_model([125] * 8, _pmat(8, 0.1, 0.002), seed=2)),
            8,
        ),
        ("RGG N=10⁴ r=0.02", _lcc(nx.random_geometric_graph(10_000, 0.02, seed=3)), 8),
        ("BA N=10⁴ m=3", nx.barabasi_albert_graph(10_000, 3, seed=3), 8),
        (
            "SBM 10×1000 (0.02/0.0002)",
            _lcc(nx.stochastic_block_model([1000] * 10, _pmat(10, 0.02, 0.0002), seed=3)),
            10,
        ),
    ]
    return out


def _pmat(k: int, pin: float, pout: float) -> list[list[float]]:
    return [[pin if i == j else pout for j in range(k)] for i in range(k)]


# ---------------------------------------------------------------------------- methods
def _labels_from_sets(n: int, sets: list) -> np.ndarray:
    lab = np.full(n, -1, dtype=np.int64)
    for i, c in enumerate(sets):
        lab[list(c)] = i
    return lab


def _merge_to_k(G: nx.Graph, lab: np.ndarray, k: int) -> np.ndarray:
    """Merge the smallest community into the one it shares most edge weight with, until k."""
    lab = lab.copy()
    while len(np.unique(lab)) > k:
        ids, sizes = np.unique(lab, return_counts=True)
        small = ids[np.argmin(sizes)]
        link: dict[int, float] = {}
        for u in np.flatnonzero(lab == small):
            for v in G[u]:
                if lab[v] != small:
                    link[int(lab[v])] = link.get(int(lab[v]), 0.0) + G[u][v].get("weight", 1.0)
        target = max(link, key=lambda t: (link[t], -t)) if link else int(ids[ids != small][0])
        lab[lab == small] = target
    _, lab = np.unique(lab, return_inverse=True)
    return lab


def m_ssdfl_internal(G: nx.Graph, k: int) -> np.ndarray:
    return ssdfl.partition(G, k, objective="internal").labels


def m_ssdfl_cut(G: nx.Graph, k: int) -> np.ndarray:
    return ssdfl.partition(G, k, objective="cut").labels


def m_split_hierarchy(G: nx.Graph, k: int) -> np.ndarray | None:
    fs = ssdfl.split_hierarchy(G, 0.0, max_clusters=k)
    return fs[k - 1].labels if len(fs) >= k else None


def m_metis(G: nx.Graph, k: int) -> np.ndarray:
    import pymetis

    adj = [list(G.neighbors(u)) for u in range(G.number_of_nodes())]
    _, parts = pymetis.part_graph(k, adjacency=adj)
    return np.asarray(parts, dtype=np.int64)


def m_louvain(G: nx.Graph, k: int) -> np.ndarray:
    levels = list(nx.community.louvain_partitions(G, seed=0))
    pick = levels[0]
    for lev in levels:
        if len(lev) >= k:
            pick = lev
    return _merge_to_k(G, _labels_from_sets(G.number_of_nodes(), pick), k)


def m_greedy(G: nx.Graph, k: int) -> np.ndarray:
    comms = nx.community.greedy_modularity_communities(G, cutoff=k, best_n=k)
    return _labels_from_sets(G.number_of_nodes(), comms)


def m_spectral(G: nx.Graph, k: int) -> np.ndarray:
    from sklearn.cluster import SpectralClustering

    A = nx.to_scipy_sparse_array(G, format="csr", dtype=float)
    A.indices = A.indices.astype(np.int32)
    A.indptr = A.indptr.astype(np.int32)
    sc = SpectralClustering(n_clusters=k, affinity="precomputed", random_state=0)
    return sc.fit_predict(A).astype(np.int64)


METHODS: list[tuple[str, Callable[[nx.Graph, int], np.ndarray | None], int]] = [
    # (name, function, largest n it is run on)
    ("ssdfl partition internal", m_ssdfl_internal, 10**9),
    ("ssdfl partition cut", m_ssdfl_cut, 10**9),
    ("ssdfl split_hierarchy S=k", m_split_hierarchy, 10**9),
    ("METIS (pymetis)", m_metis, 10**9),
    ("networkx Louvain", m_louvain, 10**9),
    ("networkx greedy modularity", m_greedy, 3000),
    ("sklearn SpectralClustering", m_spectral, 10**9),
]


# ---------------------------------------------------------------------------- metrics
def evaluate(G: nx.Graph, g: ssdfl.Graph, lab: np.ndarray) -> tuple[float, bool, float, bool]:
    """(min internal conductance, estimated?, max cut conductance, all connected)."""
    worst, approx, connected, cut = np.inf, False, True, 0.0
    for c in np.unique(lab):
        nodes = np.flatnonzero(lab == c)
        if not ssdfl.is_set_connected(g, nodes):
            connected = False
            val, exact = 0.0, True
        else:
            val, _, _, exact = ssdfl.cluster_measure(g, nodes)
        worst = min(worst, val)
        approx = approx or not exact
        if len(nodes) < g.n:
            cut = max(cut, ssdfl.conductance(g, nodes, weight="weight"))
    return float(worst), approx, float(cut), connected


def run(quick: bool) -> tuple[str, list[list[str]], list[list[str]]]:
    header = ["graph", "n", "m", "k", "method", "min Φ_int", "max Φ_cut", "conn", "time"]
    rows: list[list[str]] = []
    summary: list[list[str]] = []
    for name, G, k in graph_families(quick):
        g = ssdfl.Graph.from_networkx(G)
        results = {}
        for mname, fn, nmax in METHODS:
            if G.number_of_nodes() > nmax:
                rows.append([name, str(g.n), str(g.m), str(k), mname, "skipped", "", "", ""])
                continue
            if g.n <= 1000:
                fn(G, k)  # warm-up (imports, caches)
            t0 = time.perf_counter()
            try:
                lab = fn(G, k)
            except Exception as exc:
                rows.append([name, str(g.n), str(g.m), str(k), mname, f"error: {exc}"[:60]])
                continue
            dt = time.perf_counter() - t0
            if lab is None:
                rows.append([name, str(g.n), str(g.m), str(k), mname, "did not reach k"])
                continue
            worst, approx, cut, conn = evaluate(G, g, lab)
            results[mname] = worst
            rows.append(
                [
                    name,
                    str(g.n),
                    str(g.m),
                    str(k),
                    mname,
                    f"{'~' if approx else ''}{worst:.4f}",
                    f"{cut:.4f}",
                    "yes" if conn else "NO",
                    f"{dt:.3f} s",
                ]
            )
            print(" | ".join(rows[-1]), flush=True)
        ours = max(
            results.get("ssdfl partition internal", -1), results.get("ssdfl partition cut", -1)
        )
        beaten = [m for m, v in results.items() if not m.startswith("ssdfl") and v > ours + 1e-12]
        summary.append(
            [name, f"{ours:.4f}", ", ".join(beaten) if beaten else "none (ours ≥ every competitor)"]
        )
    return markdown_table(header, rows), rows, summary


def hierarchy_timing(quick: bool) -> str:
    """split_hierarchy wall time on N = 10⁴ graphs (graph measure) for two thresholds."""
    if quick:
        return ""
    header = ["graph", "n", "m", "phi_min", "S reached", "min Φ", "time"]
    rows = []
    cases = [
        ("RGG r=0.02", _lcc(nx.random_geometric_graph(10_000, 0.02, seed=3))),
        ("BA m=3", nx.barabasi_albert_graph(10_000, 3, seed=3)),
        ("WS k=6 p=0.1", nx.connected_watts_strogatz_graph(10_000, 6, 0.1, seed=3)),
        (
            "SBM 10×1000",
            _lcc(nx.stochastic_block_model([1000] * 10, _pmat(10, 0.02, 0.0002), seed=3)),
        ),
    ]
    for name, G in cases:
        g = ssdfl.Graph.from_networkx(G)
        for phi in (0.3, 0.05):
            t0 = time.perf_counter()
            fs = ssdfl.split_hierarchy(g, phi)
            dt = time.perf_counter() - t0
            rows.append(
                [
                    name,
                    str(g.n),
                    str(g.m),
                    str(phi),
                    str(fs[-1].S),
                    f"{fs[-1].min_conductance:.4f}",
                    f"{dt:.2f} s",
                ]
            )
            print(" | ".join(rows[-1]), flush=True)
    return markdown_table(header, rows)


def _metis_csr(g: ssdfl.Graph, k: int) -> np.ndarray:
    """pymetis from the CSR arrays of an ``ssdfl.Graph`` (no Python adjacency lists)."""
    import pymetis

    csr = g._core.csr()
    _, parts = pymetis.part_graph(k, xadj=csr.indptr, adjncy=csr.indices)
    return np.asarray(parts, dtype=np.int64)


def _quality(g: ssdfl.Graph, lab: np.ndarray) -> tuple[float, bool, float, float, bool, int]:
    """(min Φ_int, estimated?, max Φ_cut, total cut weight, all connected, smallest size)."""
    v, approx, cut_max, conn = evaluate(nx.Graph(), g, lab)  # evaluate() reads only g
    s, t, w = g.edges()
    cut_total = float(w[lab[s] != lab[t]].sum())
    return v, approx, cut_max, cut_total, conn, int(np.bincount(lab).min())


def large_partition(quick: bool, old: bool = True) -> str:
    """``partition`` (internal objective, k = 8) vs METIS at N = 10⁴ and 10⁵ on RGG, ER, BA and
    SBM, with the goal of issue 21: at most 10× METIS's wall time, connected clusters, no
    degenerate cluster. Both start from a prebuilt ``ssdfl.Graph`` (METIS from its CSR arrays).
    ``old``: also the first implementation's path at N = 10⁴ (spectral starts + refinement,
    ``min_size=1``: ``FAST_MIN_N`` set back to 20,000). Quality: min internal conductance (``~``
    = sweep estimate), max cut conductance, total cut weight, smallest cluster."""
    import ssdfl.clusters.clustering as C

    header = [
        "graph",
        "n",
        "m",
        "method",
        "time",
        "× METIS",
        "min Φ_int",
        "max Φ_cut",
        "cut",
        "conn",
        "min size",
        "load",
    ]
    rows = []
    for n in (10_000,) if quick else (10_000, 100_000):
        cases = [
            (
                "RGG deg≈12",
                lambda n=n: _lcc(nx.random_geometric_graph(n, (12 / (np.pi * n)) ** 0.5, seed=3)),
            ),
            ("ER deg≈10", lambda n=n: _lcc(nx.gnm_random_graph(n, 5 * n, seed=3))),
            ("BA m=3", lambda n=n: nx.barabasi_albert_graph(n, 3, seed=3)),
            (
                "SBM 10 blocks",
                lambda n=n: _lcc(
                    nx.stochastic_block_model(
                        [n // 10] * 10, _pmat(10, 20 / (n // 10), 2 / n), seed=3
                    )
                ),
            ),
        ]
        for name, make in cases:
            g = ssdfl.Graph.from_networkx(make())
            t0 = time.perf_counter()
            lab_m = _metis_csr(g, 8)
            t_m = time.perf_counter() - t0

            def ours(g: ssdfl.Graph = g) -> np.ndarray:
                return ssdfl.partition(g, 8).labels

            methods: list[tuple[str, Callable[[], np.ndarray]]] = [
                ("METIS (pymetis)", lambda: lab_m),  # noqa: B023 (called in this iteration)
                ("ssdfl partition", ours),
            ]
            if old and n <= 10_000:

                def old_fn(g: ssdfl.Graph = g) -> np.ndarray:
                    saved = C.FAST_MIN_N
                    C.FAST_MIN_N = 20_000
                    try:
                        return ssdfl.partition(g, 8, min_size=1).labels
                    finally:
                        C.FAST_MIN_N = saved

                methods.append(("first implementation", old_fn))
            for meth, fn in methods:
                load = os.getloadavg()[0]
                t0 = time.perf_counter()
                lab = fn()
                t = t_m if meth.startswith("METIS") else time.perf_counter() - t0
                v, a, cmax, ctot, conn, smin = _quality(g, lab)
                rows.append(
                    [
                        name,
                        str(g.n),
                        str(g.m),
                        meth,
                        f"{t:.2f} s",
                        f"{t / t_m:.1f}×",
                        f"{'~' if a else ''}{v:.4f}",
                        f"{cmax:.4f}",
                        f"{ctot:.0f}",
                        "yes" if conn else "NO",
                        str(smin),
                        f"{load:.1f}",
                    ]
                )
                print(" | ".join(rows[-1]), flush=True)
    return markdown_table(header, rows)


def random_partition_timing() -> str:
    """``random_connected_partition`` at n = 10⁴ (RGG, mean degree ≈ 12) vs the first
    implementation (``_old`` of ``tests/test_random_partition.py``: every step rescans all
    edges), CPU time in one process, load beside each row."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from ssdfl.simulate.clusters import random_connected_partition
    from test_random_partition import _old

    n = 10_000
    g = ssdfl.Graph.from_networkx(
        _lcc(nx.random_geometric_graph(n, (12 / (np.pi * n)) ** 0.5, seed=3))
    )
    rows = []
    for S in (10, 100):
        c0 = time.process_time()
        _old(g, S, np.random.default_rng(0))
        t_old = time.process_time() - c0
        ts = []
        for _ in range(5):
            c0 = time.process_time()
            random_connected_partition(g, S, 0)
            ts.append(time.process_time() - c0)
        rows.append([f"RGG n={g.n} m={g.m}", str(S), f"{t_old:.2f} CPU-s",
                     f"{min(ts) * 1e3:.2f} CPU-ms", f"{t_old / min(ts):.0f}×",
                     f"{os.getloadavg()[0]:.1f}"])  # fmt: skip
    return markdown_table(["graph", "S", "first implementation", "now", "ratio", "load"], rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small graphs only")
    ap.add_argument("--markdown", type=Path, help="write the tables to this file")
    ap.add_argument("--hierarchy-only", action="store_true", help="only the N = 10⁴ timings")
    ap.add_argument(
        "--large-only", action="store_true", help="only partition vs METIS at N = 10⁴, 10⁵"
    )
    ap.add_argument("--small-only", action="store_true", help="with --large-only: N = 10⁴ only")
    ap.add_argument("--no-old", action="store_true", help="skip the first implementation")
    ap.add_argument(
        "--random-partition", action="store_true", help="only random_connected_partition, n = 10⁴"
    )
    args = ap.parse_args()
    facts = machine_facts()
    print(" ".join(f"{k}={v}" for k, v in facts.items()))
    if args.random_partition:
        print(random_partition_timing())
        return
    if args.hierarchy_only:
        print(hierarchy_timing(False))
        return
    if args.large_only:
        print(large_partition(args.small_only, old=not args.no_old))
        print(" ".join(f"{k}={v}" for k, v in machine_facts().items()))
        return
    table, _, summary = run(args.quick)
    hier = hierarchy_timing(args.quick)
    large = "" if args.quick else large_partition(False, old=not args.no_old)
    if large:
        hier = (hier + "\n\n" if hier else "") + large
    summ = markdown_table(
        ["graph", "ours (best of partition)", "competitors with higher min Φ_int"], summary
    )
    print()
    print(table)
    print()
    print(summ)
    if hier:
        print()
        print(hier)
    if args.markdown:
        with atomic_write(args.markdown) as fh:
            fh.write(table + "\n\n" + summ + ("\n\n" + hier if hier else "") + "\n")


if __name__ == "__main__":
    main()
