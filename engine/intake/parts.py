"""Dissecting a message: its delivery-status, feedback-report, human-readable and
returned-header parts (:func:`dissect` → :class:`Parts`)."""
from __future__ import annotations

import email.message
import re
from dataclasses import dataclass, field
from typing import Iterator, Optional, Union

from ..limits import MAX_DEPTH, MAX_LINE_CHARS, MAX_PARTS, MAX_TEXT_CHARS
from ..vocabulary import MTA_FAMILIES
from .html import html_to_text
from .message import InputText
from .mime import header_text, part_text, read_mime


#: The headers of the bounce itself that are kept: those the readers look at, and those
#: a family of reporting systems is recognised by (``MtaFamily.headers``, ``header_values``).
KEPT_HEADERS: tuple[str, ...] = tuple(dict.fromkeys((
    "x-ms-exchange-message-is-ndr", "x-mailer", "x-failed-recipients", "auto-submitted", "content-type",
    "x-original-to", "received", "return-path", "to", "message-id", "precedence", "x-autoreply", "date",
    *(h for family in MTA_FAMILIES.values() for h in family.headers),
    *(h for family in MTA_FAMILIES.values() for h, _ in family.header_values))))


@dataclass
class Parts:
    """What intake found in one message."""

    subject: str = ""
    sender: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    #: each delivery-status part: its field blocks as the stdlib read them, or its text for the dsn grammar
    delivery_status: list[Union[str, list[dict[str, str]]]] = field(default_factory=list)
    feedback_report: list[str] = field(default_factory=list)
    text: str = ""
    original_headers: str = ""
    found: list[str] = field(default_factory=list)
    #: what was cut to keep within the bounds of ``ndrkb.limits`` (also listed in ``found``)
    cuts: list[str] = field(default_factory=list)
    is_message: bool = True

    def cut(self, note: str) -> None:
        """Say, once, that something was cut to keep within a bound."""
        if note not in self.cuts:
            self.cuts.append(note)
            self.found.append(note)


def dissect(msg: Union[email.message.Message, InputText]) -> Parts:
    """Find the delivery-status, feedback, human-readable and returned-header parts."""
    if isinstance(msg, InputText):
        return Parts(text=msg.text[:MAX_TEXT_CHARS], found=["pasted text"], is_message=False)
    parts = Parts(subject=header_text(msg.get("Subject")), sender=header_text(msg.get("From")))
    for note in getattr(msg, "ndrkb_cuts", []):
        parts.cut(note)
    present = {k.lower() for k in msg.keys()}
    for name in KEPT_HEADERS:
        value = msg.get(name) if name in present else None
        if value is not None:
            parts.headers[name] = header_text(value)
    plain: list[str] = []
    html: list[email.message.Message] = []  # decoded only when no plain text part is found
    count = 0

    def walk(part: email.message.Message, depth: int, inside_original: bool) -> None:
        nonlocal count
        count += 1
        if count > MAX_PARTS or depth > MAX_DEPTH:
            parts.cut("MIME structure cut at the part/depth bound")
            return
        ctype = part.get_content_type()
        if ctype == "message/delivery-status" or ctype == "message/global-delivery-status":
            parts.delivery_status.append(_delivery_status_blocks(part))
            parts.found.append(ctype)
            return
        if ctype == "message/feedback-report":
            parts.feedback_report.append(_delivery_status_text(part))
            parts.found.append(ctype)
            return
        if ctype in ("message/rfc822", "message/global", "text/rfc822-headers", "message/rfc822-headers",
                     "message/global-headers"):
            inner = _wrapped_report(part)
            if inner is not None and not parts.delivery_status:
                parts.found.append("delivery report forwarded inside a message")
                walk(inner, depth + 1, inside_original)
                return
            if not parts.original_headers:
                parts.original_headers = _original_headers(part)
                parts.found.append(f"{ctype} (returned original)")
            return
        maintype = ctype.split("/", 1)[0]
        if maintype == "multipart" and not part.is_multipart():
            repaired = _repair_boundary(part)
            if repaired is not None:
                part = repaired
                parts.found.append("multipart with a wrong boundary (repaired)")
        if part.is_multipart():
            for sub in part.get_payload() or []:
                if isinstance(sub, email.message.Message):
                    walk(sub, depth + 1, inside_original)
            return
        if inside_original or maintype not in ("text", "multipart"):
            return
        disposition = str(part.get("Content-Disposition") or "").lower()  # a Header object when 8-bit
        if "attachment" in disposition and ctype == "text/plain" and plain:
            return
        if ctype == "text/html":
            html.append(part)
        else:
            plain.append(part_text(part))

    walk(msg, 0, False)
    if plain:
        parts.text = "\n".join(plain)
        parts.found.append("text/plain body")
    elif html:
        parts.text = html_to_text("\n".join(part_text(p) for p in html))
        parts.found.append("text/html body")
    if len(parts.text) > MAX_TEXT_CHARS:
        parts.text = parts.text[:MAX_TEXT_CHARS]
        parts.cut(f"human-readable text cut at {MAX_TEXT_CHARS} characters")
    inline = _INLINE_DSN.search(parts.text) if not parts.delivery_status else None
    if inline:
        parts.delivery_status.append(inline.group(1))
        parts.text = parts.text[:inline.start()]
        parts.found.append("delivery-status part inside the text (MIME boundary not recognised)")
    return parts


#: A delivery-status part left inside the text by a boundary line the MIME reader missed.
_INLINE_DSN = re.compile(r"^[ \t]*content-type:[ \t]*message/(?:global-)?delivery-status[^\n]*\n(?:[^\n]+\n)*?\n"
                         r"(.*?)(?=^[ \t]*--[^\s-]|\Z)", re.I | re.M | re.S)


_BOUNDARY_LINE = re.compile(r"^--(-*[^\s-][^\s]{0,69}?)(?<!--)[ \t]*$", re.M)


def _repair_boundary(part: email.message.Message) -> Optional[email.message.Message]:
    """A multipart whose declared boundary never occurs, re-read with the boundary its body uses."""
    body = part.get_payload()
    found = _BOUNDARY_LINE.search(body) if isinstance(body, str) else None
    if found is None:
        return None
    try:
        fixed = email.message.Message()
        for name, value in part.items():
            fixed[name] = value
        fixed.set_param("boundary", found.group(1))
        fixed.set_payload(body)
        reread = read_mime(fixed.as_string())
    except Exception:  # beyond repair (e.g. raw 8-bit bytes in its Content-Type): read it as text
        return None
    return reread if reread.is_multipart() else None


def _wrapped_report(part: email.message.Message) -> Optional[email.message.Message]:
    """The delivery report a message part carries, when it is one (a bounce forwarded as an attachment)."""
    payload = part.get_payload()
    inner = payload[0] if isinstance(payload, list) and payload else None
    if isinstance(inner, email.message.Message) and inner.get_content_type() == "multipart/report" \
            and (inner.get_param("report-type") or "").lower() == "delivery-status":
        return inner
    return None


_FIELD_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]*[ \t]*")


def _delivery_status_blocks(part: email.message.Message) -> Union[str, list[dict[str, str]]]:
    """The field blocks of a delivery-status part as the stdlib already split them (names
    lower-cased, values single-spaced; a field that repeats within a block starts a new one).

    Its text instead, for ``grammar/dsn.lark`` to read, when a block is not plain fields:
    stray lines the stdlib left as a body, odd field names, blank or overlong lines.
    """
    payload = part.get_payload()
    if not isinstance(payload, list):
        return part_text(part)
    blocks: list[dict[str, str]] = []
    for block in payload:
        if not isinstance(block, email.message.Message):
            continue
        body = block.get_payload()
        if isinstance(body, str) and body.strip():
            return _delivery_status_text(part)
        for run in _field_runs(block):
            fields: dict[str, str] = {}
            for k, v in run:
                v = str(v)
                lines = v.split("\n")
                if not _FIELD_NAME.fullmatch(k) or "\r" in v or len(k) + len(lines[0]) + 2 > MAX_LINE_CHARS \
                        or any(len(line) > MAX_LINE_CHARS or line[:1] not in (" ", "\t") or not line.strip()
                               for line in lines[1:]):
                    return _delivery_status_text(part)
                fields.setdefault(k.strip().lower(), " ".join(v.split()))
            blocks.append(fields)
    return blocks


def _field_runs(block: email.message.Message) -> Iterator[list[tuple[str, object]]]:
    """A field block's (name, value) pairs, split where a field repeats: a repeated field
    starts a new block (the blank line between them was left out)."""
    run: list[tuple[str, object]] = []
    seen: set[str] = set()
    for k, v in block.items():
        if k.lower() in seen:
            yield run
            run, seen = [], set()
        seen.add(k.lower())
        run.append((k, v))
    if run:
        yield run


def _delivery_status_text(part: email.message.Message) -> str:
    """The fields of a delivery-status part; a field that repeats within a block starts a new block."""
    payload = part.get_payload()
    if isinstance(payload, list):
        blocks = []
        for block in payload:
            if isinstance(block, email.message.Message):
                for n, run in enumerate(_field_runs(block)):
                    if n:
                        blocks.append("")
                    blocks.extend(f"{k}: {v}" for k, v in run)
                blocks.append("")
                body = block.get_payload()
                if isinstance(body, str) and body.strip():
                    blocks.append(body.strip("\n") + "\n")
        return "\n".join(blocks)
    return part_text(part)


def _original_headers(part: email.message.Message) -> str:
    payload = part.get_payload()
    if isinstance(payload, list) and payload and isinstance(payload[0], email.message.Message):
        return "".join(f"{k}: {header_text(v)}\n" for k, v in payload[0].items())
    return part_text(part).split("\n\n", 1)[0]
