"""Public data models: the facts rules read, and the diagnosis ndrkb returns.

Everything here is a pydantic model, so every result can be dumped as JSON and its
JSON Schema exported (``Diagnosis.model_json_schema()``).
"""
from __future__ import annotations

from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field

from .vocabulary import Form, Kind, Reason, RecipientType, Role


class RecipientFacts(BaseModel):
    """What the input says about one recipient: the one schema every rule reads."""

    model_config = ConfigDict(frozen=True)

    recipient: Optional[str] = None
    original_recipient: Optional[str] = None
    action: Optional[str] = None
    status: Optional[str] = Field(None, description="RFC 3463 enhanced status code as given in the input")
    reply_code: Optional[int] = None
    token: Optional[str] = Field(None, description="Exchange component token, e.g. RESOLVER.RST.NotAuthorized")
    diagnostic: str = ""
    command: Optional[str] = Field(None, description="SMTP command the failure followed (RCPT, DATA, ...)")
    remote_mta: Optional[str] = None
    reporting_mta: Optional[str] = None
    mta: Optional[str] = Field(None, description="family of the reporting system, e.g. exchange-online, postfix")
    kind: Kind = "bounce"
    form: Form = Field("message", description="how the facts came: message, pasted text or a listing's row")
    feedback_type: Optional[str] = None
    origin: dict[str, str] = Field(default_factory=dict, description="field -> where in the input it was read")
    extensions: dict[str, str] = Field(default_factory=dict, description="the vendor's own fields (X-...) of the "
                                       "recipient's delivery-status block, e.g. x-powermta-bouncecategory: "
                                       "name -> value, both lower case")
    language: Optional[str] = Field(None, description="language of a localized NDR's text (de, fr, ja, ...); "
                                                      "None for English or when no localized line was read")


class Remediation(BaseModel):
    """One way to fix the problem, for one actor and the recipient types it applies to."""

    id: str
    title: str
    actor: Role
    recipient_types: list[str] = Field(default_factory=list, description="empty: any type")
    steps: list[str] = Field(default_factory=list, description="admin-center or client steps")
    powershell: list[str] = Field(default_factory=list)
    check: list[str] = Field(default_factory=list, description="read-only commands to run first: the current value")
    affects: str = Field("", description="what the change affects beyond this sender and recipient")
    notes: list[str] = Field(default_factory=list)
    pack: str
    added_by: Optional[str] = Field(None, description="rule that added this remediation (site overrides)")


class CauseInfo(BaseModel):
    """A cause in plain words, with advice per actor and its remediations."""

    id: str
    summary: str
    sender_advice: str = ""
    admin_advice: str = ""
    remediation: list[Remediation] = Field(default_factory=list)
    reference: Optional[str] = None


class TraceStep(BaseModel):
    """One fired rule: what it matched, what it concluded, where its knowledge comes from."""

    seq: int
    stage: str
    rule: str
    pack: str
    salience: int
    description: str
    matched: dict[str, Any]
    concluded: dict[str, Any]
    reference: str
    won: list[str] = Field(default_factory=list, description="conclusions of this step that were kept")


class RecipientDiagnosis(BaseModel):
    """The diagnosis for one failed (or reported) recipient."""

    recipient: Optional[str] = None
    action: Optional[str] = None
    status: Optional[str] = None
    reply_code: Optional[int] = None
    permanent: Optional[bool] = None
    hard_bounce: Optional[bool] = None
    reason: Optional[Reason] = None
    role: Optional[Role] = None
    recipient_type: Optional[RecipientType] = None
    cause: Optional[str] = None
    causes: list[str] = Field(default_factory=list)
    certain: bool = Field(True, description="false when the input does not decide between several causes")
    rules: list[str] = Field(default_factory=list, description="fired rule ids in order")
    status_inferred: bool = Field(False, description="true when the bounce gives no status code and `status` "
                                                     "was inferred from its reply code and wording")
    cause_info: list[CauseInfo] = Field(default_factory=list, description="one entry per cause in `causes`")
    sender_advice: str = ""
    remediation: list[Remediation] = Field(default_factory=list, description="fixes for the deciding cause")
    recipient_types_covered: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    explanation: list[TraceStep] = Field(default_factory=list)
    decided_by: dict[str, str] = Field(default_factory=dict, description="conclusion -> rule that decided it")
    facts: RecipientFacts
    language: Optional[str] = Field(None, description="language the NDR was written in, when not English")


class OriginalMessage(BaseModel):
    """What the bounce says about the message that bounced (its returned headers)."""

    sender: Optional[str] = Field(None, description="its sender's address (returned From, else the bounce's To)")
    subject: Optional[str] = None
    message_id: Optional[str] = None


class Diagnosis(BaseModel):
    """Everything ndrkb concluded about one input message."""

    source: Optional[str] = None
    index: int = 0
    subject: Optional[str] = Field(None, description="the bounce's own subject")
    reporting_mta: Optional[str] = None
    mta: Optional[str] = None
    recipients: list[RecipientDiagnosis] = Field(default_factory=list)
    found: list[str] = Field(default_factory=list, description="what intake found in the input")
    cuts: list[str] = Field(default_factory=list, description="what was cut to keep within ndrkb's input bounds")
    error: Optional[str] = None
    date: Optional[str] = Field(None, description="the bounce's Date header")
    original: OriginalMessage = Field(default_factory=OriginalMessage)
    file: Optional[str] = Field(None, description="the file read: the input file, the mbox, or the Maildir message "
                                                  "(null for a stream)")
    mbox_offset: Optional[int] = Field(None, description="byte offset in its mbox file where the message starts "
                                                         "(after its From_ line)")
    maildir_key: Optional[str] = Field(None, description="the message's key in its Maildir")

    @property
    def ok(self) -> bool:
        """True when at least one recipient was diagnosed."""
        return self.error is None and bool(self.recipients)


class BatchRecord(BaseModel):
    """The batch record: one per recipient per message (or per unreadable message).

    The fields, in this order, are the JSON Lines keys and the CSV columns
    (:data:`RECORD_FIELDS`). The first fifteen, ``source`` to ``error``, are the stable core
    (names, order and meaning never change); the fields after them were added later
    (``language``: the language of a localized NDR).
    """

    source: Optional[str] = Field(None, description="the input path given (the mbox or Maildir folder for a "
                                                    "message inside one; - for stdin)")
    index: int = Field(0, description="the message's position in its input (0 for a plain file)")
    recipient: Optional[str] = None
    action: Optional[str] = Field(None, description="RFC 3464 action: failed, delayed, delivered, relayed, expanded")
    status: Optional[str] = Field(None, description="RFC 3463 enhanced status code (see status_inferred)")
    reply_code: Optional[int] = Field(None, description="SMTP reply code")
    permanent: Optional[bool] = None
    hard_bounce: Optional[bool] = Field(None, description="the address itself is dead: remove it from lists")
    reason: Optional[str] = Field(None, description="bounce reason, in Sisimai's names")
    role: Optional[str] = Field(None, description="who must act: sender, sender_admin, recipient_admin, none")
    recipient_type: Optional[str] = None
    cause: Optional[str] = Field(None, description="the deciding cause, <pack>/<cause id>")
    causes: Optional[list[str]] = Field(None, description="every cause the bounce leaves open, the deciding first")
    rules: Optional[list[str]] = Field(None, description="fired rule ids in order")
    error: Optional[str] = Field(None, description="why the message could not be diagnosed; null when it was")
    # -- added after the stable core --
    status_inferred: Optional[bool] = Field(None, description="true: the bounce gives no status code and "
                                                              "`status` was inferred from its reply and wording")
    sender: Optional[str] = Field(None, description="the original message's sender (returned From, else the "
                                                    "bounce's To)")
    sender_domain: Optional[str] = None
    recipient_domain: Optional[str] = None
    subject: Optional[str] = Field(None, description="the original message's subject (returned headers)")
    message_id: Optional[str] = Field(None, description="the original message's Message-ID (returned headers)")
    date: Optional[str] = Field(None, description="the bounce's Date header, as written")
    diagnostic: Optional[str] = Field(None, description="the server's diagnostic text for this recipient")
    reporting_mta: Optional[str] = Field(None, description="the system that wrote the bounce")
    remote_mta: Optional[str] = Field(None, description="the remote host that refused the message")
    command: Optional[str] = Field(None, description="the SMTP command the failure followed (RCPT, DATA, ...)")
    feedback_type: Optional[str] = Field(None, description="the feedback type of a complaint report (abuse, ...)")
    file: Optional[str] = Field(None, description="the file read: the input file, the mbox, or the Maildir message "
                                                  "(null for a stream)")
    mbox_offset: Optional[int] = Field(None, description="byte offset in its mbox file where the message starts "
                                                         "(after its From_ line)")
    maildir_key: Optional[str] = Field(None, description="the message's key in its Maildir")
    language: Optional[str] = Field(None, description="the language of a localized NDR (de, fr, ja, ...); null "
                                                      "for English or unknown")
    cuts: Optional[list[str]] = Field(None, description="what was cut from the message to keep within ndrkb's "
                                                        "input bounds (size, lines, parts, text, recipients); null: nothing")

    def row(self) -> tuple:
        """The values in ``RECORD_FIELDS`` order: how records cross process boundaries."""
        return tuple(getattr(self, f) for f in RECORD_FIELDS)

    @classmethod
    def from_row(cls, row: tuple) -> "BatchRecord":
        """The record of a :meth:`row` (made by this code from a validated record: not validated again)."""
        return cls.model_construct(**dict(zip(RECORD_FIELDS, row)))

    @classmethod
    def from_diagnosis(cls, diagnosis: Diagnosis) -> list["BatchRecord"]:
        """Flatten a diagnosis into records (one error record when nothing was diagnosed)."""
        message = message_fields(diagnosis)
        if not diagnosis.recipients:
            return [cls(**message, error=diagnosis.error or "no failed recipient found")]
        return [cls(**message, **recipient_fields(r.facts),
                    **{f: getattr(r, f) for f in CONCLUSION_FIELDS})
                for r in diagnosis.recipients]


#: The record's fields in output order: JSON Lines keys and CSV columns.
RECORD_FIELDS: tuple[str, ...] = tuple(BatchRecord.model_fields)
#: The record fields a recipient's diagnosis concludes (the rest say where the message came from).
CONCLUSION_FIELDS = ("recipient", "action", "status", "reply_code", "permanent", "hard_bounce", "reason", "role",
                     "recipient_type", "cause", "causes", "rules", "status_inferred")


def message_fields(d: Diagnosis) -> dict[str, Any]:
    """The record fields every recipient of a message shares."""
    sender = d.original.sender
    return dict(source=d.source, index=d.index, file=d.file, mbox_offset=d.mbox_offset, maildir_key=d.maildir_key,
                sender=sender, sender_domain=domain_of(sender), subject=d.original.subject,
                message_id=d.original.message_id, date=d.date, cuts=d.cuts or None)


def recipient_fields(f: RecipientFacts) -> dict[str, Any]:
    """The record fields read from one recipient's facts (beside what the rules concluded)."""
    return dict(recipient_domain=domain_of(f.recipient), diagnostic=f.diagnostic or None,
                reporting_mta=f.reporting_mta, remote_mta=f.remote_mta, command=f.command,
                feedback_type=f.feedback_type, language=f.language)


def domain_of(address: Optional[str]) -> Optional[str]:
    """The domain of an address, lower case; None without one."""
    return address.rpartition("@")[2].lower() or None if address and "@" in address else None
