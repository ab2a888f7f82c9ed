"""Mutated bounces (8-bit bytes in headers, duplicated, dropped and repeated lines, cut
parts) are read or refused with a reason; no reader breaks on them ("internal error")."""
from __future__ import annotations

import random

from ndrkb import default_diagnoser
from ndrkb.batch import Unit, unit_records

from .conftest import CORPUS, SHARED

_BYTES = [0xE9, 0xFF, 0x80, 0xC3, 0x00, 0x1B, 0x0D, 0x3B, 0x22]


def _mutate(rnd: random.Random, data: bytes) -> bytes:
    lines = data.split(b"\n") or [b""]
    for _ in range(rnd.randint(1, 8)):
        k = rnd.randrange(len(lines))
        op = rnd.random()
        if op < 0.5:
            pos = rnd.randrange(len(lines[k]) + 1)
            lines[k] = lines[k][:pos] + bytes([rnd.choice(_BYTES)]) * rnd.randint(1, 3) + lines[k][pos:]
        elif op < 0.7:
            lines.insert(k, rnd.choice(lines))
        elif op < 0.85 and len(lines) > 1:
            del lines[k]
        else:
            lines[k] = lines[k] * rnd.randint(2, 50)
    return b"\n".join(lines)


def test_mutated_bounces_never_break_a_reader():
    files = sorted(CORPUS.rglob("*.eml")) + sorted((SHARED / "corpus" / "external" / "sisimai-dev" / "emails").glob("*"))
    rnd = random.Random(20261126)
    diagnoser = default_diagnoser()
    broken, diagnosed = [], 0
    for i in range(600):
        path = rnd.choice(files)
        records = unit_records(diagnoser, Unit(str(path), i, data=_mutate(rnd, path.read_bytes())))
        assert records
        broken += [(path.name, r.error) for r in records if r.error and r.error.startswith("internal error")]
        diagnosed += any(r.error is None for r in records)
    assert not broken
    assert diagnosed > 400  # most mutations still leave a readable bounce
