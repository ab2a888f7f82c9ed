"""Consultation: the asker's recipient type narrows the remediation (API, CLI, one place)."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from ndrkb import diagnose
from ndrkb.cli import main

ORG = "550 5.7.12 Sender was not authenticated by organization"
GROUP = "550 5.7.133 RESOLVER.RST.SenderNotAuthenticatedForGroup; authentication required"


def _types(d):
    return sorted({t for rem in d.recipients[0].remediation for t in rem.recipient_types})


def test_without_an_answer_every_type_is_covered_and_the_note_says_how_to_find_it():
    d = diagnose(ORG)
    assert len(_types(d)) == 9
    assert any("does not reveal the recipient type" in n for n in d.recipients[0].notes)


def test_an_answer_narrows_the_remediation_to_that_type():
    d = diagnose(ORG, recipient_type="mail_user")
    r = d.recipients[0]
    assert _types(d) == ["mail_user"]
    assert [ps for rem in r.remediation for ps in rem.powershell][0].startswith("Set-MailUser ")
    assert r.recipient_types_covered == ["mail_user"]
    assert "Remediation is shown for the recipient type you gave: mail_user." in r.notes
    assert not any("does not reveal" in n for n in r.notes)
    assert r.recipient_type is None  # the conclusion stays the rules' own


def test_an_answer_refines_an_umbrella_type_and_cannot_contradict_the_ndr():
    assert _types(diagnose(GROUP, recipient_type="m365_group")) == ["m365_group"]
    d = diagnose(GROUP, recipient_type="user_mailbox")
    assert "user_mailbox" not in _types(d) and "m365_group" in _types(d)
    assert any("does not fit the NDR" in n for n in d.recipients[0].notes)


def test_an_unknown_type_is_refused():
    with pytest.raises(ValueError, match="unknown recipient type 'robot'"):
        diagnose(ORG, recipient_type="robot")


def test_cli_recipient_type_option():
    runner = CliRunner()
    res = runner.invoke(main, ["diagnose", "--json", "--recipient-type", "m365_group", "-"], input=ORG)
    assert res.exit_code == 0
    assert json.loads(res.output)["recipients"][0]["recipient_types_covered"] == ["m365_group"]
    res = runner.invoke(main, ["diagnose", "--recipient-type", "robot", "-"], input=ORG)
    assert res.exit_code == 2 and "robot" in res.output
