"""Facts: read the parts of a bounce into one :class:`RecipientFacts` per recipient.

Sources, most structured first: the RFC 3464 delivery-status fields, then the
human-readable text read line by line (``grammar/ndr_text.lark``), with every quoted
server reply parsed by ``grammar/smtp_reply.lark``.  Each fact records where in the
input it was read (``origin``).
"""
from __future__ import annotations

import re
from typing import Optional

from ..errors import InputError
from ..read.parsers import REPLY_CODE, STATUS_CODE, Reply, dsn_fields, parse_dsn, parse_reply
from ..intake.mime import header_text
from ..intake.parts import Parts
from ..limits import MAX_DIAGNOSTIC_CHARS, MAX_EXTENSION_CHARS, MAX_EXTENSIONS, MAX_LINE_CHARS, MAX_RECIPIENTS
from ..models import OriginalMessage, RecipientFacts
from ..read.stage import smtp_stage
from ..read.walker import ADDRESS, ENVELOPE_SENDER, Block, addresses_in, clean_address, read_text
from ..vocabulary import ACTION_ALIASES, MTA_FAMILIES, NDR_LANGUAGES

__all__ = ["ADDRESS", "best_reply", "clean_address", "detect_mta", "extract", "find_replies",
           "original_message", "read_text"]
_REPLY_START = re.compile(
    rf"(?:^|(?<=[\s;:'\"<(\[=]))#?(?:(?P<code>{REPLY_CODE})(?=[\s-]|:\s)|{STATUS_CODE}(?![0-9]|\.[0-9]))")
_CODE_CONTEXT = re.compile(r"(?:^|[;:'\"<(\[#=]|\.\.\.|said|returned|error)[ \t]*$", re.I | re.M)

def find_replies(text: str) -> list[Reply]:
    """Every server reply quoted in ``text``, in order (wrapped replies give several).

    A reply code counts at the start of a line or after a colon, quote, bracket or
    "said"; an enhanced code counts anywhere.
    """
    if not text:
        return []
    text = unfold_replies("\n".join(" ".join(line.split()) for line in text.splitlines()))
    starts = []
    for m in _REPLY_START.finditer(text):
        if m.group("code") and not _CODE_CONTEXT.search(text[max(0, m.start() - 12):m.start()]):
            continue
        if starts and m.group("code") is None:
            prev = text[starts[-1]:m.start()]
            if re.fullmatch(rf"#?{REPLY_CODE}[ -]", prev):
                continue  # the enhanced code belongs to the reply code just before it
        starts.append(m.start())
    replies = []
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else len(text)
        reply = parse_reply(" ".join(text[start:end].split()))
        if reply is not None:
            replies.append(reply)
    return replies


_LINE_PREFIX = re.compile(rf"(?<!\S)#?({REPLY_CODE})([ -])(?:#?{STATUS_CODE}(?=\s))?")


def unfold_replies(text: str) -> str:
    """``text`` with the code prefixes of a multiline reply's continuation lines removed.

    Each line of a multiline reply repeats the code, ``-`` after it on every line but the
    last (RFC 5321 section 4.2.1): ``550-5.7.1 Messages with multiple 550 5.7.1 addresses``
    reads ``550-5.7.1 Messages with multiple addresses``, so wording rules see the sentence.
    """
    kept, pos, open_code = [], 0, None
    for m in _LINE_PREFIX.finditer(text):
        if m.group(1) == open_code:
            kept.append(text[pos:m.start()])
            pos = m.end() + (1 if text[m.end():m.end() + 1] == " " else 0)
        open_code = m.group(1) if m.group(2) == "-" else None
    return "".join(kept) + text[pos:]


def best_reply(replies: list[Reply]) -> Optional[Reply]:
    """The most specific failure reply: the innermost (last) one with both codes, else the last with either.

    Success and intermediate replies (2xx, 3xx: a transcript's "250 Ok") count only when nothing failed.
    """
    failed = [r for r in replies if str(r.code or r.status or "5")[0] in "45"]
    replies = failed or replies
    for test in (lambda r: r.code and r.status and r.token, lambda r: r.code and r.status,
                 lambda r: r.status, lambda r: r.code):
        chosen = [r for r in replies if test(r)]
        if chosen:
            return chosen[-1]
    return None


def _dsn_blocks(parts: Parts) -> tuple[list[Block], dict[str, str]]:
    blocks: list[Block] = []
    message: dict[str, str] = {}
    for n, raw in enumerate(parts.delivery_status, 1):
        try:
            fields = parse_dsn(raw) if isinstance(raw, str) else dsn_fields(raw)
        except InputError:
            continue
        message = message or fields.message
        for i, rec in enumerate(fields.recipients, 1):
            where = f"delivery-status part {n}, recipient block {i}"
            address = clean_address(rec.get("final-recipient")) or clean_address(rec.get("original-recipient"))
            diag = rec.get("diagnostic-code", "")
            diag_text = diag.split(";", 1)[1].strip() if ";" in diag[:12] else diag
            action = (rec.get("action") or "").lower().split()[:1]
            b = Block(recipient=address, original_recipient=clean_address(rec.get("original-recipient")),
                       action=ACTION_ALIASES.get(action[0], action[0]) if action else None,
                       status=_status_value(rec.get("status")),
                       remote_mta=_after_type(rec.get("remote-mta")),
                       origin={"recipient": f"{where}: Final-Recipient"})
            if b.status:
                b.origin["status"] = f"{where}: Status"
            b.extensions = _extensions(rec)
            if b.extensions:
                b.origin["extensions"] = f"{where}: {', '.join(n.title() for n in b.extensions)}"
            if diag_text:
                # A type other than smtp (X-Unix: a local delivery program) says where the
                # diagnostic came from; it stays in the text for the wording rules to read.
                kind = diag.split(";", 1)[0].strip() if diag_text is not diag else "smtp"
                b.diagnostic.append(diag_text if kind.lower() == "smtp" else f"{kind}; {diag_text}")
                b.replies.extend(find_replies(diag_text))
                b.origin["reply"] = f"{where}: Diagnostic-Code"
            if address or b.status or diag_text:
                blocks.append(b)
    if len(blocks) > MAX_RECIPIENTS:
        parts.cut(f"recipient blocks cut at {MAX_RECIPIENTS:,}")
    return blocks[:MAX_RECIPIENTS], message


def _extensions(fields: dict[str, str]) -> dict[str, str]:
    """The vendor's own fields (RFC 3464 section 7: names beginning ``X-``) of a recipient block, lower case."""
    found = {k: " ".join(v.lower().split())[:MAX_EXTENSION_CHARS] for k, v in fields.items() if k.startswith("x-")}
    return dict(sorted(found.items())[:MAX_EXTENSIONS])


def _status_value(value: Optional[str]) -> Optional[str]:
    if not value:
        return None
    m = re.search(STATUS_CODE, value)
    return m.group(0) if m else None


def _after_type(value: Optional[str]) -> Optional[str]:
    if not value:
        return None
    return value.split(";", 1)[-1].strip() or None


def detect_mta(parts: Parts, kinds: set[str], reporting_mta: Optional[str]) -> Optional[str]:
    """The family of the system that wrote the bounce, or None when no sign is present."""
    host = (reporting_mta or "").lower().rstrip(".")
    wording = " " + " ".join(f"{parts.subject}\n{parts.text}".lower().split()) + " "
    for name, family in MTA_FAMILIES.items():
        if not parts.headers.keys().isdisjoint(family.headers) \
                or any(f in parts.headers.get(h, "").lower() for h, f in family.header_values) \
                or host.endswith(family.reporting_suffixes) \
                or not kinds.isdisjoint(family.line_kinds) or any(p in wording for p in family.phrases):
            return name
    return None


def extract(parts: Parts) -> tuple[list[RecipientFacts], Optional[str], Optional[str]]:
    """Facts for every recipient the bounce reports, plus the reporting MTA and its family."""
    dsn, message_fields = _dsn_blocks(parts)
    fields = _original_fields(parts.original_headers or parts.text)
    never, others = _not_recipients(parts, fields, {b.recipient for b in dsn if b.recipient})
    writer = clean_address(parts.headers.get("from", "") or parts.sender)
    reading = read_text(parts.text, never, writer.split("@", 1)[1] if writer else None)
    for b in reading.blocks + [reading.general]:
        b.replies = find_replies("\n".join(b.diagnostic))
        if b.replies:
            b.origin["reply"] = _line_of(b, best_reply(b.replies))
    reporting = _after_type(message_fields.get("reporting-mta")) or reading.reporting_mta
    mta = detect_mta(parts, reading.kinds, reporting)
    if mta and MTA_FAMILIES[mta].smtp_types:
        for b in dsn:
            b.diagnostic = [_as_smtp(d, MTA_FAMILIES[mta].smtp_types) for d in b.diagnostic]
    if dsn:
        by_address = {b.recipient: b for b in reading.blocks}
        for b in dsn:
            text_block = by_address.get(b.recipient) or (reading.blocks[0] if len(dsn) == 1 == len(reading.blocks)
                                                          else None)
            if b.replies and mta and MTA_FAMILIES[mta].transcript_stage_only and not b.command:
                session = (text_block or reading.general).diagnostic
                b.command, said = smtp_stage("\n".join(session)[:MAX_DIAGNOSTIC_CHARS])
                if b.command:
                    b.origin["command"] = f"session transcript: {said!r}"
                if len(dsn) == 1:  # the server's replies in the transcript are this recipient's (Lhost/Sendmail.pm)
                    b.diagnostic = list(dict.fromkeys(_server_said(session))) + b.diagnostic
                text_block = None
            _merge(b, text_block, reading.general)
        blocks = dsn
    elif reading.blocks:
        blocks = reading.blocks
        for b in blocks:
            _merge(b, None, reading.general)
    elif reading.general.replies or parts.headers.get("x-failed-recipients"):
        blocks = _unnamed_recipients(parts, reading.general, fields, others)
    elif reading.general.diagnostic:
        blocks = [b for b in _unnamed_recipients(parts, reading.general, fields, others) if b.recipient]
    else:
        blocks = []
    language = next((NDR_LANGUAGES[k.rsplit("_", 1)[1]] for k in sorted(reading.kinds)
                     if k.rsplit("_", 1)[-1] in NDR_LANGUAGES), None)
    form = "message" if parts.is_message else "text"
    notice = _DELAY_NOTICE.search("\n".join(d for b in reading.blocks + [reading.general] for d in b.diagnostic)) \
        if any(not (b.action or b.status) for b in blocks) else None
    return [_freeze(b, reporting, mta, language, form, notice) for b in blocks], reporting, mta


#: A report that says delivery is still being tried: a warning, not a failure (RFC 3464 section
#: 2.3.3, action "delayed"), as delay notices without a delivery-status part word it.
_DELAY_NOTICE = re.compile(
    r"\b(?:has|have) been (?:delayed|postponed)\b|\bnot (?:yet been delivered|been delivered yet)\b"
    r"|\b(?:just|only) a warning\b|\bwarning message only\b|\bdelivery attempts will continue\b"
    r"|\bwill (?:keep trying|be (?:retried|tried again))\b|\bno action is required on your part\b", re.I)


def _as_smtp(diagnostic: str, types: tuple[str, ...]) -> str:
    """A diagnostic of one of ``types`` with its type word removed: the family's reader reads it
    as an smtp diagnostic (Postfix's own ``X-Postfix;`` texts, fact sheet 3.4 and 10 quirk 9)."""
    kind, _, rest = diagnostic.partition(";")
    return rest.strip() if rest and kind.strip().lower() in types else diagnostic


def _line_of(b: Block, reply: Optional[Reply]) -> str:
    """Where the reply was read: the last line of the block quoting its codes (or its token)."""
    for needle in (reply.status, reply.token, str(reply.code) if reply.code else None) if reply else ():
        if needle:
            found = re.compile(rf"(?<![\w.]){re.escape(needle)}(?![\w.]*\d)")
            for line in reversed(b.diagnostic):
                if line in b.line_at and found.search(line):
                    return b.line_at[line]
    return b.origin.get("text", "text")


def _unnamed_recipients(parts: Parts, general: Block, fields: dict[str, str], others: frozenset[str]) -> list[Block]:
    """The report names no recipient in a layout ndrkb knows: take them from the header that
    does, else read the text generically: the addresses of its text (:func:`_addresses_in_text`),
    those the returned original was addressed to first, else the original's To and Cc
    (``fields``: :func:`_original_fields`).  ``others`` are the addresses that are never the
    failed recipient (:func:`_not_recipients`)."""
    addressed = [a for a in _addressed(fields) if a not in others]
    in_text = _addresses_in_text(general, others)
    for where, found in (
            ("header X-Failed-Recipients", addresses_in(parts.headers.get("x-failed-recipients", ""))),
            ("generic reading: an address in the report's text that the returned original was addressed to",
             [a for a in in_text if a in addressed]),
            ("generic reading: an address in the report's text, no known layout named a recipient", in_text),
            ("generic reading: returned original header To or Cc, the report's text names no address", addressed)):
        if found:
            return [Block(recipient=a, diagnostic=list(general.diagnostic), replies=list(general.replies),
                          remote_mta=general.remote_mta, origin={**general.origin, "recipient": where})
                    for a in found[:MAX_RECIPIENTS]]
    return [general]


#: Local parts of mail-system and list-administration addresses (RFC 2142 section 5, RFC 2369
#: list-owner conventions): the system or list that reports, not the failed recipient (unless
#: the returned original was sent to it).
_SYSTEM_LOCAL = re.compile(
    r"^(?:postmaster|mailer-daemon|mailer_daemon|mail-daemon|owner-.*|.*-(?:owner|request|admin|bounces?))$", re.I)
#: A list's administrative address (``devlist-bounces@``, ``devlist-request+x=y@``,
#: ``owner-devlist@``): the list itself is its name at the same domain (RFC 2369, list-owner
#: conventions).
_LIST_ADMIN = re.compile(
    r"^(?:owner-(?P<after>[^@]+)|(?P<before>[^@+]+?)-(?:bounces?|owner|request|admin)(?:\+[^@]*)?)@(?P<domain>.+)$")
#: Headers naming the sender, the list or where errors go, in the report and its returned original.
_SENDER_FIELDS = ("from", "sender", "return-path", "errors-to", "reply-to", "list-post", "list-owner", "list-help")


def _not_recipients(parts: Parts, fields: dict[str, str], named: set[str]) -> tuple[frozenset[str], frozenset[str]]:
    """Addresses that are not the failed recipient: first those never named as one, even on a
    line of a known layout (the report's own sender; the list the original went through:
    ``List-Post``, and the list whose ``-bounces``/``-owner``/``-request`` address the report or
    the original names, unless the list itself wrote the report, as then the list is what it
    reports on; the mail-system addresses the report names, postmaster, mailer-daemon, list
    administration, unless the returned original was addressed to them); then, for the generic
    reading, also the report's addressee and the returned original's sender.  None of them is
    in ``named``, the recipients a delivery-status part names.  ``fields``: the returned
    original's headers (:func:`_original_fields`)."""
    own = addresses_in(parts.headers.get("from", "") or parts.sender or "")
    found = addresses_in(" ".join(
        [parts.headers.get(name, "") for name in ("to", "return-path", "sender")]
        + [fields.get(name, "") for name in _SENDER_FIELDS]))
    addressed = set(_addressed(fields))
    in_text = addresses_in("\n".join(line for line in parts.text.splitlines() if "@" in line))
    system = [a for a in in_text if _SYSTEM_LOCAL.match(a.split("@")[0]) and a not in addressed]
    lists = [a for a in _lists_of(found + own) if a not in _lists_of(own)]
    never = frozenset(own + lists + system) - named
    return never, never | frozenset(found) - named


def _addressed(fields: dict[str, str]) -> list[str]:
    """Whom the returned original was addressed to: its To and Cc (``fields``: :func:`_original_fields`)."""
    return addresses_in(fields.get("to", "") + "\n" + fields.get("cc", ""))


def _lists_of(addresses: list[str]) -> list[str]:
    """The lists whose administrative addresses are among ``addresses``."""
    return [f"{m.group('after') or m.group('before')}@{m.group('domain')}"
            for m in map(_LIST_ADMIN.match, addresses) if m]


def _addresses_in_text(general: Block, others: frozenset[str]) -> list[str]:
    """The addresses a person would take for the failed recipients of a report in an unknown
    layout: those in its text before the returned message, except ``others`` and the envelope
    sender."""
    text = "\n".join(general.diagnostic)
    skip = others | {a.lower() for a in ENVELOPE_SENDER.findall(text)}
    return [a for a in addresses_in(text) if a not in skip][:MAX_RECIPIENTS]


#: The returned original's headers that say who sent it, to whom, and through which list.
_ORIGINAL_FIELD = re.compile(
    rf"^({'|'.join(map(re.escape, _SENDER_FIELDS + ('to', 'cc')))}):[ \t]*(.*(?:\n[ \t]+.*)*)", re.M | re.I)


def _original_fields(text: str) -> dict[str, str]:
    """The first value of each :data:`_ORIGINAL_FIELD` header in ``text`` (the returned
    original's headers), by lower-case name, folded lines joined."""
    found: dict[str, str] = {}
    for m in _ORIGINAL_FIELD.finditer(text):
        found.setdefault(m.group(1).lower(), m.group(2))
    return found


def _merge(block: Block, text_block: Optional[Block], general: Block) -> None:
    """Complete a block with a text block about the same recipient, then (if still bare) the general text.

    A block whose diagnostic is a local program's (``X-Unix; 71``: RFC 3464 section 2.3.6, a
    type other than smtp) is not bare: its exit status is the diagnosis (fact sheet 3.5 step 5),
    and the report's general text tells of the queue, not of this failure."""
    local = any(d.lower().startswith("x-unix;") for d in block.diagnostic)
    for other in (text_block, general):
        if other is None or (other is general and (block.replies or local)):
            continue
        if other.replies:
            own = best_reply(block.replies)
            theirs = best_reply(other.replies)
            if own is None or (theirs and theirs.status and (not own.status or theirs.token and not own.token)
                               and theirs.code in (None, own.code)):
                block.replies.extend(other.replies)
                if "reply" in other.origin:
                    block.origin["reply"] = other.origin["reply"]
        block.diagnostic.extend(d for d in other.diagnostic if d not in block.diagnostic)
        block.remote_mta = block.remote_mta or other.remote_mta
        if block.recipient is None and other.recipient:
            block.recipient = other.recipient
            block.origin["recipient"] = other.origin.get("recipient", "text")


def _server_said(lines: list[str]) -> list[str]:
    """What the server said in a session transcript: the text of each ``<<<`` line
    (``<<< 550 5.1.1 <a@b>... User unknown``)."""
    return [line[3:].strip() for line in "\n".join(lines).splitlines() if line.startswith("<<<")]


_REPLY_FIRST = re.compile(rf"{REPLY_CODE}\b")


def _answer(b: Block) -> Optional[Reply]:
    """The reply a session transcript shows the server gave (its last ``<<<`` line with a reply
    code): what the server said, as against the reporting MTA's own later remarks (``421 ... Deferred``)."""
    found = [said for said in _server_said(b.diagnostic) if _REPLY_FIRST.match(said)]
    return parse_reply(found[-1]) if found else None


def _freeze(b: Block, reporting: Optional[str], mta: Optional[str], language: Optional[str],
            form: str, notice: Optional[re.Match[str]] = None) -> RecipientFacts:
    reply = best_reply(b.replies)
    answer = _answer(b)
    if answer and answer.code and reply and reply.code != answer.code and not reply.status:
        reply = answer
    status = b.status
    origin = dict(b.origin)
    # The server's own reply is the direct evidence (RFC 3464 section 2.3.6): its enhanced
    # code of the same class replaces the reporting MTA's rendering in the Status field.
    # When their classes differ, the reply code says which class the refusal had (fact sheet
    # sisimai-reasons.md 2.5 rule 2): "Status: 5.0.0" over "421 4.7.0 try again later" is 4.7.0.
    if reply and reply.status and (status is None or reply.status != status and (
            reply.status[0] == status[0] or str(reply.code or "")[:1] == reply.status[0])):
        status = reply.status
        origin["status"] = origin.get("reply", "reply")
    code = reply.code if reply else None
    if reply and code is None:
        code = next((r.code for r in b.replies if r.code and (not status or str(r.code)[0] == status[0])), None)
    if code and status and str(code)[0] != status[0] and not (reply and reply.code == code and reply.status == status):
        # A reply code and an enhanced code of different classes, quoted apart, cannot both
        # describe the failure (RFC 2034 section 4: the class digits agree); the status stands,
        # and the reply code is the one of its class the text also quotes, else none (fact
        # sheet 9 step 4).  One reply carrying both ("550 4.4.7") is kept as the server wrote it.
        code = next((r.code for r in reversed(b.replies) if r.code and str(r.code)[0] == status[0]), None)
        origin["reply"] = (f"{origin['reply']}; " if origin.get("reply") else "") + (
            f"the reply code of class {status[0]} beside status {status}" if code else
            f"no reply code of the status's class {status[0]} was quoted")
    diagnostic = unfold_replies(" ".join(" ".join(b.diagnostic).split()))[:MAX_DIAGNOSTIC_CHARS]
    command, said = (b.command, "") if b.command else smtp_stage("\n".join(b.diagnostic)[:MAX_DIAGNOSTIC_CHARS])
    read_at = origin.get("reply") or origin.get("text") or "text"
    remote = b.remote_mta
    if not remote:
        host = _HOST_SAID.search(diagnostic)
        if host:
            remote = host.group(1)
            origin["remote_mta"] = f"{read_at}: {host.group(0)!r}"
    mark = _stage_mark(mta, diagnostic)
    if mark:
        command, said = mark
    if command and said:
        origin["command"] = f"{read_at}: {said!r}"
    elif not command and mta and MTA_FAMILIES[mta].stage and b.diagnostic:
        command = MTA_FAMILIES[mta].stage
        origin["command"] = f"the stage a {MTA_FAMILIES[mta].meaning} report answers when its text names none"
    action = b.action or _default_action(status, code)
    if not b.action and notice and not status and not code:
        action = "delayed"
        origin["action"] = f"the report's text, a delay notice: {notice.group(0)!r}"
    return RecipientFacts(
        recipient=b.recipient, original_recipient=b.original_recipient, action=action,
        status=status, reply_code=code, token=reply.token if reply else None,
        diagnostic=diagnostic, command=command, remote_mta=remote, reporting_mta=reporting,
        mta=mta, extensions=b.extensions, origin=origin, language=language, form=form,
    )


#: The receiving host an MTA names before quoting its reply: Postfix's "host mx.example.org[192.0.2.1]
#: said:", Exim's "host mx.example.org [192.0.2.1]:" (the remote host of fact sheet 3.3).
_HOST_SAID = re.compile(r"\bhost ([A-Za-z0-9][A-Za-z0-9.-]*\.[A-Za-z]{2,}) ?\[[0-9A-Fa-f.:]+\]")


def _stage_mark(mta: Optional[str], diagnostic: str) -> Optional[tuple[str, str]]:
    """The command a family's own marker in the error text names (``MtaFamily.stage_marks``), with the marker."""
    marks = MTA_FAMILIES[mta].stage_marks if mta else ()
    text = " ".join(diagnostic.lower().split()) if marks else ""
    return next(((command, phrase) for phrase, command in marks if phrase in text), None)


def _default_action(status: Optional[str], code: Optional[int]) -> str:
    """Action when the input states none: 'delayed' only for a class-4 code with no 5xx reply.

    A 5xx reply wrapping a class-4 code (Exchange's ``550 4.4.7 QUEUE.Expired``) reports
    a delivery that was given up; a text with no code at all reports a failure.
    """
    if (status or "").startswith("5") or (code or 0) >= 500 or not (status or code):
        return "failed"
    return "delayed"


#: A header of the returned original message, folded lines joined (``From``, ``Subject``, ``Message-ID``).
_ORIGINAL_HEADER = re.compile(r"^(from|subject|message-id):[ \t]*(.*(?:\n[ \t]+.*)*)", re.I | re.M)


def original_message(parts: Parts) -> OriginalMessage:
    """Sender, subject and Message-ID of the message that bounced, from its returned headers
    (in pasted text, the header lines it quotes; each value read up to ``MAX_LINE_CHARS``);
    the sender falls back to the bounce's To."""
    found: dict[str, str] = {}
    for m in _ORIGINAL_HEADER.finditer(parts.original_headers or ("" if parts.is_message else parts.text)):
        found.setdefault(m.group(1).lower(), header_text(m.group(2)[:MAX_LINE_CHARS]))
    sender = clean_address(found.get("from")) or clean_address(parts.headers.get("to"))
    message_id = found.get("message-id", "").strip() or None
    return OriginalMessage(sender=sender, subject=found.get("subject") or None, message_id=message_id)
