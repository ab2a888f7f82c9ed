"""Loading packs: read each ``pack.toml`` as data, validate it alone and the set together.

Loading never imports or runs anything from a pack.  Every problem is reported with
the file, the line, the rule and what is wrong (:class:`~ndrkb.errors.PackError`);
a pack is accepted whole or not at all.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

from pydantic import ValidationError

from ..errors import PackError
from ..limits import MAX_AFTER_CHAIN, MAX_KEY_PARTS, MAX_PACK_BYTES
from . import placeholders
from .discovery import PackSources, discover
from .dispatch import PackSet
from .schema import Pack, PackSpec, RuleSpec
from .toml_lines import Where
from ..vocabulary import RETRY_REASONS

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib


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
    deep = next((n for n, line in enumerate(text.splitlines(), 1)
                 if line.split("=", 1)[0].count(".") > MAX_KEY_PARTS), None)
    if deep is not None:  # tomllib takes seconds and gigabytes on a key of thousands of parts
        raise PackError([f"{path}:{deep}: a key of more than {MAX_KEY_PARTS} dotted parts; refused"])
    try:
        data = tomllib.loads(text)
    except RecursionError:
        raise PackError([f"{path}: arrays or tables nested too deeply to read; refused"]) from None
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"line ([0-9]+)", str(exc))
        raise PackError([f"{path}{':' + m.group(1) if m else ''}: not valid TOML: {exc}"]) from None
    where = Where(path, text)
    try:
        spec = PackSpec.model_validate(data)
    except ValidationError as exc:
        raise PackError([_validation_message(where, data, err) for err in exc.errors()]) from None
    problems = _check_pack(spec, where, Path(folder))
    problems += placeholders.problems(spec, where)
    if problems:
        raise PackError(problems)
    return Pack(spec=spec, path=Path(folder), origin=origin)


def _validation_message(where: Where, data: dict, err: dict) -> str:
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


def _check_pack(spec: PackSpec, where: Where, folder: Path) -> list[str]:
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
        if rule.step is not None:
            if rule.then.reason is None or meta.stage != "reason":
                problems.append(f"{where('rule', n, label, 'step')}: a step of the reason procedure concludes "
                                "a reason, in a pack of stage 'reason'")
            elif "salience" in rule.model_fields_set:
                problems.append(f"{where('rule', n, label, 'salience')}: a step of the reason procedure is "
                                "ranked by the precedence list; give no salience")
            elif rule.step in ("status", "retry") and (rule.step == "retry") != (rule.then.reason in RETRY_REASONS):
                problems.append(f"{where('rule', n, label, 'step')}: a status-table reason in the retry set is "
                                "step 'retry', any other is step 'status'")
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


def _where_of(pack: Pack) -> Where:
    path = pack.path / "pack.toml"
    return Where(path, path.read_text(encoding="utf-8"))


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
    deep = _deep_chains(rules)
    problems += deep or _cycles(rules)  # (a chain within the bound keeps the loop search shallow)
    problems += _conflicts(packs)
    return problems


def _deep_chains(rules: dict[str, tuple[Pack, RuleSpec]]) -> list[str]:
    """Rules at the end of a ``when.after`` chain longer than ``MAX_AFTER_CHAIN`` (found
    without recursion: a chain of thousands of rules once broke the recursive checks)."""
    length: dict[str, int] = {}
    for top in sorted(rules):
        stack, on_path = [(top, iter(rules[top][1].when.after))], {top}
        while stack:
            rid, deps = stack[-1]
            dep = next(deps, None)
            if dep is None:
                stack.pop()
                on_path.discard(rid)
                length[rid] = 1 + max((length.get(d, 0) for d in rules[rid][1].when.after
                                       if d in rules and d not in on_path), default=0)
            elif dep in rules and dep not in length and dep not in on_path:
                stack.append((dep, iter(rules[dep][1].when.after)))
                on_path.add(dep)
    longest = min(length, key=lambda r: (-length[r], r), default=None)
    if longest is None or length[longest] <= MAX_AFTER_CHAIN:
        return []
    pack, rule = rules[longest]
    where = _where_of(pack)("rule", pack.spec.rule.index(rule), f"rule {rule.id}", "when.after")
    return [f"{where}: ends a chain of {length[longest]} rules following each other; at most "
            f"{MAX_AFTER_CHAIN} are allowed"]


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


def read_packs(sources: PackSources = PackSources()) -> list[Pack]:
    """Every discoverable pack, validated alone and together; :class:`PackError` lists every problem.

    Two packs with the same id are refused (whichever came first): a pack changes
    another's conclusions only through ``when.after`` and salience, never by taking its id.
    """
    problems: list[str] = []
    packs: list[Pack] = []
    for folder, origin in discover(sources):
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


def load_packs(sources: PackSources = PackSources()) -> PackSet:
    """Load every discoverable pack into a :class:`PackSet` (see :func:`read_packs`)."""
    return PackSet(read_packs(sources))
