"""The time bound of one message: a real-time timer that interrupts Python code.

Used by batch runs (per message) and by single diagnoses (``ndrkb diagnose``/``explain``,
``ndrkb.diagnose()``). A caller's own ``ITIMER_REAL`` is kept: when it is due first it is
left to fire, and otherwise it is re-armed with what remains of it afterwards.

Installing a signal handler costs ~12 us here, twice per bound; a run of bounds inside
:func:`handler_held` (a batch's messages) leaves the handler installed between them, so
each bound costs only its timer calls.
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


def _expire(signum: int, frame: object) -> None:
    raise MessageTimeout()


def _unbounded() -> bool:
    return threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer")


@contextmanager
def handler_held() -> Iterator[None]:
    """Keep the time bound's ``SIGALRM`` handler installed over the block (the old one back
    after it). Only where no caller's timer is armed, as that one's handler must stay: the
    block must then arm none of its own but through :func:`time_bound`."""
    if _unbounded() or signal.getitimer(signal.ITIMER_REAL)[0]:
        yield
        return
    previous = signal.signal(signal.SIGALRM, _expire)
    try:
        yield
    finally:
        signal.signal(signal.SIGALRM, previous)


@contextmanager
def time_bound(seconds: float) -> Iterator[None]:
    """Raise :class:`MessageTimeout` in the block after ``seconds`` of real time (main thread
    only, where signals arrive; elsewhere, or with ``seconds`` 0, no bound)."""
    if not seconds or _unbounded():
        yield
        return
    caller_delay, caller_interval = signal.getitimer(signal.ITIMER_REAL)
    if caller_delay and caller_delay <= seconds:  # the caller's alarm comes first: leave it be
        yield
        return
    started = time.monotonic()
    previous = signal.getsignal(signal.SIGALRM)
    held = previous is _expire  # inside handler_held: nothing to install or restore
    if not held:
        signal.signal(signal.SIGALRM, _expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        if not held:
            signal.signal(signal.SIGALRM, previous)
        if caller_delay:
            left = caller_delay - (time.monotonic() - started)
            signal.setitimer(signal.ITIMER_REAL, max(left, 1e-6), caller_interval)
