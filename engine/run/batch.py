"""Batch classification: walk inputs, diagnose every message, yield one record per recipient.

Nothing is lost: every message yields at least one record, and a message that cannot
be read, breaks a parser, exceeds the time bound or kills a worker process becomes an
error record naming the cause; the run goes on.

The parent process only walks the inputs into *units* (a file path, or the bytes of one
mbox message); reading, parsing and diagnosis run in worker processes, a bounded
window of chunks at a time, and records come out in input order whatever the number
of workers.
"""
from __future__ import annotations

import functools
import itertools
import mailbox
import multiprocessing
import multiprocessing.connection
import os
import re
import signal
import sys
import time
from collections import deque
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Callable, Iterable, Iterator, NamedTuple, Optional

from ..errors import InputError
from ..intake.message import from_bytes, is_maildir, is_mbox, read_source
from ..limits import MAX_MESSAGE_BYTES, MESSAGE_TIMEOUT_SECONDS
from ..models import BatchRecord

#: Messages sent to a worker at a time, and chunks in flight per worker.
CHUNK_SIZE = 64
WINDOW_PER_WORKER = 4
#: Test hook, read only by worker processes: ``exit:NAME``, ``hang:NAME`` or ``spin:NAME``
#: makes a worker exit, loop in Python, or loop in C (deaf to signals) on a message whose
#: source contains NAME (tests/test_batch.py).
TEST_HOOK_ENV = "NDRKB_TEST_WORKER_HOOK"


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


def records_for(diagnoser, source: str, index: int, msg: object) -> list[BatchRecord]:  # type: ignore[no-untyped-def]
    """The records of one message; any failure becomes an error record."""
    if isinstance(msg, InputError):
        return [BatchRecord(source=source, index=index, error=str(msg))]
    try:
        return diagnoser.classify_message(msg, source=source, index=index)
    except Exception as exc:  # one bad message never stops a run
        return [BatchRecord(source=source, index=index, error=f"internal error: {type(exc).__name__}: {exc}")]


class MessageTimeout(BaseException):
    """Raised inside a message's processing when it exceeds the time bound (not an ``Exception``,
    so no handler on the way swallows it)."""


def unit_records(diagnoser, unit: Unit, timeout: float = MESSAGE_TIMEOUT_SECONDS,  # type: ignore[no-untyped-def]
                 hook: Optional[Callable[[Unit], None]] = None) -> list[BatchRecord]:
    """Read and diagnose one unit within ``timeout`` seconds (enforced in the main thread only)."""
    try:
        with _time_bound(timeout):
            if hook is not None:
                hook(unit)
            if unit.error is not None:
                msg: object = InputError(unit.error)
            else:
                try:
                    msg = read_source(Path(unit.path)) if unit.path is not None else from_bytes(unit.data or b"")
                except InputError as exc:
                    msg = exc
                except Exception as exc:  # (from_bytes reports a broken parser itself): nothing is lost
                    msg = InputError(f"internal error while reading: {type(exc).__name__}: {exc}")
            return records_for(diagnoser, unit.source, unit.index, msg)
    except MessageTimeout:
        return [BatchRecord(source=unit.source, index=unit.index,
                            error=f"time bound exceeded: not diagnosed within {timeout:g} s")]


@contextmanager
def _time_bound(seconds: float) -> Iterator[None]:
    import threading

    if not seconds or threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def expire(signum: int, frame: object) -> None:
        raise MessageTimeout()

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def classify_messages(sources: Iterable[str], diagnoser: Optional[object] = None, *, workers: int = 1,
                      memoize: bool = True, timeout: float = MESSAGE_TIMEOUT_SECONDS) -> Iterator[list[BatchRecord]]:
    """The records of every message under ``sources``, one list per message, in input order.

    ``workers`` > 1 diagnoses in that many processes (where ``fork`` is available; else in
    this process); ``memoize`` False turns inference memoization off (for measurement).
    """
    for rows in classify_rows(sources, diagnoser, workers=workers, memoize=memoize, timeout=timeout):
        yield [BatchRecord.from_row(r) for r in rows]


def classify_rows(sources: Iterable[str], diagnoser: Optional[object] = None, *, workers: int = 1,
                  memoize: bool = True, timeout: float = MESSAGE_TIMEOUT_SECONDS) -> Iterator[list[tuple]]:
    """:func:`classify_messages` as record rows (values in ``RECORD_FIELDS`` order), as the
    workers send them: what a writer of JSON Lines or CSV needs, without building records."""
    if diagnoser is None:
        from .. import default_diagnoser
        from ..diagnoser import Diagnoser

        diagnoser = default_diagnoser() if memoize else Diagnoser(memoize=False)
    elif not memoize:
        from ..diagnoser import Diagnoser

        diagnoser = Diagnoser(packs=diagnoser.packs, memoize=False)  # type: ignore[attr-defined]
    units = iter_units(sources)
    if workers <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        for unit in units:
            yield [r.row() for r in unit_records(diagnoser, unit, timeout)]
        return
    pool = _Pool(workers, diagnoser, timeout)
    try:
        yield from pool.run(units)
    finally:
        pool.close()


def classify_records(sources: Iterable[str], diagnoser: Optional[object] = None, *, workers: int = 1,
                     memoize: bool = True, timeout: float = MESSAGE_TIMEOUT_SECONDS) -> Iterator[BatchRecord]:
    """Records for every message under ``sources``, lazily, in input order (see :func:`classify_messages`)."""
    for records in classify_messages(sources, diagnoser, workers=workers, memoize=memoize, timeout=timeout):
        yield from records


# --- worker processes -------------------------------------------------------------------

def _worker_main(conn, diagnoser, timeout: float) -> None:  # type: ignore[no-untyped-def]
    """A worker: receive ``(seq, offset, units)``, send back ``(seq, offset, rows per unit)``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    action, _, name = os.environ.get(TEST_HOOK_ENV, "").partition(":")
    hook = functools.partial(_test_hook, action, name) if name else None
    while True:
        task = conn.recv()
        if task is None:
            return
        seq, offset, units = task
        out = []
        for unit in units:
            # Hard bound: a message stuck in C code (where the soft timer cannot interrupt it)
            # gets the process killed by SIGVTALRM after this much CPU time.
            signal.setitimer(signal.ITIMER_VIRTUAL, timeout * 2 + 1 if timeout else 0)
            out.append([r.row() for r in unit_records(diagnoser, unit, timeout, hook)])
        signal.setitimer(signal.ITIMER_VIRTUAL, 0)
        conn.send((seq, offset, out))


def _test_hook(action: str, name: str, unit: Unit) -> None:
    if name not in unit.source:
        return
    if action == "exit":
        os._exit(3)
    if action == "hang":
        while True:
            time.sleep(0.01)
    if action == "spin":
        sum(range(10**13))  # a C loop that never looks at signals


class _Worker:
    def __init__(self, ctx, diagnoser, timeout: float):  # type: ignore[no-untyped-def]
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker_main, args=(child, diagnoser, timeout), daemon=True)
        self.proc.start()
        child.close()
        self.tasks: deque = deque()  # (seq, offset, units, isolated), oldest first


class _Pool:
    """Worker processes fed a bounded window of chunks; a dead worker is replaced and its
    message found by running the chunk it held one message at a time."""

    def __init__(self, n: int, diagnoser, timeout: float):  # type: ignore[no-untyped-def]
        self.ctx = multiprocessing.get_context("fork")
        self.diagnoser, self.timeout = diagnoser, timeout
        self.workers = [_Worker(self.ctx, diagnoser, timeout) for _ in range(n)]

    def run(self, units: Iterator[Unit]) -> Iterator[list[tuple]]:
        """Rows per unit, in input order."""
        window = WINDOW_PER_WORKER * len(self.workers)
        queue: deque = deque()  # tasks not yet sent
        chunks: dict[int, list] = {}  # seq -> rows per unit (None until done)
        next_seq = next_out = 0
        exhausted = False
        while True:
            while not exhausted and next_seq - next_out < window:
                chunk = [u for _, u in zip(range(CHUNK_SIZE), units)]
                if not chunk:
                    exhausted = True
                    break
                chunks[next_seq] = [None] * len(chunk)
                queue.append((next_seq, 0, chunk, False))
                next_seq += 1
            self._dispatch(queue)
            while next_out in chunks and all(r is not None for r in chunks[next_out]):
                yield from chunks.pop(next_out)
                next_out += 1
            if exhausted and not chunks:
                return
            if any(w.tasks for w in self.workers):  # else every sent chunk is done: read more input
                self._collect(chunks, queue)

    def _dispatch(self, queue: deque) -> None:
        """Send the next task to every idle worker. One task in flight per worker: the parent
        only sends to a worker waiting to receive, so a worker blocked sending back large
        results never meets a parent blocked sending it more (that was a deadlock)."""
        for w in self.workers:
            if queue and not w.tasks:
                task = queue.popleft()
                w.tasks.append(task)
                try:
                    w.conn.send(task[:3])
                except OSError:  # the worker is dead: _collect sees it and resubmits the task
                    pass

    def _collect(self, chunks: dict[int, list], queue: deque) -> None:
        busy = [w for w in self.workers if w.tasks]
        ready = multiprocessing.connection.wait([w.conn for w in busy] + [w.proc.sentinel for w in busy])
        for w in busy:
            try:
                while w.tasks and w.conn.poll():
                    seq, offset, rows = w.conn.recv()
                    chunks[seq][offset:offset + len(rows)] = rows
                    w.tasks.popleft()
            except (EOFError, OSError):
                pass
            if w.proc.sentinel in ready and w.tasks:
                self._replace(w, chunks, queue)

    def _replace(self, dead: _Worker, chunks: dict[int, list], queue: deque) -> None:
        dead.proc.join()
        cause = _death_cause(dead.proc.exitcode, self.timeout)
        (seq, offset, units, isolated), *rest = dead.tasks
        if isolated:
            u = units[0]
            chunks[seq][offset] = [BatchRecord(source=u.source, index=u.index, error=cause).row()]
        queue.extendleft(reversed([(s, o, us, i) for s, o, us, i in rest]))
        if not isolated:
            queue.extendleft(reversed([(seq, offset + k, [u], True) for k, u in enumerate(units)]))
        dead.conn.close()
        self.workers[self.workers.index(dead)] = _Worker(self.ctx, self.diagnoser, self.timeout)

    def close(self) -> None:
        """Stop the workers: politely when idle, at once when the run was cut short."""
        for w in self.workers:
            try:
                w.proc.kill() if w.tasks else w.conn.send(None)
            except OSError:
                pass
        deadline = time.monotonic() + 5
        for w in self.workers:
            w.proc.join(max(0.0, deadline - time.monotonic()))
            if w.proc.is_alive():
                w.proc.kill()
                w.proc.join()
            w.conn.close()


def _death_cause(exitcode: Optional[int], timeout: float) -> str:
    if exitcode == -signal.SIGVTALRM:
        return f"time bound exceeded: the worker was stopped after {timeout * 2 + 1:g} s of CPU time"
    if exitcode is not None and exitcode < 0:
        return f"worker process died on this message (signal {signal.Signals(-exitcode).name})"
    return f"worker process died on this message (exit status {exitcode})"
