#!/usr/bin/env python3
"""Classify a folder of labelled bounces and score the records, in one command.

usage: python bench/score_sisimai.py [EMAILS] [--labels LABELS] [--half A|B] [--failures N] [--output FILE]

Defaults to the sisimai-dev split beside the checkout (``../shared/corpus/external/
sisimai-dev``): its ``emails/`` and ``labels.jsonl``.  For another split give its
folder (``--labels`` defaults to ``labels.jsonl`` next to the folder).  Runs
``ndrkb.run.batch.classify_records`` in this process, writes the records as JSON Lines
and hands them to ``tools/score.py``; the last line printed is score.py's
``score:`` line.  Exit status: score.py's.

``--half A`` or ``--half B`` scores one fixed half of the labelled files: a file is in
half A when the first byte of the SHA-256 of its name is even, else in B (stable across
runs and machines).  Tune on A only; B is the blind check, so for B only the
``score:`` line is printed (``--unblind`` shows the rest, and ends B's use as a blind check).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
DEV = SHARED / "corpus" / "external" / "sisimai-dev"
SCORER = SHARED / "tools" / "score.py"


def half_of(name: str) -> str:
    """The half ("A" or "B") a labelled file belongs to, from the hash of its name."""
    return "A" if hashlib.sha256(name.encode("utf-8")).digest()[0] % 2 == 0 else "B"


def select_half(labels: Path, half: str, out: Path) -> list[str]:
    """Write the label lines of ``half`` to ``out``; return their file names."""
    names = []
    with open(labels, encoding="utf-8") as src, open(out, "w", encoding="utf-8") as dst:
        for line in src:
            if line.strip() and half_of(json.loads(line)["file"]) == half:
                names.append(json.loads(line)["file"])
                dst.write(line)
    return names


def classify(paths: list[str], out: Path) -> None:
    """Write one JSON line per record for every message under ``paths``."""
    from ndrkb.run.batch import classify_records

    with open(out, "w", encoding="utf-8") as fh:
        for record in classify_records(paths):
            fh.write(record.model_dump_json() + "\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("emails", nargs="?", type=Path, default=DEV / "emails", help="folder of bounces")
    ap.add_argument("--labels", type=Path, help="labels.jsonl (default: next to the emails folder)")
    ap.add_argument("--half", choices=("A", "B"), help="score only this half of the labelled files")
    ap.add_argument("--failures", type=int, default=0, metavar="N", help="list up to N failing rows")
    ap.add_argument("--output", type=Path, help="keep the records in this file")
    ap.add_argument("--scorer", type=Path, default=SCORER, help="score.py to use")
    ap.add_argument("--unblind", action="store_true",
                    help="with --half B, print the per-engine failures and rows too")
    args = ap.parse_args(argv)
    labels = args.labels or args.emails.resolve().parent / "labels.jsonl"
    for path in (args.emails, labels, args.scorer):
        if not path.exists():
            ap.error(f"not found: {path}")
    with tempfile.TemporaryDirectory() as tmp:
        out = args.output or Path(tmp) / "records.jsonl"
        paths = [str(args.emails)]
        if args.half:
            names = select_half(labels, args.half, Path(tmp) / "labels.jsonl")
            labels = Path(tmp) / "labels.jsonl"
            paths = [str(args.emails / name) for name in names]
        classify(paths, out)
        cmd = [sys.executable, str(args.scorer), str(labels), str(out), "--failures", str(args.failures)]
        if args.half != "B" or args.unblind:
            return subprocess.run(cmd).returncode
        done = subprocess.run(cmd, capture_output=True, text=True)
        print(next((line for line in done.stdout.splitlines() if line.startswith("score:")), done.stdout[-500:]))
        sys.stderr.write(done.stderr)
        return done.returncode


if __name__ == "__main__":
    sys.exit(main())
