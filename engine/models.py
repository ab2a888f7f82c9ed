"""Public data models: the facts rules read, and the diagnosis ndrkb returns.

Everything here is a pydantic model, so every result can be dumped as JSON and its
JSON Schema exported (``Diagnosis.model_json_schema()``).
"""
from __future__ import annotations

from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field

from .vocabulary import Kind, Reason, RecipientType, Role


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
    feedback_type: Optional[str] = None
    origin: dict[str, str] = Field(default_factory=dict, description="field -> where in the input it was read")
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
    cause_info: list[CauseInfo] = Field(default_factory=list, description="one entry per cause in `causes`")
    sender_advice: str = ""
    remediation: list[Remediation] = Field(default_factory=list, description="fixes for the deciding cause")
    recipient_types_covered: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    explanation: list[TraceStep] = Field(default_factory=list)
    decided_by: dict[str, str] = Field(default_factory=dict, description="conclusion -> rule that decided it")
    facts: RecipientFacts
    language: Optional[str] = Field(None, description="language the NDR was written in, when not English")


class Diagnosis(BaseModel):
    """Everything ndrkb concluded about one input message."""

    source: Optional[str] = None
    index: int = 0
    subject: Optional[str] = None
    reporting_mta: Optional[str] = None
    mta: Optional[str] = None
    recipients: list[RecipientDiagnosis] = Field(default_factory=list)
    found: list[str] = Field(default_factory=list, description="what intake found in the input")
    error: Optional[str] = None

    @property
    def ok(self) -> bool:
        """True when at least one recipient was diagnosed."""
        return self.error is None and bool(self.recipients)


class BatchRecord(BaseModel):
    """The DESIGN batch record: one per recipient per message (or per unreadable message).

    The fields, in this order, are the JSON Lines keys and the CSV columns
    (:data:`RECORD_FIELDS`); the first fifteen are the stable core of DESIGN; later ones are
    additions (``language``: the language of a localized NDR).
    """

    source: Optional[str] = None
    index: int = 0
    recipient: Optional[str] = None
    action: Optional[str] = None
    status: Optional[str] = None
    reply_code: Optional[int] = None
    permanent: Optional[bool] = None
    hard_bounce: Optional[bool] = None
    reason: Optional[str] = None
    role: Optional[str] = None
    recipient_type: Optional[str] = None
    cause: Optional[str] = None
    causes: Optional[list[str]] = None
    rules: Optional[list[str]] = None
    error: Optional[str] = None
    language: Optional[str] = None

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
        if not diagnosis.recipients:
            return [cls(source=diagnosis.source, index=diagnosis.index,
                        error=diagnosis.error or "no failed recipient found")]
        return [
            cls(source=diagnosis.source, index=diagnosis.index,
                **{f: getattr(r, f) for f in RECORD_FIELDS if f not in ("source", "index", "error")})
            for r in diagnosis.recipients
        ]


#: The record's fields in output order: JSON Lines keys and CSV columns.
RECORD_FIELDS: tuple[str, ...] = tuple(BatchRecord.model_fields)
