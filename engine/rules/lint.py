"""``packs check`` beyond the schema: is the advice safe to follow, can every rule run, is every source a URL.

* PowerShell: every line of every remediation (and every ``check`` line) is parsed and
  checked against the Exchange cmdlet table (:mod:`ndrkb.rules.powershell`).
* A remediation whose commands change a setting must say how to read the current value
  first (a ``Get-`` command in ``check``) and what else the change affects (``affects``).
* Dead conditions: a rule whose status condition names no code its pack is dispatched for.
* References: a rule's or cause's reference is a URL; an RFC 3463 section anchor fits the
  rule's status codes.

Each finding is ``(severity, message)``; ``error`` fails ``packs check``, ``warning`` is shown.
"""
from __future__ import annotations

import re
from typing import Optional

from .schema import Pack, RemediationSpec, RuleSpec
from .toml_lines import Where
from .powershell import OTHER_CMDLETS, changes_something, check_line

Finding = tuple[str, str]

_CODE_IN_TEXT = re.compile(r"\b[245Xx]\.[0-7]\.(?:[0-9]{1,3}|[Xx]{1,3})\b")
_RFC3463_SECTION = re.compile(r"rfc3463(?:\.html)?#section-3\.([0-9])", re.IGNORECASE)


def _where(pack: Pack) -> Where:
    path = pack.path / "pack.toml"
    try:
        return Where(path, path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):  # read once already when the pack was loaded
        return Where(path, "")


def _at(where: Where, table: str, nth: Optional[int], text: str) -> str:
    line = where.line_of(table, nth, text)
    return f"{where.path}{':' + str(line) if line else ''}"


def lint_pack(pack: Pack) -> list[Finding]:
    """Every finding about one pack, in file order of kind (PowerShell, checks, rules)."""
    where = _where(pack)
    out: list[Finding] = []
    for rid, rem in pack.spec.remediation.items():
        out += _remediation(pack, where, rid, rem)
    for n, rule in enumerate(pack.spec.rule):
        at = f"{_at(where, 'rule', n, '')}: pack {pack.id}: rule {rule.id}"
        dead = _dead(pack, rule)
        if dead:
            out.append(("warning", f"{at}: when.status: {dead}"))
        out += [(sev, f"{at}: reference: {msg}") for sev, msg in _reference(rule.reference, rule)]
    for cid, cause in pack.spec.cause.items():
        if cause.reference:
            at = f"{_at(where, f'cause.{cid}', None, cause.reference)}: pack {pack.id}: cause {cid}"
            out += [(sev, f"{at}: reference: {msg}") for sev, msg in _reference(cause.reference, None)]
    return out


def remediation_context(rem: RemediationSpec) -> str:
    """The prose of a remediation the PowerShell check reads (on-premises, replaces the list)."""
    return "\n".join([rem.title, *rem.steps, *rem.notes, rem.affects])


def _remediation(pack: Pack, where: Where, rid: str, rem: RemediationSpec) -> list[Finding]:
    out: list[Finding] = []
    context = remediation_context(rem)
    changing: Optional[str] = None
    for key, text in [("check", t) for t in rem.check] + [("powershell", t) for t in rem.powershell]:
        at = f"{_at(where, f'remediation.{rid}', None, text)}: pack {pack.id}: remediation {rid}: {key}"
        commands, findings = check_line(text, context)
        out += [(f.severity, f"{at}: {f.message}") for f in findings]
        exchange = [c for c in commands if c.name not in OTHER_CMDLETS]
        if key == "check" and any(changes_something(c) for c in exchange):
            out.append(("error", f"{at}: a check must only read (Get-), not change: {text}"))
        if key == "powershell" and changing is None and any(changes_something(c) for c in exchange):
            changing = text
    if changing is not None:
        at = f"{_at(where, f'remediation.{rid}', None, '')}: pack {pack.id}: remediation {rid}"
        if not any(line.lstrip().lower().startswith("get-") for line in rem.check):
            out.append(("warning", f"{at}: check: changes a setting ({changing.split()[0]}) without a Get- "
                                   "command to read the current value first"))
        if not rem.affects.strip():
            out.append(("warning", f"{at}: affects: changes a setting without saying what else it affects"))
    return out


def _span(pattern: str) -> tuple[tuple[int, int], ...]:
    """A code pattern as (low, high) per part: exact, range ``a-b`` or wildcard."""
    if "-" in pattern:
        low, high = (p.split(".") for p in pattern.split("-"))
        return tuple((int(a), int(b)) for a, b in zip(low, high))
    return tuple((0, 999) if p in ("x", "*") else (int(p), int(p)) for p in pattern.split("."))


def _overlap(a: str, b: str) -> bool:
    return all(lo1 <= hi2 and lo2 <= hi1 for (lo1, hi1), (lo2, hi2) in zip(_span(a), _span(b)))


def _dead(pack: Pack, rule: RuleSpec) -> str:
    """Why some status condition of a rule can never hold when its pack runs, or ``""``.

    Only for a pack dispatched by its codes alone: one with ``always``, another stage,
    tokens (a token brings any status) or ``when.after`` runs more widely.
    """
    meta = pack.spec.pack
    if meta.always or meta.stage != "diagnose" or meta.tokens or pack.depends_on or not rule.when.status:
        return ""
    dead = [s for s in rule.when.status if not any(_overlap(s, c) for c in meta.codes)]
    if not dead:
        return ""
    whole = "this rule can never run" if len(dead) == len(rule.when.status) else "these conditions can never hold"
    return f"{', '.join(dead)} not among the codes the pack is dispatched for: {whole}"


def _reference(ref: str, rule: Optional[RuleSpec]) -> list[Finding]:
    if not ref.startswith(("https://", "http://")):
        return [("warning", f"not a URL of the cited document: {ref!r}")]
    m = _RFC3463_SECTION.search(ref)
    if m and rule is not None:
        codes = [s for s in rule.when.status if "-" not in s and s.split(".")[1] not in ("x", "*")]
        codes += _CODE_IN_TEXT.findall(rule.description)
        want = {int(c.split(".")[1]) + 1 for c in codes}
        if want and int(m.group(1)) not in want:
            sections = ", ".join(f"3.{n}" for n in sorted(want))
            return [("warning", f"cites RFC 3463 section 3.{m.group(1)}, but the codes "
                                f"{', '.join(codes)} are in section {sections}")]
    return []


__all__ = ["lint_pack", "remediation_context"]
