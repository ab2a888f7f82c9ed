"""The line walker: the human-readable part of a bounce, read into recipient blocks.

Lines are classified by ``grammar/ndr_text.lark``; the walker acts on the kind's
prefix only, so a new layout is a new terminal, never a new branch here:

* ``RCPT_*`` / ``ADDR_*`` open (or return to) the block of the address on the line;
  text after the address on an ``RCPT_*`` line belongs to that block;
* ``SECTION_*`` closes the current block (a new list or a transcript starts);
* ``NAME_*`` lines right under a generic ``SECTION_LIST`` heading (blank lines allowed before
  the first, none between two) open the blocks of those mailboxes at ``home``, the reporting
  system's domain;
* ``HOLD_*`` opens a session transcript: it and the unindented lines after it are held
  for the next ``RCPT_REPLY`` / ``RCPT_COMMAND`` line, whose address they explain; so
  are the unindented lines after an ``RCPT_REPLY`` summary (Sendmail writes each
  address's session before its summary line).  Any other kind releases them to the
  block they followed;
* ``SERVER_*`` / ``REMOTE_*`` name the reporting and the remote server;
* ``END_*`` stops reading (the returned original message starts);
* every other line belongs to the current block, or to the report as a whole.

Server replies are read from a block's joined text, so a reply wrapped or split over
several lines is read once, whole.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional

from .parsers import COMMON, REPLY_CODE, Reply, TextLine, lex_lines
from ..limits import MAX_RECIPIENTS

#: An email address (``grammar/common.lark``; its parts are bounded so no search is quadratic).
ADDRESS = re.compile(COMMON["ADDRESS"])
#: The envelope sender as a session transcript or an MTA quotes it ("MAIL FROM:<a@b>"):
#: the address the bounce returns to, never a failed recipient.
ENVELOPE_SENDER = re.compile(r"MAIL FROM:[ \t]*<([^\s<>@]{1,256}@[^\s<>]{1,255})>", re.I)
#: Lines kept per block: enough for a wrapped reply and its explanation.
MAX_BLOCK_LINES = 16


#: What a layout writes against an address that is not part of it: a quote opening
#: ``'a@b'`` and an address-type tag (Exchange's ``SMTP=a@b``, ``rfc822=a@b``).
_ADDRESS_WRAPPING = re.compile(r"^(?:['`]+|(?:smtp|rfc822)=)+", re.I)


def tidy_address(found: str) -> str:
    """An address as matched in text, lower case, without the wrapping a layout puts on it."""
    found = found.strip(".")
    if found[0] in "'`" or "=" in found:  # only then can it be wrapped
        bare = _ADDRESS_WRAPPING.sub("", found)
        found = found if bare.startswith("@") else bare
    return found.lower()


def addresses_in(text: str) -> list[str]:
    """Every address in ``text``, tidied (:func:`tidy_address`), in order, each once."""
    return list(dict.fromkeys(tidy_address(a) for a in ADDRESS.findall(text)))


def clean_address(value: Optional[str]) -> Optional[str]:
    """The bare address in a field value such as ``rfc822; <a@b.example>``."""
    if not value:
        return None
    found = ADDRESS.search(value)
    return tidy_address(found.group(0)) if found else None


@dataclass
class Block:
    """Facts gathered for one recipient (or the whole report) before they are frozen."""

    recipient: Optional[str] = None
    original_recipient: Optional[str] = None
    action: Optional[str] = None
    status: Optional[str] = None
    diagnostic: list[str] = field(default_factory=list)
    replies: list[Reply] = field(default_factory=list)
    remote_mta: Optional[str] = None
    command: Optional[str] = None
    #: the vendor's X- fields of the recipient's delivery-status block (lower case)
    extensions: dict[str, str] = field(default_factory=dict)
    origin: dict[str, str] = field(default_factory=dict)
    #: where each line of ``diagnostic`` was read (a line read twice: its first place)
    line_at: dict[str, str] = field(default_factory=dict)


@dataclass
class TextReading:
    """What the walker read: recipient blocks, text before any recipient, line kinds seen."""

    blocks: list[Block]
    general: Block
    kinds: set[str]
    reporting_mta: Optional[str]


def _recipient_text(text: str) -> str:
    """What a recipient line says about its address.

    A command or reply quoting the address ("RCPT TO:<a@b>", "550 <a@b>... User unknown")
    is kept whole; otherwise the text after the address, or before it when nothing follows
    ("Unknown user: a@b").
    """
    found = ADDRESS.search(text)
    if found is None:
        return text
    before = text[:found.start()]
    if _QUOTING.match(before):
        return text
    return text[found.end():].lstrip(">:.,; \t") or before.rstrip("<:( \t")


#: Headings under which bare mailbox names are recipients (not Exchange's, whose lists show
#: display names).
_NAMES_LISTED_UNDER = frozenset({"SECTION_LIST"})
#: Recipient lines that take the held transcript lines (a summary reply or a command).
_TAKES_HELD = frozenset({"RCPT_REPLY", "RCPT_COMMAND"})
_QUOTING = re.compile(rf"[^\n]*\bRCPT\b|[ \t]*#?{REPLY_CODE}[ -]", re.I)


def read_text(text: str, ignore: frozenset[str] = frozenset(), home: Optional[str] = None) -> TextReading:
    """Walk the classified lines of ``text`` into recipient blocks.

    ``ignore`` holds addresses that never open a block (the bounce's own sender, the list the
    original came through, the mail system's addresses); neither does any envelope sender
    the text quotes (``MAIL FROM:<a@b>``).  ``home`` is the domain of the system that wrote
    the report, where the bare mailbox names it lists under a heading live.
    Replies are not parsed here; :func:`ndrkb.facts.extract.extract` reads them from the text.
    """
    ignore = ignore | {a.lower() for a in ENVELOPE_SENDER.findall(text)}
    lines: list[TextLine] = lex_lines(text) if text.strip() else []
    blocks: list[Block] = []
    general = Block()
    kinds: set[str] = set()
    reporting = None
    current: Optional[Block] = None
    held: list[tuple[str, str]] = []
    holding = False
    listing = 0  # -1: right under a heading whose bare names are recipients; N: a name was on line N

    def block_for(address: str, where: str) -> Block:
        for b in blocks:
            if b.recipient == address:
                return b
        b = Block(recipient=address, origin={"recipient": where})
        blocks.append(b)
        return b

    def add_text(target: Block, line: str, where: str) -> None:
        line = line.strip()
        if line and len(target.diagnostic) < MAX_BLOCK_LINES:
            target.diagnostic.append(line)
            target.line_at.setdefault(line, where)
            target.origin.setdefault("text", where)

    def release(target: Block) -> None:
        for text, at in held:
            add_text(target, text, at)
        held.clear()

    for line in lines:
        kind = line.kind
        prefix = kind.split("_", 1)[0]
        kinds.add(kind)
        where = f"text line {line.lineno}"
        if prefix == "HOLD" or holding and prefix in ("OTHER", "REPLY") and not line.text[:1].isspace():
            held.append((line.text, where))
            holding = True
            continue
        if prefix != "RCPT" or kind not in _TAKES_HELD:
            release(current or general)
        holding = False
        if prefix == "END":
            break
        if prefix == "SECTION":
            current, listing = None, -1 if kind in _NAMES_LISTED_UNDER else 0
            continue
        if prefix == "NAME" and home and (listing == -1 or listing == line.lineno - 1):
            address = f"{line.text.strip().lower()}@{home}"
            if address not in ignore and len(blocks) < MAX_RECIPIENTS:
                current = block_for(address, f"{where}: generic reading, a bare mailbox name under a list "
                                             f"heading, at {home}")
            listing = line.lineno
            continue
        listing = 0
        if prefix in ("RCPT", "ADDR"):
            address = clean_address(line.text)
            if address and address not in ignore:
                if len(blocks) < MAX_RECIPIENTS or any(b.recipient == address for b in blocks):
                    current = block_for(address, where)
                if prefix == "RCPT" and current is not None:
                    release(current)
                    add_text(current, _recipient_text(line.text), where)
                    holding = kind == "RCPT_REPLY"
                continue
            release(current or general)
        if prefix == "SERVER":
            reporting = re.split("[:：]", line.text, maxsplit=1)[-1].strip() or reporting
            continue
        if prefix == "REMOTE":
            target = current or general
            target.remote_mta = line.text.split(":", 1)[-1].strip(" []") if ":" in line.text and "[" not in line.text \
                else line.text.strip(" []")
            continue
        add_text(current or general, line.text, where)
    release(current or general)
    return TextReading(blocks, general, kinds, reporting)
