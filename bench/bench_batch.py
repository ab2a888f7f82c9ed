"""Benchmark of ``ndrkb classify`` (a script, not a test).

Builds a corpus of --messages messages in a temporary folder by repeating the samples
of corpus/ and the shared sisimai-dev emails, then reports, each from a fresh
``ndrkb classify`` process timed end to end (start-up included):

* messages/second with one worker and with all cores, memoization on and off;
* the speed-up of two workers over one;
* the peak memory (RSS summed over the whole process tree, from a run of its own);
* the ratio of steady-state per-message time with all packs to with only the core
  packs (core-*, rfc3463), measured in this process after a warm-up pass, and the
  one-time cost of building the engines;
* with --repeat N, the runs N times, interleaved (best and median), and the scaling this
  machine allows at the moment (two pure-Python loops in parallel vs one after the other);
* with --sisimai, the same corpus through Sisimai (libsisimai-perl) in every repeat, and
  the ratio ndrkb/Sisimai (median over median) for one and two workers, memo on and off;
* with --unique, the repeated samples get new addresses, so caches are not flattered.

    python bench/bench_batch.py                        # 5,000 messages
    python bench/bench_batch.py --messages 100000 --only-memory
    python bench/bench_batch.py --sisimai --repeat 3
    python bench/bench_batch.py --unique               # no two messages alike
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SAMPLE_DIRS = [REPO / "corpus", REPO.parent / "shared" / "corpus" / "external" / "sisimai-dev" / "emails"]
NDRKB = [sys.executable, "-c", "from ndrkb.cli import main; main()"]
PAGE = os.sysconf("SC_PAGE_SIZE")


def samples() -> list[Path]:
    found = [p for d in SAMPLE_DIRS if d.is_dir() for p in sorted(d.rglob("*"))
             if p.is_file() and p.suffix not in (".jsonl", ".md")]
    if not found:
        sys.exit("no samples found under " + ", ".join(map(str, SAMPLE_DIRS)))
    return found


def build_corpus(folder: Path, n: int, unique: bool = False) -> None:
    """``n`` messages cycling through the samples; with ``unique``, every copy after the
    first of a sample has its addresses changed (``user@`` -> ``user+c7@``), so no two
    messages share a recipient line and per-line caches and memos see what a real
    mailbox gives them."""
    src = samples()
    for i in range(n):
        target = folder / f"m{i:07d}.eml"
        if unique and i >= len(src):
            target.write_bytes(src[i % len(src)].read_bytes().replace(b"@", b"+c%d@" % (i // len(src))))
        else:
            shutil.copyfile(src[i % len(src)], target)


def tree_rss(root: int) -> int:
    """Bytes resident in ``root`` and all its descendants."""
    parent: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    parent[int(entry)] = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    members, frontier = {root}, [root]
    while frontier:
        kids = [p for p, pp in parent.items() if pp in frontier and p not in members]
        members.update(kids)
        frontier = kids
    total = 0
    for pid in members:
        try:
            with open(f"/proc/{pid}/statm") as fh:
                total += int(fh.read().split()[1]) * PAGE
        except (OSError, IndexError, ValueError):
            continue
    return total


def timed(cmd: list[str], watch: bool = False) -> tuple[float, int]:
    """Wall seconds and (with ``watch``) peak tree RSS of a command whose output is thrown
    away. Watching reads /proc every 50 ms, which takes CPU from the run: throughput
    runs are not watched."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    peak = [0]

    def poll_rss() -> None:
        while proc.poll() is None:
            peak[0] = max(peak[0], tree_rss(proc.pid))
            time.sleep(0.05)

    watcher = threading.Thread(target=poll_rss) if watch else None
    if watcher:
        watcher.start()
    rc = proc.wait()
    if watcher:
        watcher.join()
    if rc not in (0, 1):
        sys.exit(f"{' '.join(cmd)} failed with status {rc}")
    return time.perf_counter() - start, peak[0]


def run_ndrkb(folder: Path, n: int, workers: int, memo: bool = True, watch: bool = False) -> float:
    seconds, rss = timed(NDRKB + ["classify", "--quiet", "-j", str(workers), *([] if memo else ["--no-memo"]),
                                  "-o", os.devnull, str(folder)], watch)
    label = f"{workers} worker{'s' if workers > 1 else ''}, memo {'on' if memo else 'off'}"
    memory = f", peak RSS {rss / 2**20:.0f} MB (watched)" if watch else ""
    print(f"  ndrkb  {label:24s} {n / seconds:8.0f} messages/s  ({seconds:.2f} s{memory})")
    return n / seconds


def pack_ratio(folder: Path, limit: int = 2000) -> None:
    """Steady-state per-message time, all packs vs the core packs, measured in this process
    after a warm-up pass over the same messages (engines built, memo filled); the one-time
    cost of building the engines is reported apart."""
    from ndrkb.intake.containers import iter_units
    from ndrkb.run.batch import unit_records
    from ndrkb.diagnoser import Diagnoser
    from ndrkb.rules.dispatch import PackSet
    from ndrkb.rules.loading import load_packs

    everything = load_packs()
    core = PackSet([p for p in everything.packs if p.id.startswith("core-") or p.id == "rfc3463"])
    units = list(iter_units([str(folder)]))[:limit]
    for memo in (True, False):
        times, builds = {}, {}
        for name, packs in (("all", everything), ("core", core)):
            d = Diagnoser(packs=packs, memoize=memo)
            for u in units:  # warm-up: build the engines, fill the memo
                unit_records(d, u)
            start = time.perf_counter()
            for u in units:
                unit_records(d, u)
            times[name] = (time.perf_counter() - start) / len(units)
            engines = list(d.inference._engines.values())
            start = time.perf_counter()
            for engine in engines:
                engine._build()
            builds[name] = (len(engines), time.perf_counter() - start)
        print(f"  steady state per message, memo {'on ' if memo else 'off'}: all {len(everything.packs)} packs "
              f"{times['all'] * 1e6:.0f} us, core {len(core.packs)} packs {times['core'] * 1e6:.0f} us: "
              f"ratio {times['all'] / times['core']:.2f}")
    print(f"  one-time engine build per process: all packs {builds['all'][0]} engines {builds['all'][1]:.2f} s, "
          f"core {builds['core'][0]} engines {builds['core'][1]:.2f} s")


def _spin(n: int) -> None:
    while n:
        n -= 1


def machine_ceiling() -> float:
    """How much faster two processes spinning in pure Python finish than one doing both
    loops: the best 1 -> 2 worker scaling this machine allows at the moment."""
    import multiprocessing

    n = 20_000_000
    start = time.perf_counter()
    _spin(n)
    _spin(n)
    one = time.perf_counter() - start
    procs = [multiprocessing.get_context("fork").Process(target=_spin, args=(n,)) for _ in range(2)]
    start = time.perf_counter()
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    return one / (time.perf_counter() - start)


SISIMAI = ("use Sisimai; my $f = Sisimai->can('rise') ? 'rise' : 'make'; "
           "my $r = Sisimai->$f($ARGV[0]) || []; print scalar(@$r), qq(\\n);")


def run_sisimai(folder: Path, n: int) -> float:
    seconds, _ = timed(["perl", "-e", SISIMAI, str(folder)])
    print(f"  sisimai 1 process             {n / seconds:8.0f} messages/s  ({seconds:.2f} s)")
    return n / seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--messages", type=int, default=5000, help="corpus size (default 5000)")
    ap.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)), help="'all cores' (default: this machine's)")
    ap.add_argument("--only-memory", action="store_true", help="only the all-cores run (for the memory figure)")
    ap.add_argument("--sisimai", action="store_true", help="also time Sisimai on the same corpus")
    ap.add_argument("--repeat", type=int, default=1, help="runs of the key measurements (best and median)")
    ap.add_argument("--unique", action="store_true",
                    help="change the addresses in every repeated sample (no two messages alike)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="ndrkb-bench-") as tmp:
        folder = Path(tmp) / "corpus"
        folder.mkdir()
        build_corpus(folder, args.messages, args.unique)
        print(f"corpus: {args.messages} messages from {len(samples())} samples"
              f"{', addresses changed in every copy' if args.unique else ''}; {args.workers} cores")
        if args.only_memory:
            run_ndrkb(folder, args.messages, args.workers, watch=True)
            return
        runs: dict[tuple[int, bool], list[float]] = {}
        theirs: list[float] = []
        counts = (1, 2) if args.workers >= 2 else (1,)
        for _ in range(args.repeat):  # interleaved, so a change in the machine's load hits every figure alike
            for memo in (True, False):
                for workers in counts:
                    runs.setdefault((workers, memo), []).append(run_ndrkb(folder, args.messages, workers, memo))
            if args.sisimai:
                theirs.append(run_sisimai(folder, args.messages))
        if args.workers > 2:
            run_ndrkb(folder, args.messages, args.workers)
            run_ndrkb(folder, args.messages, args.workers, memo=False)
        run_ndrkb(folder, args.messages, args.workers, watch=True)  # for the peak memory
        for (workers, memo), rates in runs.items():
            print(f"  {workers} worker{'s' if workers > 1 else ' '}, memo {'on ' if memo else 'off'}: "
                  f"best {max(rates):.0f}, median {statistics.median(rates):.0f} messages/s over {len(rates)} runs")
        if 2 in counts:
            one, two = runs[(1, True)], runs[(2, True)]
            print(f"  scaling 1 -> 2 workers (memo on): {max(two) / max(one):.2f}x best/best, "
                  f"{statistics.median(two) / statistics.median(one):.2f}x median/median "
                  f"(this machine's ceiling now: {machine_ceiling():.2f}x)")
        pack_ratio(folder)
        if theirs:
            sisimai = statistics.median(theirs)
            print(f"  sisimai: median {sisimai:.0f} messages/s over {len(theirs)} runs")
            for (workers, memo), rates in runs.items():
                print(f"  ndrkb/sisimai, {workers} worker{'s' if workers > 1 else ' '}, memo {'on ' if memo else 'off'}: "
                      f"{statistics.median(rates) / sisimai:.2f}x (medians)")

if __name__ == "__main__":
    main()
