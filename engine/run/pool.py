"""The worker pool: processes fed one chunk of units at a time, records back in input order.

A worker that dies is replaced, and the message it died on is found by running the chunk
it held one message at a time; that message becomes an error record naming the cause.
"""
from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import signal
import time
from collections import deque
from typing import Callable, Iterator, Optional

from ..intake.containers import Unit
from ..limits import MAX_MESSAGE_BYTES
from ..models import BatchRecord
from .batch import unit_records
from .deadline import handler_held

#: Messages sent to a worker at a time, and chunks in flight per worker.
CHUNK_SIZE = 64
WINDOW_PER_WORKER = 4
#: Bytes of messages read from a stream (standard input, a pipe) held by the parent at most,
#: whatever the number of workers: a chunk is cut at MAX_MESSAGE_BYTES of them, and no more
#: input is read while this much is waiting or in the workers (file units hold no bytes).
WINDOW_BYTES = 4 * MAX_MESSAGE_BYTES
#: Linux prctl option: the signal a process gets when its parent dies.
_PR_SET_PDEATHSIG = 1


def _die_with_parent(parent: int) -> None:
    """Make this worker die when the parent does, even by SIGKILL (Linux); elsewhere the
    worker sees its parent gone while it waits for work."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # the parent died before the line above
        os._exit(1)


def _worker_main(conn, diagnoser, timeout: float, parent: int,  # type: ignore[no-untyped-def]
                 hook: Optional[Callable[[Unit], None]]) -> None:
    """A worker: receive ``(seq, offset, units)``, send back ``(seq, offset, rows per unit)``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _die_with_parent(parent)
    while True:
        while not conn.poll(1.0):
            if os.getppid() != parent:
                os._exit(1)
        task = conn.recv()
        if task is None:
            return
        seq, offset, units = task
        out = []
        with handler_held():
            for unit in units:
                # Hard bound: a message stuck in C code (where the soft timer cannot interrupt it)
                # gets the process killed by SIGVTALRM after this much CPU time.
                signal.setitimer(signal.ITIMER_VIRTUAL, timeout * 2 + 1 if timeout else 0)
                out.append([r.row() for r in unit_records(diagnoser, unit, timeout, hook)])
        signal.setitimer(signal.ITIMER_VIRTUAL, 0)
        conn.send((seq, offset, out))


def _chunk(units: Iterator[Unit]) -> tuple[list[Unit], int]:
    """The next chunk: ``CHUNK_SIZE`` units, fewer once it holds ``MAX_MESSAGE_BYTES`` of
    stream bytes; and those bytes."""
    chunk, size = [], 0
    for unit in units:
        chunk.append(unit)
        size += len(unit.data or b"")
        if len(chunk) >= CHUNK_SIZE or size >= MAX_MESSAGE_BYTES:
            break
    return chunk, size


class _Worker:
    def __init__(self, ctx, diagnoser, timeout: float, hook):  # type: ignore[no-untyped-def]
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker_main, args=(child, diagnoser, timeout, os.getpid(), hook), daemon=True)
        self.proc.start()
        child.close()
        self.tasks: deque = deque()  # (seq, offset, units, isolated), oldest first


class Pool:
    """Worker processes fed a bounded window of chunks; a dead worker is replaced and its
    message found by running the chunk it held one message at a time."""

    def __init__(self, n: int, diagnoser, timeout: float,  # type: ignore[no-untyped-def]
                 hook: Optional[Callable[[Unit], None]] = None):
        self.ctx = multiprocessing.get_context("fork")
        self.diagnoser, self.timeout, self.hook = diagnoser, timeout, hook
        self.workers = [self._start() for _ in range(n)]

    def _start(self) -> _Worker:
        return _Worker(self.ctx, self.diagnoser, self.timeout, self.hook)

    def run(self, units: Iterator[Unit]) -> Iterator[list[tuple]]:
        """Rows per unit, in input order."""
        window = WINDOW_PER_WORKER * len(self.workers)
        queue: deque = deque()  # tasks not yet sent
        chunks: dict[int, list] = {}  # seq -> rows per unit (None until done)
        held: dict[int, int] = {}  # seq -> bytes of stream messages the chunk holds
        next_seq = next_out = 0
        exhausted = False
        while True:
            while not exhausted and next_seq - next_out < window and sum(held.values()) < WINDOW_BYTES:
                chunk, size = _chunk(units)
                if not chunk:
                    exhausted = True
                    break
                chunks[next_seq], held[next_seq] = [None] * len(chunk), size
                queue.append((next_seq, 0, chunk, False))
                next_seq += 1
            self._dispatch(queue)
            while next_out in chunks and all(r is not None for r in chunks[next_out]):
                del held[next_out]
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
        self.workers[self.workers.index(dead)] = self._start()

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
