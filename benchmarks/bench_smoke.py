"""Benchmark gate (issue 21 item 5): RATIOS of ssdfl's hot paths against a peer, side by side in
one process, compared with ``benchmarks/baseline.json``.

    python benchmarks/bench_smoke.py            # measure and print the table
    python benchmarks/bench_smoke.py --check    # exit 1 naming every ratio > 3x its baseline
    python benchmarks/bench_smoke.py --update   # measure and rewrite the baseline

Each ratio is ``ssdfl time / peer time`` (lower is better), the MEDIAN over several repeats
of back-to-back pairs (ours, then the peer, on the same input), so a loaded machine slows both
sides of a pair alike and a burst of load moves one pair, not the median. Results are checked
equal to the peer's before anything is timed. The whole run takes well under 60 s on 2 shared
cores. Measured:

- ``conductance`` / ``volume`` on their defaults (``weight=None``) and with ``weight="weight"``,
  node set as a Python list, vs networkx on the same graph (20,000 nodes, 100,000 edges);
- exact Cheeger constant, n = 24, vs a plain NumPy Gray-code enumeration (below);
- λ₂ (``algebraic_connectivity``, ``L = D − A``) vs ``scipy.sparse.linalg.eigsh(k=2, "SA")``;
- ``partition(g, 8)`` vs METIS (pymetis) on a 10⁴-node Barabási–Albert graph;
- one simulator round (sDFL, SGD on separable quadratics, N = d = 300) vs a numpy + CSR loop;
- sharded FedAvg (``fedavg``, 16 clients × 2²⁰ float32) vs ``np.mean``;
- ``import ssdfl`` vs ``import networkx`` (fresh interpreters, ``-X importtime``).

Both sides run on ONE thread (rayon and BLAS pools set to 1 before anything is imported): a
ratio of a multi-threaded kernel against a one-thread peer is not load-proof — with the cores
oversubscribed (8 busy processes on 2 cores) the simulator round's ratio went from 1.05 to 10.7
although nothing had changed. The gate guards per-core work, which is what a regression changes;
the multi-threaded speed-ups are measured in the other benchmarks.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

for _var in ("RAYON_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # before numpy / ssdfl start their thread pools (see above)

import networkx as nx  # noqa: E402
import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402
import scipy.sparse.linalg as spla  # noqa: E402

import ssdfl  # noqa: E402

HERE = Path(__file__).resolve().parent
BASELINE = HERE / "baseline.json"
#: A ratio fails the gate when it is more than this many times its baseline.
TOLERANCE = 3.0
#: Least seconds per timed sample: a fast call is repeated in a loop to reach it (a single
#: sub-millisecond call is at the mercy of one scheduler tick on a loaded machine).
MIN_SAMPLE = 0.05

clock = time.process_time
"""Both sides are timed in CPU seconds of this process (all its threads), not wall time: on an
oversubscribed machine a short call that hands work to a thread and waits for it (the binding
releases the GIL and watches for Ctrl-C meanwhile) can wait a scheduler slice per call, which
inflated the wall-time ratio of ``conductance`` 8× under 8 busy processes; CPU time is not
charged for that wait. (The import ratio is timed by ``-X importtime`` in fresh interpreters.)"""


def paired_ratio(ours: Callable[[], Any], peer: Callable[[], Any], repeat: int,
                 budget: float = 10.0, warmup: bool = True, at_least: int = 3,
                 check: Callable[[Any, Any], None] | None = None) -> float:  # fmt: skip
    """Median over ``repeat`` back-to-back pairs of ``time(ours) / time(peer)`` (after one
    warm-up of each if ``warmup``); fewer pairs (at least ``at_least``) once ``budget`` seconds
    have passed. ``check(ours_result, peer_result)`` runs on the first pair's results."""
    loops = [1, 1]  # calls per timed sample: enough for MIN_SAMPLE seconds (fast calls)
    if warmup:
        for j, fn in enumerate((ours, peer)):
            t0 = clock()
            fn()
            once = max(clock() - t0, 1e-9)
            loops[j] = max(1, min(1000, math.ceil(MIN_SAMPLE / once)))
    ratios: list[float] = []
    start = time.perf_counter()
    for i in range(repeat):
        t0 = clock()
        for _ in range(loops[0]):
            a = ours()
        t1 = clock()
        for _ in range(loops[1]):
            b = peer()
        t2 = clock()
        if check is not None and i == 0:
            check(a, b)
        ratios.append(((t1 - t0) / loops[0]) / max((t2 - t1) / loops[1], 1e-9))
        if i + 1 >= at_least and time.perf_counter() - start > budget:
            break
    return statistics.median(ratios)


# ------------------------------------------------------------------ metrics vs networkx
def metrics_ratios(repeat: int) -> dict[str, float]:
    rng = np.random.default_rng(0)
    H = nx.gnm_random_graph(20_000, 100_000, seed=1)
    for u, v in H.edges:
        H[u][v]["weight"] = float(rng.uniform(0.5, 2.0))
    g = ssdfl.Graph.from_networkx(H)
    S = sorted(int(x) for x in rng.choice(20_000, 6_666, replace=False))
    Sset = set(S)
    out: dict[str, float] = {}
    for key, w in (("default", None), ("weighted", "weight")):
        for name, ours_fn, peer_fn in (
            ("conductance", ssdfl.conductance, nx.conductance),
            ("volume", ssdfl.volume, nx.volume),
        ):
            mine, ref = ours_fn(g, S, weight=w), peer_fn(H, Sset, weight=w)
            if not np.isclose(mine, ref, rtol=1e-9):
                raise AssertionError(f"{name} weight={w}: ssdfl {mine} != networkx {ref}")
            out[f"{name}_{key}_vs_networkx"] = paired_ratio(
                lambda f=ours_fn, w=w: f(g, S, weight=w),
                lambda f=peer_fn, w=w: f(H, Sset, weight=w),
                repeat,
            )
    return out


# ------------------------------------------------------------------ exact Cheeger
def cheeger_gray_code(W: np.ndarray) -> float:
    """``h(G) = min_S cut(S) / min(vol S, vol S̄)`` over every nonempty proper S, by brute force:
    node ``n−1`` stays outside S (a cut and its complement are the same cut); the other nodes
    are split into ``lo`` low nodes, whose ``2^lo`` subsets are handled as one NumPy block, and
    high nodes, whose subsets are visited in Gray-code order (one node flips per step, and the
    cross term ``W_lo,hi · x_hi`` is updated by one column). ``cut(S) = vol(S) − xᵀWx``."""
    n = W.shape[0]
    d = W.sum(axis=1)
    total = d.sum()
    lo = min(12, n - 1)
    hi = n - 1 - lo
    L = ((np.arange(2**lo)[:, None] >> np.arange(lo)) & 1).astype(np.float64)  # 2^lo × lo
    vol_l = L @ d[:lo]
    quad_l = np.einsum("ij,jk,ik->i", L, W[:lo, :lo], L)
    Wlh = W[:lo, lo : lo + hi]
    xh = np.zeros(hi)
    cross = np.zeros(lo)  # W_lo,hi · x_hi
    vol_h = quad_h = 0.0
    best = np.inf
    for step in range(2**hi):
        if step:
            j = (step & -step).bit_length() - 1  # the bit that flips in the Gray code
            s = 1.0 - 2.0 * xh[j]  # +1: node lo+j joins S, −1: it leaves
            quad_h += s * (2.0 * float(W[lo + j, lo : lo + hi] @ xh) + W[lo + j, lo + j])
            xh[j] += s
            vol_h += s * d[lo + j]
            cross += s * Wlh[:, j]
        vol = vol_l + vol_h
        cut = vol - (quad_l + 2.0 * (L @ cross) + quad_h)
        den = np.minimum(vol, total - vol)
        ok = den > 0
        if ok.any():
            best = min(best, float((cut[ok] / den[ok]).min()))
    return best


def cheeger_ratio(repeat: int) -> dict[str, float]:
    rng = np.random.default_rng(3)
    n = 24
    H = nx.gnp_random_graph(n, 0.3, seed=3)
    nx.add_path(H, range(n))  # connected
    for u, v in H.edges:
        H[u][v]["weight"] = float(rng.uniform(0.5, 2.0))
    W = nx.to_numpy_array(H, nodelist=range(n), weight="weight")
    g = ssdfl.Graph.from_networkx(H)
    mine = ssdfl.cheeger_constant(g, method="exact").value
    ref = cheeger_gray_code(W)
    if not np.isclose(mine, ref, rtol=1e-9):
        raise AssertionError(f"exact Cheeger: ssdfl {mine} != Gray-code reference {ref}")
    return {"cheeger_exact_n24_vs_numpy_gray_code": paired_ratio(
        lambda: ssdfl.cheeger_constant(g, method="exact"), lambda: cheeger_gray_code(W),
        max(3, repeat // 2))}  # fmt: skip


# ------------------------------------------------------------------ λ₂
def lambda2_ratio(repeat: int) -> dict[str, float]:
    H = nx.gnm_random_graph(5_000, 40_000, seed=4)
    H = H.subgraph(max(nx.connected_components(H), key=len)).copy()
    g = ssdfl.Graph.from_networkx(H)
    L = sp.csr_matrix(nx.laplacian_matrix(H, weight=None), dtype=np.float64)

    def peer() -> float:
        return float(spla.eigsh(L, k=2, which="SA", tol=1e-8, return_eigenvectors=False).max())

    mine = ssdfl.algebraic_connectivity(g, weight=None)
    ref = peer()
    if not np.isclose(mine, ref, rtol=1e-6):
        raise AssertionError(f"λ₂: ssdfl {mine} != eigsh {ref}")
    return {"algebraic_connectivity_vs_eigsh": paired_ratio(
        lambda: ssdfl.algebraic_connectivity(g, weight=None), peer, repeat)}  # fmt: skip


# ------------------------------------------------------------------ partition vs METIS
def partition_ratio(repeat: int) -> dict[str, float]:
    import pymetis

    H = nx.barabasi_albert_graph(10_000, 3, seed=5)
    adj = [np.fromiter(H.adj[u], dtype=np.int64) for u in range(H.number_of_nodes())]
    k = 8

    def ours() -> np.ndarray:
        return np.asarray(ssdfl.partition(H, k, seed=0).labels)

    def metis() -> np.ndarray:
        return np.asarray(pymetis.part_graph(k, adjacency=adj)[1])

    def timed(fn: Callable[[], np.ndarray]) -> tuple[float, np.ndarray]:
        t0 = clock()
        out = fn()
        return clock() - t0, out

    # partition at 10⁴ takes seconds (docs/performance.md), METIS a fraction of one: each
    # sample is one run of ours against the median of four METIS runs around it (two before,
    # two after); samples while within 8 s (the median of three once ours is fast). No warm-up.
    ratios: list[float] = []
    start = time.perf_counter()
    for _ in range(3):
        before = [timed(metis)[0] for _ in range(2)]
        t, lab = timed(ours)
        after = [timed(metis)[0] for _ in range(2)]
        if len(np.unique(lab)) != k or len(lab) != H.number_of_nodes():
            raise AssertionError(f"partition gave {len(np.unique(lab))} clusters, not {k}")
        ratios.append(t / statistics.median(before + after))
        if time.perf_counter() - start > 8.0:
            break
    return {"partition_1e4_vs_metis": statistics.median(ratios)}


# ------------------------------------------------------------------ simulator round
def simulator_ratio(repeat: int) -> dict[str, float]:
    from ssdfl.simulate import SDFL, SeparableQuadratic, simulate

    n = d = 300
    rounds = 40
    rng = np.random.default_rng(6)
    G = ssdfl.Graph.from_networkx(nx.random_regular_graph(4, n, seed=6))
    model = SeparableQuadratic.random(n, d, rng)
    W = ssdfl.mixing_matrix(G).tocsr()
    eta, a, b = 0.05, model.a, model.b

    def numpy_loop() -> np.ndarray:  # X ← W X − η (X − b) ⊙ a, sDFL with SGD devices
        X = np.zeros((n, d))
        for _ in range(rounds):
            X = W @ X - eta * ((X - b) * a)
        return X

    kw: dict[str, Any] = dict(tau_a=1, tau_r=0, cycles=rounds, eta=eta, eval_every=10**9,
                              device_metrics=False, progress=False)  # fmt: skip

    def ours() -> np.ndarray:
        return simulate(model, G, SDFL(), **kw).X

    if not np.allclose(ours(), numpy_loop(), rtol=1e-10, atol=1e-12):
        raise AssertionError("simulator rounds differ from the numpy + CSR loop")
    return {"simulator_round_vs_numpy_csr": paired_ratio(ours, numpy_loop, repeat)}


# ------------------------------------------------------------------ sharded FedAvg
def fedavg_ratio(repeat: int) -> dict[str, float]:
    rng = np.random.default_rng(7)
    ups = [rng.standard_normal(1 << 20).astype(np.float32) for _ in range(16)]

    def ours() -> np.ndarray:
        return ssdfl.fedavg(ups, strategy="sharded", shards=4)

    def peer() -> np.ndarray:
        return np.mean(ups, axis=0, dtype=np.float64).astype(np.float32)

    if np.abs(ours() - peer()).max() > 1e-6:
        raise AssertionError("sharded FedAvg differs from np.mean")
    return {"fedavg_sharded_vs_np_mean": paired_ratio(ours, peer, repeat)}


# ------------------------------------------------------------------ import time
def _import_us(module: str) -> int:
    r = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {module}"],
                       capture_output=True, text=True, timeout=300, check=True)  # fmt: skip
    last = [ln for ln in r.stderr.splitlines() if re.search(rf"\|\s*{re.escape(module)}$", ln)]
    return int(last[-1].split("|")[1])


def import_ratio(repeat: int) -> dict[str, float]:
    ratios = [_import_us("ssdfl") / _import_us("networkx") for _ in range(max(3, repeat - 2))]
    return {"import_ssdfl_vs_networkx": statistics.median(ratios)}


SECTIONS: list[Callable[[int], dict[str, float]]] = [
    metrics_ratios, cheeger_ratio, lambda2_ratio, partition_ratio, simulator_ratio,
    fedavg_ratio, import_ratio,
]  # fmt: skip


def measure(repeat: int) -> dict[str, float]:
    out: dict[str, float] = {}
    for section in SECTIONS:
        t0 = time.perf_counter()
        got = section(repeat)
        out.update(got)
        print(f"  {section.__name__}: {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return out


def compare(ratios: dict[str, float], baseline: dict[str, float]) -> list[str]:
    """The names of ratios more than :data:`TOLERANCE` times their baseline, with numbers."""
    return [
        f"{k}: {v:.4g} vs baseline {baseline[k]:.4g} ({v / baseline[k]:.1f}x worse)"
        for k, v in ratios.items()
        if k in baseline and v > TOLERANCE * baseline[k]
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="fail when a ratio > 3x baseline")
    mode.add_argument("--update", action="store_true", help="rewrite benchmarks/baseline.json")
    ap.add_argument("--repeat", type=int, default=7, help="pairs per ratio (median)")
    ap.add_argument("--baseline", type=Path, default=BASELINE)
    args = ap.parse_args(argv)
    load = os.getloadavg()
    t0 = time.perf_counter()
    ratios = measure(args.repeat)
    took = time.perf_counter() - t0
    base = json.loads(args.baseline.read_text())["ratios"] if args.baseline.exists() else {}
    print(f"load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}; {took:.0f} s")
    print(f"| ratio (ssdfl / peer, median of pairs) | now | baseline | limit ({TOLERANCE:g}x) |")
    print("| --- | --- | --- | --- |")
    for k, v in ratios.items():
        b = base.get(k)
        print(f"| {k} | {v:.4g} | {'—' if b is None else f'{b:.4g}'} | "
              f"{'—' if b is None else f'{TOLERANCE * b:.4g}'} |")  # fmt: skip
    if args.update:
        commit = subprocess.run(["git", "-C", str(HERE), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True).stdout.strip()  # fmt: skip
        args.baseline.write_text(json.dumps({
            "ratios": {k: float(f"{v:.4g}") for k, v in ratios.items()},
            "recorded": {"commit": commit, "load_average": [round(x, 1) for x in load],
                         "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                         "seconds": round(took)},
        }, indent=2) + "\n")  # fmt: skip
        print(f"wrote {args.baseline}")
        return 0
    if args.check:
        missing = sorted(set(base) - set(ratios)) if base else ["(no baseline file)"]
        bad = compare(ratios, base)
        if missing and not base:
            print(f"bench gate: no baseline at {args.baseline}", file=sys.stderr)
            return 1
        for line in bad:
            print(f"bench gate: ratio regressed: {line}", file=sys.stderr)
        if bad:
            return 1
        print("bench gate: every ratio within 3x of its baseline")
    return 0


if __name__ == "__main__":
    sys.exit(main())
