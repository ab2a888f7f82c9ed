"""Batch classification: walk inputs, diagnose every message, yield one record per recipient.

Nothing is lost: every message yields at least one record, and a message that cannot
be read (or breaks a parser) becomes an error record naming the cause.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Iterable, Iterator, Optional, Union

from .errors import InputError
from .intake import InputText, from_bytes, is_maildir, is_mbox, iter_container, read_source
from .limits import MAX_MESSAGE_BYTES
from .models import BatchRecord

Item = tuple[str, int, Union[object, InputError]]


def iter_inputs(sources: Iterable[str]) -> Iterator[Item]:
    """(source, index, message-or-error) for every message under the given paths (``-``: stdin)."""
    for src in sources:
        if src == "-":
            data = sys.stdin.buffer.read(MAX_MESSAGE_BYTES + 1)
            try:
                yield "-", 0, from_bytes(data)
            except InputError as exc:
                yield "-", 0, exc
            continue
        path = Path(src)
        if not path.exists():
            yield src, 0, InputError(f"no such file or folder: {src}")
        elif is_maildir(path):
            for index, msg in iter_container(path):
                yield src, index, msg
        elif path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs.sort()
                sub = Path(root)
                if sub != path and is_maildir(sub):
                    dirs[:] = []
                    yield from ((str(sub), i, m) for i, m in iter_container(sub))
                    continue
                for name in sorted(files):
                    yield from iter_inputs([str(sub / name)])
        elif is_mbox(path):
            for index, msg in iter_container(path):
                yield src, index, msg
        else:
            try:
                yield src, 0, read_source(path)
            except InputError as exc:
                yield src, 0, exc


def records_for(diagnoser, source: str, index: int, msg: object) -> list[BatchRecord]:  # type: ignore[no-untyped-def]
    """The records of one message; any failure becomes an error record."""
    if isinstance(msg, InputError):
        return [BatchRecord(source=source, index=index, error=str(msg))]
    try:
        diagnosis = diagnoser.diagnose_message(msg, source=source, index=index)
    except Exception as exc:  # one bad message never stops a run
        return [BatchRecord(source=source, index=index, error=f"internal error: {type(exc).__name__}: {exc}")]
    return BatchRecord.from_diagnosis(diagnosis)


def classify_records(sources: Iterable[str], diagnoser: Optional[object] = None) -> Iterator[BatchRecord]:
    """Records for every message under ``sources``, in input order."""
    if diagnoser is None:
        from . import default_diagnoser

        diagnoser = default_diagnoser()
    for source, index, msg in iter_inputs(sources):
        yield from records_for(diagnoser, source, index, msg)
