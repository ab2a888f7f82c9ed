"""Containers: walk the inputs, split mbox files, Maildir folders and standard input into
*units* (a file path, or the bytes of one message), and count them.

Nothing here parses a message: units are read and diagnosed by :mod:`ndrkb.run.batch`.
"""
from __future__ import annotations

import itertools
import mailbox
import os
import re
import sys
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator, NamedTuple, Optional

from ..limits import MAX_MESSAGE_BYTES
from .sniff import is_maildir, is_mbox

#: In a folder walk, files with these endings are documentation or data, not messages
#: (a file named on the command line is always read).
NOT_MESSAGES = (".md", ".rst", ".json", ".jsonl", ".csv", ".toml", ".yaml", ".yml", ".py")


class Unit(NamedTuple):
    """One input message before it is read: a file to read, mbox bytes, or an input error."""

    source: str
    index: int
    path: Optional[str] = None
    data: Optional[bytes] = None
    error: Optional[str] = None


def _inputs(sources: Iterable[str]) -> Iterator[tuple[str, str]]:
    """``(kind, path)`` of every input under the sources, in a stable order; kind is
    ``stdin``, ``missing``, ``maildir``, ``mbox`` or ``file`` (folders are walked)."""
    for src in sources:
        path = Path(src)
        if src == "-":
            yield "stdin", src
        elif not path.exists():
            yield "missing", src
        elif is_maildir(path):
            yield "maildir", src
        elif path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs.sort()
                sub = Path(root)
                if sub != path and is_maildir(sub):
                    dirs[:] = []
                    yield "maildir", str(sub)
                    continue
                for name in sorted(files):  # os.walk's files are not folders: only mbox-ness is open
                    if not name.lower().endswith(NOT_MESSAGES):
                        found = sub / name
                        yield ("mbox" if is_mbox(found) else "file"), str(found)
        elif is_mbox(path):
            yield "mbox", src
        else:
            yield "file", src


def iter_units(sources: Iterable[str]) -> Iterator[Unit]:
    """Every message under the given paths, in a stable order (``-``: stdin, a message or an mbox)."""
    for kind, src in _inputs(sources):
        if kind == "stdin":
            yield from _stream_units(src, sys.stdin.buffer)
        elif kind == "missing":
            yield Unit(src, 0, error=f"no such file or folder: {src}")
        elif kind == "maildir":
            yield from _maildir_units(Path(src))
        elif kind == "mbox":
            try:
                with open(src, "rb") as fh:
                    yield from _mbox_units(src, (part for line in _lines(fh) for part in _BARE_CR.split(line) if part))
            except OSError as exc:
                yield Unit(src, 0, error=f"cannot read {src}: {exc.strerror or exc}")
        else:
            yield Unit(src, 0, path=src)


#: Where a line ends in a bare CR (a CR not followed by LF): mbox lines end in LF, CRLF or CR.
_BARE_CR = re.compile(rb"(?<=\r)(?!\n)")
#: Bytes of one line read from an mbox or standard input at once: a longer line (a stranger's
#: mbox may hold one of gigabytes) comes in pieces, so memory stays bounded.
READ_LINE_BYTES = 1 << 20


def _lines(fh: BinaryIO) -> Iterator[bytes]:
    """The lines of a stream, a line longer than ``READ_LINE_BYTES`` in pieces."""
    while line := fh.readline(READ_LINE_BYTES):
        yield line


def _stream_units(source: str, fh: BinaryIO) -> Iterator[Unit]:
    first = fh.readline(MAX_MESSAGE_BYTES + 1)
    if first.startswith(b"From "):
        yield from _mbox_units(source, itertools.chain([first], _lines(fh)))
    else:
        yield Unit(source, 0, data=first + fh.read(MAX_MESSAGE_BYTES + 1 - len(first)))


def _mbox_units(source: str, lines_in: Iterable[bytes]) -> Iterator[Unit]:
    """Split an mbox stream at its ``From `` lines, one message in memory at a time (size-bounded).

    Not ``mailbox.mbox``: that needs a seekable file with LF line ends, and this one splitter
    also serves standard input and mboxes whose lines end in a bare CR.
    """
    index, lines, size = -1, [], 0
    line_start, in_separator = True, False  # a long line comes in pieces: only a line's first starts it
    for line in lines_in:
        if line_start and line.startswith(b"From "):
            if index >= 0:
                yield Unit(source, index, data=b"".join(lines))
            index, lines, size, in_separator = index + 1, [], 0, True
        elif not in_separator and size <= MAX_MESSAGE_BYTES:
            lines.append(line)
            size += len(line)
        line_start = line.endswith((b"\n", b"\r"))
        in_separator = in_separator and not line_start
    if index >= 0:
        yield Unit(source, index, data=b"".join(lines))


def _maildir_keys(box: mailbox.Maildir) -> list[str]:
    """A Maildir's message keys in order; dotfiles are tool state, not mail."""
    return sorted(k for k in box.iterkeys() if not k.startswith("."))


def _maildir_units(folder: Path) -> Iterator[Unit]:
    """Messages of a Maildir (stdlib ``mailbox.Maildir``: ``new/`` and ``cur/``), ordered by key."""
    box = mailbox.Maildir(str(folder), factory=None, create=False)
    for index, key in enumerate(_maildir_keys(box)):
        try:
            with box.get_file(key) as fh:
                data = fh.read(MAX_MESSAGE_BYTES + 1)
            yield Unit(str(folder), index, data=data)
        except OSError as exc:  # removed or unreadable while the run goes on
            yield Unit(str(folder), index, error=f"cannot read message {key}: {exc.strerror or exc}")


def count_messages(sources: Iterable[str]) -> int:
    """How many units :func:`iter_units` will yield, cheaply (no message is parsed); stdin counts 1."""
    total = 0
    for kind, src in _inputs(sources):
        if kind == "maildir":
            total += len(_maildir_keys(mailbox.Maildir(src, factory=None, create=False)))
        elif kind == "mbox":
            total += _count_mbox(Path(src))
        else:
            total += 1
    return total


def _count_mbox(path: Path) -> int:
    count, tail = 0, b"\n"
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            count += (tail + chunk).count(b"\nFrom ")
            tail = chunk[-5:]
    return count
