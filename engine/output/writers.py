"""Record writers: one per output format of ``ndrkb classify``, chosen by name.

A writer takes record rows (values in :data:`~ndrkb.models.RECORD_FIELDS` order, as the
batch runner yields them) and writes them to a text stream.  Adding an output format is
adding a class here and an entry in :data:`WRITERS`; ``--format`` offers every entry.
"""
from __future__ import annotations

import csv
import json
from typing import Protocol, TextIO

from ..models import RECORD_FIELDS


class RecordWriter(Protocol):
    """Writes record rows to the stream it was made with (a header, if any, at creation)."""

    def __init__(self, fh: TextIO) -> None: ...

    def write(self, row: tuple) -> None: ...


class JsonLinesWriter:
    """JSON Lines: one object per record per line (the batch record of docs/records.md)."""

    def __init__(self, fh: TextIO):
        self.fh = fh

    def write(self, row: tuple) -> None:
        self.fh.write(json.dumps(dict(zip(RECORD_FIELDS, row)), ensure_ascii=False) + "\n")


class CsvWriter:
    """CSV: a header row, then one row per record, the same columns; lists joined with ';'."""

    def __init__(self, fh: TextIO):
        self.writer = csv.writer(fh)
        self.writer.writerow(RECORD_FIELDS)

    def write(self, row: tuple) -> None:
        self.writer.writerow([_cell(v) for v in row])


def _cell(value: object) -> object:
    """A CSV cell: lists joined with ';', booleans as JSON writes them (true, false), null empty."""
    if isinstance(value, list):
        return ";".join(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


#: Output format name -> writer; the first is the default, each class's docstring its help.
WRITERS: dict[str, type[RecordWriter]] = {
    "jsonl": JsonLinesWriter,
    "csv": CsvWriter,
}
