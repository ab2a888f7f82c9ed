"""Intake: turn whatever the user has into messages, and a message into its parts.

Accepted inputs: a path (an ``.eml`` or pasted text in a file), ``str`` or ``bytes``
(a whole message, pasted NDR text, or one SMTP reply line), or an
``email.message.Message``; containers (mbox, Maildir) are split by :mod:`ndrkb.run.batch`.
MIME is read with the standard library; sizes, nesting and part counts are bounded
(:mod:`ndrkb.limits`).
"""
from __future__ import annotations

import email
import email.feedparser
import email.header
import email.message
import email.policy
import json
import os
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Iterator, Optional, Union

from ..errors import InputError
from ..limits import (MAX_DEPTH, MAX_HTML_CHARS, MAX_LINE_CHARS, MAX_MESSAGE_BYTES, MAX_MIME_OBJECTS, MAX_PARTS,
                     MAX_TEXT_CHARS)

Source = Union[str, bytes, os.PathLike, email.message.Message]

_HEADER_LINE = re.compile(rb"^(?:From [^\n]*|[A-Za-z][A-Za-z0-9-]*:[^\n]*)$")
_COMMON_HEADERS = {b"from", b"to", b"subject", b"date", b"received", b"return-path", b"message-id",
                   b"mime-version", b"content-type", b"delivered-to", b"x-failed-recipients",
                   b"reply-to", b"sender", b"x-mailer", b"auto-submitted"}


@dataclass
class InputText:
    """Input that is not a MIME message: pasted NDR text or a single reply line."""

    text: str


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
    is_message: bool = True


def looks_like_message(data: bytes) -> bool:
    """True when ``data`` starts with an RFC 5322 header block (or an mbox From_ line)."""
    data = data.lstrip(b"\r\n")
    head = data[:8192].replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    block, blank, _ = head.partition(b"\n\n")  # only the header block matters
    lines = block.split(b"\n")
    if len(data) > 8192 and not blank:
        lines = lines[:-1]  # the last line was cut at the byte bound
    names = set()
    for line in lines:
        if not line.strip():
            break
        if line[:1] in (b" ", b"\t"):
            continue
        if not _HEADER_LINE.match(line):
            return False
        names.add(line.split(b":", 1)[0].strip().lower())
    return len(names & _COMMON_HEADERS) >= 2 or (b"from" in names and len(names) >= 1 and head.startswith(b"From "))


def read_source(source: Source) -> Union[email.message.Message, InputText]:
    """Read one input (not a container) into a message or plain text."""
    if isinstance(source, email.message.Message):
        return source
    if isinstance(source, os.PathLike) or (isinstance(source, str) and _is_existing_file(source)):
        path = Path(source)
        try:
            with open(path, "rb") as fh:
                data = fh.read(MAX_MESSAGE_BYTES + 1)
        except OSError as exc:
            raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None
        return from_bytes(data)
    if isinstance(source, str):
        return from_bytes(source.encode("utf-8", "surrogateescape"))
    if isinstance(source, (bytes, bytearray)):
        return from_bytes(bytes(source))
    raise InputError(f"cannot read input of type {type(source).__name__}")


def _is_existing_file(text: str) -> bool:
    if "\n" in text or len(text) > 4096 or not text.strip():
        return False
    try:
        return Path(text).is_file()
    except (OSError, ValueError):
        return False


def from_bytes(data: bytes) -> Union[email.message.Message, InputText]:
    """Bytes of a message, or of pasted text, into a message or :class:`InputText`
    (:class:`InputError` when they cannot be read)."""
    if len(data) > MAX_MESSAGE_BYTES:
        data = data[:MAX_MESSAGE_BYTES]
    if not data.strip():
        raise InputError("the input is empty")
    if _looks_binary(data):
        raise InputError("the input is binary data, not an email or NDR text")
    if _looks_like_json(data):
        raise InputError("the input is JSON data, not an email or NDR text")
    data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")  # LF, CRLF and bare CR read alike
    is_message = looks_like_message(data)
    if not is_message:
        refolded = _refold(data)
        if looks_like_message(refolded):
            data, is_message = refolded, True
    if is_message:
        if data.startswith(b"From "):
            data = data.split(b"\n", 1)[1] if b"\n" in data else b""
        try:
            return read_mime(data)
        except RecursionError:
            raise InputError("the MIME parts are nested too deeply to read") from None
        except Exception as exc:  # the parser broken by hostile input: an input error, not a traceback
            raise InputError(f"internal error while reading: {type(exc).__name__}: {exc}") from None
    return InputText(decode_bytes(data, None))


class _TooManyObjects(Exception):
    """Raised by the counting factory when the reader would build one message object too many."""


#: Bytes (or characters) fed to the reader at a time: where it stops when it builds too many objects.
_FEED_CHUNK = 8192


def read_mime(data: Union[bytes, str]) -> email.message.Message:
    """The standard library's (compat32) reading of a message, stopped where it would build
    more than ``MAX_MIME_OBJECTS`` message objects: the rest of the message is not read."""
    cut = len(data)
    while True:
        count = 0

        def factory(policy: email.policy.Policy = email.policy.compat32) -> email.message.Message:
            nonlocal count
            count += 1
            if count > MAX_MIME_OBJECTS:
                raise _TooManyObjects()
            return email.message.Message(policy)

        reader = (email.feedparser.BytesFeedParser if isinstance(data, bytes) else email.feedparser.FeedParser)(
            factory, policy=email.policy.compat32)
        start = 0
        try:
            for start in range(0, cut, _FEED_CHUNK):
                reader.feed(data[start:min(start + _FEED_CHUNK, cut)])
            return reader.close()
        except _TooManyObjects:
            cut = start  # read again, up to the chunk where it overflowed


def _looks_like_json(data: bytes) -> bool:
    """True when the input opens with a JSON object or array (e.g. a JSON Lines file)."""
    first = data.lstrip()[:1]
    if first not in (b"{", b"["):
        return False
    line = data.lstrip().split(b"\n", 1)[0]
    try:
        json.loads(line)
    except (ValueError, RecursionError):  # not JSON, or nested too deep to be data anyone sends
        return False
    return True


def _refold(data: bytes) -> bytes:
    """A header block whose folded lines lost their leading blank, folded again.

    Only when the first line is a header: every later line of the block that is not
    a header becomes a continuation of the header above it.
    """
    head, sep, body = data.lstrip(b"\n").partition(b"\n\n")
    lines = head.split(b"\n")
    if not _HEADER_LINE.match(lines[0]) or lines[0].startswith(b"From "):
        return data
    lines = [line if line[:1] in (b" ", b"\t") or _HEADER_LINE.match(line) else b" " + line for line in lines]
    return b"\n".join(lines) + sep + body


_TEXT_BYTES = bytes(b for b in range(256) if b >= 32 or b in (9, 10, 12, 13, 27))


def _looks_binary(data: bytes) -> bool:
    sample = data[:4096]
    if b"\x00" in sample:
        return True
    controls = len(sample.translate(None, _TEXT_BYTES))
    return controls > len(sample) // 20


def decode_bytes(data: bytes, charset: Optional[str]) -> str:
    """Decode bytes with the declared charset, falling back to UTF-8 then Latin-1."""
    for cs in (charset, "utf-8"):
        if not cs:
            continue
        try:
            return data.decode(cs)
        except (LookupError, UnicodeDecodeError):
            continue
    return data.decode("latin-1")


def header_text(value: object) -> str:
    """A header value as readable text (RFC 2047 words decoded, never raising)."""
    if value is None:
        return ""
    text = str(value)
    if "=?" not in text:  # no encoded words: nothing to decode
        return " ".join(text.split())
    try:
        parts = email.header.decode_header(text)
    except Exception:  # malformed encoded words: keep the raw text
        return " ".join(str(value).split())
    out = []
    for chunk, cs in parts:
        out.append(decode_bytes(chunk, cs) if isinstance(chunk, bytes) else chunk)
    return " ".join("".join(out).split())


def part_text(part: email.message.Message) -> str:
    """The decoded body of a non-multipart part."""
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        payload = None
    if payload is None:
        raw = part.get_payload()
        return raw if isinstance(raw, str) else ""
    return decode_bytes(payload, part.get_content_charset())


class _HtmlText(HTMLParser):
    _BLOCK = {"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "table", "pre", "hr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in ("script", "style", "head"):
            self._skip += 1
        elif tag in self._BLOCK:
            self.out.append("\n")
        elif tag == "td":
            self.out.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head"):
            self._skip = max(0, self._skip - 1)
        elif tag in self._BLOCK:
            self.out.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.out.append(data)


#: A ``<`` that no ``>`` closes before the next ``<`` (within 1,024 characters) is read as
#: text: html.parser backtracks quadratically on runs of unclosed tags and comments.
_UNCLOSED_TAG = re.compile(r"<(?![^<>]{0,1024}>)")


def html_to_text(html: str) -> str:
    """Readable text of an HTML body (block elements become line breaks)."""
    conv = _HtmlText()
    try:
        conv.feed(_UNCLOSED_TAG.sub("&lt;", html[:MAX_HTML_CHARS]))
        conv.close()
    except Exception:
        pass
    lines = (" ".join(line.split()) for line in "".join(conv.out).split("\n"))
    return "\n".join(line for line in lines if line)


def dissect(msg: Union[email.message.Message, InputText]) -> Parts:
    """Find the delivery-status, feedback, human-readable and returned-header parts."""
    if isinstance(msg, InputText):
        return Parts(text=msg.text[:MAX_TEXT_CHARS], found=["pasted text"], is_message=False)
    parts = Parts(subject=header_text(msg.get("Subject")), sender=header_text(msg.get("From")))
    present = {k.lower() for k in msg.keys()}
    for name in ("X-MS-Exchange-Message-Is-Ndr", "X-Mailer", "X-Failed-Recipients", "Auto-Submitted",
                 "Content-Type", "X-Original-To", "Received", "Return-Path", "To", "Message-ID", "Precedence",
                 "X-Autoreply"):
        value = msg.get(name) if name.lower() in present else None
        if value is not None:
            parts.headers[name.lower()] = header_text(value)
    plain: list[str] = []
    html: list[email.message.Message] = []  # decoded only when no plain text part is found
    count = 0

    def walk(part: email.message.Message, depth: int, inside_original: bool) -> None:
        nonlocal count
        count += 1
        if count > MAX_PARTS or depth > MAX_DEPTH:
            if "MIME structure cut at the part/depth bound" not in parts.found:
                parts.found.append("MIME structure cut at the part/depth bound")
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
        parts.found.append(f"human-readable text cut at {MAX_TEXT_CHARS} characters")
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


def is_mbox(path: Path) -> bool:
    """True for a file whose first line is an mbox ``From `` separator (any line end)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except OSError:
        return False
    return head.startswith(b"From ") and (b"\n" in head or b"\r" in head)


def is_maildir(path: Path) -> bool:
    """True for a folder with Maildir's cur/new/tmp structure."""
    return path.is_dir() and (path / "cur").is_dir() and (path / "new").is_dir()
