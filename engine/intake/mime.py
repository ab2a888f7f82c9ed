"""MIME reading with the standard library, bounded: the (compat32) feed parser stopped at
``MAX_MIME_OBJECTS`` message objects, header values and bodies decoded without raising."""
from __future__ import annotations

import codecs
import email
import email.feedparser
import email.header
import email.message
import email.policy
from typing import Optional, Union

from ..limits import MAX_ENCODED_HEADER_CHARS, MAX_HEADER_CHARS, MAX_MESSAGE_LINES, MAX_MIME_OBJECTS


class _TooManyObjects(Exception):
    """Raised by the counting factory when the reader would build one message object too many."""


#: Bytes (or characters) fed to the reader at a time: where it stops when it builds too many objects.
_FEED_CHUNK = 8192


class _BoundedPolicy(email.policy.Compat32):
    """compat32, with every header value cut at ``MAX_HEADER_CHARS`` as it is read: the
    stdlib's parameter, RFC 2231 and boundary parsing is quadratic in a value's length."""

    def header_source_parse(self, sourcelines: list[str]) -> tuple[str, str]:
        name, value = super().header_source_parse(sourcelines)
        return name, value[:MAX_HEADER_CHARS]


_POLICY = _BoundedPolicy()


def read_mime(data: Union[bytes, str], cuts: Optional[list[str]] = None) -> email.message.Message:
    """The standard library's (compat32) reading of a message, bounded: its first
    ``MAX_MESSAGE_LINES`` lines, header values cut at ``MAX_HEADER_CHARS``, stopped where
    it would build more than ``MAX_MIME_OBJECTS`` message objects (the rest is not read).
    What was cut is said in ``ndrkb_cuts``, a list on the message (``cuts`` comes first)."""
    notes = list(cuts or [])
    newline = b"\n" if isinstance(data, bytes) else "\n"
    if data.count(newline) > MAX_MESSAGE_LINES:  # type: ignore[arg-type]
        end = -1
        for _ in range(MAX_MESSAGE_LINES):
            end = data.find(newline, end + 1)  # type: ignore[arg-type]
        data = data[:end + 1]
        notes.append(f"message cut at {MAX_MESSAGE_LINES:,} lines")
    cut = len(data)
    while True:
        count = 0

        def factory(policy: email.policy.Policy = _POLICY) -> email.message.Message:
            nonlocal count
            count += 1
            if count > MAX_MIME_OBJECTS:
                raise _TooManyObjects()
            return email.message.Message(policy)

        reader = (email.feedparser.BytesFeedParser if isinstance(data, bytes) else email.feedparser.FeedParser)(
            factory, policy=_POLICY)
        start = 0
        try:
            for start in range(0, cut, _FEED_CHUNK):
                reader.feed(data[start:min(start + _FEED_CHUNK, cut)])
            msg = reader.close()
            break
        except _TooManyObjects:
            cut = start  # read again, up to the chunk where it overflowed
            notes.append(f"MIME reading stopped at {MAX_MIME_OBJECTS:,} parts")
    if any(len(v) >= MAX_HEADER_CHARS for part in msg.walk() for v in part.values() if isinstance(v, str)):
        notes.append(f"header values cut at {MAX_HEADER_CHARS:,} characters")
    msg.ndrkb_cuts = list(dict.fromkeys(notes))  # type: ignore[attr-defined]
    return msg


#: Codecs not used on untrusted text: ``punycode`` is quadratic (400 KB: 9 s), ``undefined``
#: always fails; the text is read as UTF-8 or Latin-1 instead.
_SHUNNED_CODECS = {"punycode", "undefined", "idna"}


def decode_bytes(data: bytes, charset: Optional[str]) -> str:
    """Decode bytes with the declared charset, falling back to UTF-8 then Latin-1."""
    for cs in (charset, "utf-8"):
        if not cs:
            continue
        try:
            if codecs.lookup(cs).name in _SHUNNED_CODECS:
                continue
            return data.decode(cs)
        except (LookupError, UnicodeError, ValueError, TypeError):
            continue
    return data.decode("latin-1")


def header_text(value: object) -> str:
    """A header value as readable text (RFC 2047 words decoded, never raising)."""
    if value is None:
        return ""
    text = str(value)
    if "=?" not in text:  # no encoded words: nothing to decode
        return " ".join(text.split())
    text = text[:MAX_ENCODED_HEADER_CHARS]  # decode_header is quadratic in encoded words
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
