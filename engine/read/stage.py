"""The SMTP stage of a failure: which command the refusal answered, read from what MTAs write.

Forms, most explicit first (fact sheet ``../shared/reference/sisimai-reasons.md`` section 6):

* Postfix: ``(in reply to RCPT TO command)``, ``(in reply to end of DATA command)``;
  ``refused to talk to me`` (the greeting refused: read as HELO, as Sisimai's Postfix
  reader does);
* Exim: ``SMTP error from remote mail server after RCPT TO:<a@b>:``, ``after end of
  data``, ``after initial connection`` (CONN), ``after pipelined MAIL FROM``;
* 1&1: ``for TEXT command`` (the message text: DATA);
* qmail (the messages of qmail-remote.c): ``Connected to 192.0.2.1 but greeting failed.`` (CONN),
  ``... but my name was rejected.`` (HELO), ``... but sender was rejected.`` (MAIL),
  ``192.0.2.1 does not like recipient.`` (RCPT), ``... failed on DATA command.`` and
  ``... failed after I sent the message.`` (DATA);
* Postfix's notice of a refused session (``Transcript of session follows.``, ``In:`` / ``Out:``
  lines): the client command that the first ``Out: 4xx``/``5xx`` reply answered;
* a session transcript: the last ``>>> COMMAND`` line (Sendmail) or ``SMTP command: X``;
  server replies (``<<< 5xx``) with no command line: EHLO (Sendmail's reader, fact sheet 6.3);
* otherwise the chain of upper-case command words in the text (section 6.2): each word
  is looked for after the one found before it, and the last one found is the stage.

Nothing found: the stage is unknown (``None``), unless the reporting system's family has a
default stage (``MtaFamily.stage``, applied in :mod:`ndrkb.facts.extract`).
"""
from __future__ import annotations

import re
from typing import Optional

from .parsers import REPLY_CODE

_WORD = {"rcpt": "RCPT", "mail": "MAIL", "data": "DATA", "helo": "HELO", "ehlo": "EHLO", "lhlo": "EHLO",
         "starttls": "STARTTLS", "auth": "AUTH", "quit": "QUIT", "end": "DATA", "initial": "CONN",
         "connect": "CONN", "greeting": "CONN", "banner": "CONN", "text": "DATA", "recipient": "RCPT",
         "my name": "HELO", "sender": "MAIL", "sent the message": "DATA"}

#: Explicit statements of the stage, each with the word that names the command.
_STATED = (
    re.compile(r"in reply to (?:the )?(?P<w>rcpt|mail|data|helo|ehlo|lhlo|starttls|auth|quit|end)\b", re.I),
    re.compile(r"\bafter (?:the )?(?:pipelined )?(?P<w>rcpt to|mail from|end of data|data|helo|ehlo|lhlo|"
               r"starttls|auth|quit|initial connection|connect)\b", re.I),
    re.compile(r"\bSMTP command:? ?(?P<w>rcpt|mail|data|helo|ehlo|starttls|auth|quit)\b", re.I),
    re.compile(r"\bfor (?P<w>TEXT) command\b"),  # 1&1 (fact sheet 6.3): the message text, i.e. DATA
    re.compile(r"\bdoes not like (?P<w>recipient)\.|\bbut (?P<n>my name|sender) was rejected\."
               r"|\bbut (?P<g>greeting) failed\.|\bfailed on (?P<d>DATA) command\b|\bfailed after I (?P<s>sent the message)\b",
               re.I),  # qmail-remote.c
    re.compile(r"\b(?P<w>greeting|banner) (?:was )?(?:rejected|refused)", re.I),
    re.compile(r"(?P<w>refused to talk to me)", re.I),
)
#: Words each statement of ``_STATED`` contains (lower case): in an ASCII text, where ``re.I``
#: is plain case folding, a pattern none of whose words occur in the lowered text is not run.
_NEEDS = (("in reply to",), ("after",), ("smtp command",), ("text command",),
          ("does not like", "was rejected", "greeting failed", "failed on", "failed after"),
          ("greeting", "banner"), ("refused to talk to me",))
_TRANSCRIPT = re.compile(r"^>>> ?(?P<w>rcpt|mail|data|helo|ehlo|lhlo|starttls|auth|quit)\b", re.I | re.M)
#: Postfix smtpd's transcript (smtpd_chat.c): a client command ``In: RCPT TO:<...>`` and a reply ``Out: 550 ...``.
_IN_OUT = re.compile(r"^[ \t]*(?:In:[ \t]*(?P<w>rcpt|mail|data|helo|ehlo|lhlo|starttls|auth|quit)\b"
                     r"|Out:[ \t]*(?P<r>[45][0-9][0-9])\b)", re.I | re.M)
#: A server reply in a session transcript (``<<< 550 ...``) with no client command logged before it.
_REPLIED = re.compile(rf"^<<< ?{REPLY_CODE}\b", re.M)
#: Upper-case command words in the order Sisimai's generic reader chains them (section 6.2).
_CHAIN = ("HELO", "EHLO", "STARTTLS", "AUTH PLAIN", "AUTH LOGIN", "AUTH CRAM-", "AUTH DIGEST-", "MAIL F",
          "RCPT", "RCPT T", "DATA", "QUIT")


def _command(word: str) -> str:
    word = word.lower()
    if word in _WORD:
        return _WORD[word]
    if word.startswith("refused"):
        return "HELO"
    return _WORD[word.split()[0]]


def smtp_stage(text: str) -> tuple[Optional[str], str]:
    """The command a failure answered, and the words that said so (``(None, "")`` when nothing does)."""
    if not text:
        return None, ""
    low = text.lower() if text.isascii() else None
    for pattern, needs in zip(_STATED, _NEEDS):
        if low is not None and not any(n in low for n in needs):
            continue
        found = list(pattern.finditer(text))
        if found:
            word = next(w for w in found[-1].groups() if w)
            return _command(word), found[-1].group(0)
    if "Out:" in text and "In:" in text:
        said = None
        for m in _IN_OUT.finditer(text):
            if m.group("w"):
                said = m
            elif said is not None:  # the first refusal answered the command just before it
                return _command(said.group("w")), said.group(0).strip()
    found = list(_TRANSCRIPT.finditer(text)) if ">>>" in text else []
    if found:
        return _command(found[-1].group("w")), found[-1].group(0)
    replied = _REPLIED.search(text) if "<<<" in text else None
    if replied:  # Sendmail logs no >>> line for its greeting: a reply before any command answered EHLO
        return "EHLO", replied.group(0)
    last, said, pos = None, "", 0
    for token in _CHAIN:
        at = text.find(token, pos)
        if at >= 0:
            last, said, pos = token.split()[0][:4] if token != "STARTTLS" else token, token, at
    return (last, said) if last else (None, "")


__all__ = ["smtp_stage"]
