#!/usr/bin/env python3
"""Long fuzz campaign over the graph readers (the CI runs a short one: tests/fuzz/).

    python scripts/fuzz.py --minutes 30                  # all targets, random mutations
    python scripts/fuzz.py --minutes 10 --target json    # one target
    python scripts/fuzz.py --engine atheris --target mtx --minutes 5   # coverage-guided

Engines: ``random`` mutates the seed files and every corpus entry (format-aware token
dictionary, see tests/fuzz/harness.py); ``atheris`` (if installed) runs libFuzzer with
coverage of the Python readers, one target per process. Every finding is saved to
``tests/fuzz/corpus/<target>/<sha1>.bin`` (unless ``--no-save``), where
``tests/fuzz/test_fuzz_readers.py::test_corpus_replays_cleanly`` replays it on every test
run: commit those files with the fix. Exit status 1 if anything was found.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "fuzz"))

if "atheris" in sys.argv:  # instrument ssdfl's Python readers as they are imported
    import atheris

    with atheris.instrument_imports(include=["ssdfl"]):
        import harness
else:
    import harness


def run_random(targets: list[str], seconds: float, seed: int, save: bool) -> int:
    rng = random.Random(seed)
    pools = {t: harness.seeds(t) for t in targets}
    for t, p in harness.corpus_files():
        if t in pools:
            pools[t].append(p.read_bytes())
    counts = {t: 0 for t in targets}
    findings = 0
    t_end = time.monotonic() + seconds
    last = time.monotonic()
    while time.monotonic() < t_end:
        for t in targets:
            data = harness.mutate(rng.choice(pools[t]), rng)
            if rng.random() < 0.05:
                data = rng.randbytes(rng.randint(0, 300))
            try:
                outcome = harness.check(t, data)
            except harness.Finding as exc:
                findings += 1
                where = harness.save(t, data) if save else "(not saved)"
                print(f"FINDING {t}: {exc}\n  input {data[:120]!r}… -> {where}", flush=True)
                continue
            counts[t] += 1
            if outcome == "graph" and len(pools[t]) < 400 and rng.random() < 0.02:
                pools[t].append(data)  # valid mutants seed deeper mutations
        if time.monotonic() - last > 30:
            last = time.monotonic()
            print(f"{sum(counts.values())} inputs, {findings} findings", flush=True)
    print(f"done: {sum(counts.values())} inputs ({counts}), {findings} findings")
    return 1 if findings else 0


def run_atheris(target: str, seconds: float, runs: int | None, save: bool) -> int:
    import atheris

    def one_input(data: bytes) -> None:
        try:
            harness.check(target, data)
        except harness.Finding:
            if save:
                print(f"saved {harness.save(target, data)}", flush=True)
            raise

    import os

    # libFuzzer's working corpus, kept between runs so coverage accumulates
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    start = cache / "ssdfl-fuzz" / target
    start.mkdir(parents=True, exist_ok=True)
    for k, s in enumerate(harness.seeds(target)):
        (start / f"seed{k}").write_bytes(s)
    for t, p in harness.corpus_files():
        if t == target:
            (start / p.name).write_bytes(p.read_bytes())
    args = [sys.argv[0], "-max_len=4096", f"-max_total_time={max(int(seconds), 1)}"]
    if runs is not None:
        args.append(f"-runs={runs}")
    atheris.Setup([*args, str(start)], one_input)
    atheris.Fuzz()  # exits the process: 0 when the budget is spent without a finding
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10.0, help="time budget (default 10)")
    ap.add_argument("--target", action="append", choices=harness.TARGETS, help="repeatable")
    ap.add_argument("--engine", choices=("random", "atheris"), default="random")
    ap.add_argument("--runs", type=int, default=None, help="atheris: stop after N inputs")
    ap.add_argument("--seed", type=int, default=None, help="random engine seed")
    ap.add_argument("--no-save", action="store_true", help="do not write findings to the corpus")
    a = ap.parse_args()
    targets = a.target or list(harness.TARGETS)
    seconds = a.minutes * 60
    if a.engine == "atheris":
        if len(targets) != 1:
            ap.error("atheris fuzzes one --target per process")
        return run_atheris(targets[0], seconds, a.runs, not a.no_save)
    seed = a.seed if a.seed is not None else int(time.time())
    print(f"random engine, seed {seed}, {a.minutes} min, targets {targets}", flush=True)
    return run_random(targets, seconds, seed, not a.no_save)


if __name__ == "__main__":
    sys.exit(main())
