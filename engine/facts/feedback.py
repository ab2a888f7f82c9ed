"""Facts for reports that are not bounces: ARF feedback (RFC 5965) and auto-replies (RFC 3834)."""
from __future__ import annotations

import re

from ..errors import InputError
from ..read.parsers import parse_dsn
from ..intake.parts import Parts
from ..models import RecipientFacts
from ..read.walker import ADDRESS, clean_address

_AUTOREPLY_SUBJECT = re.compile(r"^(?:auto(?:matic)?[ -]?(?:reply|response)|out of (?:the )?office|vacation)\b", re.I)
_MAIL_SYSTEM = re.compile(r"mailer-daemon|postmaster|mail delivery|mail system", re.I)
_COMPLAINT_SUBJECT = re.compile(r"\b(?:complaint about|abuse report)\b", re.I)
#: A JSON complaint notification (Amazon SES: notificationType "Complaint", the complained
#: recipients and, when given, the feedback type).
_JSON_COMPLAINT = re.compile(r'"notificationType"\s*:\s*"Complaint"')
_JSON_RECIPIENTS = re.compile(r'"complainedRecipients"\s*:\s*\[([^\]]*)\]')
_JSON_TYPE = re.compile(r'"complaintFeedbackType"\s*:\s*"([A-Za-z-]+)"')


def is_feedback(parts: Parts, facts: list[RecipientFacts]) -> bool:
    """True for a feedback report or an auto-reply rather than a bounce.

    A feedback-report part or a JSON complaint notification decides alone; auto-reply
    headers or subject, or a complaint
    subject with the original attached, count only when no recipient fact carries a
    status or reply code.
    """
    if parts.feedback_report or _JSON_COMPLAINT.search(parts.text):
        return True
    if any(f.status or f.reply_code for f in facts) or parts.delivery_status:
        return False
    return _is_autoreply(parts) or bool(_COMPLAINT_SUBJECT.search(parts.subject) and parts.original_headers)


def _is_autoreply(parts: Parts) -> bool:
    """Auto-reply headers or subject, from a person's address (mail systems mark bounces auto-replied too)."""
    if _MAIL_SYSTEM.search(parts.sender):
        return False
    auto = parts.headers.get("auto-submitted", "").lower()
    return (auto.startswith("auto-replied") and "ndr" not in auto) or "x-autoreply" in parts.headers \
        or parts.headers.get("precedence", "").lower() == "auto_reply" \
        or bool(_AUTOREPLY_SUBJECT.match(parts.subject.removeprefix("Re: ")))


def feedback_facts(parts: Parts) -> list[RecipientFacts]:
    """One fact per reported recipient of a feedback report, or the replier of an auto-reply."""
    if parts.feedback_report or not _is_autoreply(parts):
        return _complaint_facts(parts)
    replier = clean_address(parts.sender)
    return [RecipientFacts(recipient=replier, action="failed", kind="autoreply", diagnostic=parts.subject,
                           origin={"recipient": "header From (auto-reply)"})]


def _complaint_facts(parts: Parts) -> list[RecipientFacts]:
    """The recipients a complaint is about: every Original-Rcpt-To (or the JSON notification's
    complained recipients), else the returned message's To."""
    merged: dict[str, str] = {}
    rcpts: list[str] = []
    if parts.feedback_report:
        raw = parts.feedback_report[0]
        try:
            fields = parse_dsn(raw)
        except InputError:
            fields = None
        for block in ([fields.message] + fields.recipients) if fields else []:
            for k, v in block.items():
                merged.setdefault(k, v)
        for value in re.findall(r"^Original-Rcpt-To:[ \t]*(.*)$", raw, re.M | re.I):
            rcpts.extend(a.lower() for a in ADDRESS.findall(value))
    where = "message/feedback-report: Original-Rcpt-To"
    type_origin = "message/feedback-report: Feedback-Type"
    if not parts.feedback_report and _JSON_COMPLAINT.search(parts.text):
        listed = _JSON_RECIPIENTS.search(parts.text)
        rcpts = [a.lower() for a in ADDRESS.findall(listed.group(1))] if listed else []
        where = "JSON complaint notification: complainedRecipients"
        kind = _JSON_TYPE.search(parts.text)
        merged["feedback-type"] = kind.group(1) if kind else "abuse"
        type_origin = "JSON complaint notification: complaintFeedbackType"
    if not rcpts:
        to = re.search(r"^To:[ \t]*(.*)$", parts.original_headers, re.M | re.I)
        value = to.group(1) if to else ""
        rcpts = [a.lower() for a in ADDRESS.findall(value)] or [value.strip(" <>\"'")]
        where = "returned original header To (as written when it holds no address)"
    ftype = (merged.get("feedback-type") or "abuse").strip().lower()
    origin = {"recipient": where, "feedback_type": type_origin
              if "feedback-type" in merged else "a complaint without a feedback-report part: abuse"}
    return [RecipientFacts(recipient=r or None, action="failed", kind="feedback", feedback_type=ftype,
                           diagnostic=ftype, origin=origin) for r in dict.fromkeys(rcpts)]
