"""Graph basics: ssdfl vs networkx (and rustworkx where it has the function), side by side.

Run by hand (1–5 minutes depending on machine load; ~3 GB of RAM for the networkx graphs)::

    python benchmarks/bench_graph.py            # 1M edges, 200k nodes
    python benchmarks/bench_graph.py --edges 100000 --nodes 20000   # quick

Operations, all on the same random graph (uniform endpoints, no loops or repeats, weights
uniform in [0.5, 5)):

1. read an edge-list file (``u v`` lines) and one with weights (``u v w``):
   ``ssdfl.read_graph`` vs ``networkx.read_edgelist`` vs ``rustworkx.PyGraph.read_edge_list``;
2. weighted degrees of every node: ``Graph.degrees`` vs ``G.degree(weight=...)`` (materialized);
3. ``volume``, ``cut_size`` and ``conductance`` of a random half of the nodes vs networkx's
   functions of the same names (rustworkx has none of them).

Every ssdfl result is checked against networkx's before its time is reported. ssdfl times are
the best of ``--repeat`` runs after a warm-up (wall time, and separately the least process CPU
time summed over threads); networkx/rustworkx times the best of ``--repeat-slow`` runs. The
ratio columns are (other library's wall time) / (ssdfl's wall time).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import networkx as nx
import numpy as np

import ssdfl

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import best_of, best_of_cpu, fmt_time, machine_facts, markdown_table


def make_graph(n: int, m: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``m`` distinct random edges on ``n`` nodes (no loops) and weights in [0.5, 5)."""
    rng = np.random.default_rng(seed)
    e = np.empty((0, 2), dtype=np.int64)
    while len(e) < m:
        extra = rng.integers(0, n, size=(int((m - len(e)) * 1.1) + 16, 2))
        e = np.unique(np.sort(np.vstack([e, extra[extra[:, 0] != extra[:, 1]]]), axis=1), axis=0)
    e = e[rng.permutation(len(e))[:m]]
    w = np.round(rng.uniform(0.5, 5.0, size=m), 3)
    return e, w


def write_edgelist(path: Path, e: np.ndarray, w: np.ndarray | None) -> None:
    if w is None:
        np.savetxt(path, e, fmt="%d")
    else:
        with path.open("w") as fh:
            fh.writelines(f"{a} {b} {c}\n" for (a, b), c in zip(e.tolist(), w.tolist()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--edges", type=int, default=1_000_000)
    ap.add_argument("--nodes", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=7, help="timed runs for ssdfl")
    ap.add_argument("--repeat-slow", type=int, default=2, help="timed runs for nx / rustworkx")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    try:
        import rustworkx as rx
    except ImportError:  # pragma: no cover - optional
        rx = None

    rows: list[list[str]] = []

    def report(
        op: str, t_ours: float, c_ours: float, t_nx: float | None, t_rx: float | None = None
    ) -> None:
        def ratio(t: float | None) -> str:
            if t is None:
                return "—"
            return f"{t / t_ours:.1f}×" if t < 10 * t_ours else f"{t / t_ours:,.0f}×"

        row = [
            op,
            fmt_time(t_ours),
            fmt_time(c_ours),
            fmt_time(t_nx),
            ratio(t_nx),
            fmt_time(t_rx),
            ratio(t_rx),
        ]
        rows.append(row)
        print("  " + " | ".join(row), flush=True)

    n, m = args.nodes, args.edges
    print("; ".join(f"{k}: {v}" for k, v in machine_facts().items()), flush=True)
    print(f"building a random graph: {n} nodes, {m} edges (seed {args.seed}) …", flush=True)
    e, w = make_graph(n, m, args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        plain, weighted = Path(tmp) / "g.edgelist", Path(tmp) / "gw.edgelist"
        write_edgelist(plain, e, None)
        write_edgelist(weighted, e, w)
        print(
            f"files: {plain.stat().st_size / 1e6:.1f} MB and {weighted.stat().st_size / 1e6:.1f} MB"
        )
        print("timing (ssdfl | ssdfl CPU | networkx | ratio | rustworkx | ratio):", flush=True)

        t_ours, c_ours, G = best_of_cpu(lambda: ssdfl.read_graph(plain), args.repeat)
        t_nx, g0 = best_of(lambda: nx.read_edgelist(plain, nodetype=int), args.repeat_slow, False)
        assert G.n == g0.number_of_nodes() and G.m == g0.number_of_edges() == m
        del g0
        t_rx = None
        if rx is not None:
            t_rx, r0 = best_of(
                lambda: rx.PyGraph.read_edge_list(str(plain)), args.repeat_slow, False
            )
            assert r0.num_edges() == m
            del r0
        report(f"read edge list, {m:,} edges", t_ours, c_ours, t_nx, t_rx)

        t_ours, c_ours, G = best_of_cpu(lambda: ssdfl.read_graph(weighted), args.repeat)
        t_nx, g = best_of(
            lambda: nx.read_edgelist(weighted, nodetype=int, data=[("weight", float)]),
            args.repeat_slow,
            False,
        )
        t_rx = None
        if rx is not None:  # rustworkx keeps the third column as a string payload
            t_rx, _ = best_of(
                lambda: rx.PyGraph.read_edge_list(str(weighted)), args.repeat_slow, False
            )
        report(f"read weighted edge list, {m:,} edges", t_ours, c_ours, t_nx, t_rx)

    # the networkx graph `g` and ours `G` hold the same weighted graph; node i = label i when
    # every node appears, otherwise map through G.labels
    names = G.node_names()
    S_idx = np.sort(np.random.default_rng(args.seed + 1).choice(G.n, G.n // 2, replace=False))
    S_nx = [names[i] for i in S_idx.tolist()]

    t_ours, c_ours, deg = best_of_cpu(lambda: G.degrees, args.repeat)
    t_nx, deg_nx = best_of(lambda: dict(g.degree(weight="weight")), args.repeat_slow, False)
    np.testing.assert_allclose(deg, [deg_nx[u] for u in names], rtol=1e-12)
    report("weighted degrees (all nodes)", t_ours, c_ours, t_nx)

    for name, ours, theirs in (
        ("volume", ssdfl.volume, nx.volume),
        ("cut_size", ssdfl.cut_size, nx.cut_size),
        ("conductance", ssdfl.conductance, nx.conductance),
    ):
        t_ours, c_ours, a = best_of_cpu(lambda f=ours: f(G, S_idx, weight="weight"), args.repeat)
        t_nx, b = best_of(lambda f=theirs: f(g, S_nx, weight="weight"), args.repeat_slow, False)
        assert abs(a - b) <= 1e-9 * abs(b), (name, a, b)
        report(f"{name}(S), S = random {len(S_idx):,} nodes", t_ours, c_ours, t_nx)

    print()
    print(
        markdown_table(
            [
                "operation",
                "ssdfl",
                "ssdfl CPU",
                "networkx",
                "nx / ssdfl",
                "rustworkx",
                "rx / ssdfl",
            ],
            rows,
        )
    )
    print()
    print("; ".join(f"{k}: {v}" for k, v in machine_facts().items()))


if __name__ == "__main__":
    main()
