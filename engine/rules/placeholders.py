"""Placeholders in pack prose, filled from the facts of the bounce being explained.

A cause's ``summary``, ``sender`` and ``admin`` and a remediation's ``title``, ``steps``,
``notes`` and ``affects`` may quote the bounce with ``{status}``, ``{reply_code}``,
``{recipient}``, ``{recipient_type}``, ``{token}`` or ``{remote_mta}``; ``{{`` and ``}}``
stand for a literal brace.  When the bounce lacks the fact, a neutral phrase is used, so
a text written once reads true for every code a cause covers.  An unknown placeholder is
refused when the pack is loaded (:func:`problems`).  PowerShell lines are not filled:
their ``<recipient>`` markers are for the admin to replace.
"""
from __future__ import annotations

import re
from typing import Callable, Optional

from ..models import RecipientFacts
from ..vocabulary import RECIPIENT_TYPE_NAMES
from .schema import PackSpec
from .toml_lines import Where

#: placeholder -> phrase used when the bounce does not give the fact
FALLBACK: dict[str, str] = {
    "status": "given in the bounce",
    "reply_code": "given in the bounce",
    "recipient": "the recipient's address",
    "recipient_type": "recipient",
    "token": "given in the bounce",
    "remote_mta": "the receiving server",
}
_FIELD = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")
#: The prose fields that may hold placeholders, per table kind.
CAUSE_FIELDS = ("summary", "sender", "admin")
REMEDIATION_FIELDS = ("title", "steps", "notes", "affects")


def filler(facts: RecipientFacts, recipient_type: Optional[str]) -> Callable[[str], str]:
    """A function filling the placeholders of a text from one recipient's facts."""
    values = {
        "status": facts.status, "reply_code": str(facts.reply_code) if facts.reply_code else None,
        "recipient": facts.recipient, "recipient_type": RECIPIENT_TYPE_NAMES.get(recipient_type or ""),
        "token": facts.token, "remote_mta": facts.remote_mta,
    }

    def fill(text: str) -> str:
        def one(m: re.Match) -> str:
            if m.group(1) is None:
                return m.group(0)[0]
            return values.get(m.group(1)) or FALLBACK.get(m.group(1), m.group(0))
        return _FIELD.sub(one, text)

    return fill


def unknown(text: str) -> list[str]:
    """The placeholders of a text that are not known (``{foo}``), in order."""
    return [m.group(0) for m in _FIELD.finditer(text) if m.group(1) is not None and m.group(1) not in FALLBACK]


def problems(spec: PackSpec, where: Where) -> list[str]:
    """``file:line: cause X: field: unknown placeholder {foo}`` for every unknown placeholder of a pack."""
    out = []
    tables = [("cause", cid, c, CAUSE_FIELDS) for cid, c in spec.cause.items()]
    tables += [("remediation", rid, r, REMEDIATION_FIELDS) for rid, r in spec.remediation.items()]
    for kind, tid, table, fields in tables:
        for fname in fields:
            value = getattr(table, fname)
            for text in ([value] if isinstance(value, str) else value):
                for bad in unknown(text):
                    line = where.line_of(f"{kind}.{tid}", None, bad)
                    out.append(f"{where.path}:{line}: {kind} {tid}: {fname}: unknown "
                               f"placeholder {bad} (known: {', '.join('{' + k + '}' for k in FALLBACK)}; "
                               "write {{ and }} for a literal brace)")
    return out


__all__ = ["filler", "unknown", "problems", "FALLBACK"]
