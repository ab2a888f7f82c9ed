#!/usr/bin/env python3
"""Write every output ndrkb gives for a set of inputs, to compare two versions byte for byte.

usage: python bench/snapshot.py OUT [FOLDER ...]

For each file under the folders (default: ``corpus/`` and, when present,
``../shared/corpus/external/``), in sorted order: the full ``Diagnosis`` as JSON (with
its explanation and remediation); then the batch records of the whole run as JSON
Lines.  A behaviour-preserving change leaves ``OUT`` identical (``cmp old new``).
"""
from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = [ROOT / "corpus", ROOT.parent / "shared" / "corpus" / "external"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("folders", nargs="*", type=Path)
    args = ap.parse_args(argv)
    import ndrkb

    folders = [f for f in (args.folders or DEFAULT) if f.exists()]
    files = sorted(p for f in folders for p in f.rglob("*") if p.is_file())
    with open(args.out, "w", encoding="utf-8") as fh:
        for path in files:
            fh.write(f"## {path.relative_to(path.anchor)}\n{ndrkb.diagnose(str(path)).model_dump_json()}\n")
        for record in ndrkb.classify([str(f) for f in folders]):
            fh.write(record.model_dump_json() + "\n")
    print(f"{len(files)} files; sha256 {hashlib.sha256(args.out.read_bytes()).hexdigest()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
