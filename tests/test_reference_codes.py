"""Every code of the "Code index" in ndr-facts.md is decided by a knowledge rule.

For each code (ranges: both ends and a middle value) a minimal reply line
``<reply> <code> <typical wording>`` is diagnosed; the cause must come from a
knowledge pack (not the RFC 3463 fallback, not a core-* pack) and role, cause and
reason must all be set.
"""
from __future__ import annotations

import re
import pytest

from ndrkb import diagnose
from ndrkb.rules.schema import code_key

from .conftest import SHARED, needs_shared, shared_params

FACTS = SHARED / "reference" / "ndr-facts.md"

#: Typical wording per code, as such NDRs carry it (the index title is the fallback).
TYPICAL: dict[str, str] = {
    "4.3.2": "STOREDRV.Deliver; recipient thread limit exceeded",
    "4.4.316": "Connection refused [Message=Socket error code 10061]",
    "4.4.317": "Cannot connect to remote server [Message=UntrustedRoot]",
    "4.4.7": "QUEUE.Expired; message expired",
    "5.4.7": "Delivery time expired",
    "4.5.3": "Too many recipients",
    "4.7.26": "Access denied, a message sent over IPv6 [2001:db8::1] must pass either SPF or DKIM validation, this message is not signed",
    "5.7.25": "Access denied, the sending IPv6 address [2001:db8::1] must have a reverse DNS record",
    "4.7.321": "starttls-not-supported: Destination mail server must support TLS to receive mail.",
    "4.7.322": "certificate-expired: Destination mail server's certificate is expired.",
    "4.7.323": "tlsa-invalid: The domain failed DANE validation.",
    "4.7.325": "certificate-host-mismatch: Remote certificate MUST have a common name or subject alternative name matching the hostname (DANE)",
    "4.7.500": "Server busy. Please try again later from [192.0.2.1]. (AS843)",
    "4.7.599": "Access denied, please try again later",
    "4.7.699": "Access denied, please try again later",
    "4.7.850": "Access denied, please try again later",
    "4.7.874": "Access denied, please try again later",
    "4.7.899": "Access denied, please try again later",
    "5.0.350": "Remote server returned an error -> 550 Requested action not taken",
    "5.1.0": "Sender denied",
    "5.1.1": "RESOLVER.ADR.RecipNotFound; not found",
    "5.1.8": "Access denied, bad outbound sender",
    "5.1.10": "RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup",
    "5.1.20": "Multiple From addresses are not allowed without Sender address",
    "5.1.90": "Your message can't be sent because you've reached your daily limit for message recipients",
    "5.1.351": "Remote server returned unknown recipient or mailbox unavailable -> 550 5.1.1 User unknown",
    "5.2.0": "RESOLVER.ADR.BadPrimary; recipient primary SMTP address is missing or invalid",
    "5.2.2": "mailbox full; STOREDRV.Deliver.Exception:QuotaExceededException.MapiExceptionShutoffQuotaExceeded",
    "5.2.121": "Recipient's per hour message receive limit from specific sender exceeded",
    "5.2.122": "Recipient's per hour message receive limit exceeded",
    "5.2.3": "RESOLVER.RST.RecipSizeLimit; message too large for this recipient",
    "5.3.190": "Journaling on-premises messages to Microsoft 365 or Office 365 not supported when Journaling Archive is disabled",
    "5.4.1": "Relay Access Denied",
    "5.4.4": "SMTPSEND.DNS.NonExistentDomain; nonexistent domain",
    "5.4.6": "Hop count exceeded - possible mail loop",
    "5.4.13": "Routing loop detected",
    "5.4.14": "Hop count exceeded - possible mail loop ATTR34",
    "5.4.20": "Routing loop detected",
    "5.4.300": "Message expired",
    "5.4.312": "Message expired, DNS query failed",
    "5.4.316": "Message expired, connection refused",
    "5.5.0": "Requested action not taken: mailbox unavailable",
    "5.6.0": "Invalid message content",
    "5.6.11": "SMTPSEND.BareLinefeedsAreIllegal; message contains bare linefeeds, which cannot be sent via DATA",
    "5.7.0": "Access denied",
    "5.7.1": "RESOLVER.RST.NotAuthorized; not authorized",
    "5.7.499": "Access denied",
    "5.7.999": "Rejected by organization policy",
    "5.7.12": "Sender was not authenticated by organization",
    "5.7.13": "RESOLVER.RST.AuthRequired; authentication required [Stage: CreateMessage]",
    "5.7.23": "The message was rejected because of Sender Policy Framework violation",
    "5.7.57": "Client was not authenticated to send anonymous mail during MAIL FROM",
    "5.7.64": "TenantAttribution; Relay Access Denied",
    "5.7.124": "Sender not in allowed-senders list",
    "5.7.129": "RESOLVER.RST.RestrictedToRecipientsPermission; not authorized",
    "5.7.133": "RESOLVER.RST.SenderNotAuthenticatedForGroup; authentication required",
    "5.7.134": "RESOLVER.RST.SenderNotAuthenticatedForMailbox; authentication required",
    "5.7.135": "Sender was not authenticated for public folder",
    "5.7.136": "Sender was not authenticated",
    "5.7.193": "UnifiedGroupAgent; Delivery failed because the sender isn't a group member or external senders aren't permitted to send to this group.",
    "5.7.350": "Remote server returned message detected as spam -> 554 5.7.1 Message rejected as spam",
    "5.7.367": "Remote server returned not permitted to relay -> 554 5.7.1 Relaying denied",
    "5.7.501": "Access denied, spam abuse detected",
    "5.7.502": "Access denied, banned sender",
    "5.7.503": "Access denied, banned sender",
    "5.7.504": "Recipient address rejected: Access denied",
    "5.7.505": "Access denied, banned recipient",
    "5.7.506": "Access Denied, Bad HELO",
    "5.7.507": "Access denied, rejected by recipient",
    "5.7.508": "Access denied, [2001:db8::1] has exceeded permitted limits within /64 range",
    "5.7.509": "Access denied, sending domain EXAMPLE.COM does not pass DMARC verification and has a DMARC policy of reject",
    "5.7.510": "Access denied, contoso.com does not accept email over IPv6",
    "5.7.511": "Access denied, banned sender",
    "5.7.512": "Access denied, message must be RFC 5322 section 3.6.2 compliant",
    "5.7.513": "Service unavailable, Client host [192.0.2.1] blocked by contoso.com using Customer Block list (AS16012607)",
    "5.7.515": "Access denied, sending domain EXAMPLE.COM doesn't meet the required authentication level",
    "5.7.606": "Access denied, banned sending IP [192.0.2.1]",
    "5.7.627": "Access denied, banned sending IP [192.0.2.1]",
    "5.7.649": "Access denied, banned sending IP [192.0.2.1]",
    "5.7.700": "Access denied, tenant sending restriction",
    "5.7.703": "Messages to the recipients are blocked by your organization using Tenant Allow Block List",
    "5.7.705": "Access denied, tenant has exceeded threshold",
    "5.7.708": "Access denied, traffic not accepted from this IP",
    "5.7.724": "Access denied, tenant sending restriction",
    "5.7.749": "Access denied, tenant sending restriction",
    "5.7.750": "Service unavailable. Client blocked from sending from unregistered domains",
    "5.7.900": "Rejected by a mail flow rule",
    "5.7.949": "Rejected by a mail flow rule",
}

#: Typical SMTP reply per code class (Microsoft shows 451 with the AS codes, 554 with some).
REPLY = {"4.4.317": 450, "4.3.2": 432, "5.2.2": 554, "5.4.14": 554, "5.4.6": 554, "5.6.0": 554}


def _index() -> list[tuple[str, str]]:
    text = FACTS.read_text(encoding="utf-8")
    block = re.search(r"## Code index.*?```\n(.*?)```", text, re.S)
    assert block, f"no Code index block in {FACTS}"
    entries = []
    for line in block.group(1).splitlines():
        code, title, _section = (part.strip() for part in line.split("|"))
        entries.append((code, title))
    return entries


def _codes(entry: str) -> list[str]:
    if "-" not in entry:
        return [entry]
    low, high = entry.split("-")
    lk, hk = code_key(low), code_key(high)
    middle = (lk[2] + hk[2]) // 2
    return [low, f"{lk[0]}.{lk[1]}.{middle}", high]


def _cases() -> list[tuple[str, str]]:
    cases = set()
    for code, title in _index():
        if code == "n/a":
            # The submission-quota wording has no code of its own: it arrives as 5.2.2 or
            # 5.2.0 and is covered by those entries (and the pack's examples).
            continue
        cases.update((c, TYPICAL.get(c, title)) for c in _codes(code))
    return [pytest.param(c, w, id=c) for c, w in sorted(cases, key=lambda c: (code_key(c[0]), c[1]))]


CASES = shared_params(_cases, "code", "wording")


@needs_shared
def test_index_is_read():
    assert len(CASES) > 60
    assert ("5.7.12", TYPICAL["5.7.12"]) in [tuple(case.values) for case in CASES]


@pytest.mark.parametrize("code,wording", CASES)
def test_code_decided_by_knowledge(code, wording):
    reply = REPLY.get(code, 451 if code.startswith("4.") else 550)
    result = diagnose(f"{reply} {code} {wording}")
    assert result.error is None, result.error
    got = result.recipients[0]
    assert got.status == code
    decider = got.decided_by.get("cause")
    assert decider, f"no rule decided the cause for {code}"
    pack = decider.split("/")[0]
    assert pack != "rfc3463" and not pack.startswith("core-"), f"{code} decided by {decider}"
    assert got.role and got.cause and got.reason, (got.role, got.cause, got.reason)
