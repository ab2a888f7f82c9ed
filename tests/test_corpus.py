"""End to end: every sample in corpus/ against its expected diagnosis, and the non-bounces."""
from __future__ import annotations

import json

import pytest

from ndrkb import diagnose

from .conftest import CORPUS


def _expectations():
    rows = []
    for exp in sorted(CORPUS.glob("*/expected.jsonl")):
        for n, line in enumerate(exp.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                rows.append(pytest.param(exp.parent, json.loads(line), id=f"{exp.parent.name}:{n}"))
    return rows


EXPECTATIONS = _expectations()


def test_corpus_has_samples_in_every_form():
    files = {p["file"] for _, p in (e.values for e in EXPECTATIONS)}
    assert len(files) >= 12
    assert any(f.endswith(".txt") and f.startswith("line-") for f in files)
    assert any(f.endswith(".txt") and f.startswith("pasted-") for f in files)


@pytest.mark.parametrize("folder, expected", EXPECTATIONS)
def test_sample_matches_expected(folder, expected):
    d = diagnose(folder / expected["file"])
    assert d.error is None, d.error
    mine = [r for r in d.recipients if r.recipient == expected.get("recipient")]
    assert mine, f"no record for {expected.get('recipient')}: {[r.recipient for r in d.recipients]}"
    r = mine[0]
    for key, want in expected.items():
        if key in ("file", "index"):
            continue
        assert getattr(r, key) == want, f"{key}: {getattr(r, key)!r} != {want!r}"
    if r.cause and r.cause.startswith("exo-sender-auth/"):
        assert r.role == "recipient_admin"
        assert "external" in r.cause_info[0].summary or "unauthenticated" in r.cause_info[0].summary \
            or "not authenticated" in r.cause_info[0].summary
        assert "recipient's email admin" in r.sender_advice or "from your side" in r.sender_advice
        shell = " ".join(ps for rem in r.remediation for ps in rem.powershell)
        assert "RequireSenderAuthenticationEnabled" in shell and "AcceptMessagesOnlyFrom" in shell
        assert r.explanation and all(s.reference for s in r.explanation)


def test_records_cover_every_expected_recipient():
    by_file = {}
    for folder, exp in (e.values for e in EXPECTATIONS):
        by_file.setdefault((folder, exp["file"]), []).append(exp.get("recipient"))
    for (folder, name), recipients in by_file.items():
        got = [r.recipient for r in diagnose(folder / name).recipients]
        assert sorted(got, key=str) == sorted(recipients, key=str), name


@pytest.mark.parametrize("path", sorted((CORPUS / "not-bounces").glob("*")) if (CORPUS / "not-bounces").is_dir()
                         else [], ids=lambda p: p.name)
def test_not_bounces_are_reported_not_diagnosed(path):
    if path.name == "README.md":
        pytest.skip("documentation")
    d = diagnose(path)
    assert not d.recipients and d.error
