"""ndrkb: an expert-system knowledge base for email non-delivery reports.

>>> from ndrkb import diagnose
>>> d = diagnose("550 5.7.133 RESOLVER.RST.SenderNotAuthenticatedForGroup; authentication required")
>>> d.recipients[0].role
'recipient_admin'
"""
from __future__ import annotations

__version__ = "0.1.0"

import functools
from typing import Iterable, Iterator, Optional

from .errors import InputError, NdrkbError, PackError
from .models import BatchRecord, Diagnosis, RecipientDiagnosis, RecipientFacts


def default_diagnoser():  # type: ignore[no-untyped-def]
    """The shared :class:`~ndrkb.diagnoser.Diagnoser` with the built-in and installed packs and
    those ``NDRKB_PACKS`` names now (one per distinct setting, built on first use)."""
    from .rules.discovery import PackSources

    return _shared_diagnoser(PackSources.from_environment())


@functools.cache
def _shared_diagnoser(sources):  # type: ignore[no-untyped-def]
    from .diagnoser import Diagnoser

    return Diagnoser(sources=sources)


def diagnose(source, *, source_name: Optional[str] = None,  # type: ignore[no-untyped-def]
             recipient_type: Optional[str] = None, input_format: Optional[str] = None) -> Diagnosis:
    """Diagnose one bounce: a path, ``str``/``bytes`` (message, pasted NDR text, one reply
    line, MTA log lines, a message-trace export or tracking log, Get-MessageTraceDetail text)
    or an ``email.message.Message``; which of these it is, is sniffed (``input_format``:
    ``message``, ``text``, ``log``, ``table`` or ``trace-detail`` overrides).  Unreadable input
    gives a diagnosis whose ``error`` says what could not be read; it never raises for bad
    input.  A broken or incompatible installed pack raises :class:`PackError` (a configuration problem).
    ``recipient_type`` (one of ``ndrkb.vocabulary.RECIPIENT_TYPES``; else :class:`ValueError`)
    narrows the remediation to that kind of recipient when the NDR does not reveal it."""
    name = source_name if source_name is not None else _name_of(source)
    return default_diagnoser().diagnose(source, name=name, recipient_type=recipient_type, input_format=input_format)


def classify(sources: Iterable[str], **options) -> Iterator[BatchRecord]:  # type: ignore[no-untyped-def]
    """Yield batch records (docs/records.md), lazily, for files, folders, mboxes and Maildirs (and
    logs and message traces: one record per failed or deferred recipient); ``input_format`` as
    for :func:`diagnose`."""
    from .run.batch import classify_records

    yield from classify_records(sources, **options)


def _name_of(source) -> Optional[str]:  # type: ignore[no-untyped-def]
    import os

    if isinstance(source, os.PathLike):
        return os.fspath(source)
    if isinstance(source, str) and "\n" not in source and len(source) < 4096:
        try:
            if os.path.isfile(source):
                return source
        except (OSError, ValueError):
            return None
    return None


__all__ = ["diagnose", "classify", "Diagnosis", "RecipientDiagnosis", "RecipientFacts", "BatchRecord",
           "NdrkbError", "InputError", "PackError", "__version__"]
