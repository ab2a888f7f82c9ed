"""The lark grammars: reply lines, RFC 3464 fields, classified NDR text lines."""
from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ndrkb import diagnose
from ndrkb.errors import InputError
from ndrkb.facts.extract import best_reply, find_replies
from ndrkb.read.parsers import lex_lines, parse_dsn, parse_reply


@pytest.mark.parametrize("line, code, status, token, text", [
    ("550 5.7.133 RESOLVER.RST.SenderNotAuthenticatedForGroup; authentication required; x",
     550, "5.7.133", "RESOLVER.RST.SenderNotAuthenticatedForGroup", "authentication required; x"),
    ("#550 5.7.12 RESOLVER.RST.SenderNotAuthenticatedForOrg; not authenticated ##",
     550, "5.7.12", "RESOLVER.RST.SenderNotAuthenticatedForOrg", "not authenticated"),
    ("550-5.7.1 blocked", 550, "5.7.1", None, "blocked"),
    ("5.7.12", None, "5.7.12", None, ""),
    ("550 Mailbox unavailable", 550, None, None, "Mailbox unavailable"),
    ("550 5.7.193 UnifiedGroupAgent; Delivery failed", 550, "5.7.193", "UnifiedGroupAgent", "Delivery failed"),
    ("554 5.2.2 mailbox full; STOREDRV.Deliver.Exception:QuotaExceededException.MapiExceptionShutoffQuotaExceeded; x",
     554, "5.2.2", "STOREDRV.Deliver.Exception:QuotaExceededException.MapiExceptionShutoffQuotaExceeded", None),
])
def test_parse_reply_forms(line, code, status, token, text):
    reply = parse_reply(line)
    assert reply is not None
    assert (reply.code, reply.status, reply.token) == (code, status, token)
    if text is not None:
        assert reply.text == text


@pytest.mark.parametrize("line", ["", "hello world", "Your message couldn't be delivered", "5.7", "55 5.1.1"])
def test_parse_reply_rejects_non_replies(line):
    assert parse_reply(line) is None


def test_wrapped_reply_picks_innermost():
    text = ("Remote Server returned '554 5.7.0 < #5.7.133 smtp;550 5.7.133 "
            "RESOLVER.RST.SenderNotAuthenticatedForGroup; authentication required>'")
    replies = find_replies(text)
    assert [r.status for r in replies][0] == "5.7.0"
    best = best_reply(replies)
    assert (best.code, best.status, best.token) == (550, "5.7.133", "RESOLVER.RST.SenderNotAuthenticatedForGroup")


def test_multiline_reply_is_unfolded():
    replies = find_replies("550-5.7.26 This mail is unauthenticated, 550-5.7.26 which poses a risk 550 5.7.26 to users")
    best = best_reply(replies)
    assert best.status == "5.7.26" and "550-5.7.26" not in best.text and "which poses a risk" in best.text


codes = st.sampled_from([550, 551, 552, 553, 554, 421, 450, 451, 452])
enhanced = st.tuples(st.sampled_from("245"), st.integers(0, 7), st.integers(0, 999)).map(
    lambda t: f"{t[0]}.{t[1]}.{t[2]}")
tokens = st.tuples(st.sampled_from(["RESOLVER", "STOREDRV", "QUEUE", "ROUTING"]),
                   st.lists(st.text(string.ascii_letters, min_size=1, max_size=12), min_size=1, max_size=3)).map(
    lambda t: ".".join([t[0], *t[1]]))
words = st.text(string.ascii_letters + string.digits + " ,()'", min_size=1, max_size=60).map(str.strip).filter(
    lambda s: s and not s[0].isdigit() and "##" not in s)


@settings(max_examples=200, deadline=None)
@given(code=codes, sep=st.sampled_from([" ", "-"]), status=st.none() | enhanced, token=st.none() | tokens,
       text=st.none() | words)
def test_generated_reply_lines_round_trip(code, sep, status, token, text):
    line = str(code) + sep + " ".join(p for p in (status, f"{token};" if token else None, text) if p)
    reply = parse_reply(line)
    assert reply is not None
    assert reply.code == code
    assert reply.status == status
    if token:
        assert reply.token == token
    assert reply.text == (text or "")


field_names = st.text(string.ascii_letters, min_size=1, max_size=10).map(lambda s: "X-" + s)
field_values = st.lists(st.text(string.ascii_letters + string.digits + ";@.<>", min_size=1, max_size=20),
                        min_size=1, max_size=3)


# Field names are unique within a block, compared without case (a repeated name starts a new block).
field_blocks = st.dictionaries(field_names, field_values, min_size=1, max_size=4).filter(
    lambda d: len({k.lower() for k in d}) == len(d))


@settings(max_examples=150, deadline=None)
@given(message=field_blocks, recipients=st.lists(field_blocks, min_size=1, max_size=3), crlf=st.booleans())
def test_generated_dsn_blocks_round_trip(message, recipients, crlf):
    def block(fields):
        # each value folded over continuation lines, one line per chunk
        return "".join(f"{k}: {v[0]}\n" + "".join(f"  {c}\n" for c in v[1:]) for k, v in fields.items())

    recipients = [{"Final-Recipient": ["rfc822;", "a@b.example"], **r} for r in recipients]
    text = block(message) + "\n" + "\n".join(block(r) for r in recipients)
    if crlf:
        text = text.replace("\n", "\r\n")
    parsed = parse_dsn(text)
    lower = lambda d: {k.lower(): " ".join(v) for k, v in d.items()}  # noqa: E731
    assert parsed.message == lower(message)
    assert parsed.recipients == [lower(r) for r in recipients]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_arbitrary_text_never_raises_other_errors(text):
    for fn in (parse_dsn, lex_lines):
        try:
            fn(text)
        except InputError:
            pass
    parse_reply(text)
    d = diagnose(text)
    assert d.error is not None or d.recipients


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=600))
def test_arbitrary_bytes_never_raise(data):
    d = diagnose(data)
    assert d.error is not None or d.recipients


def test_exchange_layout_lines_are_classified():
    text = ("Your message to jo@contoso.com couldn't be delivered.\nStatus code: 550 5.7.12\n"
            "Reported error: 550 5.7.12 RESOLVER.RST.SenderNotAuthenticatedForOrg; x\n"
            "DSN generated by: AM6PR04MB1234.eurprd04.prod.outlook.com\nOriginal Message Headers\n")
    kinds = [l.kind for l in lex_lines(text)]
    assert kinds == ["RCPT_EXO", "STATUS_EXO", "REPLY_EXO_REPORTED", "SERVER_EXO", "END_EXO"]
    legacy = ("Delivery has failed to these recipients or groups:\n\nJo (jo@contoso.com)\n"
              "Diagnostic information for administrators:\nGenerating server: EX01.contoso.com\n"
              "jo@contoso.com\n#550 5.7.12 RESOLVER.RST.SenderNotAuthenticatedForOrg; x ##\n")
    kinds = [l.kind for l in lex_lines(legacy)]
    assert kinds == ["SECTION_EXO_LEGACY", "ADDR_PLAIN", "SECTION_EXO_DIAG", "SERVER_EXO_LEGACY", "ADDR_PLAIN",
                     "REPLY_SMTP"]


def test_grammars_leave_nothing_in_the_shared_temporary_folder(tmp_path):
    """lark's disk cache unpickles a file at a predictable path in the temporary folder,
    which another local user could have planted: the parsers are built without it."""
    import os
    import subprocess
    import sys

    code = "from ndrkb.read import parsers\nfor n in ('smtp_reply', 'dsn', 'ndr_text'): parsers.parser(n)"
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "TMPDIR": str(tmp_path)})
    assert list(tmp_path.iterdir()) == []


def test_shared_patterns_come_from_common_lark():
    """The status code, reply code and address are written once, in grammar/common.lark, and
    the grammars and the Python readers all use that one definition."""
    import re

    from ndrkb.read.parsers import COMMON, parser
    from ndrkb.read.walker import ADDRESS
    from ndrkb.rules.schema import CODE

    assert set(COMMON) == {"STATUS_CODE", "REPLY_CODE", "ADDRESS"}
    assert COMMON["STATUS_CODE"] in parser("smtp_reply").get_terminal("ENHANCED").pattern.to_regexp()
    assert COMMON["REPLY_CODE"] in parser("ndr_text").get_terminal("RCPT_REPLY").pattern.to_regexp()
    assert ADDRESS.pattern == COMMON["ADDRESS"] and CODE == COMMON["STATUS_CODE"]
    assert re.fullmatch(CODE, "5.7.133") and not re.fullmatch(CODE, "6.7.1")
