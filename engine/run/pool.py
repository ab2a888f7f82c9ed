"""The worker pool: processes fed one chunk of units at a time, records back in input order.

A worker that dies is replaced, and the message it died on is found by running the chunk
it held one message at a time; that message becomes an error record naming the cause.
"""
from __future__ import annotations

import functools
import multiprocessing
import multiprocessing.connection
import os
import signal
import time
from collections import deque
from typing import Iterator, Optional

from ..intake.containers import Unit
from ..models import BatchRecord
from .batch import unit_records

#: Messages sent to a worker at a time, and chunks in flight per worker.
CHUNK_SIZE = 64
WINDOW_PER_WORKER = 4
#: Test hook, read only by worker processes: ``exit:NAME``, ``hang:NAME`` or ``spin:NAME``
#: makes a worker exit, loop in Python, or loop in C (deaf to signals) on a message whose
#: source contains NAME (tests/test_batch.py).
TEST_HOOK_ENV = "NDRKB_TEST_WORKER_HOOK"


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


class Pool:
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
