"""Batch classification on a Dask cluster, when one machine is not enough.

The client walks the inputs into units (:func:`ndrkb.intake.containers.iter_units`: file paths, or
the bytes of mbox messages), cuts them into partitions and submits one task per
partition; each Dask worker diagnoses its partition with the same per-message code
as a local run (:func:`ndrkb.run.batch.unit_records`, hence :func:`ndrkb.run.batch.records_for`),
and the client yields the records in input order.  Workers read the files
themselves, so they must see the same paths (shared storage).  Install with
``pip install 'ndrkb[dask]'``.
"""
from __future__ import annotations

import functools
import logging
import itertools
from collections import deque
from typing import Iterable, Iterator, Union

from distributed import Client

from ..intake.containers import Unit, iter_units
from .batch import unit_records
from ..models import BatchRecord

#: Messages per Dask task, and tasks in flight per worker thread.
PARTITION_SIZE = 500
TASKS_PER_THREAD = 3

log = logging.getLogger(__name__)


@functools.cache
def _diagnoser(memoize: bool):  # type: ignore[no-untyped-def]
    from .. import default_diagnoser
    from ..diagnoser import Diagnoser

    return default_diagnoser() if memoize else Diagnoser(memoize=False)


def classify_partition(units: list[Unit], memoize: bool = True) -> list[list[tuple]]:
    """Run on a Dask worker: the record rows of each unit (one diagnoser per worker process).

    Dask runs tasks outside the main thread, so the per-message time bound is not
    enforced here; a task that kills its worker is retried by Dask, then its units
    one by one.
    """
    diagnoser = _diagnoser(memoize)
    return [[r.row() for r in unit_records(diagnoser, u)] for u in units]


def classify_dask(sources: Iterable[str], client: Union[Client, str, None] = None, *, memoize: bool = True,
                  partition_size: int = PARTITION_SIZE) -> Iterator[BatchRecord]:
    """Records for every message under ``sources``, computed on a Dask cluster, in input order.

    ``client`` is a :class:`distributed.Client`, a scheduler address
    (``"tcp://scheduler:8786"``), or None for the current default client.
    """
    own = isinstance(client, str)
    dask = Client(client) if own else (client or Client.current())
    window = TASKS_PER_THREAD * max(1, sum(dask.nthreads().values()))
    units = iter_units(sources)
    partitions = iter(lambda: list(itertools.islice(units, partition_size)), [])
    running: deque = deque()
    try:
        for part in itertools.chain(partitions, [None]):
            if part is not None:
                running.append((part, dask.submit(classify_partition, part, memoize, pure=False)))
            while running and (part is None or len(running) >= window):
                done, future = running.popleft()
                for rows in _gather(dask, done, future, memoize):
                    for row in rows:
                        yield BatchRecord.from_row(row)
    finally:
        for _, future in running:
            future.cancel()
        if own:
            dask.close()


def _gather(dask: Client, units: list[Unit], future, memoize: bool) -> list[list[tuple]]:  # type: ignore[no-untyped-def]
    try:
        return future.result()
    except Exception:  # a partition that kills workers: find its message, keep the others
        log.debug("dask partition failed; running its messages one by one", exc_info=True)
    out = []
    for unit in units:
        try:
            out.append(dask.submit(classify_partition, [unit], memoize, pure=False).result()[0])
        except Exception as exc:
            log.debug("dask task failed on %s #%d", unit.source, unit.index, exc_info=True)
            error = f"dask task failed on this message: {type(exc).__name__}: {exc}"
            out.append([BatchRecord(source=unit.source, index=unit.index, **unit.place(), error=error).row()])
    return out


__all__ = ["classify_dask", "classify_partition"]
