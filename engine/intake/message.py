"""Intake: turn whatever the user has into a message.

Accepted inputs: a path (an ``.eml`` or pasted text in a file), ``str`` or ``bytes``
(a whole message, pasted NDR text, one SMTP reply line, MTA log lines, a message-trace
export or tracking log, ``Get-MessageTraceDetail`` text), or an ``email.message.Message``; containers (mbox, Maildir) are split by :mod:`ndrkb.intake.containers`,
a message is taken apart by :mod:`ndrkb.intake.parts`. MIME is read with the standard
library; sizes, nesting and part counts are bounded (:mod:`ndrkb.limits`).
"""
from __future__ import annotations

import logging
import email.message
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

from ..errors import InputError
from ..limits import MAX_LISTED, MAX_MESSAGE_BYTES
from ..models import RecipientFacts
from .logs import read_log
from .mime import decode_bytes, read_mime
from .sniff import input_form, looks_binary, looks_like_json, looks_like_message, open_input, refold
from .traces import read_table, read_trace_detail

log = logging.getLogger(__name__)

Source = Union[str, bytes, os.PathLike, email.message.Message]


@dataclass
class InputText:
    """Input that is not a MIME message: pasted NDR text or a single reply line."""

    text: str


@dataclass
class InputRecords:
    """Input that lists recipients itself: MTA log lines, a message trace or tracking log."""

    form: str
    facts: list[RecipientFacts]
    counted: Counter = field(default_factory=Counter)

    def summary(self) -> str:
        """What was read, for ``Diagnosis.found``: the form and its lines or rows by outcome."""
        counts = ", ".join(f"{n} {outcome}" for outcome, n in sorted(self.counted.items()))
        return f"{self.form} ({counts or 'nothing recognised'})"


#: The forms ``--input-format`` names (``auto``: sniffed), each with what it means.
INPUT_FORMATS = {
    "auto": "find out from the input (the default)",
    "message": "a MIME message (.eml)",
    "text": "pasted NDR text or one SMTP reply line",
    "log": "Postfix, Exim or Sendmail log lines",
    "table": "a message-trace export (CSV) or Exchange message-tracking log",
    "trace-detail": "Get-MessageTraceDetail output",
}
_LISTINGS = {"log": read_log, "table": read_table, "trace-detail": read_trace_detail}


Read = Union[email.message.Message, InputText, InputRecords]


def read_source(source: Source, form: Optional[str] = None, *, pipes: bool = False) -> Read:
    """Read one input (not a container) into a message, plain text or listed recipients;
    ``form`` (one of :data:`INPUT_FORMATS`) overrides sniffing. A path must name a
    regular file (a named pipe too when ``pipes``: one the user named); devices, sockets
    and folders are input errors, refused before any read."""
    if isinstance(source, email.message.Message):
        return source
    if isinstance(source, os.PathLike) or (isinstance(source, str) and _is_existing_file(source)):
        return from_bytes(read_file(source, pipes=pipes), form)
    if isinstance(source, str):
        return from_bytes(source.encode("utf-8", "surrogateescape"), form)
    if isinstance(source, (bytes, bytearray)):
        return from_bytes(bytes(source), form)
    raise InputError(f"cannot read input of type {type(source).__name__}")


def read_file(path: Union[str, os.PathLike], *, offset: int = 0, length: int = MAX_MESSAGE_BYTES + 1,
              pipes: bool = False) -> bytes:
    """At most ``length`` bytes (never more than one past the message bound) of a file from
    ``offset``; :class:`InputError` when it cannot be read or is not a regular file."""
    with open_input(path, pipes=pipes) as fh:
        try:
            if offset:
                fh.seek(offset)
            return fh.read(min(length, MAX_MESSAGE_BYTES + 1))
        except OSError as exc:
            raise InputError(f"cannot read {os.fsdecode(path)}: {exc.strerror or exc}") from None


def _is_existing_file(text: str) -> bool:
    if "\n" in text or len(text) > 4096 or not text.strip():
        return False
    try:
        return Path(text).is_file()
    except (OSError, ValueError):
        return False


def from_bytes(data: bytes, form: Optional[str] = None) -> Read:
    """Bytes of a message, pasted text or a listing (log, trace) into a message, :class:`InputText`
    or :class:`InputRecords` (:class:`InputError` when they cannot be read); ``form`` overrides sniffing."""
    cuts = []
    if len(data) > MAX_MESSAGE_BYTES:
        data = data[:MAX_MESSAGE_BYTES]
        cuts.append(f"message cut at {MAX_MESSAGE_BYTES:,} bytes")
    if not data.strip():
        raise InputError("the input is empty")
    if looks_binary(data):
        raise InputError("the input is binary data, not an email or NDR text")
    if looks_like_json(data):
        raise InputError("the input is JSON data, not an email or NDR text")
    data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")  # LF, CRLF and bare CR read alike
    sniffed = form in (None, "auto")
    is_message = form == "message" or sniffed and looks_like_message(data)
    if sniffed and not is_message:  # a header block never starts a log or a trace
        form = input_form(data)
    if form in _LISTINGS:
        return _listing(form, decode_bytes(data, None))
    if form == "text":
        return InputText(decode_bytes(data, None))
    if not is_message:
        refolded = refold(data)
        if looks_like_message(refolded):
            data, is_message = refolded, True
    if is_message:
        if data.startswith(b"From "):
            data = data.split(b"\n", 1)[1] if b"\n" in data else b""
        try:
            return read_mime(data, cuts)
        except RecursionError:
            raise InputError("the MIME parts are nested too deeply to read") from None
        except Exception as exc:  # the parser broken by hostile input: an input error, not a traceback
            log.debug("the MIME parser failed", exc_info=True)
            raise InputError(f"internal error while reading: {type(exc).__name__}: {exc}") from None
    return InputText(decode_bytes(data, None))


def _listing(form: str, text: str) -> InputRecords:
    """A log, table or trace-detail text read by its reader (at most ``MAX_LISTED`` facts kept)."""
    try:
        name, facts, counted = _LISTINGS[form](text)
    except InputError:
        raise
    except Exception as exc:  # a reader broken by hostile input: an input error, not a traceback
        log.debug("the %s reader failed", form, exc_info=True)
        raise InputError(f"internal error while reading the {form}: {type(exc).__name__}: {exc}") from None
    if len(facts) > MAX_LISTED:
        counted[f"beyond the first {MAX_LISTED}, not reported"] = len(facts) - MAX_LISTED
        facts = facts[:MAX_LISTED]
    return InputRecords(name, facts, counted)
