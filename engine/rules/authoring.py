"""Tools for pack authors: check a pack folder, run a pack's examples, scaffold a new pack.

The CLI (``ndrkb packs ...``) is a thin layer over these functions.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Optional

from ..errors import PackError
from ..models import Diagnosis, RecipientDiagnosis
from ..read.parsers import STATUS_CODE
from .discovery import PackSources, pack_folders
from .dispatch import PackSet
from .loading import read_packs
from ..vocabulary import REASONS
from .schema import Expectation, Pack

_EQUAL = ("status", "reply_code", "permanent", "hard_bounce", "certain", "reason", "role", "recipient_type")


def check_folder(path: Path, sources: PackSources = PackSources()) -> tuple[list[Pack], list[str], list[str]]:
    """Validate the pack(s) at ``path`` alone and together with every installed pack.

    Returns the packs read from ``path``, the problems found (empty when all is well) and
    warnings.  Beyond loading, each pack's advice is checked (:func:`ndrkb.rules.lint.lint_pack`):
    PowerShell against the Exchange cmdlet table, dead conditions, references.
    """
    from .lint import lint_pack

    folders = {f.resolve() for f in pack_folders(Path(path))}
    if not folders:
        return [], [f"{path}: no pack.toml here and not a folder of packs"], []
    try:
        packs = read_packs(sources._replace(extra=(*sources.extra, Path(path))))
    except PackError as exc:
        return [], exc.problems, []
    found = [p for p in packs if p.path.resolve() in folders]
    findings = [f for p in found for f in lint_pack(p)]
    return found, [m for sev, m in findings if sev == "error"], [m for sev, m in findings if sev == "warning"]


@dataclass(frozen=True)
class ExampleResult:
    """One example run: which pack and file, and how its diagnosis differed from the expectation."""

    pack: str
    file: str
    differences: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.differences


def run_examples(pack: Pack, packs: PackSet) -> list[ExampleResult]:
    """Diagnose each of the pack's ``[[example]]`` files with ``packs`` and compare with its expectation."""
    from ..diagnoser import Diagnoser

    diagnoser = Diagnoser(packs=packs)
    results = []
    for ex in pack.spec.example:
        path = pack.path / ex.file
        diagnosis = diagnoser.diagnose(path, name=str(path))
        results.append(ExampleResult(pack.id, ex.file, tuple(compare(ex.expect, diagnosis))))
    return results


def compare(expect: Expectation, diagnosis: Diagnosis) -> list[str]:
    """The differences between what an example expects and the diagnosis it got (empty: pass)."""
    if diagnosis.error:
        return [f"not diagnosed: {diagnosis.error}"]
    found = [r.recipient for r in diagnosis.recipients]
    if expect.recipient is not None:
        picked = [r for r in diagnosis.recipients if (r.recipient or "").lower() == expect.recipient.lower()]
        if not picked:
            return [f"recipient: expected {expect.recipient!r}, found {found}"]
        r = picked[0]
    else:
        r = diagnosis.recipients[0]
    diffs = []
    for key in sorted(expect.model_fields_set):
        want = getattr(expect, key)
        if key in _EQUAL and getattr(r, key) != want:
            diffs.append(f"{key}: expected {want!r}, got {getattr(r, key)!r}")
        elif key in ("cause", "causes"):
            got = [c.id for c in r.cause_info]  # qualified: pack/cause
            wants = [want] if key == "cause" else list(want)
            shown = got if key == "causes" else (got[:1] or [None])[0]
            if len(got[:len(wants)] if key == "cause" else got) != len(wants) or \
                    not all(w in (g, g.split("/", 1)[-1]) for w, g in zip(wants, got)):
                diffs.append(f"{key}: expected {want!r}, got {shown!r}")
        elif key in ("rules", "remediation", "powershell"):
            missing = [w for w in want if not _present(key, w, r)]
            if missing:
                diffs.append(f"{key}: expected {missing!r} among {_listed(key, r)!r}")
    return diffs


def _listed(key: str, r: RecipientDiagnosis) -> list[str]:
    if key == "rules":
        return list(r.rules)
    if key == "remediation":
        return [rem.id for rem in r.remediation]
    return [ps for rem in r.remediation for ps in rem.powershell]


def _present(key: str, want: str, r: RecipientDiagnosis) -> bool:
    if key == "powershell":
        return any(want in ps for ps in _listed(key, r))
    return want in _listed(key, r)


# ---------------------------------------------------------------- scaffolding

PACK_TEMPLATE = Template('''\
# A pack for status code $code, created by `ndrkb packs new $code`.
# Replace every TODO, then run:  ndrkb packs check $folder  and  ndrkb packs test $folder
# Guide: docs/writing-packs.md.  Schema: ndrkb schema pack.

[pack]
id = "$pack_id"
title = "Status $code"                     # TODO: what this pack knows, in a few words
version = "0.1.0"
requires = ">=0.1"
layer = "knowledge"
codes = ["$code"]
description = "TODO: which system returns $code, and what it means."

[[rule]]
id = "by-code"
description = "$code: TODO say what the code means"
salience = 80                            # one exact code: outranks packs that cover a range or wildcard
reference = "https://www.iana.org/assignments/smtp-enhanced-status-codes/"  # TODO: the vendor's page for $code
when.status = ["$code"]
then = { reason = "$reason", role = "$role", cause = "unexplained" }

[cause.unexplained]
summary = "TODO: what happened, in plain words."
sender = "TODO: what the sender can do."
admin = "TODO: what the email admin should check."
remediation = ["fix"]

[remediation.fix]
title = "TODO: name the fix"
actor = "$role"
steps = ["TODO: first step"]

[[example]]
file = "examples/$code.eml"
expect = { recipient = "someone@example.org", status = "$code", reason = "$reason", role = "$role", cause = "unexplained", rules = ["$pack_id/by-code"], permanent = $permanent }
''')

EXAMPLE_TEMPLATE = Template('''\
From: Mail Delivery System <MAILER-DAEMON@mx.example.net>
To: sender@example.com
Subject: Undelivered Mail Returned to Sender
Date: Mon, 01 Jan 2024 10:00:00 +0000
Message-ID: <scaffold-$code@mx.example.net>
MIME-Version: 1.0
Auto-Submitted: auto-replied
Content-Type: multipart/report; report-type=delivery-status; boundary="ndrkb-example"

--ndrkb-example
Content-Type: text/plain; charset=us-ascii

Your message to someone@example.org could not be delivered.
TODO: replace this example with a real bounce for $code (remove personal data).

--ndrkb-example
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net

Final-Recipient: rfc822; someone@example.org
Action: failed
Status: $code
Diagnostic-Code: smtp; $reply $code TODO the server's reply text

--ndrkb-example--
''')


def new_pack(code: str, into: Path = Path(".")) -> Path:
    """Create ``pack-<code>/`` in ``into`` (pack.toml and one example NDR that passes); return it."""
    if not (re.fullmatch(STATUS_CODE, code) and code[0] in "45"):
        raise PackError([f"{code!r}: not an enhanced status code of class 4 or 5 (such as 5.7.999)"])
    pack_id = "pack-" + code.replace(".", "-")
    folder = Path(into) / pack_id
    if folder.exists():
        raise PackError([f"{folder}: already exists; not overwritten"])
    permanent = code.startswith("5")
    values = {"code": code, "pack_id": pack_id, "folder": pack_id, "reply": "550" if permanent else "450",
              "reason": "rejected" if permanent else "onhold", "role": "sender_admin" if permanent else "none",
              "permanent": "true" if permanent else "false"}
    try:
        (folder / "examples").mkdir(parents=True)
        (folder / "pack.toml").write_text(PACK_TEMPLATE.substitute(values), encoding="utf-8")
        (folder / "examples" / f"{code}.eml").write_text(EXAMPLE_TEMPLATE.substitute(values), encoding="utf-8")
    except OSError as exc:  # a read-only or full place: one line, not a traceback
        raise PackError([f"{exc.filename or folder}: cannot write: {exc.strerror or exc}"]) from None
    return folder


@dataclass(frozen=True)
class ReasonSource:
    """A rule that can conclude a reason, with the salience it wins by (higher wins)."""

    salience: int
    stage: str
    step: str
    rule: str


def reason_sources(packs: PackSet) -> dict[str, list[ReasonSource]]:
    """Where each reason of the vocabulary is decided: the rules concluding it, strongest first.

    Reason-stage rules win by their step's place in the precedence list
    (``vocabulary.REASON_PROCEDURE``); a later stage's rule of a higher layer can overrule them.
    """
    found: dict[str, list[ReasonSource]] = {r: [] for r in REASONS}
    for pack in packs.packs:
        for rule in pack.spec.rule:
            if rule.then.reason:
                found[rule.then.reason].append(ReasonSource(pack.salience(rule), pack.spec.pack.stage,
                                                            rule.step or "", pack.rule_id(rule)))
    return {r: sorted(v, key=lambda s: (-s.salience, s.rule)) for r, v in found.items()}


def select_packs(packs: PackSet, which: Optional[str]) -> list[Pack]:
    """The packs named by ``which``: a pack id, a path holding packs, or every pack when None."""
    if which is None:
        return list(packs.packs)
    if which in packs.by_id:
        return [packs.by_id[which]]
    folders = {f.resolve() for f in pack_folders(Path(which))}
    chosen = [p for p in packs.packs if p.path.resolve() in folders]
    if not chosen:
        raise PackError([f"{which}: no such pack id or pack folder (installed: {', '.join(sorted(packs.by_id))})"])
    return chosen


__all__ = ["check_folder", "run_examples", "compare", "ExampleResult", "new_pack", "reason_sources", "ReasonSource",
           "select_packs"]
