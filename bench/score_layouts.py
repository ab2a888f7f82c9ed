#!/usr/bin/env python3
"""Exact recipient sets on the unusual-layout samples: of N samples, how many come out exactly right.

usage: python bench/score_layouts.py [FOLDER] [--failures]

FOLDER (default ``corpus/unusual``) holds samples and an ``expected.jsonl`` whose lines name
each sample's recipients with their ``action`` (``failed`` or ``delayed``).  A sample counts
when the set of recipients ndrkb reports as failed equals the expected failed set and the set
it reports as delayed equals the expected delayed set (recipients reported delivered, relayed
or expanded are in neither).  Prints ``exact: K of N``; with
``--failures`` also each sample that misses, with what was expected and what came out.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from ndrkb import diagnose

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "unusual"


def expected_sets(folder: Path) -> dict[str, dict[str, set[str]]]:
    """File name -> {"failed": set, "delayed": set} from ``expected.jsonl``."""
    want: dict[str, dict[str, set[str]]] = {}
    for line in (folder / "expected.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            sets = want.setdefault(row["file"], {"failed": set(), "delayed": set()})
            sets["delayed" if row.get("action") == "delayed" else "failed"].add(row["recipient"])
    return want


def got_sets(path: Path) -> dict[str, set[str]]:
    """The recipients ndrkb reports for ``path``, split into failed and delayed."""
    got: dict[str, set[str]] = {"failed": set(), "delayed": set()}
    for r in diagnose(path).recipients:
        if r.action in (None, "failed", "delayed"):  # delivered, relayed, expanded: no failure
            got[r.action or "failed"].add(r.recipient or "")
    return got


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("folder", nargs="?", type=Path, default=CORPUS)
    ap.add_argument("--failures", action="store_true", help="list the samples that miss")
    args = ap.parse_args()
    want = expected_sets(args.folder)
    exact = 0
    for name in sorted(want):
        got = got_sets(args.folder / name)
        if got == want[name]:
            exact += 1
        elif args.failures:
            print(f"{name}: want {sorted(want[name]['failed'])} delayed {sorted(want[name]['delayed'])}; "
                  f"got {sorted(got['failed'])} delayed {sorted(got['delayed'])}")
    print(f"exact: {exact} of {len(want)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
