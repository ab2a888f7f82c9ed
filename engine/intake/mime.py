"""MIME reading with the standard library, bounded: the (compat32) feed parser stopped at
``MAX_MIME_OBJECTS`` message objects, header values and bodies decoded without raising."""
from __future__ import annotations

import email
import email.feedparser
import email.header
import email.message
import email.policy
from typing import Optional, Union

from ..limits import MAX_MIME_OBJECTS


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
