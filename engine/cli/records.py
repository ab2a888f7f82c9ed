"""Writing ``classify`` records: whole messages at a time, errors as one line, and resuming
an interrupted run.

Records go out as UTF-8 bytes whatever the locale (JSON Lines is UTF-8); a file name that
is not UTF-8 is written with ``\\udcXX`` escapes (valid JSON). The records of one message are
written in one piece, and the writer knows where the last complete message ended: when
the output device fails (disk full) the file is cut back to there, and ``--resume`` drops
the last message of an interrupted output (it may be partial) and carries on after it.
"""
from __future__ import annotations

import csv
import io
import json
import os
import sys
from typing import BinaryIO, Optional

import click

from ..models import RECORD_FIELDS
from ..output.terminal import terminal_safe
from ..output.writers import WRITERS

_SOURCE, _INDEX = RECORD_FIELDS.index("source"), RECORD_FIELDS.index("index")


class _Encoder:
    """A format's writer (``output.writers.WRITERS``) writing into memory: the bytes of its
    header, then of one message's records at a time."""

    def __init__(self, fmt: str, terminal: bool = False):
        self.terminal = terminal  # control characters escaped (terminal_safe)
        self.buffer = io.StringIO(newline="")
        self.writer = WRITERS[fmt](self.buffer)

    def take(self, rows: list[tuple] = ()) -> bytes:  # type: ignore[assignment]
        for row in rows:
            self.writer.write(row)
        text = self.buffer.getvalue()
        if self.terminal:
            text = terminal_safe(text)
        self.buffer.seek(0)
        self.buffer.truncate()
        return text.encode("utf-8", "backslashreplace")  # a lone surrogate (a non-UTF-8 file name) as \udcXX


class RecordWriter:
    """Where records go: a file (``path``, written unbuffered, one message a write) or standard
    output. ``done`` counts the messages already in the file when resuming; ``next_key`` is
    the ``(source, index)`` of the message expected first then."""

    def __init__(self, path: Optional[str], fmt: str, resume: bool = False):
        self.path, self.fmt, self.done, self.next_key = path, fmt, 0, None
        self.name = path if path else "standard output"
        self.end = 0  # bytes of whole messages in the file
        self.encoder = _Encoder(fmt, terminal=path is None and sys.stdout is not None and sys.stdout.isatty())
        header = self.encoder.take()
        try:
            if path is None:
                if sys.stdout is None:
                    raise OSError(9, "Bad file descriptor")
                sys.stdout.flush()
                self.out: BinaryIO = sys.stdout.buffer
            else:
                self.out = open(path, "r+b" if resume and os.path.exists(path) else "wb", buffering=0)
                if resume:
                    self.end = self._resume()
            if header and not self.end:
                self._put(header)
        except OSError as exc:
            raise self.error(exc) from None

    def error(self, exc: OSError) -> click.ClickException:
        return click.ClickException(f"cannot write {self.name}: {exc.strerror or exc}")

    def write(self, rows: list[tuple]) -> None:
        """Write the records of one message: all, or (the file cut back) none."""
        try:
            self._put(self.encoder.take(rows))
        except BrokenPipeError:
            raise
        except OSError as exc:
            if self.path is not None:
                try:
                    self.out.truncate(self.end)
                except OSError:
                    pass
            raise self.error(exc) from None

    def abandon(self) -> None:
        """After an interruption: a file ends with the last message written whole, and is closed."""
        if self.path is not None:
            try:
                self.out.truncate(self.end)
                self.out.close()
            except OSError:
                pass

    def _put(self, data: bytes) -> None:
        if self.path is None:
            self.out.write(data)
            self.out.flush()  # a closed or full standard output is seen at the message it fails on
            return
        view = memoryview(data)
        while view:
            view = view[self.out.write(view) or 0:]
        self.end += len(data)

    def close(self) -> None:
        """Close the file, or flush standard output."""
        try:
            self.out.flush() if self.path is None else self.out.close()
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise self.error(exc) from None

    def _resume(self) -> int:
        """Read an interrupted output: keep its complete messages but the last, set ``done``
        and ``next_key``, and return the byte length kept (the file is cut there)."""
        data = self.out.read()
        text = data[:data.rfind(b"\n") + 1].decode("utf-8", "surrogateescape")
        if self.fmt == "csv":
            rows = list(csv.reader(io.StringIO(text, newline="")))
            if rows and rows[0] == list(RECORD_FIELDS):
                rows = rows[1:]
            keys = [(r[_SOURCE], str(r[_INDEX])) for r in rows if len(r) == len(RECORD_FIELDS)]
        else:
            keys = []
            for line in text.splitlines():
                try:
                    rec = json.loads(line)
                    keys.append((rec["source"], str(rec["index"])))
                except (ValueError, KeyError, TypeError):
                    raise click.ClickException(f"cannot resume: {self.name} is not ndrkb JSON Lines") from None
        starts = [n for n, key in enumerate(keys) if n == 0 or key != keys[n - 1]]  # each message's first record
        if not starts:
            self.out.truncate(0)
            self.out.seek(0)
            return 0
        kept = starts[-1]  # the last message may be partial: it is written again
        self.done, self.next_key = len(starts) - 1, keys[kept]
        if self.fmt == "csv":
            again = _Encoder("csv")
            prefix = again.take() + again.take([tuple(r) for r in rows[:kept]])
        else:
            prefix = "".join(line + "\n" for line in text.splitlines()[:kept]).encode("utf-8", "surrogateescape")
        if not data.startswith(prefix):
            raise click.ClickException(f"cannot resume: {self.name} was not written by ndrkb classify "
                                       f"--format {self.fmt}")
        self.out.truncate(len(prefix))
        self.out.seek(len(prefix))
        return len(prefix)
