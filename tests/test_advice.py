"""Issue 11: advice that is safe to follow.  One test per item (items 9 and 12 came with issue 10)."""
from __future__ import annotations

import re

import pytest

from ndrkb.models import RecipientFacts
from ndrkb.rules.loading import read_packs


def diagnose(diagnoser, **facts):
    return diagnoser.diagnose_facts(RecipientFacts(**facts))


def text_of(r) -> str:
    """Every piece of prose and every command of a diagnosis, in one string."""
    parts = [r.sender_advice, *r.notes]
    for c in r.cause_info:
        parts += [c.summary, c.admin_advice]
    for rem in r.remediation:
        parts += [rem.title, *rem.steps, *rem.notes, *rem.powershell, *rem.check, rem.affects]
    return "\n".join(parts)


def rem(r, rid):
    return next(x for x in r.remediation if x.id == rid)


@pytest.fixture(scope="module")
def packs():
    return {p.id: p for p in read_packs()}


# 1 ---------------------------------------------------------------- lists are added to, never overwritten

@pytest.mark.parametrize("rid, cmdlet", [
    ("allowed-senders-mail-user", "Set-MailUser"), ("allowed-senders-mail-contact", "Set-MailContact"),
    ("allowed-senders-dynamic-group", "Set-DynamicDistributionGroup"),
    ("allowed-senders-public-folder", "Set-MailPublicFolder"), ("allowed-senders-mailbox", "Set-Mailbox"),
    ("allowed-senders-distribution-group", "Set-DistributionGroup")])
def test_1_method_2_adds_to_the_list(diagnoser, rid, cmdlet):
    r = diagnose(diagnoser, status="5.7.12", reply_code=550)
    (line,) = [ps for ps in rem(r, f"exo-sender-auth/{rid}").powershell if ps.startswith(cmdlet)]
    assert '-AcceptMessagesOnlyFrom @{Add="<sender name>"}' in line
    assert '-AcceptMessagesOnlyFromDLMembers @{Add="All Internal Users"}' in line
    assert "SendersOrMembers" not in line


def test_1_the_m365_group_list_is_replaced_only_with_every_current_entry(diagnoser):
    r = diagnose(diagnoser, status="5.7.133", reply_code=550)
    m365 = rem(r, "exo-sender-auth/allowed-senders-m365-group")
    assert '"<every current entry>","<sender name>"' in m365.powershell[0]
    assert m365.check == ["Get-UnifiedGroup -Identity <recipient> | Format-List "
                          "RequireSenderAuthenticationEnabled,AcceptMessagesOnlyFromSendersOrMembers"]
    assert "replaces the whole list" in " ".join(m365.steps)


def test_1_transport_rule_exceptions_keep_the_current_ones(packs):
    fix = packs["exo-restrictions"].spec.remediation["check-mail-flow-rules"]
    assert fix.powershell == ['Set-TransportRule -Identity <rule> -ExceptIfFrom "<every current exception>","<sender>"']
    assert "Get-TransportRule -Identity <rule> | Format-List ExceptIfFrom" in fix.check
    assert "ExceptIfFrom replaces the rule's whole exception list" in fix.affects


# 2 ---------------------------------------------------------------- external senders are let in where they are listed

def test_2_group_steps_switch_to_inside_and_outside(packs):
    rems = packs["exo-sender-auth"].spec.remediation
    dynamic = " ".join(rems["allowed-senders-dynamic-group"].steps)
    assert dynamic.count("inside and outside") == 2  # new and classic EAC
    classic = [s for s in rems["allowed-senders-distribution-group"].steps if s.startswith("Classic EAC")]
    assert "'Senders inside and outside of my organization'" in classic[0]


# 3 ---------------------------------------------------------------- client submission is the sender's side

def test_3_wrapped_smtp_auth_failure_is_the_senders_admin(diagnoser):
    r = diagnose(diagnoser, status="5.7.139", reply_code=535, diagnostic=(
        "5.7.57 SMTP; 535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant"))
    assert r.role == "sender_admin"
    assert r.cause == "exo-auth-tls/smtp-auth-missing"
    assert "exo-auth-tls/smtp-auth-refused-5.7.139" in r.rules


# 4 ---------------------------------------------------------------- no accepted-domain change without the caution

def test_4_hybrid_domain_type_comes_with_microsofts_caution(diagnoser):
    r = diagnose(diagnoser, status="5.1.10", reply_code=550, mta="exchange-online",
                 diagnostic="550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup")
    text = text_of(r)
    assert "must be Internal Relay" not in text
    fix = rem(r, "exo-addressing/check-hybrid-domain")
    steps = " ".join(fix.steps)
    assert "an Authoritative domain delivers to it" in steps and "loop" in steps
    assert fix.check[0].startswith("Get-AcceptedDomain")


# 5 ---------------------------------------------------------------- the group every method-2 command names is created first

@pytest.mark.parametrize("status", ["5.7.12", "5.7.133", "5.7.134", "5.7.135", "5.7.136"])
def test_5_all_internal_users_is_created_before_it_is_used(diagnoser, status):
    r = diagnose(diagnoser, status=status, reply_code=550)
    ids = [x.id for x in r.remediation]
    users = [i for i, x in enumerate(r.remediation) if any("All Internal Users" in ps for ps in x.powershell)]
    create = ids.index("exo-sender-auth/create-all-internal-users")
    assert 'New-DynamicDistributionGroup -Name "All Internal Users" -IncludedRecipients MailboxUsers' in \
        r.remediation[create].powershell
    assert all(i >= create for i in users)


# 6 ---------------------------------------------------------------- X.7.13 and SES sending policy are the sender's side

def test_6_account_disabled_is_the_senders_own_account(diagnoser):
    r = diagnose(diagnoser, status="5.7.13", reply_code=554, diagnostic="554 5.7.13 Account disabled")
    assert r.role == "sender_admin" and r.cause == "rfc3463/account-disabled"
    ses = diagnose(diagnoser, status="5.7.13", reply_code=554, diagnostic="554 5.7.13 Email rejected by SES sending policy")
    assert ses.role == "sender_admin" and ses.cause == "provider-rhost/ses-sending-policy"
    # a server that uses the code to refuse a disabled recipient address keeps the recipient's reading
    rcpt = diagnose(diagnoser, status="5.7.13", reply_code=525,
                    diagnostic="525 5.7.13 <a@example.org>: Recipient address rejected: Disabled recipient address")
    assert rcpt.reason == "suspend" and rcpt.cause == "rfc3463/recipient-account-disabled"


# 7 ---------------------------------------------------------------- texts quote the bounce's own code

@pytest.mark.parametrize("status, token", [("5.7.1", "RESOLVER.RST.AuthRequired"), ("5.7.13", "RESOLVER.RST.AuthRequired")])
def test_7_sender_text_quotes_the_bounces_code(diagnoser, status, token):
    r = diagnose(diagnoser, status=status, reply_code=550, token=token, diagnostic="authentication required")
    assert "5.7.12" not in r.sender_advice
    assert f"({status})" in r.sender_advice
    assert "does not say which kind of recipient" not in r.cause_info[0].summary


def test_7_placeholders_fall_back_when_the_bounce_lacks_the_fact(diagnoser):
    r = diagnose(diagnoser, token="RESOLVER.RST.SenderNotAuthenticatedForGroup")
    assert "(status code given in the bounce)" in r.sender_advice
    assert "{" not in text_of(r).replace("@{", "").replace("{$_", "")


# 8 ---------------------------------------------------------------- admin-center paths

def test_8_classic_paths_for_shared_mailboxes_and_dynamic_groups(packs):
    rems = packs["exo-sender-auth"].spec.remediation
    assert "Recipients > Shared" in " ".join(rems["allow-all-mailbox"].steps)
    assert any(s.startswith("Classic EAC") for s in rems["allow-all-dynamic-group"].steps)
    assert any(s.startswith("Classic EAC") for s in rems["allowed-senders-mailbox"].steps)


# 9 ---------------------------------------------------------------- Yahoo's "dd" reply: the account does not exist

def test_9_yahoo_no_such_account_is_a_dead_address(diagnoser):
    r = diagnose(diagnoser, reply_code=554, action="failed", command="DATA", diagnostic=(
        "554 delivery error: dd This user doesn't have a yahoo.com account (ann@yahoo.example) [0] - mta1.example"))
    assert (r.reason, r.hard_bounce) == ("userunknown", True)
    assert "provider-rhost/yahoo-no-such-account" in r.rules


# 12 --------------------------------------------------------------- hard bounce only for an address given up on

@pytest.mark.parametrize("facts", [
    {"status": "4.1.1", "reply_code": 450, "action": "delayed", "command": "RCPT",
     "diagnostic": "450 4.1.1 <a@example.org>: Recipient address rejected: User unknown"},
    {"status": "4.1.2", "reply_code": 450, "action": "delayed",
     "diagnostic": "450 4.1.2 <a@example.org>: Recipient address rejected: Domain not found"},
    {"status": "5.1.4", "reply_code": 550, "action": "failed", "diagnostic": "550 5.1.4 Destination mailbox address ambiguous"},
    {"status": "5.1.19", "reply_code": 550, "action": "failed", "diagnostic": "550 5.1.19 Unclassified address failure"},
])
def test_12_no_hard_bounce_while_retried_ambiguous_or_unregistered(diagnoser, facts):
    assert diagnose(diagnoser, **facts).hard_bounce is False


def test_12_the_same_unknown_user_given_up_on_is_hard(diagnoser):
    r = diagnose(diagnoser, status="4.1.1", reply_code=450, action="failed", command="RCPT",
                 diagnostic="450 4.1.1 <a@example.org>: Recipient address rejected: User unknown")
    assert (r.reason, r.hard_bounce) == ("userunknown", True)


# 10 --------------------------------------------------------------- a greylisted message the server gave up on

def test_10_greylisting_that_failed_does_not_promise_delivery(diagnoser):
    diag = "450 4.7.1 <a@example.org>: Recipient address rejected: Greylisted, see http://postgrey.schweikert.ch/"
    failed = diagnose(diagnoser, status="4.7.1", reply_code=450, action="failed", diagnostic=diag)
    assert failed.cause == "mta-common/greylisting-gave-up" and failed.role == "sender_admin"
    assert "should arrive" not in failed.sender_advice
    delayed = diagnose(diagnoser, status="4.7.1", reply_code=450, action="delayed", diagnostic=diag)
    assert delayed.cause == "mta-common/greylisting" and delayed.role == "none"


# 11 --------------------------------------------------------------- no open relay

def test_11_relay_denied_never_says_add_the_ip_to_mynetworks(diagnoser):
    r = diagnose(diagnoser, status="5.7.1", reply_code=554, diagnostic="554 5.7.1 <b@example.net>: Relay access denied")
    admin = next(c.admin_advice for c in r.cause_info if c.id == "mta-common/relay-client-unauthenticated")
    assert "allow its IP to relay" not in admin
    assert "Do not add an outside IP to mynetworks" in admin


# 13 --------------------------------------------------------------- Yahoo TSS09 blocks the sending IP

def test_13_yahoo_tss09_is_a_block_of_the_sending_ip(diagnoser):
    r = diagnose(diagnoser, status="5.7.2", reply_code=553, diagnostic=(
        "553 5.7.2 [TSS09] All messages from 192.0.2.1 will be permanently deferred; Retrying will NOT succeed."))
    assert r.role == "sender_admin" and r.reason == "blocked" and r.cause == "provider-rhost/yahoo-ip-blocked"


# 14 --------------------------------------------------------------- a DNS server failure is not a missing domain

@pytest.mark.parametrize("action", ["failed", "delayed"])
def test_14_temporary_dns_failure_is_not_a_domain_that_does_not_exist(diagnoser, action):
    r = diagnose(diagnoser, status="4.4.3", reply_code=450, action=action, diagnostic=(
        "450 4.4.3 <a@example.org>: Recipient address rejected: Host or domain name not found. "
        "Name service error for name=example.org type=MX: Host not found, try again"))
    assert r.cause == "mta-common/dns-not-answering"
    assert r.role != "sender"


# 15 --------------------------------------------------------------- domain lists and the lists' own removal rules

def test_15_domain_blocklist_and_delisting_rules(diagnoser, packs):
    r = diagnose(diagnoser, status="5.7.1", reply_code=554, diagnostic=(
        "554 5.7.1 Service unavailable; Sender address [a@spam.example] blocked using dbl.spamhaus.org"))
    assert r.cause == "mta-common/domain-on-blocklist"
    assert "sending IP is not what is listed" in r.cause_info[0].summary
    delist = " ".join(packs["mta-common"].spec.remediation["delist-from-dnsbl"].steps)
    assert "request removal on the list's website" not in delist
    assert "SpamCop asks not to request removal" in delist and "Spamhaus PBL" in delist


# 16 --------------------------------------------------------------- Gmail's own numbers

def test_16_gmail_spf_and_connection_deferrals(diagnoser):
    spf = diagnose(diagnoser, status="4.7.27", reply_code=421, diagnostic=(
        "421 4.7.27 Your email has been rate limited because SPF authentication didn't pass for this message."))
    assert spf.cause == "provider-auth/spf-not-passing"
    closing = diagnose(diagnoser, status="4.7.0", reply_code=421, diagnostic="421 4.7.0 Try again later, closing connection. (EHLO)")
    assert closing.cause == "mta-common/connection-deferred"
    assert "mta-common/greylisted" not in closing.rules


# 17 --------------------------------------------------------------- one vendor's knowledge on another vendor's bounce

def test_17_generic_refusals_are_not_the_exchange_allowed_senders_list(diagnoser):
    spam = diagnose(diagnoser, status="5.7.1", reply_code=554, diagnostic="554 5.7.1 Message rejected as spam by Content Filtering.")
    assert spam.cause == "mta-common/refused-as-spam" and spam.certain
    gmail = diagnose(diagnoser, status="5.7.1", reply_code=550, diagnostic=(
        "550 5.7.1 [192.0.2.1] The IP you're using to send mail is not authorized to send email directly to our "
        "servers. Please use the SMTP relay at your service provider instead."))
    assert gmail.cause == "mta-common/end-user-ip-direct" and gmail.role == "sender_admin"


def test_17_postfix_quota_gets_no_exchange_powershell(diagnoser):
    postfix = diagnose(diagnoser, status="5.2.2", reply_code=552,
                       diagnostic="552 5.2.2 <a@example.org>: Recipient address rejected: Mailbox full")
    assert postfix.cause == "exo-mailbox/mailbox-full-any-server"
    assert not any(x.powershell for x in postfix.remediation)
    exo = diagnose(diagnoser, status="5.2.2", reply_code=554, mta="exchange-online",
                   diagnostic="554 5.2.2 mailbox full; STOREDRV.Deliver.Exception:QuotaExceededException")
    assert exo.cause == "exo-mailbox/mailbox-full"


# 18 --------------------------------------------------------------- smaller

def test_18_dkim_and_mailing_lists(packs):
    admin = packs["provider-auth"].spec.cause["dmarc-reject"].admin
    assert "DKIM survives them" not in admin and "mailing list that changes the subject or body" in admin


def test_18_references_cite_the_right_documents(packs):
    refs = {(p.id, r.id): r.reference for p in packs.values() for r in p.spec.rule}
    refs.update({(p.id, c): x.reference for p in packs.values() for c, x in p.spec.cause.items() if x.reference})
    assert not [k for k, v in refs.items() if "rfc7489" in v.lower() or v.startswith("RFC 7489")]
    iana = "https://www.iana.org/assignments/smtp-enhanced-status-codes/"
    for rid in ("greylisted", "rate-limited", "too-many-connections", "greylisting", "rate-limited"):
        assert refs[("mta-common", rid)] != iana
    wrong = [(k, v) for k, v in refs.items() if k[0] != "core-finalize"
             and re.search(r"RFC 3463 section", v)]
    assert wrong == []
