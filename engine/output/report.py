"""Readable renderings of a :class:`~ndrkb.models.Diagnosis`: the report and the full trace.

Text is wrapped to ``width`` columns (:func:`terminal_width`); PowerShell lines are never
wrapped, so each one pastes whole.
"""
from __future__ import annotations

import shutil
import sys
import textwrap
from typing import Optional

from ..diagnoser import TYPE_NOT_REVEALED
from ..models import Diagnosis, RecipientDiagnosis, Remediation, TraceStep
from ..vocabulary import TYPE_DETAILS

ROLE_TEXT = {
    "sender": "the sender",
    "sender_admin": "the sender's email admin",
    "recipient_admin": "the recipient's email admin",
    "none": "nobody (transient: the sending system retries; wait)",
}

#: Columns of a report written anywhere but a terminal.
WIDTH = 92


def terminal_width() -> int:
    """The terminal's width when standard output is one (at least 40 columns), else :data:`WIDTH`."""
    tty = sys.stdout is not None and sys.stdout.isatty()
    return max(40, shutil.get_terminal_size((WIDTH, 24)).columns) if tty else WIDTH


def _wrap(text: str, width: int, indent: str = "  ", hang: str = "") -> list[str]:
    return textwrap.wrap(text, width=width, initial_indent=indent, subsequent_indent=indent + hang,
                         break_on_hyphens=False, break_long_words=False) or [indent.rstrip()]


def _heading(kind: str, d: Diagnosis, total: Optional[int]) -> str:
    """``ndrkb <kind> of <source>``, and for a message of an mbox or Maildir, which one."""
    head = f"ndrkb {kind} of {d.source or 'input'}"
    if not d.index and d.mbox_offset is None and d.maildir_key is None:
        return head
    place = [f"index {d.index}"]
    if d.maildir_key is not None:
        place.append(f"file {d.file or d.maildir_key}")
    if d.mbox_offset is not None:
        place.append(f"byte {d.mbox_offset}")
    return f"{head}, message {d.index + 1}{f' of {total}' if total else ''} ({', '.join(place)})"


def _what(r: RecipientDiagnosis, width: int) -> list[str]:
    perm = {True: "permanent", False: "transient", None: "unknown"}[r.permanent]
    hard = {True: "yes (remove the address from lists)", False: "no", None: "unknown"}[r.hard_bounce]
    status = f"{r.status} (inferred)" if r.status_inferred else r.status or "-"
    return [
        f"Recipient: {r.recipient or '(not named in the input)'}",
        *_wrap(f"status {status}  reply {r.reply_code or '-'}  {perm}  reason {r.reason or '-'}  "
               f"hard bounce: {hard}", width, hang="  "),
        f"  recipient type: {r.recipient_type or 'not revealed by the NDR'}",
        f"  who must act: {ROLE_TEXT.get(r.role or '', 'undecided')}",
    ] + ([f"  the NDR was in: {r.language} (this report is in English)"] if r.language else [])


def _by_type(remediation: list[Remediation]) -> list[tuple[tuple[str, ...], list[Remediation]]]:
    """The fixes grouped by the recipient types they apply to: those for any type first, then
    the groups in order of first appearance."""
    groups: dict[tuple[str, ...], list[Remediation]] = {(): []}
    for rem in remediation:
        groups.setdefault(tuple(rem.recipient_types), []).append(rem)
    return [(types, rems) for types, rems in groups.items() if rems]


def _fix(n: int, rem: Remediation, width: int, steps: bool, types: bool) -> list[str]:
    kinds = f" [{', '.join(rem.recipient_types)}]" if types and rem.recipient_types else ""
    added = f" (added by {rem.added_by})" if rem.added_by else ""
    out = _wrap(f"{n}. {rem.title}{kinds}{added}", width, "  ", "   ")
    if steps:
        out += [line for step in rem.steps for line in _wrap("- " + step, width, "     ", "  ")]
    out += [f"     check first, PS> {ps}" for ps in rem.check]
    out += [f"     PS> {ps}" for ps in rem.powershell]
    if steps and rem.affects:
        out += _wrap("affects: " + rem.affects, width, "     ", "      ")
    if steps:
        out += [line for note in rem.notes for line in _wrap("note: " + note, width, "     ", "      ")]
    return out


def _fixes(r: RecipientDiagnosis, width: int, steps: Optional[bool]) -> list[str]:
    """The remediation: grouped by recipient type, the way to find the type first, when the
    fixes differ by type and the bounce does not say which it is; steps shown when asked or
    not grouped."""
    groups = _by_type(r.remediation)
    grouped = r.recipient_type is None and sum(1 for types, _ in groups if types) > 1
    steps = not grouped if steps is None else steps
    out = [line for note in r.notes if not (grouped and note == TYPE_NOT_REVEALED)
           for line in _wrap("Note: " + note, width)]
    if grouped:
        out += ["", *_wrap("The fix depends on the recipient's type, which the bounce does not reveal. "
                           "Find the type first:", width),
                f"     PS> Get-Recipient {r.recipient or '<recipient>'} | Format-List RecipientTypeDetails",
                *_wrap("then apply a fix listed under it, or run again with --recipient-type TYPE for that "
                       "type's fixes with their admin-center steps" + ("." if steps else " (--steps: every fix's)."),
                       width)]
    n = 0
    for types, rems in groups:
        if grouped:
            out += ["", f"  {', '.join(TYPE_DETAILS.get(t, t) for t in types) if types else 'Any type'}:"]
        for rem in rems:
            n += 1
            out += ([] if grouped else [""]) + _fix(n, rem, width, steps, types=not grouped)
    return out


def render_report(d: Diagnosis, total: Optional[int] = None, width: int = WIDTH,
                  steps: Optional[bool] = None) -> str:
    """The report an admin reads: what happened, for the sender, for the email admin, why.

    ``total``: messages in the input the diagnosis comes from (for its heading); ``steps``:
    show every fix's admin-center steps (default: unless the fixes are grouped by type).
    """
    out = [_heading("diagnosis", d, total)]
    if d.subject:
        out += _wrap(f"Subject: {d.subject}", width, "", "  ")
    if d.reporting_mta or d.mta:
        out.append(f"Reported by: {d.reporting_mta or '-'} ({d.mta or 'unknown system'})")
    if d.error:
        out += ["", *_wrap(f"Could not diagnose: {d.error}", width, "", "  ")]
        if d.found:
            out += _wrap(f"Found: {', '.join(d.found)}", width, "", "  ")
        return "\n".join(out) + "\n"
    for r in d.recipients:
        out += ["", "=" * width] + _what(r, width)
        for info in r.cause_info[:1]:
            out += ["", "What happened"] + _wrap(info.summary, width)
        out += ["", "For the sender"] + _wrap(r.sender_advice or "No advice beyond the cause above.", width)
        out += ["", "For the email admin"]
        for info in r.cause_info[:1]:
            if info.admin_advice:
                out += _wrap(info.admin_advice, width)
        out += _fixes(r, width, steps)
        if len(r.cause_info) > 1:
            out += ["", "Other possible causes (the bounce does not decide between them)"]
            for info in r.cause_info[1:]:
                out += _wrap(f"- {info.id}: {info.summary}", width, "  ", "  ")
                out += [line for rem in info.remediation for line in _wrap(f"fix: {rem.title}", width, "     ", "  ")]
        out += ["", "Why (rules fired, in order)"]
        out += [line for s in r.explanation
                for line in _wrap(f"{s.seq}. {s.rule}{' -> ' + ', '.join(s.won) if s.won else ''}  [{s.reference}]",
                                  width, "  ", "     ")]
    return "\n".join(out) + "\n"


def _step(s: TraceStep, width: int) -> list[str]:
    matched = ", ".join(f"{k}={v!r}" for k, v in s.matched.items()) or "(any)"
    concluded = ", ".join(f"{k}={v!r}" for k, v in s.concluded.items())
    kept = ", ".join(s.won) if s.won else "nothing (outranked)"
    return [
        *_wrap(f"{s.seq}. [{s.stage}] {s.rule}  (pack {s.pack}, salience {s.salience})", width, "  ", "     "),
        *_wrap(s.description, width, "       "),
        *_wrap(f"matched:   {matched}", width, "       ", "           "),
        *_wrap(f"concluded: {concluded}", width, "       ", "           "),
        *_wrap(f"kept:      {kept}", width, "       ", "           "),
        f"       source:    {s.reference}",
    ]


def render_trace(d: Diagnosis, total: Optional[int] = None, width: int = WIDTH) -> str:
    """The full explanation: facts read and every fired rule with its matches and source."""
    out = [_heading("explanation", d, total)]
    if d.found:
        out += _wrap(f"Input parts: {', '.join(d.found)}", width, "", "  ")
    if d.error:
        out += _wrap(f"Could not diagnose: {d.error}", width, "", "  ")
        return "\n".join(out) + "\n"
    for r in d.recipients:
        f = r.facts
        named = f"   ({f.origin['recipient']})" if r.recipient and f.origin.get("recipient") else ""
        out += ["", f"Recipient {r.recipient or '(not named)'}{named}", "  facts:"]
        for name in ("status", "reply_code", "token", "command", "action", "mta", "remote_mta", "reporting_mta",
                     "kind", "language"):
            value = getattr(f, name)
            if value not in (None, ""):
                where = f.origin.get(name) or f.origin.get("reply" if name in ("reply_code", "token") else "", "")
                out.append(f"    {name} = {value!r}" + (f"   ({where})" if where else ""))
            elif name == "status" and r.status_inferred:
                out.append(f"    status = {r.status!r}   (inferred by {r.decided_by.get('status')}: "
                           "the bounce gives none)")
        if f.diagnostic:
            out += _wrap(f"diagnostic = {f.diagnostic[:400]!r}", width, "    ")
        out.append("  rules fired:")
        for s in r.explanation:
            out += _step(s, width)
        out += _wrap("decided: " + ", ".join(f"{k} by {v}" for k, v in sorted(r.decided_by.items())),
                     width, "  ", "  ")
    return "\n".join(out) + "\n"
