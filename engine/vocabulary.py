"""The controlled vocabulary: every closed set of names ndrkb reads or writes, defined once.

Reasons (Sisimai's names, each with its meaning), roles, recipient types, actions and
the families of reporting systems.  Models, packs and readers take their names from
here; a pack naming anything else is refused at load time.
"""
from __future__ import annotations

from typing import Literal, NamedTuple, Optional

#: Who must act, and what that means.
ROLE_MEANINGS: dict[str, str] = {
    "sender": "the person who sent the message",
    "sender_admin": "the email admin of the sending organisation",
    "recipient_admin": "the email admin of the receiving organisation",
    "none": "nobody: the failure is transient and the sending system retries",
}

#: Kinds of Exchange recipient; ``mailbox`` and ``group`` when only the broad kind is known.
RECIPIENT_TYPE_MEANINGS: dict[str, str] = {
    "user_mailbox": "a person's mailbox",
    "shared_mailbox": "a mailbox several people open",
    "mail_user": "a mail-enabled user whose mailbox is outside the organisation",
    "mail_contact": "an external address in the directory",
    "distribution_group": "a distribution list",
    "security_group": "a mail-enabled security group",
    "dynamic_distribution_group": "a group whose members a recipient filter chooses",
    "m365_group": "a Microsoft 365 group",
    "public_folder": "a mail-enabled public folder",
    "mailbox": "a user or shared mailbox, which one is not known",
    "group": "some kind of group, which one is not known",
}

#: Concrete recipient types an umbrella value (or ``None``, type unknown) can stand for.
TYPE_EXPANSION: dict[Optional[str], tuple[str, ...]] = {
    None: ("user_mailbox", "shared_mailbox", "mail_user", "mail_contact", "distribution_group",
           "security_group", "dynamic_distribution_group", "m365_group", "public_folder"),
    "mailbox": ("user_mailbox", "shared_mailbox"),
    "group": ("distribution_group", "security_group", "dynamic_distribution_group", "m365_group"),
}

#: Bounce reasons, named as Sisimai names them so its users can map results 1:1.
REASON_MEANINGS: dict[str, str] = {
    "authfailure": "the sender's domain failed SPF, DKIM or DMARC checks",
    "badreputation": "the sending IP or domain has a poor reputation at the receiver",
    "blocked": "the sending IP or host is refused (blocklist, missing or mismatched DNS, policy)",
    "contenterror": "the message's content or format was refused",
    "delivered": "the message was delivered (a success notice, not a failure)",
    "exceedlimit": "the message exceeds a size limit of the recipient's mailbox",
    "expired": "delivery was retried until the queue lifetime ran out",
    "failedstarttls": "a TLS session could not be started with the receiving server",
    "feedback": "a complaint (abuse feedback report), not a bounce",
    "filtered": "the recipient exists but refused this message (a filter or restriction)",
    "hasmoved": "the recipient has moved to another address",
    "hostunknown": "the recipient's domain does not exist or accepts no mail",
    "mailboxfull": "the recipient's mailbox is full",
    "mailererror": "a local delivery program on the receiving side failed",
    "mesgtoobig": "the message is larger than the receiving server accepts",
    "networkerror": "a network or DNS problem on the way (routing loop, no route, timeout)",
    "norelaying": "the server refused to relay for the sender",
    "notaccept": "the receiving domain accepts no mail (null MX, not accepting)",
    "notcompliantrfc": "the message violates the mail standards (RFC 5322 and the like)",
    "onhold": "the failure could not be decided; the message is held",
    "policyviolation": "the message violates a policy of the receiver",
    "rejected": "the sender's address was refused (envelope sender or its domain)",
    "requireptr": "the sending IP has no (or no matching) reverse DNS record",
    "securityerror": "a security or authentication requirement was not met",
    "spamdetected": "the message was judged to be spam",
    "speeding": "the sender sends too fast (rate limit)",
    "suspend": "the recipient's mailbox is suspended or disabled",
    "syntaxerror": "the SMTP conversation had a syntax error",
    "systemerror": "the receiving system had an error",
    "systemfull": "the receiving system is out of disk or resources",
    "toomanyconn": "too many connections from the sender",
    "undefined": "the cause could not be told from the bounce",
    "userunknown": "the recipient address does not exist",
    "vacation": "an automatic reply (vacation or out of office), not a bounce",
    "virusdetected": "the message was found to carry malware",
}

#: RFC 3464 ``Action`` values, and what each says of the delivery.
ACTION_MEANINGS: dict[str, str] = {
    "failed": "delivery failed and will not be retried",
    "delayed": "delivery has not yet succeeded and is still being retried",
    "delivered": "the message was delivered",
    "relayed": "the message was passed on to a system that sends no notices",
    "expanded": "the message was delivered to a list or alias and passed on to its members",
}

#: What an input is: a bounce, a complaint, or an automatic reply.
KIND_MEANINGS: dict[str, str] = {
    "bounce": "a non-delivery or delay report",
    "feedback": "an abuse feedback report (RFC 5965)",
    "autoreply": "an automatic reply (RFC 3834)",
}


class MtaFamily(NamedTuple):
    """A family of reporting systems and the signs that identify a bounce it wrote."""

    meaning: str
    headers: tuple[str, ...] = ()            # header names present in the bounce
    reporting_suffixes: tuple[str, ...] = ()  # Reporting-MTA host name endings
    line_kinds: tuple[str, ...] = ()          # kinds of text lines (grammar/ndr_text.lark)


#: Reporting-system families, in detection order: the first whose sign is present wins.
#: Packs name these in ``when.mta``; adding a family is adding an entry here.
MTA_FAMILIES: dict[str, MtaFamily] = {
    "exchange-online": MtaFamily(
        "Microsoft 365 / Exchange Online",
        reporting_suffixes=("outlook.com", "exchangelabs.com", "office365.com"),
        line_kinds=("RCPT_EXO", "STATUS_EXO")),
    "exchange": MtaFamily(
        "Exchange Server (on-premises)",
        headers=("x-ms-exchange-message-is-ndr",),
        line_kinds=("SECTION_EXO_LEGACY", "SECTION_EXO_DIAG", "SERVER_EXO_LEGACY", "REPLY_EXO_REMOTE")),
}

Role = Literal[tuple(ROLE_MEANINGS)]  # type: ignore[valid-type]
RecipientType = Literal[tuple(t for t in RECIPIENT_TYPE_MEANINGS)]  # type: ignore[valid-type]
Reason = Literal[tuple(REASON_MEANINGS)]  # type: ignore[valid-type]
Kind = Literal[tuple(KIND_MEANINGS)]  # type: ignore[valid-type]
MtaName = Literal[tuple(MTA_FAMILIES)]  # type: ignore[valid-type]

ROLES: tuple[str, ...] = tuple(ROLE_MEANINGS)
RECIPIENT_TYPES: tuple[str, ...] = tuple(RECIPIENT_TYPE_MEANINGS)
REASONS: tuple[str, ...] = tuple(REASON_MEANINGS)
ACTIONS: tuple[str, ...] = tuple(ACTION_MEANINGS)
KINDS: tuple[str, ...] = tuple(KIND_MEANINGS)
MTA_NAMES: tuple[str, ...] = tuple(MTA_FAMILIES)
