"""The lark grammars in ``grammar/`` and the small typed results read from them.

Three LALR parsers, each built once per process (about 25 ms for the three; not with
lark's on-disk cache, which unpickles a file at a predictable path in the shared
temporary folder that another local user could have written):

* ``smtp_reply.lark`` — one quoted SMTP reply: reply code, enhanced code, Exchange token, text;
* ``dsn.lark`` — RFC 3464 ``message/delivery-status`` field blocks;
* ``ndr_text.lark`` — the human-readable body, one classified token per line.
"""
from __future__ import annotations

import functools
import importlib.resources
import re
from pathlib import Path
from typing import NamedTuple, Optional

from lark import Lark, Token
from lark.exceptions import LarkError
from lark.lexer import BasicLexer, LexerThread

from ..errors import InputError
from ..limits import LEX_LINE_CHARS, MAX_LINE_CHARS, MAX_LONG_LINES

GRAMMAR_DIR = Path(str(importlib.resources.files("ndrkb.grammar")))


def _common_terminals() -> dict[str, str]:
    """The terminals of ``grammar/common.lark`` as regular expressions, read through lark itself,
    so the Python code and the grammars share one definition of each pattern."""
    path = GRAMMAR_DIR / "common.lark"
    names = re.findall(r"^([A-Z_]+)\s*:", path.read_text(encoding="utf-8"), re.M)
    grammar = f"%import .common ({', '.join(names)})\nstart: {' | '.join(names)}\n"
    lark = Lark(grammar, parser="lalr", source_path=str(GRAMMAR_DIR / "terminals.lark"))
    return {name: lark.get_terminal(name).pattern.to_regexp() for name in names}


#: Shared patterns (``grammar/common.lark``): an RFC 3463 status code, an SMTP reply code, an address.
COMMON = _common_terminals()
STATUS_CODE: str = COMMON["STATUS_CODE"]
REPLY_CODE: str = COMMON["REPLY_CODE"]


@functools.cache
def parser(name: str) -> Lark:
    """The LALR parser for ``grammar/<name>.lark`` (built once per process)."""
    lexer = "basic" if name == "ndr_text" else "contextual"
    return Lark.open(str(GRAMMAR_DIR / f"{name}.lark"), parser="lalr", lexer=lexer, maybe_placeholders=False)


class Reply(NamedTuple):
    """One SMTP reply as quoted in a bounce."""

    code: Optional[int]
    status: Optional[str]
    token: Optional[str]
    text: str


_TOKEN_IN_TEXT = re.compile(
    r"\b((?:RESOLVER|STOREDRV|QUEUE|ROUTING|SMTPSEND|TRANSPORT|CAT|AMSGenerated|SMTP)\.[A-Za-z0-9_.:]+)")


#: Distinct lines remembered by the line caches, and the longest line cached: pure
#: functions of the line text, bounded so memory stays flat over any number of messages.
LINE_CACHE_SIZE = 8192
CACHED_LINE_CHARS = 256


def parse_reply(line: str) -> Optional[Reply]:
    """Parse one reply line; None when it holds neither a reply code nor an enhanced code."""
    return _cached_reply(line) if len(line) <= CACHED_LINE_CHARS else _parse_reply(line)


def _parse_reply(line: str) -> Optional[Reply]:
    line = line.strip()[:MAX_LINE_CHARS]
    if not line:
        return None
    try:
        tree = parser("smtp_reply").parse(line)
    except LarkError:
        return None
    code = status = token = None
    text = ""
    for node in tree.children[0].children:
        if isinstance(node, Token):
            continue
        value = node.children[0]
        if node.data == "code":
            code = int(value)
        elif node.data == "enhanced":
            status = str(value).lstrip("#")
        elif node.data == "token":
            token = str(value)
        elif node.data == "text":
            text = str(value).strip()
    if code is None and status is None:
        return None
    if token is None:
        found = _TOKEN_IN_TEXT.search(text)
        if found:
            token = found.group(1).rstrip(".:")
    return Reply(code, status, token, text)


_cached_reply = functools.lru_cache(maxsize=LINE_CACHE_SIZE)(_parse_reply)


class DsnFields(NamedTuple):
    """The field blocks of a delivery-status part: per-message, then one per recipient."""

    message: dict[str, str]
    recipients: list[dict[str, str]]


def normalise_lines(text: str) -> str:
    """LF line ends, no trailing blanks, ending with one newline."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return "\n".join(line.rstrip() for line in text.split("\n")).strip("\n") + "\n"


_FIELD_START = re.compile(r"[A-Za-z][A-Za-z0-9-]*[ \t]*:")


def parse_dsn(text: str) -> DsnFields:
    """Parse delivery-status text into field dicts (names lower-cased, folding undone).

    Lines that are neither fields, continuations nor blank are dropped first (real
    DSNs carry stray lines); raises :class:`InputError` when no field block remains.
    """
    kept = []
    for line in normalise_lines(text).split("\n"):
        if not line or _FIELD_START.match(line) or (line[0] in " \t" and kept and kept[-1]):
            kept.append(line[:MAX_LINE_CHARS])
    body = "\n".join(kept).strip("\n") + "\n"
    try:
        tree = parser("dsn").parse(body)
    except LarkError as exc:
        raise InputError(f"delivery-status part is not RFC 3464 fields: {type(exc).__name__}") from None
    blocks = []
    for block in tree.children:
        if isinstance(block, Token):
            continue
        fields: dict[str, str] = {}
        for tok in block.children:
            name, _, value = str(tok).partition(":")
            key = name.strip().lower()
            value = " ".join(value.split())
            if key not in fields:
                fields[key] = value
        blocks.append(fields)
    return dsn_fields(blocks)


def dsn_fields(blocks: list[dict[str, str]]) -> DsnFields:
    """Field blocks in order as per-message and per-recipient fields (the first block
    is per-message unless it names a recipient); :class:`InputError` when there are none."""
    if not blocks:
        raise InputError("delivery-status part holds no fields")
    if any(k in blocks[0] for k in ("final-recipient", "original-recipient")):
        return DsnFields({}, blocks)
    return DsnFields(blocks[0], blocks[1:])


class TextLine(NamedTuple):
    """One classified line of a human-readable bounce."""

    kind: str
    text: str
    lineno: int


def lex_lines(text: str) -> list[TextLine]:
    """Tokenise human-readable bounce text into classified lines (1-based line numbers).

    Lexing stops after the first ``END_*`` line: what follows is the returned original.
    No terminal spans a line end, so each line is lexed alone (and recurring lines once).
    """
    lines = []
    long_lines = 0
    try:
        for lineno, line in enumerate(normalise_lines(text).split("\n")[:-1], 1):
            if len(line) <= CACHED_LINE_CHARS:
                tokens = _line_tokens(line)
            elif long_lines < MAX_LONG_LINES:
                long_lines += 1
                tokens = _lex_line(line)
            else:  # the lexing budget is spent: plain text
                tokens = (("OTHER", line[:MAX_LINE_CHARS]),)
            for kind, value in tokens:
                lines.append(TextLine(kind, value, lineno))
                if kind.startswith("END_"):
                    return lines
    except LarkError as exc:
        raise InputError(f"text could not be read line by line: {type(exc).__name__}") from None
    return lines


def _lex_line(line: str) -> tuple[tuple[str, str], ...]:
    """The (kind, text) tokens of one line, classified by its first ``LEX_LINE_CHARS``
    characters: one, unless a layout's terminal stops short of the end."""
    head = line[:LEX_LINE_CHARS]
    tokens = [(tok.type, str(tok)) for tok in LexerThread.from_text(_line_lexer(), head).lex(None)]
    if tokens and len(line) > len(head):  # the rest of a long line goes with its last token
        tokens[-1] = (tokens[-1][0], tokens[-1][1] + line[len(head):])
    out = []
    for kind, text in tokens:
        value = text[:MAX_LINE_CHARS]
        out.append((kind, line if value == line else value))
    return tuple(out)


_line_tokens = functools.lru_cache(maxsize=LINE_CACHE_SIZE)(_lex_line)


@functools.cache
def _line_lexer() -> BasicLexer:
    """The ``ndr_text`` lexer, built once (``Lark.lex`` builds a new one on every call)."""
    return BasicLexer(parser("ndr_text").lexer_conf)
