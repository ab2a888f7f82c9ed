"""Diagnosis: from a message to facts, through the engine, to a :class:`Diagnosis`.

The one place where intake, facts and inference meet: the API and the CLI call
:meth:`Diagnoser.diagnose_message`; the batch runner calls :meth:`Diagnoser.classify_message`,
which reaches the same conclusions (:func:`conclusions`) without the explanation.
"""
from __future__ import annotations

import logging
from typing import Any, Callable, Mapping, Optional

from . import limits
from .errors import InputError
from .facts.extract import extract, original_message
from .facts.feedback import feedback_facts, is_feedback
from .rules.inference import Inference, Outcome, trace_steps
from .intake.message import InputRecords, Read, Source, read_source
from .intake.parts import Parts, dissect
from .models import (BatchRecord, CauseInfo, Diagnosis, RecipientDiagnosis, RecipientFacts,
                     Remediation, message_fields, recipient_fields)
from .rules.discovery import PackSources
from .run.deadline import MessageTimeout, time_bound
from .rules.dispatch import PackSet
from .rules.loading import load_packs
from .vocabulary import RECIPIENT_TYPES, TYPE_EXPANSION
from .rules.placeholders import REMEDIATION_FIELDS, filler

log = logging.getLogger(__name__)

TYPE_NOT_REVEALED = ("The NDR does not reveal the recipient type; remediation is given for every type "
                     "it could be. Find the type with: Get-Recipient <address> | Format-List "
                     "RecipientTypeDetails")


class Diagnoser:
    """Holds the loaded packs and the engine; reuse one instance for many messages."""

    def __init__(self, packs: Optional[PackSet] = None, sources: PackSources = PackSources(),
                 memoize: bool = True):
        self.packs = packs if packs is not None else load_packs(sources)
        self.inference = Inference(self.packs, memoize=memoize)

    def diagnose(self, source: Source, name: Optional[str] = None, index: int = 0,
                 recipient_type: Optional[str] = None, place: Mapping[str, Any] = {},
                 input_format: Optional[str] = None) -> Diagnosis:
        """Read one input (a path, ``str``, ``bytes`` or message) and diagnose it; input that
        cannot be read, or is not diagnosed within ``limits.MESSAGE_TIMEOUT_SECONDS`` (in the
        main thread, where the timer can interrupt it), gives a diagnosis whose ``error`` says
        why. ``recipient_type``: as for :meth:`diagnose_message`; ``place``: where the message
        was found (``file``, ``mbox_offset``, ``maildir_key``); ``input_format`` says what the
        input is instead of sniffing it."""
        check_recipient_type(recipient_type)
        try:
            with time_bound(limits.MESSAGE_TIMEOUT_SECONDS):
                try:
                    msg = read_source(source, input_format)
                except InputError as exc:
                    return Diagnosis(source=name, index=index, **place, error=str(exc))
                return self.diagnose_message(msg, source=name, index=index, recipient_type=recipient_type,
                                             place=place)
        except MessageTimeout:
            return Diagnosis(source=name, index=index, **place,
                             error=f"time bound exceeded: not diagnosed within {limits.MESSAGE_TIMEOUT_SECONDS:g} s")

    def diagnose_message(self, msg: Read, source: Optional[str] = None,
                         index: int = 0, recipient_type: Optional[str] = None,
                         place: Mapping[str, Any] = {}) -> Diagnosis:
        """Diagnose one message (or pasted text); unreadable input gives an error diagnosis.
        ``recipient_type``, when the asker knows it, narrows the remediation to that type
        (see :meth:`diagnose_facts`)."""
        check_recipient_type(recipient_type)
        diagnosis, facts = self._read(msg, Diagnosis(source=source, index=index, **place))
        if facts:
            diagnosis.recipients = [self.diagnose_facts(f, recipient_type) for f in facts]
        return diagnosis

    def classify_message(self, msg: Read, source: Optional[str] = None,
                         index: int = 0, place: Mapping[str, Any] = {}) -> list[BatchRecord]:
        """The batch records of one message: what :meth:`diagnose_message` concludes, without
        building the explanation and remediation that a record leaves out."""
        diagnosis, facts = self._read(msg, Diagnosis(source=source, index=index, **place))
        message = message_fields(diagnosis)
        if not facts:
            return [BatchRecord(**message, error=diagnosis.error or "no failed recipient found")]
        return [BatchRecord(**message, **recipient_fields(f), **conclusions(f, self.inference.run(f)))
                for f in facts]

    def _read(self, msg: Read, diagnosis: Diagnosis) -> tuple[Diagnosis, list[RecipientFacts]]:
        """The recipient facts of a message, and ``diagnosis`` filled with what the message says
        about itself (or with the error when nothing can be diagnosed)."""
        if isinstance(msg, InputRecords):  # a log or trace: its recipients are listed, not reported
            diagnosis.found = [msg.summary()]
            if not msg.facts:
                diagnosis.error = f"no failed or deferred recipient in the {msg.summary()}"
                return diagnosis, []
            diagnosis.mta = msg.facts[0].mta
            return diagnosis, list(msg.facts)
        try:
            parts = dissect(msg)
            facts, reporting, mta = extract(parts)
        except InputError as exc:
            diagnosis.error = str(exc)
            return diagnosis, []
        except Exception as exc:  # a reader broken by hostile input: an error diagnosis, not a traceback
            log.debug("reader failed", exc_info=True)
            diagnosis.error = f"internal error while reading: {type(exc).__name__}: {exc}"
            return diagnosis, []
        if is_feedback(parts, facts):
            facts = feedback_facts(parts)
        diagnosis.subject, diagnosis.date = parts.subject or None, parts.headers.get("date") or None
        diagnosis.reporting_mta, diagnosis.mta, diagnosis.found = reporting, mta, list(parts.found)
        diagnosis.cuts = list(parts.cuts)
        diagnosis.original = original_message(parts)
        if not facts:
            diagnosis.error = _nothing_found(parts)
        return diagnosis, facts

    def diagnose_facts(self, facts: RecipientFacts, recipient_type: Optional[str] = None) -> RecipientDiagnosis:
        """Run the rules on one recipient's facts and assemble the answer.

        ``recipient_type`` is the asker's answer to "what kind of recipient is it?": the
        remediation is given for that type only, when the NDR reveals no type or one it
        refines (``group`` -> ``m365_group``); a note says so. The concluded
        ``recipient_type`` stays what the rules decided."""
        outcome = self.inference.run(facts)
        d = outcome.decided
        rtype, answer = _consult(d.get("recipient_type"), recipient_type)
        fill = filler(facts, rtype)
        causes = self._causes(outcome, rtype, fill)
        notes = list(outcome.notes)
        remediation = causes[0].remediation if causes else []
        remediation = remediation + self._added(outcome, rtype, fill)
        if answer and any(r.recipient_types for r in remediation):
            notes.append(answer)
        if remediation and any(r.recipient_types for r in remediation) and rtype is None:
            notes.append(TYPE_NOT_REVEALED)
        if causes and not d.get("certain", True):
            notes.append("The bounce does not say which of these causes applies; each is listed with its fix: "
                         + ", ".join(c.id for c in causes))
        covered = sorted({t for r in remediation for t in r.recipient_types})
        return RecipientDiagnosis(
            **conclusions(facts, outcome), certain=d.get("certain", True), cause_info=causes,
            sender_advice=causes[0].sender_advice if causes else "", remediation=remediation,
            recipient_types_covered=covered, notes=notes,
            explanation=trace_steps(outcome.steps, outcome.decided_by), decided_by=dict(outcome.decided_by),
            facts=facts, language=facts.language,
        )

    def _causes(self, outcome: Outcome, rtype: Optional[str], fill: Callable[[str], str]) -> list[CauseInfo]:
        pack_id = outcome.decided.get("cause_pack")
        out = []
        for cid in outcome.decided.get("causes", []):
            spec = self.packs.cause(pack_id, cid)
            rems = [self._remediation(pack_id, rid, fill) for rid in spec.remediation]
            out.append(CauseInfo(id=f"{pack_id}/{cid}", summary=fill(spec.summary), sender_advice=fill(spec.sender),
                                 admin_advice=fill(spec.admin), reference=spec.reference,
                                 remediation=[r for r in rems if _applies(r, rtype)]))
        return out

    def _added(self, outcome: Outcome, rtype: Optional[str], fill: Callable[[str], str]) -> list[Remediation]:
        rems = [self._remediation(pack, rid, fill, added_by=rule) for pack, rid, rule in outcome.added_remediation]
        return [r for r in rems if _applies(r, rtype)]

    def _remediation(self, pack_id: str, rem_id: str, fill: Callable[[str], str],
                     added_by: Optional[str] = None) -> Remediation:
        spec = self.packs.remediation(pack_id, rem_id).model_dump()
        for key in REMEDIATION_FIELDS:
            spec[key] = fill(spec[key]) if isinstance(spec[key], str) else [fill(t) for t in spec[key]]
        return Remediation(id=f"{pack_id}/{rem_id}", pack=pack_id, added_by=added_by, **spec)


def conclusions(facts: RecipientFacts, outcome: Outcome) -> dict[str, Any]:
    """The fields a recipient's diagnosis and its batch record share (the record is exactly these)."""
    d = outcome.decided
    causes = [f"{d.get('cause_pack')}/{cid}" for cid in d.get("causes", [])]
    return dict(recipient=facts.recipient, action=facts.action, status=d.get("status") or facts.status,
                status_inferred=facts.status is None and d.get("status") is not None,
                reply_code=facts.reply_code, permanent=d.get("permanent"), hard_bounce=d.get("hard_bounce"),
                reason=d.get("reason"), role=d.get("role"), recipient_type=d.get("recipient_type"),
                cause=causes[0] if causes else None, causes=causes, rules=[s.rule for s in outcome.steps])


def check_recipient_type(recipient_type: Optional[str]) -> None:
    """Refuse a recipient type that is not one of :data:`~ndrkb.vocabulary.RECIPIENT_TYPES`."""
    if recipient_type is not None and recipient_type not in RECIPIENT_TYPES:
        raise ValueError(f"unknown recipient type {recipient_type!r}; one of: {', '.join(RECIPIENT_TYPES)}")


def _consult(revealed: Optional[str], given: Optional[str]) -> tuple[Optional[str], str]:
    """The recipient type remediation is chosen for, and a note on the asker's answer."""
    if given is None or given == revealed:
        return revealed, ""
    if revealed is None or given in TYPE_EXPANSION.get(revealed, ()):
        return given, f"Remediation is shown for the recipient type you gave: {given}."
    return revealed, (f"The recipient type you gave ({given}) does not fit the NDR, which reveals "
                      f"{revealed}; remediation is shown for {revealed}.")


def _applies(rem: Remediation, rtype: Optional[str]) -> bool:
    if not rem.recipient_types:
        return True
    wanted = TYPE_EXPANSION.get(rtype, (rtype,))
    return any(t in wanted or t == rtype for t in rem.recipient_types)


def _nothing_found(parts: Parts) -> str:
    if not parts.is_message:
        return "no SMTP reply, status code or failed recipient found in the text"
    found = ", ".join(parts.found) or "no report parts"
    return f"not a bounce: no failed recipient or status code found (read: {found})"
