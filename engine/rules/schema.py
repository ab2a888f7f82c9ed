"""The pack schema: what a ``pack.toml`` may say, as pydantic models (exported as JSON Schema).

Field validators check each value alone (codes, ids, phrases, names from
:mod:`ndrkb.vocabulary`); :mod:`ndrkb.rules.loading` checks a pack as a whole.
"""
from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from ..read.parsers import STATUS_CODE
from ..vocabulary import (ACTIONS, COMMANDS, FORMS, KINDS, MTA_NAMES, REASON_STEPS, REASONS, Reason, RecipientType, Role,
                          reason_rank)

#: The closed sets a condition's names must come from.
_VOCABULARY = {"reason": REASONS, "mta": MTA_NAMES, "not_mta": MTA_NAMES, "action": ACTIONS, "kind": KINDS, "form": FORMS,
               "not_action": ACTIONS, "command": COMMANDS + ("none",), "not_command": COMMANDS + ("none",),
               "status_name": REASONS + ("none", "unnamed"), "not_status_name": REASONS + ("none", "unnamed")}

Stage = Literal["reason", "infer", "diagnose", "finalize"]
Layer = Literal["fallback", "core", "knowledge", "site"]
#: Salience base of each layer; a rule's own salience (0-99) is added to it, so a
#: specific pack always outranks the core inference, which outranks the fallback.
LAYER_BASE: dict[str, int] = {"fallback": 0, "core": 100, "knowledge": 300, "site": 900}
STAGES: tuple[str, ...] = ("reason", "infer", "diagnose", "finalize")

CODE = STATUS_CODE
_PART = r"(?:[0-9]{1,3}|x|\*)"
_CODE_PATTERN = re.compile(rf"^(?:{CODE}-{CODE}|[245x*]\.{_PART}\.{_PART})$")
_REPLY_PATTERN = re.compile(r"^[245](?:[0-9x][0-9x])$")
_ID = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_RULE_REF = re.compile(r"^[a-z0-9][a-z0-9._-]*/[a-z0-9][a-z0-9._-]*$")
_HOST = re.compile(r"^[a-z0-9.-]*[a-z0-9][a-z0-9.-]*$")
_TOKEN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_EXTENSION = re.compile(r"^x-[a-z0-9][a-z0-9-]*$")
#: Joins the fragments of an ordered phrase: "user … does not exist" occurs when "user "
#: occurs and " does not exist" after it (the spaces beside the mark belong to the fragments).
ORDERED = "…"
#: A pack.toml larger than this is refused unread (packs come from strangers too).


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def code_key(code: str) -> tuple[int, int, int]:
    """``"5.7.12"`` -> ``(5, 7, 12)``."""
    a, b, c = code.split(".")
    return int(a), int(b), int(c)


@functools.lru_cache(maxsize=8192)
def code_matches(pattern: str, code: Optional[str]) -> bool:
    """Whether ``code`` fits a pack code pattern: exact, range ``a-b`` or wildcard ``5.7.*``/``4.x.x``."""
    if not code:
        return False
    if "-" in pattern:
        low, high = pattern.split("-")
        lk, hk, ck = code_key(low), code_key(high), code_key(code)
        return lk[:2] == ck[:2] == hk[:2] and lk <= ck <= hk
    return all(p in ("x", "*", c) for p, c in zip(pattern.split("."), code.split(".")))


def reply_matches(pattern: str, reply: Optional[int]) -> bool:
    """Whether a reply code fits ``550`` or ``5xx``/``55x``."""
    if reply is None:
        return False
    text = str(reply)
    return len(text) == 3 and all(p in ("x", c) for p, c in zip(pattern, text))


class When(_Strict):
    """Conditions of a rule: every key given must hold; a list holds when any item does."""

    status: list[str] = Field(default_factory=list, description="codes, ranges 5.7.700-5.7.749, wildcards 5.7.*")
    reply: list[str] = Field(default_factory=list, description="reply codes: 550, 5xx, 55x")
    token: list[str] = Field(default_factory=list, description="Exchange token prefixes, case-insensitive")
    text: list[str] = Field(default_factory=list, description="phrases, any of them present (case-insensitive); "
                            "'a … b': fragment 'a ' and, after it, ' b'")
    text_all: list[str] = Field(default_factory=list, description="phrases that must all be present")
    not_text: list[str] = Field(default_factory=list, description="phrases that must all be absent")
    mta: list[str] = Field(default_factory=list, description="reporting-system families")
    not_mta: list[str] = Field(default_factory=list, description="reporting-system families the bounce must not "
                               "come from (an unknown family passes)")
    action: list[str] = Field(default_factory=list)
    not_action: list[str] = Field(default_factory=list, description="actions that must not hold")
    kind: list[str] = Field(default_factory=list)
    form: list[str] = Field(default_factory=list, description="how the facts came: 'message' (a report), 'text' "
                            "(pasted NDR text or one reply line), 'listing' (a log or message-trace row)")
    reason: list[str] = Field(default_factory=list, description="the reason decided so far (finalize stage)")
    command: list[str] = Field(default_factory=list, description="the SMTP command the failure answered "
                               "(RCPT, DATA, ...; 'none' when the bounce does not say)")
    not_command: list[str] = Field(default_factory=list, description="SMTP commands the failure must not answer")
    status_name: list[str] = Field(default_factory=list, description="the reason the status table names for the "
                                   "bounce's own code; 'none': no code, 'unnamed': a code the table lacks")
    not_status_name: list[str] = Field(default_factory=list, description="status names that must not hold")
    wording: list[str] = Field(default_factory=list, description="names of the pack's [wording] lists, any of "
                               "whose phrases present")
    not_wording: list[str] = Field(default_factory=list, description="names of [wording] lists whose phrases "
                                   "must all be absent")
    field: dict[str, list[str]] = Field(default_factory=dict, description="the vendor's own fields (X-...) of the "
                                        "recipient's delivery-status block: name -> values, one of which it holds "
                                        "(each name given must hold)")
    rhost: list[str] = Field(default_factory=list, description="host name fragments of a receiving provider "
                             "(lower case): the remote host's name contains one, or one contains the "
                             "recipient's domain")
    has_status: Optional[bool] = None
    has_reply: Optional[bool] = None
    has_text: Optional[bool] = Field(None, description="whether the bounce gives any error text")
    after: list[str] = Field(default_factory=list, description="rule ids (pack/rule) that must have fired")

    @field_validator("status")
    @classmethod
    def _codes(cls, v: list[str]) -> list[str]:
        bad = [c for c in v if not _CODE_PATTERN.match(c)]
        if bad:
            raise ValueError(f"not a status code, range or wildcard: {', '.join(bad)}")
        return v

    @field_validator("reply")
    @classmethod
    def _replies(cls, v: list[str]) -> list[str]:
        bad = [c for c in v if not _REPLY_PATTERN.match(c)]
        if bad:
            raise ValueError(f"not a reply code pattern (550, 5xx): {', '.join(bad)}")
        return v

    @field_validator("token")
    @classmethod
    def _tokens(cls, v: list[str]) -> list[str]:
        bad = [t for t in v if not _TOKEN.match(t)]
        if bad:
            raise ValueError(f"not a token prefix (letters, digits, '.', '_', '-'): {', '.join(map(repr, bad))}")
        return v

    @field_validator("rhost")
    @classmethod
    def _hosts(cls, v: list[str]) -> list[str]:
        bad = [h for h in v if not _HOST.match(h)]
        if bad:
            raise ValueError(f"not a lower-case host name fragment: {', '.join(map(repr, bad))}")
        return v

    @field_validator("after")
    @classmethod
    def _after(cls, v: list[str]) -> list[str]:
        bad = [r for r in v if not _RULE_REF.match(r)]
        if bad:
            raise ValueError(f"not a global rule id 'pack/rule': {', '.join(map(repr, bad))}")
        return v

    @field_validator("field")
    @classmethod
    def _fields(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        bad = [n for n in v if not _EXTENSION.match(n)]
        if bad:
            raise ValueError(f"not a vendor field name (x-..., lower case): {', '.join(map(repr, bad))}")
        if any(not values or any(not x.strip() for x in values) for values in v.values()):
            raise ValueError("a vendor field needs one or more non-empty values")
        return {n: [" ".join(x.lower().split()) for x in values] for n, values in v.items()}

    @field_validator("text", "text_all", "not_text")
    @classmethod
    def _phrases(cls, v: list[str]) -> list[str]:
        if any(not f.strip() for p in v for f in p.split(ORDERED)):
            raise ValueError("empty phrase, or an empty fragment of an ordered phrase ('…')")
        return [" ".join(p.lower().split()) for p in v]

    @field_validator("reason", "mta", "not_mta", "action", "not_action", "kind", "form", "command", "not_command",
                     "status_name", "not_status_name")
    @classmethod
    def _names(cls, v: list[str], info: ValidationInfo) -> list[str]:
        known = _VOCABULARY[info.field_name]
        bad = [r for r in v if r not in known]
        if bad:
            raise ValueError(f"unknown {info.field_name}: {', '.join(map(repr, bad))} (known: {', '.join(known)})")
        return v

    def phrases(self) -> set[str]:
        """Every phrase this condition reads."""
        return set(self.text) | set(self.text_all) | set(self.not_text)


class Then(_Strict):
    """Conclusions of a rule."""

    status: Optional[str] = None
    reason: Optional[Reason] = None
    role: Optional[Role] = None
    cause: Optional[str] = None
    causes: list[str] = Field(default_factory=list, description="possible causes when the text does not decide")
    recipient_type: Optional[RecipientType] = None
    permanent: Optional[bool] = None
    hard_bounce: Optional[bool] = None
    add_remediation: list[str] = Field(default_factory=list, description="remediation ids appended to the answer")
    note: Optional[str] = None

    @field_validator("status")
    @classmethod
    def _status(cls, v: Optional[str]) -> Optional[str]:
        if v is not None and not re.fullmatch(CODE, v):
            raise ValueError(f"not an enhanced status code: {v}")
        return v

    @model_validator(mode="after")
    def _something(self) -> "Then":
        if not any(getattr(self, f) not in (None, []) for f in type(self).model_fields):
            raise ValueError("a rule must conclude something")
        if self.cause and self.causes:
            raise ValueError("give either cause or causes, not both")
        return self


class RuleSpec(_Strict):
    """One rule: conditions, conclusions, order and the source of its knowledge."""

    id: str
    description: str
    salience: int = Field(50, ge=0, le=99)
    reference: str = Field(min_length=4)
    step: Optional[Literal[REASON_STEPS]] = Field(  # type: ignore[valid-type]
        None, description="the step of the reason procedure this rule implements; its reason is then ranked by "
                          "the precedence list (ndrkb.vocabulary.REASON_PROCEDURE), not by a salience")
    when: When = Field(default_factory=When)
    then: Then

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not _ID.match(v):
            raise ValueError("rule id must be lower-case letters, digits, '.', '_' or '-'")
        return v


class CauseSpec(_Strict):
    """A cause in plain words, with advice for the sender and the admin, and its fixes."""

    summary: str
    sender: str = ""
    admin: str = ""
    remediation: list[str] = Field(default_factory=list)
    reference: Optional[str] = None


class RemediationSpec(_Strict):
    """One fix, for one actor, per recipient type where it matters."""

    title: str
    actor: Role
    recipient_types: list[RecipientType] = Field(default_factory=list)
    steps: list[str] = Field(default_factory=list)
    powershell: list[str] = Field(default_factory=list)
    check: list[str] = Field(default_factory=list, description="read-only commands (Get-) showing the current "
                             "value, to run before the change")
    affects: str = Field("", description="what the change affects beyond this sender and recipient")
    notes: list[str] = Field(default_factory=list)


class Expectation(_Strict):
    """What an example's diagnosis must show; only the keys given are checked.

    ``recipient`` picks the recipient (default: the first); ``rules``, ``powershell`` and
    ``remediation`` list items that must all be present; the other keys must be equal.
    """

    recipient: Optional[str] = None
    status: Optional[str] = None
    reply_code: Optional[int] = None
    permanent: Optional[bool] = None
    hard_bounce: Optional[bool] = None
    certain: Optional[bool] = None
    reason: Optional[Reason] = None
    role: Optional[Role] = None
    recipient_type: Optional[RecipientType] = None
    cause: Optional[str] = Field(None, description="cause id, plain or qualified as pack/cause")
    causes: Optional[list[str]] = None
    rules: list[str] = Field(default_factory=list, description="global rule ids that must have fired")
    powershell: list[str] = Field(default_factory=list, description="text every one of which some command holds")
    remediation: list[str] = Field(default_factory=list, description="remediation ids (pack/id) that must be offered")

    @model_validator(mode="after")
    def _something(self) -> "Expectation":
        if not self.model_fields_set - {"recipient"}:
            raise ValueError("an example must expect something besides the recipient")
        return self


class ExampleSpec(_Strict):
    """An example NDR shipped with the pack (a path inside the pack folder) and what it must get."""

    file: str
    expect: Expectation

    @field_validator("file")
    @classmethod
    def _inside(cls, v: str) -> str:
        parts = Path(v).parts
        if not parts or Path(v).is_absolute() or ".." in parts or "\\" in v:
            raise ValueError(f"must be a relative path inside the pack folder: {v!r}")
        return v


class PackMeta(_Strict):
    """The ``[pack]`` table."""

    id: str
    title: str
    version: str = Field(pattern=r"^[0-9]+\.[0-9]+(\.[0-9]+)?$")
    requires: str = Field(">=0.1", description="ndrkb versions this pack works with, e.g. '>=0.1,<2'")
    layer: Layer = "knowledge"
    stage: Stage = "diagnose"
    always: bool = Field(False, description="run for every message (core and fallback packs)")
    codes: list[str] = Field(default_factory=list, description="status codes that dispatch to this pack")
    tokens: list[str] = Field(default_factory=list, description="Exchange token prefixes that dispatch to it")
    description: str = ""

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not _ID.match(v):
            raise ValueError("pack id must be lower-case letters, digits, '.', '_' or '-'")
        return v

    @field_validator("codes")
    @classmethod
    def _codes(cls, v: list[str]) -> list[str]:
        return When._codes(v)

    @field_validator("tokens")
    @classmethod
    def _tokens(cls, v: list[str]) -> list[str]:
        return When._tokens(v)


class PackSpec(_Strict):
    """A whole ``pack.toml``."""

    pack: PackMeta
    rule: list[RuleSpec] = Field(default_factory=list)
    cause: dict[str, CauseSpec] = Field(default_factory=dict)
    remediation: dict[str, RemediationSpec] = Field(default_factory=dict)
    example: list[ExampleSpec] = Field(default_factory=list)
    wording: dict[str, list[str]] = Field(default_factory=dict, description="named phrase lists that rules read "
                                          "with when.wording / when.not_wording")

    @model_validator(mode="before")
    @classmethod
    def _expand_wording(cls, data: object) -> object:
        """A rule's ``when.wording`` / ``when.not_wording`` read as the phrases of those lists."""
        if not isinstance(data, dict) or not isinstance(data.get("rule"), list):
            return data
        lists = data.get("wording") if isinstance(data.get("wording"), dict) else {}
        rules = []
        for rule in data["rule"]:
            when = rule.get("when") if isinstance(rule, dict) else None
            if isinstance(when, dict) and (when.get("wording") or when.get("not_wording")):
                when = dict(when)
                for names, key in ((when.get("wording") or [], "text"), (when.get("not_wording") or [], "not_text")):
                    for name in names if isinstance(names, list) else []:
                        if name not in lists:
                            raise ValueError(f"rule {rule.get('id')}: no [wording] list {name!r} in this pack")
                        when[key] = list(when.get(key) or []) + [p for p in lists[name] if isinstance(p, str)]
                rule = {**rule, "when": when}
            rules.append(rule)
        return {**data, "rule": rules}


class Pack(BaseModel):
    """A validated pack and where it came from."""

    model_config = ConfigDict(frozen=True)

    spec: PackSpec
    path: Path
    origin: str

    @property
    def id(self) -> str:
        return self.spec.pack.id

    @property
    def depends_on(self) -> tuple[str, ...]:
        """Ids of the other packs whose rules this pack's rules follow (``when.after``)."""
        return tuple(sorted({dep.split("/")[0] for r in self.spec.rule for dep in r.when.after} - {self.id}))

    def rule_id(self, rule: RuleSpec) -> str:
        """The global id of a rule: ``<pack>/<rule>``."""
        return f"{self.id}/{rule.id}"

    def salience(self, rule: RuleSpec) -> int:
        """Effective salience: the layer base plus the rule's own."""
        if rule.step is not None and rule.then.reason is not None:
            return LAYER_BASE[self.spec.pack.layer] + 99 - reason_rank(rule.step, rule.then.reason)
        return LAYER_BASE[self.spec.pack.layer] + rule.salience


def pack_json_schema() -> dict:
    """The JSON Schema of ``pack.toml`` (shipped as ``ndrkb/schema/pack.schema.json`` for editors)."""
    schema = PackSpec.model_json_schema()
    schema.update({"$schema": "https://json-schema.org/draft/2020-12/schema",
                   "title": "ndrkb rule pack (pack.toml)"})
    return schema
