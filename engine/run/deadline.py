"""The time bound of one message: a real-time timer that interrupts Python code.

Used by batch runs (per message) and by single diagnoses (``ndrkb diagnose``/``explain``,
``ndrkb.diagnose()``). A caller's own ``ITIMER_REAL`` is kept: when it is due first it is
left to fire, and otherwise it is re-armed with what remains of it afterwards.
"""
from __future__ import annotations

import signal
import threading
import time
from contextlib import contextmanager
from typing import Iterator


class MessageTimeout(BaseException):
    """Raised inside a message's processing when it exceeds the time bound (not an ``Exception``,
    so no handler on the way swallows it)."""


@contextmanager
def time_bound(seconds: float) -> Iterator[None]:
    """Raise :class:`MessageTimeout` in the block after ``seconds`` of real time (main thread
    only, where signals arrive; elsewhere, or with ``seconds`` 0, no bound)."""
    if not seconds or threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return
    caller_delay, caller_interval = signal.getitimer(signal.ITIMER_REAL)
    if caller_delay and caller_delay <= seconds:  # the caller's alarm comes first: leave it be
        yield
        return

    def expire(signum: int, frame: object) -> None:
        raise MessageTimeout()

    started = time.monotonic()
    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if caller_delay:
            left = caller_delay - (time.monotonic() - started)
            signal.setitimer(signal.ITIMER_REAL, max(left, 1e-6), caller_interval)
