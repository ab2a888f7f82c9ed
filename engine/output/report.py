"""Readable renderings of a :class:`~ndrkb.models.Diagnosis`: the report and the full trace."""
from __future__ import annotations

import textwrap

from ..models import Diagnosis, RecipientDiagnosis, TraceStep

ROLE_TEXT = {
    "sender": "the sender",
    "sender_admin": "the sender's email admin",
    "recipient_admin": "the recipient's email admin",
    "none": "nobody (transient: the sending system retries; wait)",
}


def _wrap(text: str, indent: str = "  ", hang: str = "") -> list[str]:
    return textwrap.wrap(text, width=92, initial_indent=indent, subsequent_indent=indent + hang,
                         break_on_hyphens=False) or [indent.rstrip()]


def _what(r: RecipientDiagnosis) -> list[str]:
    perm = {True: "permanent", False: "transient", None: "unknown"}[r.permanent]
    hard = {True: "yes (remove the address from lists)", False: "no", None: "unknown"}[r.hard_bounce]
    return [
        f"Recipient: {r.recipient or '(not named in the input)'}",
        f"  status {r.status or '-'}  reply {r.reply_code or '-'}  {perm}  reason {r.reason or '-'}  "
        f"hard bounce: {hard}",
        f"  recipient type: {r.recipient_type or 'not revealed by the NDR'}",
        f"  who must act: {ROLE_TEXT.get(r.role or '', 'undecided')}",
    ] + ([f"  the NDR was in: {r.language} (this report is in English)"] if r.language else [])


def render_report(d: Diagnosis) -> str:
    """The report an admin reads: what happened, for the sender, for the email admin, why."""
    out = [f"ndrkb diagnosis of {d.source or 'input'}"]
    if d.subject:
        out.append(f"Subject: {d.subject}")
    if d.reporting_mta or d.mta:
        out.append(f"Reported by: {d.reporting_mta or '-'} ({d.mta or 'unknown system'})")
    if d.error:
        out += ["", f"Could not diagnose: {d.error}"]
        if d.found:
            out.append(f"Found: {', '.join(d.found)}")
        return "\n".join(out) + "\n"
    for r in d.recipients:
        out += ["", "=" * 92] + _what(r)
        for info in r.cause_info[:1]:
            out += ["", "What happened"] + _wrap(info.summary)
        out += ["", "For the sender"] + _wrap(r.sender_advice or "No advice beyond the cause above.")
        out += ["", "For the email admin"]
        for info in r.cause_info[:1]:
            if info.admin_advice:
                out += _wrap(info.admin_advice)
        for note in r.notes:
            out += _wrap("Note: " + note)
        for n, rem in enumerate(r.remediation, 1):
            types = f" [{', '.join(rem.recipient_types)}]" if rem.recipient_types else ""
            added = f" (added by {rem.added_by})" if rem.added_by else ""
            out += ["", f"  {n}. {rem.title}{types}{added}"]
            out += [line for step in rem.steps for line in _wrap("- " + step, "     ", "  ")]
            for ps in rem.check:
                out.append(f"     check first, PS> {ps}")
            for ps in rem.powershell:
                out.append(f"     PS> {ps}")
            if rem.affects:
                out += _wrap("affects: " + rem.affects, "     ", "      ")
            out += [line for note in rem.notes for line in _wrap("note: " + note, "     ", "      ")]
        if len(r.cause_info) > 1:
            out += ["", "Other possible causes (the bounce does not decide between them)"]
            for info in r.cause_info[1:]:
                out += _wrap(f"- {info.id}: {info.summary}")
                out += [f"     fix: {rem.title}" for rem in info.remediation]
        out += ["", "Why (rules fired, in order)"]
        out += [f"  {s.seq}. {s.rule}{' -> ' + ', '.join(s.won) if s.won else ''}  [{s.reference}]"
                for s in r.explanation]
    return "\n".join(out) + "\n"


def _step(s: TraceStep) -> list[str]:
    matched = ", ".join(f"{k}={v!r}" for k, v in s.matched.items()) or "(any)"
    concluded = ", ".join(f"{k}={v!r}" for k, v in s.concluded.items())
    kept = ", ".join(s.won) if s.won else "nothing (outranked)"
    return [
        f"  {s.seq}. [{s.stage}] {s.rule}  (pack {s.pack}, salience {s.salience})",
        *_wrap(s.description, "       "),
        f"       matched:   {matched}",
        f"       concluded: {concluded}",
        f"       kept:      {kept}",
        f"       source:    {s.reference}",
    ]


def render_trace(d: Diagnosis) -> str:
    """The full explanation: facts read and every fired rule with its matches and source."""
    out = [f"ndrkb explanation of {d.source or 'input'}"]
    if d.found:
        out.append(f"Input parts: {', '.join(d.found)}")
    if d.error:
        out.append(f"Could not diagnose: {d.error}")
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
        if f.diagnostic:
            out += _wrap(f"diagnostic = {f.diagnostic[:400]!r}", "    ")
        out.append("  rules fired:")
        for s in r.explanation:
            out += _step(s)
        out.append("  decided: " + ", ".join(f"{k} by {v}" for k, v in sorted(r.decided_by.items())))
    return "\n".join(out) + "\n"
