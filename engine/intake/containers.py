"""Containers: walk the inputs, split mbox files, Maildir folders and standard input into
*units* (a file path, or the bytes of one message), and count them.

Nothing here parses a message: units are read and diagnosed by :mod:`ndrkb.run.batch`.
"""
from __future__ import annotations

import contextlib
import itertools
import mailbox
import os
import re
import stat
import sys
from pathlib import Path
from typing import BinaryIO, Callable, Collection, Iterable, Iterator, NamedTuple, Optional, Union

from ..errors import InputError
from ..limits import MAX_MESSAGE_BYTES, MAX_WALK_DEPTH
from .message import read_file
from .sniff import is_maildir, is_mbox, is_trace_table, open_input, special_kind

#: In a folder walk, files with these endings are documentation or data, not messages
#: (a file named on the command line is always read); a ``.csv`` whose header row is a
#: message-trace export or tracking log is read all the same.
NOT_MESSAGES = (".md", ".rst", ".json", ".jsonl", ".csv", ".toml", ".yaml", ".yml", ".py")


class Unit(NamedTuple):
    """One input message before it is read: a file to read, a span of an mbox file (read by
    whoever diagnoses it, so the parent holds no message bytes), the bytes of a message
    read from a stream (standard input, a named pipe), or an input error."""

    source: str
    index: int
    path: Optional[str] = None
    data: Optional[bytes] = None
    error: Optional[str] = None
    #: ``(offset, length)`` of the message in the mbox file ``path``
    span: Optional[tuple[int, int]] = None
    form: Optional[str] = None  # --input-format: what the unit is, instead of sniffing it
    #: the message's key in its Maildir (``path`` is then its file)
    maildir_key: Optional[str] = None

    def place(self) -> dict[str, object]:
        """Where the message was found, as the record fields of that name."""
        return {"file": self.path, "mbox_offset": self.span[0] if self.span else None,
                "maildir_key": self.maildir_key}


#: A file or folder identity, ``(st_dev, st_ino)``: ``skip`` holds those not to read (the output file).
FileId = tuple[int, int]


def read_unit(unit: Unit) -> bytes:
    """The bytes of a stream or mbox unit (an mbox span is read from its file here)."""
    if unit.span is None:
        return unit.data or b""
    offset, length = unit.span
    return read_file(unit.path or "", offset=offset, length=length)


def unit_source(unit: Unit) -> Union[bytes, Path]:
    """What to read for a unit: the path of a whole file, or the bytes of a stream or mbox span."""
    return read_unit(unit) if unit.path is None or unit.span else Path(unit.path)


def _inputs(sources: Iterable[str], skip: Collection[FileId] = ()) -> Iterator[tuple[str, str, str]]:
    """``(kind, path, error)`` of every input under the sources, in a stable order; kind is
    ``stream`` (``-`` or a named pipe named by the user), ``error``, ``maildir``, ``mbox`` or
    ``file`` (folders are walked). Nothing but a regular file is opened, and nothing is lost:
    what is not read is an ``error`` saying why."""
    if isinstance(sources, (str, os.PathLike)):
        sources = [sources]  # one path, not the characters of a path
    for src in map(os.fspath, sources):
        if src == "-":
            yield "stream", src, ""
            continue
        try:
            st = os.stat(src)
        except OSError as exc:
            missing = isinstance(exc, FileNotFoundError) or isinstance(exc, NotADirectoryError)
            yield "error", src, f"no such file or folder: {src}" if missing else \
                f"cannot read {src}: {exc.strerror or exc}"
            continue
        kind = special_kind(st.st_mode)
        if stat.S_ISDIR(st.st_mode):
            if is_maildir(Path(src)):
                yield "maildir", src, ""
            else:
                yield from _walk(src, skip)
        elif kind == "a named pipe":
            yield "stream", src, ""
        elif kind is not None:
            yield "error", src, f"not read: {src} is {kind}, not a message file"
        elif (st.st_dev, st.st_ino) not in skip:
            yield ("mbox" if is_mbox(Path(src)) else "file"), src, ""


def _walk(top: str, skip: Collection[FileId]) -> Iterator[tuple[str, str, str]]:
    """The inputs in a folder, depth first in name order (files before subfolders, as
    ``os.walk`` goes). Symbolic links to folders are followed, each folder walked once;
    a folder that cannot be listed, a folder met again and one nested deeper than
    ``MAX_WALK_DEPTH`` are ``error`` inputs, as are named pipes, devices and sockets."""
    seen: set[FileId] = set()
    stack = [(top, 0)]
    while stack:
        folder, depth = stack.pop()
        try:
            st = os.stat(folder)
            if (st.st_dev, st.st_ino) in seen:
                yield "error", folder, f"not walked: {folder} is a folder already walked (a symbolic link)"
                continue
            seen.add((st.st_dev, st.st_ino))
            if depth > MAX_WALK_DEPTH:
                yield "error", folder, f"not walked: {folder} is nested deeper than {MAX_WALK_DEPTH} folders"
                continue
            if folder != top and is_maildir(Path(folder)):
                yield "maildir", folder, ""
                continue
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            yield "error", folder, f"cannot read folder {folder}: {exc.strerror or exc}"
            continue
        subfolders = []
        for entry in entries:
            try:
                est = entry.stat()
            except OSError as exc:  # a dangling symbolic link, a name too long
                yield "error", entry.path, f"cannot read {entry.path}: {exc.strerror or exc}"
                continue
            if stat.S_ISDIR(est.st_mode):
                subfolders.append(entry.path)
            elif (entry.name.lower().endswith(NOT_MESSAGES) and not _trace_table(entry.name, est.st_mode, entry.path)) \
                    or (est.st_dev, est.st_ino) in skip:
                continue
            elif (kind := special_kind(est.st_mode)) is not None:
                yield "error", entry.path, f"not read: {entry.path} is {kind}, not a message file"
            else:
                yield ("mbox" if is_mbox(Path(entry.path)) else "file"), entry.path, ""
        stack.extend((sub, depth + 1) for sub in reversed(subfolders))


def _trace_table(name: str, mode: int, path: str) -> bool:
    """A regular ``.csv`` file whose header row is a message-trace export or tracking log."""
    return name.lower().endswith(".csv") and stat.S_ISREG(mode) and is_trace_table(Path(path))


def iter_units(sources: Iterable[str], skip: Collection[FileId] = (),
               empty: Optional[Callable[[str], None]] = None) -> Iterator[Unit]:
    """Every message under the given paths, in a stable order (``-``: stdin, a message or an
    mbox); files whose identity is in ``skip`` are not read. ``empty(problem)`` hears of each
    source that yields no message: one that cannot be read, or an empty folder, mbox or Maildir."""
    if isinstance(sources, (str, os.PathLike)):
        sources = [sources]  # one path, not the characters of a path
    for source in map(os.fspath, sources):
        count, kind = 0, "folder"  # a folder walk that finds no file yields no input at all
        for kind, src, error in _inputs([source], skip):
            if kind == "error" and src == source and empty is not None:
                empty(error)
            for unit in _units(kind, src, error):
                count += 1
                yield unit
        if not count and empty is not None:
            empty(f"{source}: {_EMPTY[kind]}")


#: Why a source gave no message, by the kind of its last input.
_EMPTY = {"maildir": "a Maildir with no message in it", "mbox": "an mbox with no message in it",
          "folder": "a folder with no message in it (documentation and data files are skipped)"}


def _units(kind: str, src: str, error: str) -> Iterator[Unit]:
    """The units of one input of :func:`_inputs`."""
    if kind == "stream":
        try:
            if src == "-" and sys.stdin is None:
                raise InputError("cannot read standard input: it is closed")
            with (contextlib.nullcontext(sys.stdin.buffer) if src == "-" else open_input(src, pipes=True)) as fh:
                yield from iter_stream(src, fh)
        except (InputError, OSError) as exc:
            yield Unit(src, 0, error=str(exc) if isinstance(exc, InputError) else
                       f"cannot read {src}: {exc.strerror or exc}")
    elif kind == "error":
        yield Unit(src, 0, error=error)
    elif kind == "maildir":
        yield from _maildir_units(Path(src))
    elif kind == "mbox":
        try:
            with open_input(src) as fh:
                for index, (offset, length, _) in enumerate(_mbox_split(_pieces(fh), keep=False)):
                    yield Unit(src, index, path=src, span=(offset, length))
        except (InputError, OSError) as exc:
            yield Unit(src, 0, error=str(exc) if isinstance(exc, InputError) else
                       f"cannot read {src}: {exc.strerror or exc}")
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


def _pieces(fh: BinaryIO) -> Iterator[bytes]:
    """The lines of a stream split after a bare CR too (mbox lines end in LF, CRLF or CR)."""
    return (part for line in _lines(fh) for part in _BARE_CR.split(line) if part)


def iter_stream(source: str, fh: BinaryIO) -> Iterator[Unit]:
    """The messages of a stream read once (standard input, a pipe): one message, or an mbox."""
    first = fh.readline(MAX_MESSAGE_BYTES + 1)
    if first.startswith(b"From "):
        for index, (_, _, data) in enumerate(_mbox_split(itertools.chain([first], _lines(fh)), keep=True)):
            yield Unit(source, index, data=data)
    else:
        yield Unit(source, 0, data=first + fh.read(MAX_MESSAGE_BYTES + 1 - len(first)))


def _mbox_split(lines_in: Iterable[bytes], keep: bool) -> Iterator[tuple[int, int, Optional[bytes]]]:
    """Split an mbox stream at its ``From `` lines: ``(offset, length, data)`` of each message
    after its separator line; ``data`` (its first ``MAX_MESSAGE_BYTES`` and a bit) only when
    ``keep``, one message in memory at a time.

    Not ``mailbox.mbox``: that needs a seekable file with LF line ends, and this one splitter
    also serves standard input and mboxes whose lines end in a bare CR.
    """
    started, offset, pos, lines, size = False, 0, 0, [], 0
    line_start, in_separator = True, False  # a long line comes in pieces: only a line's first starts it
    for line in lines_in:
        if line_start and line.startswith(b"From "):
            if started:
                yield offset, pos - offset, b"".join(lines) if keep else None
            started, lines, size, in_separator = True, [], 0, True
        elif not in_separator and keep and size <= MAX_MESSAGE_BYTES:
            lines.append(line)
            size += len(line)
        pos += len(line)
        line_start = line.endswith((b"\n", b"\r"))
        if in_separator and line_start:
            in_separator, offset = False, pos
    if started:
        yield (offset if not in_separator else pos), pos - (offset if not in_separator else pos), \
            b"".join(lines) if keep else None


def maildir_files(folder: Path) -> tuple[list[str], list[str]]:
    """The message files of a Maildir (``new/`` and ``cur/``), ordered by unique name as
    ``mailbox.Maildir`` keys them (dotfiles are tool state, not mail); and a problem for
    each of the two subfolders that cannot be listed (the other is still read)."""
    toc: dict[str, str] = {}
    problems = []
    for sub in ("new", "cur"):
        try:
            names = os.listdir(folder / sub)
        except OSError as exc:
            problems.append(f"cannot read Maildir folder {folder / sub}: {exc.strerror or exc}")
            continue
        for name in names:
            path = folder / sub / name
            if not path.is_dir():
                toc[name.split(mailbox.Maildir.colon)[0]] = str(path)
    return [toc[key] for key in sorted(toc) if not key.startswith(".")], problems


def _maildir_units(folder: Path) -> Iterator[Unit]:
    """Messages of a Maildir, each read (and checked to be a regular file) by whoever
    diagnoses it; then an error unit for a subfolder that cannot be listed."""
    files, problems = maildir_files(folder)
    for index, path in enumerate(files):
        yield Unit(str(folder), index, path=path, maildir_key=Path(path).name.split(mailbox.Maildir.colon)[0])
    for index, problem in enumerate(problems, len(files)):
        yield Unit(str(folder), index, error=problem)


def count_messages(sources: Iterable[str], skip: Collection[FileId] = ()) -> Optional[int]:
    """How many units :func:`iter_units` will yield, cheaply (no message is parsed); ``None``
    when an input is a stream (standard input, a named pipe), which only its reader may read."""
    total = 0
    for kind, src, _ in _inputs(sources, skip):
        if kind == "stream":
            return None
        if kind == "maildir":
            files, problems = maildir_files(Path(src))
            total += len(files) + len(problems)
        elif kind == "mbox":
            total += _count_mbox(Path(src))
        else:
            total += 1
    return total


def _count_mbox(path: Path) -> int:
    try:
        with open_input(path) as fh:
            return sum(1 for _ in _mbox_split(_pieces(fh), keep=False))
    except (InputError, OSError):
        return 1
