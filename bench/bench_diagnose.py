#!/usr/bin/env python3
"""Benchmark single-NDR diagnosis (issue: the 5.7.12 expert system, end to end).

Reports
  * warm in-process ``ndrkb.diagnose`` median time per NDR over the corpus/ samples
    (after one warm-up pass; goal: under 2 ms), with memoization on and off;
  * cold ``ndrkb diagnose FILE`` wall time including interpreter start, median of
    several runs (goal: under 0.5 s), and the part of it spent importing ndrkb and
    reading and validating the packs (each in a fresh interpreter).

Usage: python bench/bench_diagnose.py [--rounds N] [--cold-runs N] [FILE ...]
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def samples(paths: list[str]) -> list[Path]:
    if paths:
        return [Path(p) for p in paths]
    return sorted(p for p in (REPO / "corpus").rglob("*") if p.is_file() and p.suffix in (".eml", ".txt")
                  and "not-bounces" not in p.parts)


def warm(files: list[Path], rounds: int, memoize: bool) -> tuple[float, int]:
    from ndrkb.diagnoser import Diagnoser
    from ndrkb.intake.message import read_source

    diagnoser = Diagnoser(memoize=memoize)
    data = [f.read_bytes() for f in files]
    for raw in data:  # warm-up: grammars, engines, caches
        diagnoser.diagnose_message(read_source(raw))
    times = []
    for _ in range(rounds):
        for raw in data:
            t = time.perf_counter()
            d = diagnoser.diagnose_message(read_source(raw))
            times.append(time.perf_counter() - t)
            assert d.recipients or d.error
    return statistics.median(times) * 1000, len(times)


def cold(file: Path, runs: int) -> float:
    exe = shutil.which("ndrkb") or sys.exit("ndrkb is not on PATH: pip install . first")
    walls = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run([exe, "diagnose", str(file)], stdout=subprocess.DEVNULL, check=False)
        walls.append(time.perf_counter() - t)
    return statistics.median(walls)


STARTUP = ("import time; t = time.perf_counter(); import ndrkb.diagnoser; from ndrkb.rules.loading import load_packs; "
           "t1 = time.perf_counter(); load_packs(); t2 = time.perf_counter(); print(t1 - t, t2 - t1)")


def startup(runs: int) -> tuple[float, float]:
    """Median seconds to import ndrkb and to load the packs, in fresh interpreters."""
    out = [subprocess.run([sys.executable, "-c", STARTUP], capture_output=True, text=True, check=True).stdout.split()
           for _ in range(runs)]
    return statistics.median(float(o[0]) for o in out), statistics.median(float(o[1]) for o in out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="*")
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--cold-runs", type=int, default=7)
    args = ap.parse_args()
    files = samples(args.files)
    if not files:
        sys.exit("no samples found")
    for memo in (True, False):
        ms, n = warm(files, args.rounds, memo)
        print(f"warm diagnose median: {ms:.3f} ms/NDR over {n} runs of {len(files)} samples "
              f"(memoization {'on' if memo else 'off'}; goal < 2 ms)")
    print(f"cold 'ndrkb diagnose {files[0].name}' median wall time: {cold(files[0], args.cold_runs):.3f} s "
          f"over {args.cold_runs} runs (goal < 0.5 s)")
    imports, packs = startup(args.cold_runs)
    print(f"  of which: importing ndrkb {imports:.3f} s, reading and validating the packs {packs:.3f} s")


if __name__ == "__main__":
    main()
