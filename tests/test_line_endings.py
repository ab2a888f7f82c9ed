"""The same bounce with LF, CRLF or bare-CR line ends gives the same records."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from ndrkb.run.batch import classify_records

from .conftest import SHARED, shared_params

TWINS = SHARED / "corpus" / "external" / "sisimai-dev"


def _twins() -> list:
    with open(TWINS / "line-endings" / "twins.jsonl", encoding="utf-8") as fh:
        return [(row["file"], row["variant"]) for row in map(json.loads, fh)]


def _records(path: Path) -> list[dict]:
    # (not where the message is: the path, and the byte offset in an mbox, which CRLF moves)
    return [r.model_dump(exclude={"source", "file", "mbox_offset"}) for r in classify_records([str(path)])]


@pytest.mark.parametrize("name,variant", shared_params(_twins, "name", "variant"))
def test_line_end_twins_give_identical_records(name, variant):
    lf = _records(TWINS / "emails" / name)
    assert _records(TWINS / "line-endings" / variant / name) == lf
    assert lf


def test_bare_cr_text_reads_like_lf():
    text = "Your message to jo@contoso.com couldn't be delivered.\nStatus code: 550 5.1.1\n"
    from ndrkb import diagnose

    lf, cr = diagnose(text), diagnose(text.replace("\n", "\r"))
    assert [(r.recipient, r.status) for r in cr.recipients] == [(r.recipient, r.status) for r in lf.recipients] \
        == [("jo@contoso.com", "5.1.1")]
