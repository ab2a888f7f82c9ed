"""Sniffing: what an input is — a message, pasted text, binary or JSON data, an mbox, a Maildir,
MTA log lines, a message-trace table or trace-detail text — from its first bytes, before
anything parses it."""
from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path
from typing import BinaryIO, Optional, Union

from ..errors import InputError

from .logs import looks_like_log
from .traces import looks_like_trace_detail, table_form, table_header

_HEADER_LINE = re.compile(rb"^(?:From [^\n]*|[A-Za-z][A-Za-z0-9-]*:[^\n]*)$")
_COMMON_HEADERS = {b"from", b"to", b"subject", b"date", b"received", b"return-path", b"message-id",
                   b"mime-version", b"content-type", b"delivered-to", b"x-failed-recipients",
                   b"reply-to", b"sender", b"x-mailer", b"auto-submitted"}


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


def looks_like_json(data: bytes) -> bool:
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


def refold(data: bytes) -> bytes:
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


def looks_binary(data: bytes) -> bool:
    """True when the first 4 KiB hold a NUL byte or more than 5% control bytes."""
    sample = data[:4096]
    if b"\x00" in sample:
        return True
    controls = len(sample.translate(None, _TEXT_BYTES))
    return controls > len(sample) // 20


def special_kind(mode: int) -> Optional[str]:
    """What a file that is neither a regular file nor a folder is (``None`` for those two)."""
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def open_input(path: Union[str, os.PathLike], *, pipes: bool = False) -> BinaryIO:
    """Open a file to read, refusing what is not a regular file before reading a byte
    (:class:`InputError`): opening does not block (``O_NONBLOCK``) and the opened file
    itself is checked, so a FIFO put in a file's place cannot hang the reader. A named pipe
    is read only when ``pipes`` is true (a pipe the user named): opened blocking, it waits
    for its writer as ``cat`` does (a non-blocking reader would see it empty)."""
    name = os.fsdecode(path)
    flags = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0)
    try:
        if not (pipes and stat.S_ISFIFO(os.stat(path).st_mode)):
            flags |= getattr(os, "O_NONBLOCK", 0)
        fd = os.open(path, flags)
    except OSError as exc:
        raise InputError(f"cannot read {name}: {exc.strerror or exc}") from None
    mode = os.fstat(fd).st_mode
    kind = "a folder" if stat.S_ISDIR(mode) else special_kind(mode)
    if kind is not None and not (pipes and kind == "a named pipe"):
        os.close(fd)
        raise InputError(f"not read: {name} is {kind}, not a message file")
    return os.fdopen(fd, "rb")


def is_mbox(path: Path) -> bool:
    """True for a regular file whose first line is an mbox ``From `` separator (any line end)."""
    try:
        with open_input(path) as fh:
            head = fh.read(4096)
    except (InputError, OSError):
        return False
    return head.startswith(b"From ") and (b"\n" in head or b"\r" in head)


def is_maildir(path: Path) -> bool:
    """True for a folder with Maildir's cur/new/tmp structure."""
    try:
        return path.is_dir() and (path / "cur").is_dir() and (path / "new").is_dir()
    except OSError:  # a name too long, a loop: not a Maildir
        return False


#: Bytes of an input looked at to tell which form it is.
SNIFF_BYTES = 64 * 1024


def input_form(data: bytes) -> Optional[str]:
    """Which of the listing forms ``data`` is — ``log`` (Postfix, Exim, Sendmail lines), ``table``
    (a message-trace export or tracking log) or ``trace-detail`` (``Get-MessageTraceDetail``
    text) — or None for a message, pasted NDR text or a reply line."""
    lines = data[:SNIFF_BYTES].decode("utf-8", "replace").lstrip("\ufeff").splitlines()[:-1 if len(data) > SNIFF_BYTES else None]
    if looks_like_log(lines):
        return "log"
    if table_header(lines) is not None:
        return "table"
    if looks_like_trace_detail(lines):
        return "trace-detail"
    return None


def is_trace_table(path: Path) -> bool:
    """True for a file whose header row is a known message-trace export or tracking log."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(SNIFF_BYTES)
    except OSError:
        return False
    header = table_header(head.decode("utf-8", "replace").lstrip("\ufeff").splitlines())
    return header is not None and table_form(header[1]) is not None
