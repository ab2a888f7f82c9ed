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

#: Exchange's RecipientTypeDetails value(s) of each concrete type, as Get-Recipient shows them.
TYPE_DETAILS: dict[str, str] = {
    "user_mailbox": "UserMailbox", "shared_mailbox": "SharedMailbox", "mail_user": "MailUser",
    "mail_contact": "MailContact", "distribution_group": "MailUniversalDistributionGroup",
    "security_group": "MailUniversalSecurityGroup", "dynamic_distribution_group": "DynamicDistributionGroup",
    "m365_group": "GroupMailbox", "public_folder": "PublicFolder",
}

#: How a recipient type is named in prose (pack texts' ``{recipient_type}``).
RECIPIENT_TYPE_NAMES: dict[str, str] = {
    "user_mailbox": "user mailbox", "shared_mailbox": "shared mailbox", "mail_user": "mail user",
    "mail_contact": "mail contact", "distribution_group": "distribution group",
    "security_group": "mail-enabled security group", "dynamic_distribution_group": "dynamic distribution group",
    "m365_group": "Microsoft 365 group", "public_folder": "mail-enabled public folder", "mailbox": "mailbox",
    "group": "group",
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
#: Action words some MTAs write that are not RFC 3464's, read as the standard word they mean
#: (fact sheet 1 step 12; SendGrid writes "Action: expired", Lhost/SendGrid.pm).
ACTION_ALIASES: dict[str, str] = {"expired": "delayed", "failure": "failed", "deliverable": "delivered"}

#: What an input is: a bounce, a complaint, or an automatic reply.
KIND_MEANINGS: dict[str, str] = {
    "bounce": "a non-delivery or delay report",
    "feedback": "an abuse feedback report (RFC 5965)",
    "autoreply": "an automatic reply (RFC 3834)",
}

#: How the facts reached ndrkb: inside a report, as text a person pasted, or as a row of a listing.
FORM_MEANINGS: dict[str, str] = {
    "message": "a message: the report an MTA wrote (.eml, mbox or Maildir entry)",
    "text": "pasted text: an NDR's text or one SMTP reply line, without the report around it",
    "listing": "a row of an MTA log or a message trace",
}


class MtaFamily(NamedTuple):
    """A family of reporting systems and the signs that identify a bounce it wrote.

    Any one sign is enough.  Phrases are the fixed wording of the family's bounce template
    (lower case), looked for in the subject and the report's text.
    """

    meaning: str
    headers: tuple[str, ...] = ()            # header names present in the bounce
    header_values: tuple[tuple[str, str], ...] = ()  # (header name, lower-case fragment of its value)
    reporting_suffixes: tuple[str, ...] = ()  # Reporting-MTA host name endings
    line_kinds: tuple[str, ...] = ()          # kinds of text lines (grammar/ndr_text.lark)
    phrases: tuple[str, ...] = ()             # template wording of the report (lower case)
    stage: Optional[str] = None               # the SMTP command its reports answer when the text names none
    stage_marks: tuple[tuple[str, str], ...] = ()  # (lower-case phrase of its error text, the SMTP command
                                              # that phrase says the failure answered), before the text's own
    transcript_stage_only: bool = False       # a DSN Diagnostic-Code is the diagnosis; the session
                                              # transcript beside it gives the stage and, for a
                                              # report of one recipient, the server's replies
    smtp_types: tuple[str, ...] = ()          # Diagnostic-Code types (lower case) its reader reads as smtp


#: Languages of localized NDRs: the last name part of a localized line kind
#: (``grammar/ndr_text.lark``, e.g. ``RCPT_EXO_DE``) -> the language tag a record gives.
NDR_LANGUAGES: dict[str, str] = {"DE": "de", "FR": "fr", "ES": "es", "IT": "it", "NL": "nl", "PT": "pt-BR",
                                 "PL": "pl", "RU": "ru", "JA": "ja", "ZH": "zh-CN"}


def localized(*kinds: str) -> tuple[str, ...]:
    """The localized line kinds of these layout kinds, in every language."""
    return tuple(f"{kind}_{suffix}" for kind in kinds for suffix in NDR_LANGUAGES)


#: Reporting-system families, in detection order: the first whose sign is present wins
#: (providers before the MTA software they may run; Sendmail last, as its transcript
#: heading is quoted by others).  Packs name these in ``when.mta`` / ``when.not_mta``;
#: adding a family is adding an entry here.  The signs are the families' documented
#: bounce templates (the same ones Sisimai's readers, lib/Sisimai/Lhost/*.pm, recognise).
MTA_FAMILIES: dict[str, MtaFamily] = {
    "exchange-online": MtaFamily(
        "Microsoft 365 / Exchange Online",
        reporting_suffixes=("outlook.com", "exchangelabs.com", "office365.com"),
        line_kinds=("RCPT_EXO", "STATUS_EXO")),
    "exchange": MtaFamily(
        "Exchange Server (on-premises)",
        headers=("x-ms-exchange-message-is-ndr",),
        line_kinds=("SECTION_EXO_LEGACY", "SECTION_EXO_DIAG", "SERVER_EXO_LEGACY", "REPLY_EXO_REMOTE",
                    *localized("SECTION_EXO", "SERVER_EXO", "REPLY_EXO"))),
    "exchange-legacy": MtaFamily(
        "Exchange 5.5-2003 and its Internet Mail Service",
        headers=("x-ms-embedded-report",),
        header_values=(("x-mailer", "internet mail service ("), ("x-mailer", "microsoft exchange server internet mail "
                       "connector"), ("x-mimeole", "produced by microsoft exchange")),
        phrases=("did not reach the following recipient(s):",)),
    "google": MtaFamily(
        "Gmail and Google Workspace",
        header_values=(("from", "<mailer-daemon@googlemail.com>"),),
        reporting_suffixes=("google.com", "googlemail.com", "gmail.com"),
        phrases=("delivery to the following recipient failed permanently", "delivery to the following recipients "
                 "failed permanently", "delivery to the following recipient has been delayed",
                 "google tried to deliver your message", "** message not delivered **",
                 "** address not found **", "** delivery incomplete **"),
        # Gmail ends the receiving server's reply with "(state N)", its own number for the step of
        # the session that failed (Lhost/Gmail.pm)
        stage_marks=(("(state 6)", "MAIL"), ("(state 8)", "AUTH"), ("(state 9)", "AUTH"), ("(state 12)", "AUTH"),
                     ("(state 13)", "EHLO"), ("(state 14)", "RCPT"), ("(state 15)", "DATA"),
                     ("(state 17)", "DATA"), ("(state 18)", "DATA"))),
    "yahoo": MtaFamily(
        "Yahoo Mail",
        headers=("x-ymailisg",),
        reporting_suffixes=("yahoo.com", "yahoodns.net"),
        phrases=("sorry, we were unable to deliver your message to the following address",),
        stage="RCPT"),  # its reports quote the refused address: RCPT (fact sheet 6.3, Lhost/Yahoo.pm)
    "aol": MtaFamily(
        "Aol Mail",
        headers=("x-aol-ip",)),
    "hotmail": MtaFamily(
        "Outlook.com in its Hotmail / Windows Live form",
        headers=("x-message-delivery", "x-message-info")),
    "au-filter": MtaFamily(
        "au by KDDI's notice of a message its recipient's anti-spam filter refused (X-SPASIGN: NG)",
        header_values=(("x-spasign", "ng"),)),
    "au": MtaFamily(
        "au by KDDI (EZweb, au one net)",
        header_values=(("from", "postmaster@ezweb.ne.jp"), ("from", "postmaster@au.com")),
        phrases=("mail system error - returned mail", "your mail sent on:", "your mail attempted to be delivered on:")),
    "biglobe": MtaFamily(
        "BIGLOBE (and the Japanese providers it hosts)",
        header_values=(("from", "postmaster@biglobe.ne.jp"), ("from", "postmaster@inacatv.ne.jp"),
                       ("from", "postmaster@tmtv.ne.jp"), ("from", "postmaster@ttv.ne.jp")),
        phrases=("----- non-delivered information -----",)),
    "facebook": MtaFamily(
        "Facebook",
        header_values=(("from", "mailer-daemon@mx.facebook.com"),),
        phrases=("this message was created automatically by facebook.",)),
    "zoho": MtaFamily(
        "Zoho Mail",
        headers=("x-zohomail",)),
    "gmx": MtaFamily(
        "GMX, mail.com and 1&1 (United Internet)",
        headers=("x-gmx-antispam",),
        phrases=("--- the header of the original message is following. ---",)),
    "mcafee": MtaFamily(
        "McAfee Email Gateway (appliance)",
        phrases=(" --- the following addresses had delivery problems --- ",)),
    # Gateways, appliances and sending services (Lhost/AmazonSES.pm ... Verizon.pm): told by
    # their own headers or sender before the MTA software whose template some of them reuse.
    "amazonworkmail": MtaFamily(
        "Amazon WorkMail",
        header_values=(("x-mailer", "amazon workmail"), ("x-original-mailer", "amazon workmail"))),
    "amazonses": MtaFamily(
        "Amazon SES (sending, and receiving rule sets' bounce action)",
        headers=("x-ses-outgoing", "x-aws-outgoing", "x-amz-sns-message-id")),
    "powermta": MtaFamily(
        "PowerMTA",
        phrases=("hello, this is the mail server on ",)),
    "sendgrid": MtaFamily(
        "SendGrid",
        header_values=(("return-path", "<apps@sendgrid.net>"),),
        phrases=("this is an automatically generated message from sendgrid.",)),
    "messagelabs": MtaFamily(
        "Symantec.cloud (MessageLabs)",
        header_values=(("from", "mailer-daemon@messagelabs.com"),)),
    "interscanmss": MtaFamily(
        "Trend Micro InterScan Messaging Security Suite",
        header_values=(("from", '"interscan mss"'), ("from", '"interscan notification"')),
        phrases=("****** message from interscan messaging security suite ******", "メッセージを配信できません。",
                 "メール配信に失敗しました")),
    "mxlogic": MtaFamily(
        "McAfee SaaS (MX Logic), an Exim-based service",
        headers=("x-mx-bounce", "x-mxl-hash", "x-mxl-notehash")),
    "verizon": MtaFamily(
        "Verizon Wireless (vtext.com, vzwpix.com)",
        header_values=(("from", "post_master@vtext.com"), ("from", ".vzwpix.com"))),
    # Gateways whose readers state no reason and name no SMTP command: the procedure decides.
    "mailfoundry": MtaFamily(
        "MailFoundry",
        phrases=("unable to deliver message to: <",)),
    "surfcontrol": MtaFamily(
        "Websense SurfControl E-mail Filter",
        header_values=(("x-mailer", "surfcontrol e-mail filter"),)),
    "activehunter": MtaFamily(
        "TransWARE Active!hunter",
        headers=("x-ahmailid",)),
    "amavis": MtaFamily(
        "amavisd-new",
        header_values=(("from", '"content-filter at '),)),
    "barracuda": MtaFamily(
        "Barracuda Email Security Gateway",
        phrases=("our bulk email filter",)),
    "mailmarshal": MtaFamily(
        "Trustwave Secure Email Gateway (MailMarshal SMTP)",
        phrases=('undeliverable mail: "',)),
    "imail": MtaFamily(
        "Ipswitch IMail Server",
        header_values=(("x-mailer", "<smtp32 v"),)),
    "postfix": MtaFamily(
        "Postfix",
        phrases=("this is the mail system at host", "the postfix program", "smtp server: errors from "),
        smtp_types=("x-postfix",)),  # its reader reads Postfix's own diagnostics as SMTP (Lhost/Postfix.pm)
    "exim": MtaFamily(
        "Exim",
        phrases=("this message was created automatically by mail delivery software",
                 "smtp error from remote mail server after")),
    "qmail": MtaFamily(
        "qmail (and netqmail, vpopmail's qmail)",
        phrases=("this is the qmail-send program", " does not like recipient. remote host said:",
                 # qmail clones' templates (Sisimai's Lhost/X4.pm reads them with qmail's tables)
                 "su mensaje no pudo ser entregado", "this is the machine generated message from mail service")),
    "courier": MtaFamily(
        "Courier mail server",
        header_values=(("from", "courier mail server at "), ("message-id", "<courier.")),
        phrases=("courier mail server at",)),
    "opensmtpd": MtaFamily(
        "OpenSMTPD",
        header_values=(("received", " (opensmtpd) with "),),
        phrases=("this is the mailer-daemon, please do not reply to this",)),  # "e-mail" in older versions, "email"
    "dragonfly": MtaFamily(
        "DragonFly Mail Agent (dma)",
        phrases=("this is the dragonfly mail agent ",)),
    "messagingserver": MtaFamily(
        "Oracle (Sun) Communications Messaging Server",
        header_values=(("content-type", "boundary_(id_"),),
        phrases=("this report relates to a message you sent with the following header fields:",)),
    "domino": MtaFamily(
        "HCL (Lotus) Domino",
        header_values=(("subject", "delivery failure:"), ("subject", "delivery_failure")),
        phrases=("not listed in domino directory",)),
    "notes": MtaFamily(
        "HCL (Lotus) Notes",
        phrases=("------- failure reasons ",)),
    "fml": MtaFamily(
        "fml mailing list manager",
        headers=("x-mlserver",)),
    "sendmail": MtaFamily(
        "Sendmail (and its V5 ancestor)",
        phrases=("----- transcript of session follows -----",
                 "----- the following addresses had permanent fatal errors -----"),
        transcript_stage_only=True),  # fact sheet 6.3: the last >>> line; Lhost/Sendmail.pm
}

Role = Literal[tuple(ROLE_MEANINGS)]  # type: ignore[valid-type]
RecipientType = Literal[tuple(t for t in RECIPIENT_TYPE_MEANINGS)]  # type: ignore[valid-type]
Reason = Literal[tuple(REASON_MEANINGS)]  # type: ignore[valid-type]
Kind = Literal[tuple(KIND_MEANINGS)]  # type: ignore[valid-type]
Form = Literal[tuple(FORM_MEANINGS)]  # type: ignore[valid-type]
MtaName = Literal[tuple(MTA_FAMILIES)]  # type: ignore[valid-type]

ROLES: tuple[str, ...] = tuple(ROLE_MEANINGS)
RECIPIENT_TYPES: tuple[str, ...] = tuple(RECIPIENT_TYPE_MEANINGS)
REASONS: tuple[str, ...] = tuple(REASON_MEANINGS)
ACTIONS: tuple[str, ...] = tuple(ACTION_MEANINGS)
KINDS: tuple[str, ...] = tuple(KIND_MEANINGS)
FORMS: tuple[str, ...] = tuple(FORM_MEANINGS)
MTA_NAMES: tuple[str, ...] = tuple(MTA_FAMILIES)

# --------------------------------------------------------------------------------------
# The SMTP stage and the reason procedure (facts: ../shared/reference/sisimai-reasons.md,
# "the fact sheet" below; the procedure of Sisimai 5.1, https://github.com/sisimai/p5-sisimai)

#: The SMTP command a failure answered (``RecipientFacts.command``), as MTAs name it.
COMMAND_MEANINGS: dict[str, str] = {
    "CONN": "refused at connection time, before the client sent any command",
    "HELO": "the client's HELO greeting",
    "EHLO": "the client's EHLO greeting",
    "STARTTLS": "the request to start TLS",
    "AUTH": "client authentication",
    "MAIL": "MAIL FROM, the envelope sender",
    "RCPT": "RCPT TO, the envelope recipient",
    "DATA": "DATA or the end of the message data (the whole message was sent)",
    "QUIT": "the end of the session",
}
COMMANDS: tuple[str, ...] = tuple(COMMAND_MEANINGS)

#: The standard status table (fact sheet section 4): the reason a status code names.
#: Codes absent here (X.0.0, 4.1.1, 5.5.1, 4.7.0, ...) name no reason.
STATUS_REASONS: dict[str, tuple[str, ...]] = {
    "delivered": ("2.1.5",),
    "authfailure": ("4.7.24", "4.7.26", "5.7.20", "5.7.21", "5.7.22", "5.7.23", "5.7.24", "5.7.26", "5.7.29"),
    "blocked": ("4.7.1", "4.7.2"),
    "contenterror": ("4.6.0", "4.6.2", "4.6.5", "5.6.0", "5.6.1", "5.6.2", "5.6.3", "5.6.5", "5.6.6", "5.6.7",
                     "5.6.8", "5.6.9"),
    "exceedlimit": ("4.2.3", "5.2.3"),
    "expired": ("4.4.1", "4.4.7"),
    "filtered": ("4.2.4", "5.1.4", "5.2.0", "5.2.1", "5.2.4"),
    "hasmoved": ("4.1.6", "5.1.6", "5.7.17", "5.7.18"),
    "hostunknown": ("5.1.2", "5.4.4"),
    "mailboxfull": ("4.2.2", "5.2.2"),
    "mesgtoobig": ("4.7.16", "5.3.4", "5.7.16"),
    "networkerror": ("4.4.2", "4.4.4", "4.4.6", "4.4.8", "5.4.0"),
    "notaccept": ("4.3.2", "5.1.10", "5.3.2", "5.7.27"),
    "rejected": ("4.1.7", "4.1.8", "5.1.7", "5.1.8"),
    "requireptr": ("4.7.25", "5.7.25"),
    "securityerror": ("4.7.5", "4.7.6", "4.7.7", "4.7.12", "4.7.15") + tuple(f"5.7.{n}" for n in range(0, 12))
                     + ("5.7.14", "5.7.15", "5.7.19", "5.7.30"),
    "spamdetected": ("5.7.28",),
    "suspend": ("4.2.1", "5.7.13"),
    "syntaxerror": ("5.5.2", "5.5.6"),
    "systemerror": ("4.1.9", "4.3.3", "4.3.5", "4.4.3", "4.5.3", "4.5.5", "5.1.9", "5.3.0", "5.3.3", "5.3.5",
                    "5.4.3", "5.5.4", "5.5.5"),
    "systemfull": ("4.3.1", "4.4.5", "5.3.1"),
    "toomanyconn": ("5.5.3",),
    "userunknown": ("5.1.0", "5.1.1", "5.1.3"),
}
_STATUS_REASON: dict[str, str] = {code: reason for reason, codes in STATUS_REASONS.items() for code in codes}

#: Reasons that, named by a status code, are provisional: the wording is read first
#: (fact sheet section 0, "retry set"; section 3.2).
RETRY_REASONS: frozenset[str] = frozenset({
    "undefined", "onhold", "systemerror", "securityerror", "expired", "suspend", "networkerror",
    "hostunknown", "userunknown"})


def status_name(status: Optional[str]) -> str:
    """The reason the status table gives a code; ``none`` without a code, ``unnamed`` for a code it lacks."""
    if not status:
        return "none"
    return _STATUS_REASON.get(status, "unnamed")


#: The one precedence list that decides between candidate reasons (fact sheet sections
#: 3.1-3.6): the steps of the procedure in order, each with its reasons in the order they
#: are tried.  A candidate of an earlier step wins; within a step, the earlier reason.
#:   provider  a receiving provider's or a vendor's own knowledge (fact sheet 3.1 steps 1-2)
#:   delivered a class-2 status (3.1 step 3a)
#:   context   wording and status read with the SMTP stage and the status (3.4, "Pass 1")
#:   reader    an MTA reader's own provisional reason (one in the retry set), kept when the
#:             context tests decide nothing (3.2; 3.5 step 1); a reader's table before its
#:             expiry remark
#:   status    the status table, for a reason outside the retry set (3.5 step 2)
#:   wording   wording alone, whatever the stage (3.5 step 3)
#:   retry     the status table, for a reason in the retry set (3.5 step 4)
#:   shape     the shape of the codes, the mailer type, the action, the stage (3.5 steps 5-6)
#:   fallback  nothing else: out-of-office wording, held undecided, or nothing at all (3.6)
REASON_PROCEDURE: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("provider", ()),
    ("delivered", ("delivered", "feedback", "vacation")),
    ("context", ("mailboxfull", "mesgtoobig", "exceedlimit", "suspend", "hasmoved", "norelaying", "authfailure",
                 "userunknown", "filtered", "requireptr", "notcompliantrfc", "badreputation", "rejected",
                 "hostunknown", "spamdetected", "speeding", "toomanyconn", "blocked")),
    ("reader", ("userunknown", "hostunknown", "systemerror", "networkerror", "onhold", "expired")),
    ("status", ()),
    ("wording", ("mailboxfull", "authfailure", "badreputation", "speeding", "spamdetected", "virusdetected",
                 "policyviolation", "norelaying", "systemerror", "networkerror", "suspend", "contenterror",
                 "systemfull", "notaccept", "expired", "securityerror", "mailererror")),
    ("retry", ()),
    ("shape", ("contenterror", "securityerror", "mailererror", "syntaxerror", "expired", "blocked")),
    ("fallback", ("expired", "vacation", "onhold", "undefined")),
)
REASON_STEPS: tuple[str, ...] = tuple(step for step, _ in REASON_PROCEDURE)


def reason_rank(step: str, reason: str) -> int:
    """Position of a candidate in the precedence list (0 first).  Steps that list no
    reasons (provider, status, retry) take their candidates in one rank."""
    rank = 0
    for name, reasons in REASON_PROCEDURE:
        if name == step:
            return rank + (reasons.index(reason) if reason in reasons else 0)
        rank += max(1, len(reasons))
    raise ValueError(f"unknown step of the reason procedure: {step}")
