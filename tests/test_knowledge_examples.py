"""Every [[example]] of every pack in kb/ gets the diagnosis its pack expects."""
from __future__ import annotations

import pytest

from ndrkb import diagnose
from ndrkb.rules.loading import load_packs

PACKS = load_packs().packs
EXAMPLES = [(p, ex) for p in PACKS if p.origin == "builtin" for ex in p.spec.example]
SCALARS = ("status", "reply_code", "role", "cause", "reason", "recipient_type", "permanent", "hard_bounce",
           "certain")


def _qualify(pack_id: str, cause: str) -> str:
    return cause if "/" in cause else f"{pack_id}/{cause}"


def _expectation(pack, ex) -> dict:
    """The example's expectations as a dict, cause ids qualified with the pack id."""
    want = ex.expect.model_dump(exclude_unset=True) if hasattr(ex.expect, "model_dump") else dict(ex.expect)
    if want.get("cause"):
        want["cause"] = _qualify(pack.id, want["cause"])
    if want.get("causes"):
        want["causes"] = [_qualify(pack.id, c) for c in want["causes"]]
    return want


def _id(item) -> str:
    pack, ex = item
    return f"{pack.id}:{ex.file}"


def test_every_knowledge_pack_ships_two_examples():
    thin = [p.id for p in PACKS if p.spec.pack.layer == "knowledge" and p.origin == "builtin"
            and p.id != "exo-sender-auth" and len(p.spec.example) < 2]
    assert thin == []


@pytest.mark.parametrize("item", EXAMPLES, ids=[_id(i) for i in EXAMPLES])
def test_example_diagnosis(item):
    pack, ex = item
    result = diagnose(str(pack.path / ex.file))
    assert result.error is None, result.error
    assert result.recipients, "no recipient diagnosed"
    want = _expectation(pack, ex)
    got = result.recipients[0]
    if want.get("recipient"):
        got = next(r for r in result.recipients if r.recipient == want["recipient"])
    for key in SCALARS:
        if key in want:
            assert getattr(got, key) == want[key], f"{key}: {getattr(got, key)!r} != {want[key]!r}"
    if "causes" in want:
        assert got.causes == want["causes"]
    offered = {r.id for r in got.remediation}
    for rem in want.get("remediation", []):
        assert rem in offered, f"remediation {rem} not offered: {sorted(offered)}"
    commands = [c for r in got.remediation for c in r.powershell]
    for text in want.get("powershell", []):
        assert any(text in c for c in commands), f"no PowerShell command holds {text!r}"
    for rule in want.get("rules", []):
        assert rule in got.rules, f"rule {rule} did not fire; fired: {got.rules}"
    if "cause" in want:
        decider = got.decided_by.get("cause")
        assert decider, "no rule decided the cause"
        assert decider.split("/")[0] == want["cause"].split("/")[0]
        step = next(s for s in got.explanation if s.rule == decider)
        assert "cause" in step.won
