"""Batch classification: diagnose every message under the inputs, one record per recipient.

Nothing is lost: every message yields at least one record, and a message that cannot
be read, breaks a parser, exceeds the time bound or kills a worker process becomes an
error record naming the cause; the run goes on.

The parent process only walks the inputs into *units* (:mod:`ndrkb.intake.containers`);
reading, parsing and diagnosis run here (one unit: :func:`unit_records`), in this process
or in worker processes (:mod:`ndrkb.run.pool`), and records come out in input order
whatever the number of workers.
"""
from __future__ import annotations

import logging
import itertools
import multiprocessing
from typing import Any, Callable, Collection, Iterable, Iterator, Optional

from ..errors import InputError
from ..intake.containers import FileId, Unit, iter_units, unit_source
from ..intake.message import read_source
from ..limits import MESSAGE_TIMEOUT_SECONDS
from ..models import BatchRecord
from .deadline import MessageTimeout, handler_held, time_bound

log = logging.getLogger(__name__)

#: Units diagnosed in this process between two hand-overs to the caller.
SERIAL_CHUNK = 16


def records_for(diagnoser, unit: Unit, msg: object) -> list[BatchRecord]:  # type: ignore[no-untyped-def]
    """The records of one message; any failure becomes an error record."""
    if isinstance(msg, InputError):
        return [BatchRecord(source=unit.source, index=unit.index, **unit.place(), error=str(msg))]
    try:
        return diagnoser.classify_message(msg, source=unit.source, index=unit.index, place=unit.place())
    except Exception as exc:  # one bad message never stops a run
        log.debug("diagnosing %s #%d failed", unit.source, unit.index, exc_info=True)
        return [BatchRecord(source=unit.source, index=unit.index, **unit.place(),
                            error=f"internal error: {type(exc).__name__}: {exc}")]


def unit_records(diagnoser, unit: Unit, timeout: float = MESSAGE_TIMEOUT_SECONDS,  # type: ignore[no-untyped-def]
                 hook: Optional[Callable[[Unit], None]] = None) -> list[BatchRecord]:
    """Read and diagnose one unit within ``timeout`` seconds (enforced in the main thread only)."""
    try:
        with time_bound(timeout):
            if hook is not None:
                hook(unit)
            if unit.error is not None:
                msg: object = InputError(unit.error)
            else:
                try:
                    msg = read_source(unit_source(unit), unit.form)
                except InputError as exc:
                    msg = exc
                except Exception as exc:  # (from_bytes reports a broken parser itself): nothing is lost
                    log.debug("reading %s #%d failed", unit.source, unit.index, exc_info=True)
                    msg = InputError(f"internal error while reading: {type(exc).__name__}: {exc}")
            return records_for(diagnoser, unit, msg)
    except MessageTimeout:
        return [BatchRecord(source=unit.source, index=unit.index, **unit.place(),
                            error=f"time bound exceeded: not diagnosed within {timeout:g} s")]


def classify_messages(sources: Iterable[str], diagnoser: Optional[object] = None,
                      **options: Any) -> Iterator[list[BatchRecord]]:
    """The records of every message under ``sources``, one list per message, in input order
    (options: those of :func:`classify_rows`)."""
    for rows in classify_rows(sources, diagnoser, **options):
        yield [BatchRecord.from_row(r) for r in rows]


def classify_rows(sources: Iterable[str], diagnoser: Optional[object] = None, *, workers: int = 1,
                  memoize: bool = True, timeout: float = MESSAGE_TIMEOUT_SECONDS, skip: Collection[FileId] = (),
                  start: int = 0, hook: Optional[Callable[[Unit], None]] = None,
                  empty: Optional[Callable[[str], None]] = None,
                  input_format: Optional[str] = None) -> Iterator[list[tuple]]:
    """The records of every message under ``sources`` as record rows (values in
    ``RECORD_FIELDS`` order), one list per message, in input order: what a writer of JSON
    Lines or CSV needs, without building records.

    ``workers`` > 1 diagnoses in that many processes (where ``fork`` is available; else in
    this process, ``SERIAL_CHUNK`` messages at a time); ``memoize`` False turns inference memoization off (for measurement);
    ``skip``: identities ``(st_dev, st_ino)`` of files not to read (the output file);
    ``start``: messages passed over unread (to resume a run); ``hook``: called with each
    unit before it is read, where it is read (fault injection in tests); ``empty``: told of
    each source that yields no message (:func:`~ndrkb.intake.containers.iter_units`).
    ``input_format`` (``ndrkb.intake.message.INPUT_FORMATS``) says what every input is instead of sniffing.
    """
    if diagnoser is None:
        from .. import default_diagnoser
        from ..diagnoser import Diagnoser

        diagnoser = default_diagnoser() if memoize else Diagnoser(memoize=False)
    elif not memoize:
        from ..diagnoser import Diagnoser

        diagnoser = Diagnoser(packs=diagnoser.packs, memoize=False)  # type: ignore[attr-defined]
    units = itertools.islice(iter_units(sources, skip, empty), start, None)
    if input_format not in (None, "auto"):
        units = (unit._replace(form=input_format) for unit in units)
    if workers <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        while True:  # a few units at a time, the time bound's handler held over them (none between)
            chunk = list(itertools.islice(units, SERIAL_CHUNK))
            if not chunk:
                return
            with handler_held():
                rows = [[r.row() for r in unit_records(diagnoser, unit, timeout, hook)] for unit in chunk]
            yield from rows
    from .pool import Pool  # (the pool runs unit_records: imported here, not at the top)

    pool = Pool(workers, diagnoser, timeout, hook)
    try:
        yield from pool.run(units)
    finally:
        pool.close()


def classify_records(sources: Iterable[str], diagnoser: Optional[object] = None, **options: Any) -> Iterator[BatchRecord]:
    """Records for every message under ``sources``, lazily, in input order (options: those of
    :func:`classify_rows`)."""
    for records in classify_messages(sources, diagnoser, **options):
        yield from records
