"""Rule packs: the declarative schema, loading and validation, and dispatch by code.

A pack is a folder holding ``pack.toml`` (and usually ``examples/``).  Loading a pack
reads data only: nothing in it is imported, evaluated or executed.  Every problem is
reported with the file, the rule and what is wrong (:class:`~ndrkb.errors.PackError`).
"""
from __future__ import annotations

import importlib.resources
import re
import sys
from pathlib import Path
from typing import Iterable, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import PackError
from .models import REASONS, RECIPIENT_TYPES, ROLES, Reason, RecipientType, Role

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

BUILTIN_DIR = Path(str(importlib.resources.files("ndrkb.kb")))

Stage = Literal["infer", "diagnose", "finalize"]
Layer = Literal["fallback", "core", "knowledge", "site"]
#: Salience base of each layer; a rule's own salience (0-99) is added to it, so a
#: specific pack always outranks the core inference, which outranks the fallback.
LAYER_BASE: dict[str, int] = {"fallback": 0, "core": 100, "knowledge": 300, "site": 900}
STAGES: tuple[str, ...] = ("infer", "diagnose", "finalize")

_CODE = r"[245]\.[0-9]{1,3}\.[0-9]{1,3}"
_PART = r"(?:[0-9]{1,3}|x|\*)"
_CODE_PATTERN = re.compile(rf"^(?:{_CODE}-{_CODE}|[245x*]\.{_PART}\.{_PART})$")
_REPLY_PATTERN = re.compile(r"^[245](?:[0-9x][0-9x])$")
_ID = re.compile(r"^[a-z0-9][a-z0-9._-]*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def code_key(code: str) -> tuple[int, int, int]:
    """``"5.7.12"`` -> ``(5, 7, 12)``."""
    a, b, c = code.split(".")
    return int(a), int(b), int(c)


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
    text: list[str] = Field(default_factory=list, description="phrases, any of them present (case-insensitive)")
    text_all: list[str] = Field(default_factory=list, description="phrases that must all be present")
    not_text: list[str] = Field(default_factory=list, description="phrases that must all be absent")
    mta: list[str] = Field(default_factory=list, description="reporting-system families")
    action: list[str] = Field(default_factory=list)
    kind: list[str] = Field(default_factory=list)
    reason: list[str] = Field(default_factory=list, description="the reason decided so far (finalize stage)")
    has_status: Optional[bool] = None
    has_reply: Optional[bool] = None
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

    @field_validator("text", "text_all", "not_text")
    @classmethod
    def _phrases(cls, v: list[str]) -> list[str]:
        if any(not p.strip() for p in v):
            raise ValueError("empty phrase")
        return [" ".join(p.lower().split()) for p in v]

    @field_validator("reason")
    @classmethod
    def _reasons(cls, v: list[str]) -> list[str]:
        bad = [r for r in v if r not in REASONS]
        if bad:
            raise ValueError(f"unknown reason: {', '.join(bad)}")
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
        if v is not None and not re.fullmatch(_CODE, v):
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
    notes: list[str] = Field(default_factory=list)


class ExampleSpec(_Strict):
    """An example NDR shipped with the pack and the diagnosis it must get."""

    file: str
    expect: dict[str, object]

    @field_validator("expect")
    @classmethod
    def _keys(cls, v: dict[str, object]) -> dict[str, object]:
        allowed = {"recipient", "status", "reply_code", "permanent", "hard_bounce", "reason", "role",
                   "recipient_type", "cause", "causes", "rules", "powershell", "certain"}
        bad = sorted(set(v) - allowed)
        if bad:
            raise ValueError(f"unknown expectation keys: {', '.join(bad)}")
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


class PackSpec(_Strict):
    """A whole ``pack.toml``."""

    pack: PackMeta
    rule: list[RuleSpec] = Field(default_factory=list)
    cause: dict[str, CauseSpec] = Field(default_factory=dict)
    remediation: dict[str, RemediationSpec] = Field(default_factory=dict)
    example: list[ExampleSpec] = Field(default_factory=list)


class Pack(BaseModel):
    """A validated pack and where it came from."""

    model_config = ConfigDict(frozen=True)

    spec: PackSpec
    path: Path
    origin: str

    @property
    def id(self) -> str:
        return self.spec.pack.id

    def rule_id(self, rule: RuleSpec) -> str:
        """The global id of a rule: ``<pack>/<rule>``."""
        return f"{self.id}/{rule.id}"

    def salience(self, rule: RuleSpec) -> int:
        """Effective salience: the layer base plus the rule's own."""
        return LAYER_BASE[self.spec.pack.layer] + rule.salience


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"[0-9]+", text)[:3])


def version_satisfies(version: str, requirement: str) -> bool:
    """Whether ``version`` meets a comma-separated requirement such as ``>=0.1,<2``."""
    have = _version_tuple(version)
    for clause in filter(None, (c.strip() for c in requirement.split(","))):
        m = re.fullmatch(r"(>=|<=|==|!=|>|<)\s*([0-9]+(?:\.[0-9]+){0,2})", clause)
        if not m:
            raise ValueError(f"cannot read version requirement {clause!r}")
        op, want = m.group(1), _version_tuple(m.group(2))
        width = max(len(have), len(want))
        a, b = have + (0,) * (width - len(have)), want + (0,) * (width - len(want))
        ok = {">=": a >= b, "<=": a <= b, "==": a == b, "!=": a != b, ">": a > b, "<": a < b}[op]
        if not ok:
            return False
    return True


def _line_of(text: str, needle: str) -> Optional[int]:
    idx = text.find(needle)
    return text.count("\n", 0, idx) + 1 if idx >= 0 else None


def read_pack(folder: Path, origin: str = "path") -> Pack:
    """Read and validate one pack folder; raise :class:`PackError` listing every problem."""
    from . import __version__

    path = folder / "pack.toml"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PackError([f"{path}: cannot read: {exc.strerror or exc}"]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PackError([f"{path}: not valid TOML: {exc}"]) from None
    problems = []
    try:
        spec = PackSpec.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            loc = err["loc"]
            where = ""
            if len(loc) >= 2 and loc[0] == "rule" and isinstance(loc[1], int):
                rules = data.get("rule") or []
                rid = rules[loc[1]].get("id", f"#{loc[1] + 1}") if loc[1] < len(rules) and \
                    isinstance(rules[loc[1]], dict) else f"#{loc[1] + 1}"
                line = _line_of(text, f'"{rid}"')
                where = f"{':' + str(line) if line else ''}: rule {rid}"
                field = ".".join(str(p) for p in loc[2:])
            else:
                field = ".".join(str(p) for p in loc)
            problems.append(f"{path}{where}: {field or 'pack'}: {err['msg']}")
        raise PackError(problems) from None
    problems.extend(_check_references(spec, path, text))
    try:
        if not version_satisfies(__version__, spec.pack.requires):
            problems.append(f"{path}: pack {spec.pack.id} requires ndrkb {spec.pack.requires}, "
                            f"this is ndrkb {__version__}")
    except ValueError as exc:
        problems.append(f"{path}: pack.requires: {exc}")
    for ex in spec.example:
        if not (folder / ex.file).is_file():
            problems.append(f"{path}: example file not found: {ex.file}")
    if problems:
        raise PackError(problems)
    return Pack(spec=spec, path=folder, origin=origin)


def _check_references(spec: PackSpec, path: Path, text: str) -> list[str]:
    problems = []
    seen: set[str] = set()
    for rule in spec.rule:
        line = _line_of(text, f'"{rule.id}"')
        where = f"{path}{':' + str(line) if line else ''}: rule {rule.id}"
        if rule.id in seen:
            problems.append(f"{where}: duplicate rule id")
        seen.add(rule.id)
        for cause in ([rule.then.cause] if rule.then.cause else []) + list(rule.then.causes):
            if cause not in spec.cause:
                problems.append(f"{where}: then.cause: no [cause.{cause}] in this pack")
        for rem in rule.then.add_remediation:
            if rem not in spec.remediation:
                problems.append(f"{where}: then.add_remediation: no [remediation.{rem}] in this pack")
        if spec.pack.stage != "infer" and rule.then.status:
            problems.append(f"{where}: then.status: only packs of stage 'infer' may conclude a status")
        if not (rule.reference.startswith(("http://", "https://")) or re.match(r"^RFC ?[0-9]+", rule.reference)):
            problems.append(f"{where}: reference: must be a URL or an RFC number")
    for cid, cause in spec.cause.items():
        for rem in cause.remediation:
            if rem not in spec.remediation:
                problems.append(f"{path}: cause {cid}: remediation {rem!r} is not defined in this pack")
    if spec.pack.layer == "knowledge" and not spec.pack.always and not (spec.pack.codes or spec.pack.tokens):
        problems.append(f"{path}: pack {spec.pack.id}: declares no codes or tokens to be dispatched by")
    return problems


def discover(extra: Iterable[Path] = ()) -> list[tuple[Path, str]]:
    """Pack folders in precedence order: built-in, entry points, then extra folders."""
    import os
    from importlib.metadata import entry_points

    found: list[tuple[Path, str]] = []
    for folder in sorted(p for p in BUILTIN_DIR.iterdir() if (p / "pack.toml").is_file()):
        found.append((folder, "builtin"))
    for ep in sorted(entry_points(group="ndrkb.packs"), key=lambda e: e.name):
        # The entry point names a package that holds pack folders: it is located, never imported.
        spec = _locate_package(ep.value.split(":")[0])
        if spec is not None:
            for folder in sorted(p for p in spec.iterdir() if (p / "pack.toml").is_file()):
                found.append((folder, f"entry point {ep.name}"))
    env = os.environ.get("NDRKB_PACKS", "")
    for root in [Path(p) for p in env.split(os.pathsep) if p] + list(extra):
        root = Path(root)
        if (root / "pack.toml").is_file():
            found.append((root, f"path {root}"))
        elif root.is_dir():
            for folder in sorted(p for p in root.iterdir() if (p / "pack.toml").is_file()):
                found.append((folder, f"path {root}"))
        else:
            raise PackError([f"{root}: no pack.toml here and not a folder of packs"])
    return found


def _locate_package(name: str) -> Optional[Path]:
    """The folder of an installed package, found without importing it."""
    from importlib.util import find_spec

    try:
        top = find_spec(name.split(".")[0])
    except (ImportError, ValueError):
        return None
    if top is None or not top.submodule_search_locations:
        return None
    folder = Path(list(top.submodule_search_locations)[0])
    for part in name.split(".")[1:]:
        folder = folder / part
    return folder if folder.is_dir() else None


class PackSet:
    """The loaded packs, their dispatch index, and look-ups for causes and remediations."""

    def __init__(self, packs: list[Pack]):
        self.packs = packs
        self.by_id = {p.id: p for p in packs}
        self._always: dict[str, list[Pack]] = {s: [] for s in STAGES}
        self._exact: dict[str, list[Pack]] = {}
        self._wide: dict[tuple[str, str], list[tuple[str, Pack]]] = {}
        self._tokens: dict[str, list[tuple[str, Pack]]] = {}
        for p in packs:
            meta = p.spec.pack
            if meta.always or meta.stage != "diagnose":
                self._always[meta.stage].append(p)
                continue
            for code in meta.codes:
                if re.fullmatch(_CODE, code):
                    self._exact.setdefault(code, []).append(p)
                else:
                    cls, subject = code.split(".")[:2]
                    self._wide.setdefault((cls, subject), []).append((code, p))
            for token in meta.tokens:
                self._tokens.setdefault(token.split(".")[0].lower(), []).append((token.lower(), p))

    def select(self, stage: str, status: Optional[str], token: Optional[str]) -> tuple[Pack, ...]:
        """The packs to run for a message: the stage's always-on packs plus those its code or token names.

        The cost depends on the packs that match, not on how many are installed.
        """
        chosen = list(self._always[stage])
        if stage == "diagnose":
            if status:
                chosen += self._exact.get(status, [])
                cls, subject = status.split(".")[:2]
                for key in ((cls, subject), (cls, "*"), (cls, "x"), ("x", subject), ("x", "x"), ("x", "*")):
                    chosen += [p for pattern, p in self._wide.get(key, []) if code_matches(pattern, status)]
            if token:
                low = token.lower()
                chosen += [p for prefix, p in self._tokens.get(low.split(".")[0], []) if low.startswith(prefix)]
        seen: set[str] = set()
        unique = []
        for p in chosen:
            if p.id not in seen:
                seen.add(p.id)
                unique.append(p)
        return tuple(sorted(unique, key=lambda p: p.id))

    def cause(self, pack_id: str, cause_id: str) -> CauseSpec:
        return self.by_id[pack_id].spec.cause[cause_id]

    def remediation(self, pack_id: str, rem_id: str) -> RemediationSpec:
        return self.by_id[pack_id].spec.remediation[rem_id]


def load_packs(extra: Iterable[Path] = ()) -> PackSet:
    """Load every discoverable pack; refuse duplicates and broken packs with all their problems."""
    problems: list[str] = []
    packs: list[Pack] = []
    for folder, origin in discover(extra):
        try:
            pack = read_pack(folder, origin)
        except PackError as exc:
            problems.extend(exc.problems)
            continue
        clash = next((p for p in packs if p.id == pack.id), None)
        if clash is not None:
            problems.append(f"{folder / 'pack.toml'}: pack id {pack.id} is already provided by "
                            f"{clash.path / 'pack.toml'} ({clash.origin})")
            continue
        packs.append(pack)
    known = {p.rule_id(r) for p in packs for r in p.spec.rule}
    for p in packs:
        for r in p.spec.rule:
            for dep in r.when.after:
                if dep not in known:
                    problems.append(f"{p.path / 'pack.toml'}: rule {r.id}: when.after names unknown rule {dep}")
    if problems:
        raise PackError(problems)
    return PackSet(packs)


def pack_json_schema() -> dict:
    """The JSON Schema of ``pack.toml`` (for editors)."""
    return PackSpec.model_json_schema()


__all__ = ["Pack", "PackSet", "PackSpec", "RuleSpec", "When", "Then", "load_packs", "read_pack",
           "discover", "code_matches", "reply_matches", "pack_json_schema", "version_satisfies",
           "ROLES", "RECIPIENT_TYPES"]
