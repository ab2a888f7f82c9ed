"""MTA log lines as input: Postfix, Exim main log and Sendmail lines, one
:class:`~ndrkb.models.RecipientFacts` per failed or deferred recipient.

A log line carries no reply headers: the status, reply code, SMTP stage and remote host
are read from the line itself, and each fact's ``origin`` names the line and the field.
Delivered lines (``status=sent``, Exim ``=>``, ``stat=Sent``) yield nothing but are counted.

The line shapes are data (the patterns below, one per MTA, each with the log it comes from);
a line that matches none of them is skipped.
"""
from __future__ import annotations

import re
from collections import Counter
from typing import Callable, Iterable, Optional, Union

from ..limits import MAX_DIAGNOSTIC_CHARS, MAX_LINE_CHARS, MAX_RECIPIENTS
from ..models import RecipientFacts
from ..read.parsers import STATUS_CODE, Reply, parse_reply as _parse_reply
from ..read.walker import ADDRESS, clean_address

#: The line prefix syslog writes: "Nov 29 09:12:01 mx1 " or an RFC 3339 stamp and host.
_SYSLOG = r"^(?:\S+ +\d+ [\d:]{8}|\d{4}-\d\d-\d\dT[\d:.]+(?:Z|[+-]\d\d:?\d\d)?) +(?P<host>\S+) +"

#: Postfix delivery agents (smtp, lmtp, local, virtual, pipe, error, ...):
#: "postfix/smtp[2345]: 4F1A2B3C4D: to=<a@b>, relay=..., dsn=5.1.1, status=bounced (...)"
POSTFIX_DELIVERY = re.compile(
    _SYSLOG + r"postfix[\w./-]*/(?P<agent>[\w-]+)\[\d+\]: (?P<qid>\w+): to=<(?P<rcpt>[^>]{0,512})>,"
    r"(?: orig_to=<(?P<orig>[^>]{0,512})>,)?(?P<fields>[^()]{0,600}?) status=(?P<status>\w+)(?: \((?P<text>.*)\))?$")
#: Postfix smtpd refusing a recipient before queueing it (the log of the receiving side):
#: "postfix/smtpd[77]: NOQUEUE: reject: RCPT from c[192.0.2.9]: 550 5.1.1 <a@b>: ...; from=<s@x> to=<a@b> ..."
POSTFIX_REJECT = re.compile(
    _SYSLOG + r"postfix[\w./-]*/[\w-]+\[\d+\]: (?:NOQUEUE|\w+): (?:reject|defer)\w*: (?P<stage>[A-Z-]+) from "
    r"(?P<client>\S+?): (?P<text>.*?); from=<[^>]{0,512}> to=<(?P<rcpt>[^>]{0,512})>")
#: Postfix's "host H[ip] said: 550 ... (in reply to RCPT TO command)" inside a status text.
POSTFIX_SAID = re.compile(r"host (?P<host>[^\s\[]+)\[(?P<ip>[^\]]*)\] said: (?P<reply>.*?)"
                          r"(?: \(in reply to (?P<stage>[\w -]+?) command\))?$")
#: "connect to H[ip]:25: Connection timed out", "lost connection with H[ip] while ...".
POSTFIX_HOST = re.compile(r"(?:connect to|connection with|with|to) (?P<host>[^\s\[]+)\[(?P<ip>[^\]]*)\]")

#: Exim main log: "2026-11-29 09:12:01 1qABCD-0001Ab-Cd ** a@b R=r T=t H=h [ip]: SMTP error ..."
#: (``**`` a delivery failed, ``==`` it was deferred; ``=>``, ``->``, ``*>`` delivered).
EXIM_LINE = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?(?: [+-]\d{4})? (?:\[\d+\] )?"
    r"(?P<id>\w{6}-\w{6,11}-\w{2,4}) (?P<flag>\*\*|==|=>|->|\*>) (?P<rcpt>[^\s:]+):?(?: <(?P<orig>[^>]{0,512})>)?"
    r"(?P<rest>.*)$")
#: "SMTP error from remote mail server after RCPT TO:<a@b>: 550 5.1.1 ..." (Exim 4.x).
EXIM_SMTP_ERROR = re.compile(r"SMTP error from remote mail(?: server)? after (?:pipelined )?(?P<stage>[^:]{1,60}?)"
                             r"(?::<[^>]{0,512}>)?: (?P<reply>.*)$")
EXIM_HOST = re.compile(r"\bH=(?P<host>\S+)(?: \[(?P<ip>[^\]]*)\])?")

#: Sendmail: "sendmail[1234]: 2ATC1x001234: to=<a@b>, delay=..., relay=h. [ip], dsn=5.1.1, stat=User unknown"
SENDMAIL_LINE = re.compile(_SYSLOG + r"(?:sendmail|sm-mta)\[\d+\]: (?P<qid>\w+): to=")
#: Where the recipient list of a Sendmail line ends: the first field after it.
SENDMAIL_AFTER_TO = re.compile(r", (?:ctladdr|delay|xdelay|mailer|pri|relay|dsn)=")
_FIELD = re.compile(r"\b(?P<key>relay|dsn|mailer)=(?P<value>[^,]*)")

#: The SMTP stage as the logs name it -> the command the failure followed.
_STAGES = (("rcpt", "RCPT"), ("mail", "MAIL"), ("data", "DATA"), ("end of", "DATA"), ("connect", "CONNECT"),
           ("greeting", "CONNECT"), ("initial", "CONNECT"), ("helo", "HELO"), ("ehlo", "HELO"))


def parse_reply(text: str) -> Optional[Reply]:
    """The code, enhanced code and token of a reply quoted in a log line or trace row: read from
    its first 200 characters with addresses masked, so that the replies of a long log that differ
    only in the address are parsed once (the text itself is kept as the diagnostic)."""
    return _parse_reply(ADDRESS.sub("x@x", text)[:200])


def _stage(text: Optional[str]) -> Optional[str]:
    low = (text or "").lower()
    return next((command for word, command in _STAGES if low.startswith(word)), None)


def _status(text: Optional[str]) -> Optional[str]:
    found = re.search(STATUS_CODE, text or "")
    return found.group(0) if found else None


#: The vocabulary's MTA family of each log.
LOG_FAMILIES = {"Postfix log": "postfix", "Exim main log": "exim", "Sendmail log": "sendmail"}


#: What one log line says: None (not a delivery line), an outcome to count ("sent"), or
#: the failed / deferred recipients it reports, each with its message's queue id (None: none).
Line = Union[None, str, list[tuple[Optional[str], RecipientFacts]]]


def _facts(form: str, lineno: int, *, recipient: Optional[str], action: str, status: Optional[str],
           reply: Optional[Reply], diagnostic: str, command: Optional[str], remote: Optional[str],
           reporting: Optional[str], fields: dict[str, str]) -> RecipientFacts:
    """One failed or deferred recipient read from line ``lineno``; ``fields`` names where each
    fact came from (fact -> the log's own name for the field). The MTA family is the log's."""
    where = f"{form} line {lineno}"
    if status is None and reply and reply.status and "reply" in fields:
        fields = {**fields, "status": fields["reply"]}
    return RecipientFacts(
        recipient=clean_address(recipient) or recipient or None, action=action,
        status=status or (reply.status if reply else None), reply_code=reply.code if reply else None,
        token=reply.token if reply else None, diagnostic=" ".join(diagnostic.split())[:MAX_DIAGNOSTIC_CHARS],
        command=command, remote_mta=remote, reporting_mta=reporting, mta=LOG_FAMILIES[form], form="listing",
        origin={k: f"{where}: {v}" for k, v in fields.items()})


def postfix_line(line: str, lineno: int) -> Line:
    """A Postfix delivery line (``status=bounced|deferred``) or smtpd rejection; "sent" etc. to count."""
    m = POSTFIX_DELIVERY.match(line)
    if m:
        word = m.group("status")
        if word not in ("bounced", "deferred", "undeliverable", "expired"):
            return word
        fields = dict(_FIELD.findall(m.group("fields")))
        text = m.group("text") or ""
        where = {"recipient": "to=", "action": f"status={word}"}
        said = POSTFIX_SAID.search(text)
        reply = command = remote = None
        if said:
            reply, command, remote = parse_reply(said.group("reply")), _stage(said.group("stage")), said.group("host")
            where.update(reply="said:", remote_mta="host ... said:")
            if command:
                where["command"] = f"(in reply to {said.group('stage')} command)"
        else:
            host = POSTFIX_HOST.search(text)
            relay = fields.get("relay", "")
            remote = host.group("host") if host else (relay.split("[", 1)[0] if "[" in relay else None)
            if remote:
                where["remote_mta"] = "connect to" if host else "relay="
        status = _status(fields.get("dsn"))
        if status:
            where["status"] = "dsn="
        return [(m.group("qid"), _facts("Postfix log", lineno, recipient=m.group("rcpt"),
                                        action="delayed" if word == "deferred" else "failed", status=status,
                                        reply=reply, diagnostic=text, command=command, remote=remote,
                                        reporting=m.group("host"), fields=where))]
    m = POSTFIX_REJECT.match(line)
    if m:
        reply = parse_reply(m.group("text"))
        return [(None, _facts("Postfix log", lineno, recipient=m.group("rcpt"), action=_action(reply), status=None,
                              reply=reply, diagnostic=m.group("text"), command=_stage(m.group("stage")), remote=None,
                              reporting=m.group("host"),
                              fields={"recipient": "to=", "reply": "reject:",
                                      "command": f"reject: {m.group('stage')}"}))]
    return None


def exim_line(line: str, lineno: int) -> Line:
    """An Exim main log ``**`` (failed) or ``==`` (deferred) line; "delivered" for ``=>``, ``->``, ``*>``."""
    m = EXIM_LINE.match(line)
    if not m:
        return None
    flag, rest = m.group("flag"), m.group("rest")
    if flag not in ("**", "=="):
        return "delivered"
    where = {"recipient": f"{flag} address", "action": flag}
    at = rest.find("SMTP error from remote mail")
    err, host = EXIM_SMTP_ERROR.match(rest, at) if at >= 0 else None, EXIM_HOST.search(rest)
    reply = command = None
    text = rest.split(": ", 1)[1] if ": " in rest else rest.strip()
    if err:
        reply, command, text = parse_reply(err.group("reply")), _stage(err.group("stage")), err.group("reply")
        where.update(reply="SMTP error from remote mail server", command=f"after {err.group('stage')}")
    if host:
        where["remote_mta"] = "H="
    return [(m.group("id"), _facts("Exim main log", lineno, recipient=m.group("rcpt"),
                                   action="delayed" if flag == "==" else "failed",
                                   status=None if reply else _status(text), reply=reply, diagnostic=text,
                                   command=command, remote=host.group("host") if host else None, reporting=None,
                                   fields=where))]


def sendmail_line(line: str, lineno: int) -> Line:
    """A Sendmail ``to=..., dsn=..., stat=...`` line: one fact per address on it; "delivered" for ``stat=Sent``."""
    head = SENDMAIL_LINE.match(line)
    at = line.find(", stat=", head.end()) if head else -1
    if head is None or at < 0:
        return None
    stat = line[at + len(", stat="):].strip()
    if stat.lower().startswith("sent"):
        return "delivered"
    listed = SENDMAIL_AFTER_TO.search(line, head.end(), at)
    to = line[head.end():listed.start() if listed else at]
    recipients = ADDRESS.findall(to)[:MAX_RECIPIENTS] or [to.strip("<> ")]
    fields = dict(_FIELD.findall(line, listed.start() if listed else at, at))
    status = _status(fields.get("dsn"))
    reply = next((r for r in (parse_reply(p) for p in re.split(r"(?<=:) ", stat)) if r), None)
    relay = fields.get("relay", "").strip()
    remote = relay.split()[0].rstrip(".") if relay and not relay.startswith("[") else None
    action = "delayed" if stat.lower().startswith("deferred") or (status or "").startswith("4") else "failed"
    where = {"recipient": "to=", "action": "stat=", **({"status": "dsn="} if status else {}),
             **({"remote_mta": "relay="} if remote else {}), **({"reply": "stat="} if reply else {})}
    return [(head.group("qid"), _facts("Sendmail log", lineno, recipient=r, action=action, status=status,
                                       reply=reply, diagnostic=stat, command=None, remote=remote,
                                       reporting=head.group("host"), fields=where))
            for r in recipients]


def _action(reply: Optional[Reply]) -> str:
    """'delayed' for a class-4 reply, else 'failed'."""
    return "delayed" if reply and str(reply.code or reply.status or "5").startswith("4") else "failed"


#: The line readers by the log they read, tried in this order on every line.
LINE_READERS: dict[str, Callable[[str, int], Line]] = {
    "Postfix log": postfix_line, "Exim main log": exim_line, "Sendmail log": sendmail_line}
#: A line belongs to some MTA log: its delivery agent or message-id shape.
LOG_SIGN = re.compile(r"postfix[\w./-]*/[\w-]+\[\d+\]: |(?:sendmail|sm-mta)\[\d+\]: |"
                      r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\S* (?:[+-]\d{4} )?(?:\[\d+\] )?\w{6}-\w{6,11}-\w{2,4} ")


def looks_like_log(lines: Iterable[str]) -> bool:
    """True when most of the first non-blank lines are MTA log lines (at least one)."""
    lines = [line for line in lines if line.strip()][:20]
    return bool(lines) and sum(1 for line in lines if LOG_SIGN.search(line)) * 2 > len(lines)


def read_log(text: str) -> tuple[str, list[RecipientFacts], Counter[str]]:
    """The logs a log excerpt holds (by name), every failed or deferred recipient in the order
    of its first line, and the lines counted by outcome (delivered lines yield no fact).

    A recipient of one queued message logged again (deferred, retried, then bounced) is one
    recipient: its latest line decides, in the place of its first."""
    facts: list[RecipientFacts] = []
    at: dict[tuple[str, str, Optional[str]], int] = {}
    counted: Counter[str] = Counter()
    names: dict[str, None] = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line[:MAX_LINE_CHARS]
        for name, reader in LINE_READERS.items():
            got = reader(line, lineno)
            if got is None:
                continue
            names[name] = None
            if isinstance(got, str):
                counted[got] += 1
                break
            for qid, fact in got:
                counted[fact.action or "failed"] += 1
                key = (name, qid, fact.recipient) if qid else None
                if key in at:
                    facts[at[key]] = fact
                else:
                    if key:
                        at[key] = len(facts)
                    facts.append(fact)
            break
    return " and ".join(names) or "MTA log", facts, counted
