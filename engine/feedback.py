"""Facts for reports that are not bounces: ARF feedback (RFC 5965) and auto-replies (RFC 3834)."""
from __future__ import annotations

import re

from .errors import InputError
from .facts import clean_address
from .grammars import parse_dsn
from .intake import Parts
from .models import RecipientFacts


def feedback_facts(parts: Parts) -> list[RecipientFacts]:
    """One fact per reported recipient of an ARF report, or the replier of an auto-reply."""
    if parts.feedback_report:
        try:
            fields = parse_dsn(parts.feedback_report[0])
        except InputError:
            return []
        blocks = [fields.message] + fields.recipients if fields.message else fields.recipients
        merged: dict[str, str] = {}
        for b in blocks:
            for k, v in b.items():
                merged.setdefault(k, v)
        ftype = (merged.get("feedback-type") or "").strip().lower() or None
        rcpts = [clean_address(v) for v in re.split(r",", merged.get("original-rcpt-to", ""))]
        rcpts = [r for r in rcpts if r]
        if not rcpts:
            to = re.search(r"^To:(.*)$", parts.original_headers, re.M | re.I)
            rcpts = [a for a in ([clean_address(to.group(1))] if to else []) if a]
        origin = {"recipient": "message/feedback-report: Original-Rcpt-To or returned To",
                  "feedback_type": "message/feedback-report: Feedback-Type"}
        return [RecipientFacts(recipient=r, action="failed", kind="feedback", feedback_type=ftype,
                               diagnostic=ftype or "", origin=origin) for r in rcpts or [None]]
    replier = clean_address(parts.sender)
    return [RecipientFacts(recipient=replier, action="failed", kind="autoreply", diagnostic=parts.subject,
                           origin={"recipient": "header From (auto-reply)"})]
