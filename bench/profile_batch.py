"""Where one worker's time goes: ``classify`` in this process under cProfile (a script, not a test).

Builds the corpus of bench_batch.py (``--messages``, ``--unique``), runs the one-worker
batch path once to warm up nothing (a cold run, as a ``classify`` process sees it), and
prints the CPU seconds (``time.process_time``) and the top functions by own time.

    python bench/profile_batch.py                      # 5,000 messages, mixed
    python bench/profile_batch.py --unique
    python bench/profile_batch.py --messages 20000 --top 15
"""
from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_batch import build_corpus  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--messages", type=int, default=5000)
    ap.add_argument("--unique", action="store_true")
    ap.add_argument("--no-memo", action="store_true")
    ap.add_argument("--top", type=int, default=12)
    ap.add_argument("--no-profile", action="store_true", help="only the CPU time, without the profiler")
    args = ap.parse_args()
    from ndrkb.run.batch import classify_rows

    with tempfile.TemporaryDirectory(prefix="ndrkb-prof-") as tmp:
        folder = Path(tmp) / "corpus"
        folder.mkdir()
        build_corpus(folder, args.messages, args.unique)
        prof = None if args.no_profile else cProfile.Profile()
        start = time.process_time()
        if prof:
            prof.enable()
        rows = sum(len(r) for r in classify_rows([str(folder)], memoize=not args.no_memo))
        if prof:
            prof.disable()
        cpu = time.process_time() - start
        print(f"{args.messages} messages{' (unique)' if args.unique else ''}, memo {'off' if args.no_memo else 'on'}: "
              f"{rows} records, {cpu:.2f} s CPU, {cpu / args.messages * 1e6:.0f} us/message"
              f"{' (profiled)' if prof else ''}")
        if prof:
            pstats.Stats(prof).sort_stats("tottime").print_stats(args.top)


if __name__ == "__main__":
    main()
