#!/usr/bin/env python3
"""Classify a folder of labelled bounces and score the records, in one command.

usage: python bench/score_sisimai.py [EMAILS] [--labels LABELS] [--failures N] [--output FILE]

Defaults to the sisimai-dev split beside the checkout (``../shared/corpus/external/
sisimai-dev``): its ``emails/`` and ``labels.jsonl``.  For another split give its
folder (``--labels`` defaults to ``labels.jsonl`` next to the folder).  Runs
``ndrkb.run.batch.classify_records`` in this process, writes the records as JSON Lines
and hands them to ``tools/score.py``; the last line printed is score.py's
``score:`` line.  Exit status: score.py's.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
DEV = SHARED / "corpus" / "external" / "sisimai-dev"
SCORER = SHARED / "tools" / "score.py"


def classify(emails: Path, out: Path) -> None:
    """Write one JSON line per record for every message under ``emails``."""
    from ndrkb.run.batch import classify_records

    with open(out, "w", encoding="utf-8") as fh:
        for record in classify_records([str(emails)]):
            fh.write(record.model_dump_json() + "\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("emails", nargs="?", type=Path, default=DEV / "emails", help="folder of bounces")
    ap.add_argument("--labels", type=Path, help="labels.jsonl (default: next to the emails folder)")
    ap.add_argument("--failures", type=int, default=0, metavar="N", help="list up to N failing rows")
    ap.add_argument("--output", type=Path, help="keep the records in this file")
    ap.add_argument("--scorer", type=Path, default=SCORER, help="score.py to use")
    args = ap.parse_args(argv)
    labels = args.labels or args.emails.resolve().parent / "labels.jsonl"
    for path in (args.emails, labels, args.scorer):
        if not path.exists():
            ap.error(f"not found: {path}")
    with tempfile.TemporaryDirectory() as tmp:
        out = args.output or Path(tmp) / "records.jsonl"
        classify(args.emails, out)
        cmd = [sys.executable, str(args.scorer), str(labels), str(out), "--failures", str(args.failures)]
        return subprocess.run(cmd).returncode


if __name__ == "__main__":
    sys.exit(main())
