"""Facts: read the parts of a bounce into one :class:`RecipientFacts` per recipient.

Sources, most structured first: the RFC 3464 delivery-status fields, then the
human-readable text read line by line (``grammar/ndr_text.lark``), with every quoted
server reply parsed by ``grammar/smtp_reply.lark``.  Each fact records where in the
input it was read (``origin``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional

from .errors import InputError
from .grammars import Reply, TextLine, classify_lines, parse_dsn, parse_reply
from .intake import Parts
from .limits import MAX_DIAGNOSTIC_CHARS, MAX_RECIPIENTS
from .models import RecipientFacts

ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                     r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+")
_REPLY_START = re.compile(
    r"(?:^|(?<=[\s;:'\"<(\[=]))#?(?:(?P<code>[245][0-9][0-9])(?=[ -])|[245]\.[0-9]{1,3}\.[0-9]{1,3}(?![0-9]|\.[0-9]))")
_CODE_CONTEXT = re.compile(r"(?:^|[;:'\"<(\[#=]|said|returned|error)\s*$", re.I)

#: Reporting-system families, recognised from headers and line kinds.  Order matters:
#: the first family whose sign is present wins.
MTA_SIGNS: tuple[tuple[str, tuple[str, ...], tuple[str, ...], tuple[str, ...]], ...] = (
    # family, header names present, reporting-MTA suffixes, text line kinds
    ("exchange-online", (), ("outlook.com", "exchangelabs.com", "office365.com"), ("RCPT_EXO", "STATUS_EXO")),
    ("exchange", ("x-ms-exchange-message-is-ndr",), (), ("SECTION_EXO_LEGACY", "SECTION_EXO_DIAG",
                                                         "SERVER_EXO_LEGACY", "REPLY_EXO_REMOTE")),
)


def clean_address(value: Optional[str]) -> Optional[str]:
    """The bare address in a field value such as ``rfc822; <a@b.example>``."""
    if not value:
        return None
    found = ADDRESS.search(value)
    return found.group(0).strip(".").lower() if found else None


def find_replies(text: str) -> list[Reply]:
    """Every server reply quoted in ``text``, in order (wrapped replies give several)."""
    text = " ".join(text.split())
    starts = []
    for m in _REPLY_START.finditer(text):
        if m.group("code") and not _CODE_CONTEXT.search(text[max(0, m.start() - 12):m.start()]):
            continue
        if starts and m.group("code") is None:
            prev = text[starts[-1]:m.start()]
            if re.fullmatch(r"#?[245][0-9][0-9][ -]", prev):
                continue  # the enhanced code belongs to the reply code just before it
        starts.append(m.start())
    replies = []
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else len(text)
        reply = parse_reply(_unfold_multiline(text[start:end]))
        if reply is not None:
            replies.append(reply)
    return replies


def _unfold_multiline(segment: str) -> str:
    m = re.match(r"#?([245][0-9][0-9])[ -](#?[245]\.[0-9]{1,3}\.[0-9]{1,3} )?", segment)
    if not m:
        return segment
    prefix = re.escape(m.group(1)) + r"[ -]" + (re.escape(m.group(2)) if m.group(2) else "")
    head, tail = segment[:m.end()], segment[m.end():]
    return head + re.sub(r"\s" + prefix, " ", tail)


def best_reply(replies: list[Reply]) -> Optional[Reply]:
    """The most specific reply: the innermost (last) one with both codes, else the last with either."""
    for test in (lambda r: r.code and r.status and r.token, lambda r: r.code and r.status,
                 lambda r: r.status, lambda r: r.code):
        chosen = [r for r in replies if test(r)]
        if chosen:
            return chosen[-1]
    return None


@dataclass
class _Block:
    """Facts gathered for one recipient before they are frozen."""

    recipient: Optional[str] = None
    original_recipient: Optional[str] = None
    action: Optional[str] = None
    status: Optional[str] = None
    diagnostic: list[str] = field(default_factory=list)
    replies: list[Reply] = field(default_factory=list)
    remote_mta: Optional[str] = None
    command: Optional[str] = None
    origin: dict[str, str] = field(default_factory=dict)


@dataclass
class _TextReading:
    blocks: list[_Block]
    general: _Block
    kinds: set[str]
    reporting_mta: Optional[str]


def read_text(text: str) -> _TextReading:
    """Walk the classified lines of the human-readable part into recipient blocks."""
    lines: list[TextLine] = classify_lines(text) if text.strip() else []
    blocks: list[_Block] = []
    general = _Block()
    kinds: set[str] = set()
    reporting = None
    mode = ""
    current: Optional[_Block] = None

    def block_for(address: str, where: str) -> _Block:
        for b in blocks:
            if b.recipient == address:
                return b
        b = _Block(recipient=address, origin={"recipient": where})
        blocks.append(b)
        return b

    for line in lines:
        kind = line.kind
        prefix = kind.split("_", 1)[0]
        kinds.add(kind)
        where = f"text line {line.lineno}"
        if prefix == "END":
            break
        if prefix == "SECTION":
            mode = kind
            current = None
            continue
        if prefix == "RCPT" or (prefix == "ADDR" and mode):
            address = clean_address(line.text)
            if address and len(blocks) < MAX_RECIPIENTS:
                current = block_for(address, where)
            continue
        if prefix == "SERVER":
            reporting = line.text.split(":", 1)[-1].strip() or reporting
            continue
        if prefix == "REMOTE":
            target = current or general
            target.remote_mta = line.text.split(":", 1)[-1].strip(" []") if ":" in line.text and "[" not in line.text \
                else line.text.strip(" []")
            continue
        target = current or general
        if prefix in ("REPLY", "STATUS"):
            replies = find_replies(line.text)
            if replies:
                target.replies.extend(replies)
                target.origin.setdefault("reply", where)
            target.diagnostic.append(line.text.strip())
            continue
        if current is not None and len(current.diagnostic) < 12:
            current.diagnostic.append(line.text.strip())
    return _TextReading(blocks, general, kinds, reporting)


def _dsn_blocks(parts: Parts) -> tuple[list[_Block], dict[str, str]]:
    blocks: list[_Block] = []
    message: dict[str, str] = {}
    for n, raw in enumerate(parts.delivery_status, 1):
        try:
            fields = parse_dsn(raw)
        except InputError:
            continue
        message = message or fields.message
        for i, rec in enumerate(fields.recipients, 1):
            where = f"delivery-status part {n}, recipient block {i}"
            address = clean_address(rec.get("final-recipient")) or clean_address(rec.get("original-recipient"))
            diag = rec.get("diagnostic-code", "")
            diag_text = diag.split(";", 1)[1].strip() if ";" in diag[:12] else diag
            b = _Block(recipient=address, original_recipient=clean_address(rec.get("original-recipient")),
                       action=(rec.get("action") or "").split()[0].lower() or None if rec.get("action") else None,
                       status=_status_value(rec.get("status")),
                       remote_mta=_after_type(rec.get("remote-mta")),
                       origin={"recipient": f"{where}: Final-Recipient"})
            if b.status:
                b.origin["status"] = f"{where}: Status"
            if diag_text:
                b.diagnostic.append(diag_text)
                b.replies.extend(find_replies(diag_text))
                b.origin["reply"] = f"{where}: Diagnostic-Code"
            if address or b.status or diag_text:
                blocks.append(b)
    return blocks[:MAX_RECIPIENTS], message


def _status_value(value: Optional[str]) -> Optional[str]:
    if not value:
        return None
    m = re.search(r"[245]\.[0-9]{1,3}\.[0-9]{1,3}", value)
    return m.group(0) if m else None


def _after_type(value: Optional[str]) -> Optional[str]:
    if not value:
        return None
    return value.split(";", 1)[-1].strip() or None


def detect_mta(parts: Parts, kinds: set[str], reporting_mta: Optional[str]) -> Optional[str]:
    """The family of the system that wrote the bounce, or None when no sign is present."""
    host = (reporting_mta or "").lower().rstrip(".")
    for family, headers, suffixes, line_kinds in MTA_SIGNS:
        if any(h in parts.headers for h in headers) or any(host.endswith(s) for s in suffixes) \
                or any(k in kinds for k in line_kinds):
            return family
    return None


def extract(parts: Parts) -> tuple[list[RecipientFacts], Optional[str], Optional[str]]:
    """Facts for every recipient the bounce reports, plus the reporting MTA and its family."""
    dsn, message_fields = _dsn_blocks(parts)
    reading = read_text(parts.text)
    reporting = _after_type(message_fields.get("reporting-mta")) or reading.reporting_mta
    mta = detect_mta(parts, reading.kinds, reporting)
    if dsn:
        by_address = {b.recipient: b for b in reading.blocks}
        for b in dsn:
            _merge(b, by_address.get(b.recipient) or (reading.blocks[0] if len(dsn) == 1 == len(reading.blocks)
                                                     else None), reading.general)
        blocks = dsn
    elif reading.blocks:
        blocks = reading.blocks
        for b in blocks:
            _merge(b, None, reading.general)
    elif reading.general.replies:
        blocks = [reading.general]
        failed = clean_address(parts.headers.get("x-failed-recipients"))
        if failed:
            blocks[0].recipient = failed
            blocks[0].origin["recipient"] = "header X-Failed-Recipients"
    else:
        blocks = []
    return [_freeze(b, reporting, mta) for b in blocks], reporting, mta


def _merge(block: _Block, text_block: Optional[_Block], general: _Block) -> None:
    for other in (text_block, general):
        if other is None:
            continue
        if other.replies:
            own = best_reply(block.replies)
            theirs = best_reply(other.replies)
            if own is None or (theirs and theirs.status and (not own.status or theirs.token and not own.token)):
                block.replies.extend(other.replies)
                if "reply" in other.origin:
                    block.origin["reply"] = other.origin["reply"]
        block.diagnostic.extend(d for d in other.diagnostic if d not in block.diagnostic)
        block.remote_mta = block.remote_mta or other.remote_mta


def _freeze(b: _Block, reporting: Optional[str], mta: Optional[str]) -> RecipientFacts:
    reply = best_reply(b.replies)
    status = b.status
    origin = dict(b.origin)
    if reply and reply.status and (status is None or status.endswith(".0.0") and reply.status[0] == status[0]
                                   or reply.token and reply.status[0] == status[0]):
        status = reply.status
        origin["status"] = origin.get("reply", "reply")
    diagnostic = " ".join(" ".join(b.diagnostic).split())[:MAX_DIAGNOSTIC_CHARS]
    return RecipientFacts(
        recipient=b.recipient, original_recipient=b.original_recipient,
        action=b.action or ("failed" if (status or "5")[0] == "5" else "delayed"),
        status=status, reply_code=reply.code if reply else None, token=reply.token if reply else None,
        diagnostic=diagnostic, command=b.command, remote_mta=b.remote_mta, reporting_mta=reporting,
        mta=mta, origin=origin,
    )
