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

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from ..errors import PackError
from ..vocabulary import ACTIONS, KINDS, MTA_NAMES, REASONS, RECIPIENT_TYPES, ROLES, Reason, RecipientType, Role

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

BUILTIN_DIR = Path(str(importlib.resources.files("ndrkb.kb")))
#: The closed sets a condition's names must come from.
_VOCABULARY = {"reason": REASONS, "mta": MTA_NAMES, "action": ACTIONS, "kind": KINDS}

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
_RULE_REF = re.compile(r"^[a-z0-9][a-z0-9._-]*/[a-z0-9][a-z0-9._-]*$")
_TOKEN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
#: A pack.toml larger than this is refused unread (packs come from strangers too).
MAX_PACK_BYTES = 2 * 1024 * 1024


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

    @field_validator("token")
    @classmethod
    def _tokens(cls, v: list[str]) -> list[str]:
        bad = [t for t in v if not _TOKEN.match(t)]
        if bad:
            raise ValueError(f"not a token prefix (letters, digits, '.', '_', '-'): {', '.join(map(repr, bad))}")
        return v

    @field_validator("after")
    @classmethod
    def _after(cls, v: list[str]) -> list[str]:
        bad = [r for r in v if not _RULE_REF.match(r)]
        if bad:
            raise ValueError(f"not a global rule id 'pack/rule': {', '.join(map(repr, bad))}")
        return v

    @field_validator("text", "text_all", "not_text")
    @classmethod
    def _phrases(cls, v: list[str]) -> list[str]:
        if any(not p.strip() for p in v):
            raise ValueError("empty phrase")
        return [" ".join(p.lower().split()) for p in v]

    @field_validator("reason", "mta", "action", "kind")
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
        return LAYER_BASE[self.spec.pack.layer] + rule.salience


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"[0-9]+", text)[:3])


def version_satisfies(version: str, requirement: str) -> bool:
    """Whether ``version`` meets a comma-separated requirement such as ``>=0.1,<2``."""
    have = _version_tuple(version)
    for clause in filter(None, (c.strip() for c in requirement.split(","))):
        m = re.fullmatch(r"(>=|<=|==|!=|>|<)\s*([0-9]+(?:\.[0-9]+){0,2})", clause)
        if not m:
            raise ValueError(f"cannot read version requirement {clause!r} (use >=, <=, ==, !=, >, < and a version)")
        op, want = m.group(1), _version_tuple(m.group(2))
        width = max(len(have), len(want))
        a, b = have + (0,) * (width - len(have)), want + (0,) * (width - len(want))
        ok = {">=": a >= b, "<=": a <= b, "==": a == b, "!=": a != b, ">": a > b, "<": a < b}[op]
        if not ok:
            return False
    return True


_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\[\]]+?)\s*\]\]?\s*(?:#.*)?$")


class _Where:
    """Locates tables, rules and fields in a ``pack.toml`` so that messages give a line."""

    def __init__(self, path: Path, text: str):
        self.path = path
        self.lines = text.splitlines()
        self.headers: list[tuple[int, str, bool]] = []  # (line index, table name, is array)
        for i, line in enumerate(self.lines):
            m = _HEADER.match(line)
            if m:
                name = ".".join(part.strip().strip("\"'") for part in m.group(2).split("."))
                self.headers.append((i, name, m.group(1) == "[["))

    def _block(self, table: str, nth: Optional[int]) -> Optional[tuple[int, int]]:
        starts = [i for i, name, array in self.headers if name == table and array == (nth is not None)]
        if nth is not None:
            starts = starts[nth:nth + 1]
        if not starts:
            return None
        start = starts[0]
        end = next((i for i, _, _ in self.headers if i > start), len(self.lines))
        return start, end

    def line(self, table: str, nth: Optional[int] = None, field: str = "") -> Optional[int]:
        """1-based line of ``field`` in the table (or of the table), if it can be found."""
        block = self._block(table, nth)
        if block is None:
            return None
        parts = [p for p in field.split(".") if p]
        patterns = []
        if len(parts) >= 2:
            a, b = re.escape(parts[0]), re.escape(parts[1])
            patterns += [rf"^\s*{a}\.{b}\s*=", rf"^\s*{a}\s*=.*\b{b}\s*="]
        if parts:
            patterns.append(rf"^\s*{re.escape(parts[0])}\s*(=|\.)")
        for pattern in patterns:
            for i in range(block[0] + 1, block[1]):
                if re.search(pattern, self.lines[i]):
                    return i + 1
        return block[0] + 1

    def __call__(self, table: str, nth: Optional[int], label: str, field: str = "") -> str:
        """``file:line: label: field`` for a message."""
        line = self.line(table, nth, field)
        return f"{self.path}{':' + str(line) if line else ''}: {label}" + (f": {field}" if field else "")


def read_pack(folder: Path, origin: str = "path") -> Pack:
    """Read and validate one pack folder; raise :class:`PackError` listing every problem.

    Only ``pack.toml`` is parsed (as TOML data); nothing in the folder is imported or run.
    """
    path = Path(folder) / "pack.toml"
    try:
        if path.stat().st_size > MAX_PACK_BYTES:
            raise PackError([f"{path}: larger than {MAX_PACK_BYTES} bytes; refused"])
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PackError([f"{path}: cannot read: {exc.strerror or exc}"]) from None
    except UnicodeDecodeError:
        raise PackError([f"{path}: not UTF-8 text"]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"line ([0-9]+)", str(exc))
        raise PackError([f"{path}{':' + m.group(1) if m else ''}: not valid TOML: {exc}"]) from None
    where = _Where(path, text)
    try:
        spec = PackSpec.model_validate(data)
    except ValidationError as exc:
        raise PackError([_validation_message(where, data, err) for err in exc.errors()]) from None
    problems = _check_pack(spec, where, Path(folder))
    if problems:
        raise PackError(problems)
    return Pack(spec=spec, path=Path(folder), origin=origin)


def _validation_message(where: _Where, data: dict, err: dict) -> str:
    loc = list(err["loc"])
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] != "value_error" and isinstance(err.get("input"), (str, int, float)):
        msg += f" (got {err['input']!r})"
    top = loc[0] if loc else ""
    if top in ("rule", "example") and len(loc) >= 2 and isinstance(loc[1], int):
        items = data.get(top) if isinstance(data.get(top), list) else []
        item = items[loc[1]] if loc[1] < len(items) and isinstance(items[loc[1]], dict) else {}
        label = (f"rule {item.get('id', '#' + str(loc[1] + 1))}" if top == "rule"
                 else f"example {loc[1] + 1} ({item.get('file', 'no file')})")
        return f"{where(top, loc[1], label, '.'.join(map(str, loc[2:])))}: {msg}"
    if top in ("cause", "remediation") and len(loc) >= 2:
        field = ".".join(map(str, loc[2:]))
        return f"{where(f'{top}.{loc[1]}', None, f'{top} {loc[1]}', field)}: {msg}"
    pack = data.get("pack") if isinstance(data.get("pack"), dict) else {}
    field = ".".join(map(str, loc[1:])) if top == "pack" else ".".join(map(str, loc))
    table = "pack" if top == "pack" else top
    return f"{where(table, None, 'pack ' + str(pack.get('id', '(no id)')), field or str(top))}: {msg}"


def _check_pack(spec: PackSpec, where: _Where, folder: Path) -> list[str]:
    """Problems visible in one pack alone: references, stage, sources, dispatch, version, examples."""
    from .. import __version__

    problems = []
    meta = spec.pack
    own = {r.id for r in spec.rule}
    seen: set[str] = set()
    overrides = any(not dep.startswith(meta.id + "/") for r in spec.rule for dep in r.when.after)
    for n, rule in enumerate(spec.rule):
        label = f"rule {rule.id}"
        if rule.id in seen:
            problems.append(f"{where('rule', n, label, 'id')}: duplicate rule id in this pack")
        seen.add(rule.id)
        for cause in ([rule.then.cause] if rule.then.cause else []) + list(rule.then.causes):
            if cause not in spec.cause:
                problems.append(f"{where('rule', n, label, 'then.cause')}: no [cause.{cause}] in this pack")
        for rem in rule.then.add_remediation:
            if rem not in spec.remediation:
                problems.append(f"{where('rule', n, label, 'then.add_remediation')}: "
                                f"no [remediation.{rem}] in this pack")
        if meta.stage != "infer" and rule.then.status:
            problems.append(f"{where('rule', n, label, 'then.status')}: "
                            "only packs of stage 'infer' may conclude a status")
        if not (rule.reference.startswith(("http://", "https://")) or re.match(r"^RFC ?[0-9]+", rule.reference)):
            problems.append(f"{where('rule', n, label, 'reference')}: must be a URL or an RFC number")
        for dep in rule.when.after:
            if dep.startswith(meta.id + "/") and dep.split("/", 1)[1] not in own:
                problems.append(f"{where('rule', n, label, 'when.after')}: no rule {dep.split('/', 1)[1]} "
                                "in this pack")
        if overrides and not rule.when.after:
            problems.append(f"{where('rule', n, label, 'when.after')}: this pack follows rules of other "
                            "packs, so it is dispatched with them; every rule of it needs when.after, or "
                            "it would fire for codes the pack does not declare (put it in a pack of its own)")
    for cid, cause in spec.cause.items():
        for rem in cause.remediation:
            if rem not in spec.remediation:
                problems.append(f"{where(f'cause.{cid}', None, f'cause {cid}', 'remediation')}: "
                                f"no [remediation.{rem}] in this pack")
    if meta.stage == "diagnose" and not (meta.always or meta.codes or meta.tokens or overrides):
        problems.append(f"{where('pack', None, f'pack {meta.id}', 'codes')}: never dispatched: declare codes, "
                        "tokens, always = true, or follow another pack's rules with when.after")
    try:
        if not version_satisfies(__version__, meta.requires):
            problems.append(f"{where('pack', None, f'pack {meta.id}', 'requires')}: pack {meta.id} "
                            f"{meta.version} requires ndrkb {meta.requires}, but this is ndrkb {__version__}")
    except ValueError as exc:
        problems.append(f"{where('pack', None, f'pack {meta.id}', 'requires')}: {exc}")
    root = folder.resolve()
    for n, ex in enumerate(spec.example):
        target = (folder / ex.file).resolve()
        label = f"example {n + 1} ({ex.file})"
        if not target.is_relative_to(root):
            problems.append(f"{where('example', n, label, 'file')}: leads outside the pack folder")
        elif not target.is_file():
            problems.append(f"{where('example', n, label, 'file')}: file not found in {folder}")
    return problems


def _where_of(pack: Pack) -> _Where:
    path = pack.path / "pack.toml"
    return _Where(path, path.read_text(encoding="utf-8"))


def check_set(packs: list[Pack]) -> list[str]:
    """Problems between packs: unknown or cross-stage ``when.after``, cycles, conflicting overrides."""
    problems: list[str] = []
    rules = {p.rule_id(r): (p, r) for p in packs for r in p.spec.rule}
    by_id = {p.id: p for p in packs}
    for p in packs:
        for n, r in enumerate(p.spec.rule):
            for dep in r.when.after:
                target = rules.get(dep)
                if target is None and not dep.startswith(p.id + "/"):
                    missing = "no rule of that id" if dep.split("/")[0] in by_id else "its pack is not installed"
                    problems.append(f"{_where_of(p)('rule', n, f'rule {r.id}', 'when.after')}: "
                                    f"names {dep}, but {missing}")
                elif target is not None and target[0].spec.pack.stage != p.spec.pack.stage:
                    problems.append(f"{_where_of(p)('rule', n, f'rule {r.id}', 'when.after')}: names {dep} "
                                    f"of stage {target[0].spec.pack.stage}; a rule can only follow rules of "
                                    f"its own stage ({p.spec.pack.stage})")
    problems += _cycles(rules)
    problems += _conflicts(packs)
    return problems


def _cycles(rules: dict[str, tuple[Pack, RuleSpec]]) -> list[str]:
    problems = []
    state: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(rid: str, path: tuple[str, ...]) -> None:
        state[rid] = 1
        for dep in rules[rid][1].when.after:
            if dep not in rules:
                continue
            if state.get(dep) == 1:
                loop = path[path.index(dep):] + (rid, dep) if dep in path else (rid, dep)
                pack, rule = rules[rid]
                where = _where_of(pack)("rule", pack.spec.rule.index(rule), f"rule {rule.id}", "when.after")
                problems.append(f"{where}: rules follow each other in a loop and can never fire: "
                                f"{' -> '.join(loop)}")
            elif dep not in state:
                visit(dep, path + (rid,))
        state[rid] = 2

    for rid in sorted(rules):
        if rid not in state:
            visit(rid, ())
    return problems


def _conflicts(packs: list[Pack]) -> list[str]:
    """Rules of different packs with the same conditions and salience deciding a slot differently."""
    problems = []
    seen: dict[tuple, tuple[Pack, RuleSpec, object]] = {}
    for p in sorted(packs, key=lambda p: p.id):
        for n, r in enumerate(p.spec.rule):
            when = r.when.model_dump_json()
            for slot, value in r.then.model_dump(exclude_defaults=True).items():
                if slot in ("add_remediation", "note"):
                    continue  # these accumulate: every fired rule adds its own
                key = (p.spec.pack.stage, p.salience(r), when, "cause" if slot == "causes" else slot)
                other = seen.get(key)
                if other is None:
                    seen[key] = (p, r, value)
                elif other[0].id != p.id and other[2] != value:
                    problems.append(f"{_where_of(p)('rule', n, f'rule {r.id}', 'then.' + slot)}: conflicts with "
                                    f"{other[0].rule_id(other[1])} (same conditions, same salience "
                                    f"{p.salience(r)}, different {slot}); give one of them a higher salience")
    return problems


def discover(extra: Iterable[Path] = ()) -> list[tuple[Path, str]]:
    """Pack folders with their origin: built-in ``kb/``, entry points ``ndrkb.packs``, NDRKB_PACKS, ``extra``.

    Each folder appears once (by resolved path).  An entry point names a package holding
    pack folders (or one pack); the package is located, never imported.  Every place that
    holds no pack is reported in one :class:`PackError`.
    """
    import os
    from importlib.metadata import entry_points

    problems: list[str] = []
    found: list[tuple[Path, str]] = []
    found += [(folder, "builtin") for folder in pack_folders(BUILTIN_DIR)]
    for ep in sorted(entry_points(group="ndrkb.packs"), key=lambda e: (e.name, e.value)):
        dist = f" of {ep.dist.name}" if getattr(ep, "dist", None) is not None else ""
        name = f"entry point {ep.name}{dist}"
        package = _locate_package(ep.value)
        if package is None:
            problems.append(f"{name} (group ndrkb.packs): cannot find package {ep.value!r}")
            continue
        folders = pack_folders(package)
        if not folders:
            problems.append(f"{name} (group ndrkb.packs): package {ep.value} ({package}) holds no pack.toml")
        found += [(folder, name) for folder in folders]
    env = os.environ.get("NDRKB_PACKS", "")
    roots = [(Path(p), "NDRKB_PACKS") for p in env.split(os.pathsep) if p]
    roots += [(Path(p), "--pack") for p in extra]
    for root, how in roots:
        folders = pack_folders(root)
        if not folders:
            problems.append(f"{root} (from {how}): no pack.toml here and not a folder of packs")
        found += [(folder, f"{how} {root}") for folder in folders]
    if problems:
        raise PackError(problems)
    unique: dict[Path, tuple[Path, str]] = {}
    for folder, origin in found:
        unique.setdefault(folder.resolve(), (folder, origin))
    return list(unique.values())


def pack_folders(root: Path) -> list[Path]:
    """``root`` if it is a pack folder, else its sub-folders that are, sorted."""
    if (root / "pack.toml").is_file():
        return [root]
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if (p / "pack.toml").is_file())


def _locate_package(value: str) -> Optional[Path]:
    """The folder of an installed package named ``pkg`` or ``pkg.sub``, found without importing it."""
    from importlib.util import find_spec

    name = value.split(":")[0].strip()
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*", name):
        return None
    top, *rest = name.split(".")
    try:
        spec = find_spec(top)  # a top-level name: finders only, no module code runs
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        folder = Path(location).joinpath(*rest)
        if folder.is_dir():
            return folder
    return None


class PackSet:
    """The loaded packs, their dispatch index, and look-ups for causes and remediations."""

    def __init__(self, packs: list[Pack]):
        self.packs = packs
        self.by_id = {p.id: p for p in packs}
        self._always: dict[str, list[Pack]] = {s: [] for s in STAGES}
        self._exact: dict[str, list[Pack]] = {}
        self._wide: dict[tuple[str, str], list[tuple[str, Pack]]] = {}
        self._tokens: dict[str, list[tuple[str, Pack]]] = {}
        #: pack id -> packs whose rules follow its rules: dispatched together with it
        self._dependents: dict[str, list[Pack]] = {}
        for p in packs:
            for dep in p.depends_on:
                self._dependents.setdefault(dep, []).append(p)
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
        """The packs to run for a message: the stage's always-on packs, those its code or token
        names, and the packs that follow their rules (``when.after``), sorted by id.

        The cost depends on the packs that match, not on how many are installed.
        """
        chosen = list(self._always[stage])
        if stage == "diagnose":
            if status:
                chosen += self._exact.get(status, [])
                cls, subject = status.split(".")[:2]
                for key in ((cls, subject), (cls, "*"), (cls, "x"), ("x", subject), ("x", "x"), ("x", "*"),
                            ("*", subject), ("*", "*"), ("*", "x")):
                    chosen += [p for pattern, p in self._wide.get(key, []) if code_matches(pattern, status)]
            if token:
                low = token.lower()
                chosen += [p for prefix, p in self._tokens.get(low.split(".")[0], []) if low.startswith(prefix)]
        unique: dict[str, Pack] = {}
        while chosen:
            p = chosen.pop()
            if p.id not in unique:
                unique[p.id] = p
                chosen += [d for d in self._dependents.get(p.id, []) if d.spec.pack.stage == stage]
        return tuple(unique[k] for k in sorted(unique))

    def cause(self, pack_id: str, cause_id: str) -> CauseSpec:
        return self.by_id[pack_id].spec.cause[cause_id]

    def remediation(self, pack_id: str, rem_id: str) -> RemediationSpec:
        return self.by_id[pack_id].spec.remediation[rem_id]


def read_packs(extra: Iterable[Path] = ()) -> list[Pack]:
    """Every discoverable pack, validated alone and together; :class:`PackError` lists every problem.

    Two packs with the same id are refused (whichever came first): a pack changes
    another's conclusions only through ``when.after`` and salience, never by taking its id.
    """
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
            problems.append(f"{folder / 'pack.toml'}: pack {pack.id} ({origin}) is already provided by "
                            f"{clash.path / 'pack.toml'} ({clash.origin}); pack ids must be unique")
            continue
        packs.append(pack)
    problems += check_set(packs)
    if problems:
        raise PackError(problems)
    return packs


def load_packs(extra: Iterable[Path] = ()) -> PackSet:
    """Load every discoverable pack into a :class:`PackSet` (see :func:`read_packs`)."""
    return PackSet(read_packs(extra))


def pack_json_schema() -> dict:
    """The JSON Schema of ``pack.toml`` (shipped as ``ndrkb/schema/pack.schema.json`` for editors)."""
    schema = PackSpec.model_json_schema()
    schema.update({"$schema": "https://json-schema.org/draft/2020-12/schema",
                   "title": "ndrkb rule pack (pack.toml)"})
    return schema


__all__ = ["Pack", "PackSet", "PackSpec", "RuleSpec", "When", "Then", "Expectation", "load_packs", "read_pack",
           "read_packs", "check_set", "discover", "code_matches", "reply_matches", "pack_json_schema",
           "version_satisfies", "ROLES", "RECIPIENT_TYPES"]
