"""The engine: experta isolation, rule-by-rule conclusions, traces, determinism."""
from __future__ import annotations

import json
import logging
import os
import subprocess
import sys

import pytest

from ndrkb.models import RecipientFacts
from ndrkb.rules.loading import load_packs


def test_experta_compat_leaves_no_global_state():
    code = ("import collections, logging; root = logging.getLogger(); before = (list(root.handlers), root.level);"
            "import ndrkb.rules.inference, experta; assert not hasattr(collections, 'Mapping');"
            "assert (list(root.handlers), root.level) == before, (root.handlers, root.level); print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr


def test_experta_runs_a_rule_through_the_shim():
    from ndrkb.rules.experta_compat import load_experta

    experta = load_experta()

    class Probe(experta.KnowledgeEngine):
        fired = []

        @experta.Rule(experta.Fact(x=1))
        def hit(self):
            self.fired.append("hit")

    e = Probe()
    e.reset()
    e.declare(experta.Fact(x=1))
    e.run()
    assert Probe.fired == ["hit"]
    assert logging.getLogger().handlers == [] or all(
        not isinstance(h, logging.StreamHandler) or h.stream is not sys.stderr for h in logging.getLogger().handlers)


FAMILY = [
    # (facts, deciding rule, cause, recipient_type)
    (dict(status="5.7.12", reply_code=550), "exo-sender-auth/org-by-code", "sender-not-authenticated-org", None),
    (dict(status="5.7.133", reply_code=550), "exo-sender-auth/group-by-code", "sender-not-authenticated-group", "group"),
    (dict(status="5.7.134", reply_code=550), "exo-sender-auth/mailbox-by-code", "sender-not-authenticated-mailbox",
     "mailbox"),
    (dict(status="5.7.135", reply_code=550), "exo-sender-auth/public-folder-by-code",
     "sender-not-authenticated-public-folder", "public_folder"),
    (dict(status="5.7.13", reply_code=550, mta="exchange-online"), "exo-sender-auth/public-folder-by-code-5.7.13-exchange",
     "sender-not-authenticated-public-folder", "public_folder"),
    (dict(status="5.7.13", reply_code=550, diagnostic="Sender was not authenticated for public folder"),
     "exo-sender-auth/public-folder-by-code-5.7.13-wording", "sender-not-authenticated-public-folder", "public_folder"),
    (dict(status="5.7.136", reply_code=550), "exo-sender-auth/mail-user-by-code", "sender-not-authenticated-mail-user",
     "mail_user"),
    (dict(status="5.7.0", token="RESOLVER.RST.SenderNotAuthenticatedForOrg"), "exo-sender-auth/org-by-token",
     "sender-not-authenticated-org", None),
    (dict(status="5.7.0", token="RESOLVER.RST.SenderNotAuthenticatedForGroup"), "exo-sender-auth/group-by-token",
     "sender-not-authenticated-group", "group"),
    (dict(status="5.7.0", token="RESOLVER.RST.SenderNotAuthenticatedForMailbox"), "exo-sender-auth/mailbox-by-token",
     "sender-not-authenticated-mailbox", "mailbox"),
    (dict(status="5.7.1", token="RESOLVER.RST.AuthRequired", diagnostic="authentication required [Stage: CreateMessage]"),
     "exo-sender-auth/public-folder-auth-required", "sender-not-authenticated-public-folder", "public_folder"),
    (dict(status="5.7.1", token="RESOLVER.RST.AuthRequired", diagnostic="authentication required"),
     "exo-sender-auth/auth-required-any-recipient", "sender-not-authenticated-org", None),
]


@pytest.mark.parametrize("facts, rule, cause, rtype", FAMILY, ids=[f[1] for f in FAMILY])
def test_each_sender_auth_rule_decides(diagnoser, facts, rule, cause, rtype):
    r = diagnoser.diagnose_facts(RecipientFacts(**facts))
    assert r.decided_by["cause"] == rule
    assert r.cause == f"exo-sender-auth/{cause}"
    assert r.role == "recipient_admin" and r.reason == "securityerror"
    assert r.recipient_type == rtype
    assert r.permanent is True and r.hard_bounce is False
    assert rule in r.rules
    shell = " ".join(ps for rem in r.remediation for ps in rem.powershell)
    assert "-RequireSenderAuthenticationEnabled $false" in shell
    assert "AcceptMessagesOnlyFrom" in shell
    assert "recipient's email admin" in r.sender_advice or "cannot fix this from your side" in r.sender_advice


CMDLET = {None: {"Set-Mailbox", "Set-MailUser", "Set-MailContact", "Set-DistributionGroup",
                 "Set-DynamicDistributionGroup", "Set-UnifiedGroup", "Set-MailPublicFolder"},
          "group": {"Set-DistributionGroup", "Set-DynamicDistributionGroup", "Set-UnifiedGroup"},
          "mailbox": {"Set-Mailbox"}, "public_folder": {"Set-MailPublicFolder"}, "mail_user": {"Set-MailUser"}}


@pytest.mark.parametrize("facts, rule, cause, rtype", FAMILY[:7], ids=[f[1] for f in FAMILY[:7]])
def test_remediation_cmdlets_match_recipient_type(diagnoser, facts, rule, cause, rtype):
    r = diagnoser.diagnose_facts(RecipientFacts(**facts))
    cmdlets = {ps.split()[0] for rem in r.remediation for ps in rem.powershell
               if "RequireSenderAuthenticationEnabled" in ps}
    assert cmdlets == CMDLET[rtype]
    if rtype is None:
        assert any("does not reveal the recipient type" in n for n in r.notes)


@pytest.mark.parametrize("status, reply, permanent", [("5.1.1", 550, True), ("4.4.7", 550, False),
                                                      (None, 554, True), (None, 451, False)])
def test_permanent_follows_class_then_reply(diagnoser, status, reply, permanent):
    r = diagnoser.diagnose_facts(RecipientFacts(status=status, reply_code=reply))
    assert r.permanent is permanent
    assert r.decided_by["permanent"].startswith("core-finalize/")


@pytest.mark.parametrize("status, hard", [("5.1.1", True), ("5.1.2", True), ("5.1.6", True), ("5.2.2", False),
                                          ("5.7.1", False), ("5.1.10", True)])
def test_hard_bounce_only_for_dead_addresses(diagnoser, status, hard):
    r = diagnoser.diagnose_facts(RecipientFacts(status=status, reply_code=550))
    assert r.hard_bounce is hard


def test_every_conclusion_has_a_fired_rule_with_reference(diagnoser):
    r = diagnoser.diagnose_facts(RecipientFacts(status="5.7.133", reply_code=550))
    rules = {s.rule: s for s in r.explanation}
    for slot in ("role", "reason", "cause", "recipient_type", "permanent", "hard_bounce"):
        step = rules[r.decided_by[slot]]
        assert slot in step.won and step.reference
    assert [s.seq for s in r.explanation] == list(range(1, len(r.explanation) + 1))


def test_generic_fallback_for_any_wellformed_code(diagnoser):
    for code in ("5.3.4", "4.2.2", "5.6.1", "5.7.999", "4.9.9"):
        r = diagnoser.diagnose_facts(RecipientFacts(status=code))
        assert r.role and r.cause and r.reason, code
    delayed = diagnoser.diagnose_facts(RecipientFacts(status="4.2.2", action="delayed"))
    assert delayed.role == "none" and delayed.decided_by["role"] == "transient-retry/still-retrying"
    assert diagnoser.diagnose_facts(RecipientFacts(status="4.2.2", action="failed")).role == "recipient_admin"


def test_memoized_result_equals_fresh_result():
    from ndrkb.diagnoser import Diagnoser

    packs = load_packs()
    facts = RecipientFacts(recipient="a@contoso.com", status="5.7.133", reply_code=550)
    memo, fresh = Diagnoser(packs=packs), Diagnoser(packs=packs, memoize=False)
    first = memo.diagnose_facts(facts)
    again = memo.diagnose_facts(facts.model_copy(update={"recipient": "b@contoso.com"}))
    assert again.explanation == first.explanation == fresh.diagnose_facts(facts).explanation


def test_output_identical_across_hash_seeds(tmp_path):
    line = "550 5.7.133 RESOLVER.RST.SenderNotAuthenticatedForGroup; authentication required"
    code = f"import ndrkb; print(ndrkb.diagnose({line!r}).model_dump_json())"
    outs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           env={**os.environ, "PYTHONHASHSEED": seed}).stdout for seed in ("1", "2", "3")}
    assert len(outs) == 1 and json.loads(outs.pop())["recipients"][0]["cause"]
