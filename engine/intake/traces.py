"""Message traces and tracking logs as input: Microsoft 365 message-trace exports and
Exchange Server message-tracking logs (tables, read with the stdlib ``csv``), and
``Get-MessageTraceDetail`` output as PowerShell prints it.

One :class:`~ndrkb.models.RecipientFacts` per failed or deferred recipient, in row order;
delivered rows are counted, not reported. Column names are those Microsoft documents
(compared without case, spaces, ``-`` or ``_``, so ``recipient-address``,
``recipient_address`` and ``RecipientAddress`` are one column):

* ``Get-MessageTrace`` / ``Get-MessageTraceV2`` with ``Export-Csv`` (and the admin center's
  exported results): Received, SenderAddress, RecipientAddress, Subject, Status, ToIP,
  FromIP, Size, MessageId, MessageTraceId — Status Failed / Pending per row;
* the admin center's enhanced summary report: origin_timestamp, sender_address,
  recipient_status (``a@b##Receive, Fail;c@d##Receive, Deliver``), message_subject, ...;
* the extended report and Exchange message-tracking logs (``#Fields: date-time,...``, or
  ``Get-MessageTrackingLog | Export-Csv``): event_id FAIL / DEFER, recipient_address,
  recipient_status (the server's reply, also as ``{[{LED=550 5.1.1 ...};...]}``), server_hostname;
* ``Get-MessageTraceDetail`` with ``Export-Csv`` (Event, Detail, RecipientAddress), or its
  ``Format-List`` / ``Format-Table`` text.

Sources: learn.microsoft.com, "Message trace in the new Exchange admin center" (report
fields), "Get-MessageTrace", "Get-MessageTraceDetail" and "Message tracking in Exchange
Server" (the tracking log fields and event types).
"""
from __future__ import annotations

import csv
import re
from collections import Counter
from typing import Callable, Iterator, Optional

from ..errors import InputError
from ..limits import MAX_DIAGNOSTIC_CHARS, MAX_LINE_CHARS
from ..models import RecipientFacts
from ..read.parsers import REPLY_CODE, STATUS_CODE, Reply
from ..read.walker import ADDRESS, clean_address
from .logs import parse_reply

#: Rows read from one table at most (the rest is said to be cut).
MAX_ROWS = 100_000


def _key(name: str) -> str:
    """A column name compared without case, blanks, ``-``, ``_`` or a byte-order mark."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


#: The server's reply inside a tracking status or a trace detail: "{LED=550 5.1.1 ...}".
_LED = re.compile(r"\{LED=(?P<led>[^}]*)\}")
#: Where one recipient's status starts in a tracking log's recipient-status list.
_STATUS_ITEM = re.compile(rf";(?=\s*(?:\{{\[\{{LED=)?{REPLY_CODE}[ -])")
_FQDN = re.compile(r"\{FQDN=(?P<fqdn>[^};]+)\}")


def _reply_text(status: str) -> str:
    found = _LED.search(status)
    return found.group("led").strip() if found else status.strip()


def _facts(form: str, rowno: int, *, recipient: Optional[str], action: str, reply: Optional[Reply], text: str,
           remote: Optional[str], reporting: Optional[str], mta: str, fields: dict[str, str]) -> RecipientFacts:
    where = f"{form} row {rowno}"
    return RecipientFacts(
        recipient=clean_address(recipient), action=action, status=reply.status if reply else None,
        reply_code=reply.code if reply else None, token=reply.token if reply else None,
        diagnostic=" ".join(text.split())[:MAX_DIAGNOSTIC_CHARS], remote_mta=remote, reporting_mta=reporting,
        mta=mta, form="listing", origin={k: f"{where}: {v}" for k, v in fields.items()})


Rows = list[tuple[int, dict[str, str]]]
Reading = tuple[list[RecipientFacts], Counter]

#: Outcomes of a trace or tracking row that are a failure or a deferral; every other is counted only.
FAILED_EVENTS = {"fail": "failed", "failed": "failed", "defer": "delayed", "deferred": "delayed",
                 "pending": "delayed"}


def _failing(rows: Rows, column: str, counted: Counter) -> Iterator[tuple[int, dict[str, str], str, str]]:
    """``(row number, row, outcome, action)`` of the rows whose ``column`` (an event or a status)
    is a failure or a deferral; every other outcome is counted in ``counted``."""
    for rowno, row in rows:
        outcome = (row.get(column) or "").strip()
        action = FAILED_EVENTS.get(outcome.lower())
        if action is None:
            counted[outcome.lower() or f"no {column}"] += 1
        else:
            yield rowno, row, outcome, action


def _tracking(form: str, mta: str) -> Callable[[Rows], Reading]:
    """Rows with an event per recipient: tracking logs, the extended report, Get-MessageTrackingLog."""

    def read(rows: Rows) -> Reading:
        """A recipient of one message with several rows (DEFER, then FAIL) is one recipient: its
        latest row decides, in the place of its first."""
        facts: list[RecipientFacts] = []
        at: dict[tuple[str, Optional[str]], int] = {}
        counted: Counter = Counter()
        for rowno, row, event, action in _failing(rows, "eventid", counted):
            message = row.get("internalmessageid") or row.get("messageid") or ""
            column = "recipientaddress" if "recipientaddress" in row else "recipients"
            recipients = [a for a in re.split(r"[;,\s]+", row.get(column, "")) if "@" in a] or [None]
            status = row.get("recipientstatus", "")
            statuses = _STATUS_ITEM.split(status)
            fqdn = _FQDN.search(status)
            for n, rcpt in enumerate(recipients):
                text = _reply_text(statuses[n] if len(statuses) == len(recipients) else statuses[0])
                reply = parse_reply(text)
                fact = _facts(form, rowno, recipient=rcpt, action=action, reply=reply, text=text,
                              remote=fqdn.group("fqdn").strip() if fqdn else None,
                              reporting=row.get("serverhostname") or None, mta=mta,
                              fields={"recipient": column, "action": f"event {event.upper()}",
                                      **({"reply": "recipient status"} if reply else {})})
                counted[action] += 1
                key = (message, fact.recipient)
                if message and key in at:
                    facts[at[key]] = fact
                else:
                    at.setdefault(key, len(facts))
                    facts.append(fact)
        return facts, counted

    return read


def _summary_report(rows: Rows) -> Reading:
    """The enhanced summary report: ``recipient_status`` lists ``address##events`` per recipient."""
    facts: list[RecipientFacts] = []
    counted: Counter = Counter()
    for rowno, row in rows:
        for part in (row.get("recipientstatus") or "").split(";"):
            address, _, events = part.partition("##")
            last = events.split(",")[-1].strip().lower()
            action = FAILED_EVENTS.get(last)
            if action is None:
                counted[last or "no status"] += 1
                continue
            facts.append(_facts("enhanced summary report", rowno, recipient=address, action=action, reply=None,
                                text=f"message trace: {events.strip()}", remote=None, reporting=None,
                                mta="exchange-online",
                                fields={"recipient": "recipient_status", "action": f"recipient_status {events.strip()}"}))
    counted.update(f.action for f in facts)
    return facts, counted


def _message_trace(rows: Rows) -> Reading:
    """``Get-MessageTrace`` / ``Get-MessageTraceV2`` rows: one recipient and its Status each."""
    facts: list[RecipientFacts] = []
    counted: Counter = Counter()
    for rowno, row, status, action in _failing(rows, "status", counted):
        column = "recipientaddress" if "recipientaddress" in row else "recipient"
        facts.append(_facts("message trace", rowno, recipient=row.get(column), action=action, reply=None,
                            text=f"message trace status: {status}", remote=row.get("toip") or None, reporting=None,
                            mta="exchange-online",
                            fields={"recipient": column, "action": f"Status {status}",
                                    **({"remote_mta": "ToIP"} if row.get("toip") else {})}))
    counted.update(f.action for f in facts)
    return facts, counted


#: A reply quoted anywhere in a trace detail ("... 550 5.1.10 ..."), when no LED= holds it.
_REPLY_IN_TEXT = re.compile(rf"\b{REPLY_CODE}[ -]{STATUS_CODE}\b.*")


def _trace_detail(rows: Rows) -> Reading:
    """``Get-MessageTraceDetail`` events: a Fail or Defer event with its Detail (the reason)."""
    facts: list[RecipientFacts] = []
    counted: Counter = Counter()
    for rowno, row, event, action in _failing(rows, "event", counted):
        detail = row.get("detail") or ""
        quoted = _REPLY_IN_TEXT.search(detail)
        reply = parse_reply(_reply_text(detail)) or (parse_reply(quoted.group(0)) if quoted else None)
        fqdn = _FQDN.search(detail)
        facts.append(_facts("message trace detail", rowno, recipient=row.get("recipientaddress"), action=action,
                            reply=reply, text=detail, remote=fqdn.group("fqdn").strip() if fqdn else None,
                            reporting=None, mta="exchange-online",
                            fields={"recipient": "RecipientAddress", "action": f"Event {event.capitalize()}",
                                    **({"reply": "Detail"} if reply else {})}))
    counted.update(f.action for f in facts)
    return facts, counted


#: Each table form: its name, the columns that identify it (all of one alternative), and its reader.
TABLE_FORMS: tuple[tuple[str, tuple[frozenset[str], ...], Callable[[Rows], Reading]], ...] = (
    ("message trace detail", (frozenset({"event", "detail"}),), _trace_detail),
    ("tracking log", (frozenset({"eventid", "recipientaddress"}), frozenset({"eventid", "recipients"})),
     _tracking("tracking log", "exchange")),
    ("enhanced summary report", (frozenset({"recipientstatus", "senderaddress"}),), _summary_report),
    ("message trace", (frozenset({"recipientaddress", "status"}), frozenset({"recipient", "status"})),
     _message_trace),
)
EXPECTED_COLUMNS = ("Get-MessageTrace / Get-MessageTraceV2 export: RecipientAddress, Status (with Received, "
                    "SenderAddress, Subject, ...); enhanced summary report: sender_address, recipient_status; "
                    "extended report or message-tracking log: event_id (EventId), recipient_address (Recipients), "
                    "recipient_status; Get-MessageTraceDetail export: Event, Detail, RecipientAddress")

_META = re.compile(r"#(?:TYPE|Software|Version|Log-type|Date)\b", re.I)


def table_header(lines: list[str]) -> Optional[tuple[int, list[str], str]]:
    """Where a table's header is (line index), its column names and delimiter; None when
    the first lines are not a header row (at least three names, no address, no sentence)."""
    for i, line in enumerate(lines[:8]):
        if _META.match(line) or not line.strip():
            continue
        fields_line = line[len("#Fields:"):] if line.lower().startswith("#fields:") else line
        delimiter = max(",;\t", key=fields_line.count)
        names = next(csv.reader([fields_line], delimiter=delimiter))
        if len(names) < 3 or not all(0 < len(n.strip()) <= 64 and "@" not in n and n.count(" ") <= 3
                                     and not n.strip()[0].isdigit() for n in names):
            return None
        following = next((row for row in lines[i + 1:i + 4] if row.strip() and not row.startswith("#")), None)
        if following is not None and len(next(csv.reader([following], delimiter=delimiter))) != len(names):
            return None  # a sentence with commas, not a header over rows
        return i, [n.strip() for n in names], delimiter
    return None


def table_form(names: list[str]) -> Optional[tuple[str, Callable[[Rows], Reading]]]:
    """The form a table with these column names is (its name and reader), or None."""
    present = {_key(n) for n in names}
    return next(((name, reader) for name, alternatives, reader in TABLE_FORMS
                 if any(cols <= present for cols in alternatives)), None)


def read_table(text: str) -> tuple[str, list[RecipientFacts], Counter]:
    """A trace export or tracking log into its form's name, facts and counted outcomes;
    :class:`InputError` naming the expected columns when its columns are none of them."""
    lines = text.lstrip("\ufeff").splitlines()
    header = table_header(lines)
    if header is None:
        raise InputError("the input is not a table with a header row")
    at, names, delimiter = header
    keys = [_key(n) for n in names]
    form = table_form(names)
    if form is None:
        raise InputError(f"a table whose columns are not a message trace or tracking log "
                         f"(found: {', '.join(names[:12])}{', ...' if len(names) > 12 else ''}); "
                         f"expected one of: {EXPECTED_COLUMNS}")
    name, reader = form
    body = (line[:MAX_LINE_CHARS] for line in lines[at + 1:] if line.strip() and not line.startswith("#"))
    rows: Rows = []
    for rowno, values in enumerate(csv.reader(body, delimiter=delimiter), 1):
        if rowno > MAX_ROWS:
            break
        rows.append((rowno, dict(zip(keys, (v.strip() for v in values)))))
    facts, counted = reader(rows)
    if len(rows) >= MAX_ROWS:
        counted["rows beyond the bound, not read"] += 1
    if name == "tracking log" and lines and not lines[0].startswith("#Software"):
        name = "extended report" if "_" in names[0] else "Get-MessageTrackingLog export"
    elif name == "tracking log":
        name = "Exchange message tracking log"
    return name, facts, counted


_LIST_FIELD = re.compile(r"^(?P<key>[A-Za-z]+)[ \t]*:(?:[ \t](?P<value>.*))?$")
_TABLE_HEAD = re.compile(r"^[ \t]*Date[ \t]+Event[ \t]+(?:Action[ \t]+)?Detail\b")
_DETAIL_KEYS = {"date", "event", "action", "detail", "data", "messagetraceid", "recipientaddress", "senderaddress"}


def looks_like_trace_detail(lines: list[str]) -> bool:
    """``Get-MessageTraceDetail`` as printed: ``Format-List`` fields (Event among them) or the table heading."""
    keys = {_key(m.group("key")) for m in map(_LIST_FIELD.match, lines[:60]) if m}
    return ("event" in keys and len(keys & _DETAIL_KEYS) >= 3) or any(_TABLE_HEAD.match(line) for line in lines[:10])


def read_trace_detail(text: str) -> tuple[str, list[RecipientFacts], Counter]:
    """``Get-MessageTraceDetail`` text (``Format-List`` blocks or the default table) into facts."""
    lines = [line[:MAX_LINE_CHARS] for line in text.splitlines()[:MAX_ROWS]]
    head = next((i for i, line in enumerate(lines[:10]) if _TABLE_HEAD.match(line)), None)
    rows: Rows = []
    recipient = next((ADDRESS.search(line).group(0) for line in lines  # type: ignore[union-attr]
                      if line.lower().startswith("recipientaddress") and ADDRESS.search(line)), None)
    if head is not None:
        starts = [m.start() for m in re.finditer(r"\S+", lines[head])]
        names = [_key(n) for n in lines[head].split()]
        for rowno, line in enumerate(lines[head + 2:], 1):
            if line.strip():
                cells = [line[a:b].strip() for a, b in zip(starts, starts[1:] + [len(line)])]
                rows.append((rowno, {"recipientaddress": recipient or "", **dict(zip(names, cells))}))
        return "message trace detail", *_trace_detail(rows)
    block: dict[str, str] = {}
    last = None
    for line in lines + [""]:
        m = _LIST_FIELD.match(line)
        if m and _key(m.group("key")) in _DETAIL_KEYS | {"messageid", "organization", "startdate", "enddate"}:
            last = _key(m.group("key"))
            block[last] = (m.group("value") or "").strip()
        elif line[:1] in (" ", "\t") and line.strip() and last:
            block[last] += " " + line.strip()
        elif not line.strip() and block:
            block.setdefault("recipientaddress", recipient or "")
            rows.append((len(rows) + 1, block))
            block, last = {}, None
    return "message trace detail", *_trace_detail(rows)
