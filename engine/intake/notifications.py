"""JSON delivery notifications (Amazon SES through SNS e-mail) read as delivery-status blocks.

Amazon SES reports a bounce or a delivery to an SNS topic, whose e-mail subscription sends
the notification's JSON as the message body (notification contents:
https://docs.aws.amazon.com/ses/latest/dg/notification-contents.html; the reader
lib/Sisimai/Lhost/AmazonSES.pm).  Each bounced or delivered recipient becomes one RFC 3464
recipient block; the notification's own classification (``bounceType``, ``bounceSubType``)
is kept as the vendor fields ``X-AmazonSES-BounceType`` / ``X-AmazonSES-BounceSubType``, which
packs read with ``when.field``.  Complaints are feedback, read in :mod:`ndrkb.facts.feedback`.
"""
from __future__ import annotations

import json
import re
from typing import Any, Optional

from ..limits import MAX_RECIPIENTS

_KIND = re.compile(r'"notificationType"\s*:\s*"(?:Bounce|Delivery)"')


def ses_notification_blocks(text: str) -> Optional[list[dict[str, str]]]:
    """The delivery-status blocks of an SES bounce or delivery notification, or None when
    ``text`` is not one (a complaint, other JSON, or no JSON at all)."""
    if not text.lstrip().startswith("{") or not _KIND.search(text):
        return None
    payload = _decode(_unfold(text))
    if isinstance(payload, dict) and isinstance(payload.get("Message"), str):
        payload = _decode(payload["Message"])  # the SNS envelope around the notification
    if not isinstance(payload, dict):
        return None
    kind = payload.get("notificationType")
    if kind == "Bounce":
        return _bounce(payload.get("bounce"))
    if kind == "Delivery":
        return _delivery(payload.get("delivery"))
    return None


def _unfold(text: str) -> str:
    """The JSON of the body: SNS e-mail folds long lines with a trailing ``!`` and a leading
    space on the next line; the JSON ends at the signature separator ``--``."""
    out: list[str] = []
    folded = False
    for line in text.lstrip().split("\n"):
        line = line.rstrip("\r")
        if line == "--":
            break
        if folded:
            line = line[1:]
        folded = line.endswith("!")
        out.append(line[:-1] if folded else line + "\n")
    return "".join(out)


def _decode(text: str) -> Any:
    """The JSON value of ``text``, or None when it is not JSON (or nests too deep to read)."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def _text(value: Any) -> str:
    return " ".join(value.split()) if isinstance(value, str) else ""


def _bounce(bounce: Any) -> Optional[list[dict[str, str]]]:
    if not isinstance(bounce, dict) or not isinstance(bounce.get("bouncedRecipients"), list):
        return None
    mta = _text(bounce.get("reportingMTA"))
    blocks: list[dict[str, str]] = [{"reporting-mta": mta} if mta else {}]
    for r in bounce["bouncedRecipients"][:MAX_RECIPIENTS]:
        if not isinstance(r, dict) or "@" not in _text(r.get("emailAddress")):
            continue
        block = {"final-recipient": "rfc822; " + _text(r.get("emailAddress")), "action": _text(r.get("action")),
                 "status": _text(r.get("status")), "diagnostic-code": _text(r.get("diagnosticCode")),
                 "x-amazonses-bouncetype": _text(bounce.get("bounceType")),
                 "x-amazonses-bouncesubtype": _text(bounce.get("bounceSubType"))}
        blocks.append({k: v for k, v in block.items() if v})
    return blocks if len(blocks) > 1 else None


def _delivery(delivery: Any) -> Optional[list[dict[str, str]]]:
    if not isinstance(delivery, dict) or not isinstance(delivery.get("recipients"), list):
        return None
    reply = _text(delivery.get("smtpResponse"))
    mta = _text(delivery.get("reportingMTA"))
    blocks: list[dict[str, str]] = [{"reporting-mta": "dns; " + mta} if mta else {}]
    for address in delivery["recipients"][:MAX_RECIPIENTS]:
        if "@" in _text(address):
            blocks.append({k: v for k, v in {"final-recipient": "rfc822; " + _text(address), "action": "delivered",
                                             "diagnostic-code": "smtp; " + reply if reply else ""}.items() if v})
    return blocks if len(blocks) > 1 else None
