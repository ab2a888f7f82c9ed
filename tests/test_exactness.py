"""The speed-ups change no answer: records are the same with memoization on or off, one or
two workers, caches cold or warm; each shortcut equals the plain computation it replaces."""
from __future__ import annotations

from pathlib import Path

from hypothesis import example, given, settings
from hypothesis import strategies as st

import ndrkb
from ndrkb.read import parsers, stage
from ndrkb.intake.containers import iter_units
from ndrkb.diagnoser import Diagnoser
from ndrkb.facts.extract import extract
from ndrkb.rules.inference import Phrases, Text, _Engine, _fact_fields, occurs, provider_hosts
from ndrkb.intake.message import InputRecords, read_source
from ndrkb.intake.parts import _delivery_status_blocks, _delivery_status_text, dissect
from ndrkb.models import BatchRecord
from ndrkb.rules.schema import STAGES

from .conftest import CORPUS, SHARED

FILES = sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.suffix not in (".md", ".jsonl"))


def records(**options):
    return [r.model_dump_json() for r in ndrkb.classify([str(CORPUS)], **options)]


def all_facts():
    out = []
    for path in FILES:
        try:
            msg = read_source(path)
            out += msg.facts if isinstance(msg, InputRecords) else extract(dissect(msg))[0]
        except ndrkb.InputError:
            continue
    return out


def test_records_are_the_same_memo_workers_and_caches():
    parsers._line_tokens.cache_clear()
    parsers._cached_reply.cache_clear()
    cold = records()
    assert len(cold) > 30 and sum('"error":null' in r for r in cold) > 20
    assert records() == cold  # every cache warm
    assert records(memoize=False) == cold
    assert records(workers=2) == cold
    assert records(workers=2, memoize=False) == cold


def test_full_diagnoses_are_the_same_memo_on_warm_and_off():
    """Explanations included: a memoized run (shared between facts with the same key) gives
    exactly the trace, matched facts and remediation of a plain run."""
    memo, plain = Diagnoser(), Diagnoser(memoize=False)
    messages = []
    for unit in iter_units([str(CORPUS)]):
        try:
            messages.append((unit.source, read_source(Path(unit.path))))
        except ndrkb.InputError:
            continue
    for source, msg in messages:  # fill the memo
        memo.diagnose_message(msg, source=source)
    compared = 0
    for source, msg in messages:
        warm = memo.diagnose_message(msg, source=source)
        assert warm.model_dump_json() == plain.diagnose_message(msg, source=source).model_dump_json(), source
        compared += len(warm.recipients)
    assert compared > 30 and memo.inference._runs


def test_batch_records_equal_the_full_diagnosis_flattened():
    d = Diagnoser()
    for unit in iter_units([str(CORPUS)]):
        try:
            msg = read_source(Path(unit.path))
        except ndrkb.InputError:
            continue
        full = BatchRecord.from_diagnosis(d.diagnose_message(msg, source=unit.source))
        assert d.classify_message(msg, source=unit.source) == full, unit.source


def test_packs_run_in_groups_fire_what_one_engine_of_all_of_them_fires():
    inference = ndrkb.default_diagnoser().inference
    checked = 0
    for facts in all_facts():
        text = Text(facts.diagnostic)
        hosts = provider_hosts(facts, inference._hosts)
        decided: dict = {}
        for stage_name in STAGES:
            status = decided.get("status") or facts.status
            whole = _Engine(stage_name, inference.packs.select(stage_name, status, facts.token))
            fired = whole.run(_fact_fields(facts, text, whole.phrases, decided, whole.reads, hosts))
            expected = sorted(fired, key=lambda s: (s.depth, -s.salience, s.rule))
            grouped = inference._fired(inference._plan(stage_name, status, facts.token), facts, text, decided, hosts)
            assert grouped == expected
            for s in grouped:  # any decided values do: both sides read the same
                decided.update((k, v) for k, v in s.concluded if k in ("status", "reason") and k not in decided)
            checked += 1
    assert checked > 60


WORDS = ["mailbox", "full", "user", "unknown", "no", "such", "here", "by", "that", "name", "blocked", "spam",
         "5.1.1", "550", "over", "quota", "not", "found", "access", "denied", "x", "de", "ny", "ed"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(WORDS), max_size=12), st.lists(st.sampled_from(WORDS), min_size=1, max_size=4))
def test_phrase_index_finds_exactly_the_phrases_in_the_text(text_words, phrase_words):
    every = {r for p in ndrkb.default_diagnoser().packs.packs for rule in p.spec.rule for r in rule.when.phrases()}
    phrases = every | {" ".join(phrase_words), "".join(phrase_words), " ".join(phrase_words[:2]),
                       " … ".join(phrase_words), "…".join(phrase_words[:2])}
    for raw in (" ".join(text_words), "".join(text_words), "  ".join(text_words) + " No Such User here "):
        text = Text(raw)
        assert Phrases(phrases).found(text) == {p for p in phrases if occurs(p, text.text)}


def test_phrase_index_on_the_corpus_diagnostics():
    every = {r for p in ndrkb.default_diagnoser().packs.packs for rule in p.spec.rule for r in rule.when.phrases()}
    index = Phrases(every)
    hits = 0
    for facts in all_facts():
        text = Text(facts.diagnostic)
        found = index.found(text)
        assert found == {p for p in every if occurs(p, text.text)}
        hits += bool(found)
    assert hits > 20


def whole_body_lines(text: str) -> list[tuple[str, str, int]]:
    """The reference: lark lexing the whole body at once."""
    out, lineno = [], 1
    for tok in parsers.parser("ndr_text").lex(parsers.normalise_lines(text)):
        if tok.type == "_NL":
            lineno += 1
            continue
        out.append((tok.type, str(tok), lineno))
        if tok.type.startswith("END_"):
            break
    return out


def test_lines_lexed_one_by_one_equal_the_whole_body_lexed():
    texts = []
    for path in FILES:
        try:
            msg = read_source(path)
        except ndrkb.InputError:
            continue
        if isinstance(msg, InputRecords):  # a log or trace: no NDR text
            continue
        parts = dissect(msg)
        texts += [parts.text] if parts.text else []
        texts += [t for t in parts.delivery_status if isinstance(t, str)]
        texts.append(path.read_text(encoding="utf-8", errors="replace"))
    assert len(texts) > 40
    for text in texts:
        assert [tuple(t) for t in parsers.lex_lines(text)] == whole_body_lines(text)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([
    "", "  ", "Your message to a@b.example couldn't be delivered.", "550 5.1.1 <a@b.example>: no such user",
    "a@b.example", "Remote server: mx.example", "The following recipients failed: x@y.example", "Subject: hi",
    "Original message headers:", "Reporting-MTA: dns; mx", "----- Original message -----", "text", "[10.0.0.1]",
    ">>> RCPT TO:<c@d.example>", "\tcontinued", "Final-Recipient: rfc822; e@f.example"]), max_size=15))
def test_line_lexing_property(lines):
    text = "\n".join(lines)
    assert [tuple(t) for t in parsers.lex_lines(text)] == whole_body_lines(text)


def _dsn_both_ways(part):
    """A delivery-status part read from the stdlib's blocks (or its fallback) and by the grammar
    (None: unreadable, the part is skipped)."""
    def read(how):
        try:
            return how()
        except ndrkb.InputError:
            return None
    blocks = _delivery_status_blocks(part)
    fast = read(lambda: parsers.dsn_fields(blocks) if isinstance(blocks, list) else parsers.parse_dsn(blocks))
    return fast, read(lambda: parsers.parse_dsn(_delivery_status_text(part))), isinstance(blocks, list)


def test_delivery_status_from_stdlib_blocks_equals_the_grammar_reading():
    files = FILES + sorted((SHARED / "corpus" / "external" / "sisimai-dev" / "emails").glob("*"))
    compared = 0
    for path in files:
        try:
            msg = read_source(path)
        except ndrkb.InputError:
            continue
        if isinstance(msg, (ndrkb.intake.message.InputText, InputRecords)):
            continue
        for part in msg.walk():
            if part.get_content_type() in ("message/delivery-status", "message/global-delivery-status"):
                fast, grammar, used_blocks = _dsn_both_ways(part)
                assert fast == grammar, path
                compared += used_blocks
    assert compared > 30


_FIELD_LINES = st.sampled_from([
    "Final-Recipient: rfc822; a@b.example", "Action: failed", "Status: 5.1.1", "Status : 5.0.0",
    "Reporting-MTA: dns; mx.example", "Diagnostic-Code: smtp; 550 5.1.1 <a@b.example>: no such user",
    "  continued text", "\t", "X_Odd: name", "stray line without a colon", "", "Remote-MTA: dns; [10.0.0.1]",
    "Original-Recipient: rfc822;c@d.example", "Action: delayed", "Diagnostic-Code: X-Unix; 67", "x" * 9000])


@settings(max_examples=300, deadline=None)
@given(st.lists(_FIELD_LINES, max_size=14))
@example(["Final-Recipient: rfc822; a@b.example", "Action: failed", "Final-Recipient: rfc822; c@d.example"])
def test_delivery_status_blocks_property(lines):
    raw = ("From: mailer-daemon@example.org\nTo: a@example.org\nMIME-Version: 1.0\n"
           "Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\n\n"
           "--b\nContent-Type: text/plain\n\nfailed\n--b\nContent-Type: message/delivery-status\n\n"
           + "\n".join(lines) + "\n--b--\n")
    msg = ndrkb.intake.message.from_bytes(raw.encode())
    part = next(p for p in msg.walk() if p.get_content_type() == "message/delivery-status")
    fast, grammar, _ = _dsn_both_ways(part)
    assert fast == grammar


def test_a_repeated_field_starts_a_new_block_both_ways():
    """Two recipients with no blank line between them are two blocks, read either way."""
    raw = ("From: mailer-daemon@example.org\nTo: a@example.org\nMIME-Version: 1.0\n"
           "Content-Type: multipart/report; report-type=delivery-status; boundary=\"b\"\n\n"
           "--b\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.org\n\n"
           "Final-Recipient: rfc822; a@b.example\nStatus: 5.1.1\nFinal-Recipient: rfc822; c@d.example\n"
           "Status: 5.2.2\n--b--\n")
    part = next(p for p in ndrkb.intake.message.from_bytes(raw.encode()).walk()
                if p.get_content_type() == "message/delivery-status")
    fast, grammar, used_blocks = _dsn_both_ways(part)
    assert used_blocks and fast == grammar
    assert fast.recipients == [{"final-recipient": "rfc822; a@b.example", "status": "5.1.1"},
                               {"final-recipient": "rfc822; c@d.example", "status": "5.2.2"}]


_STAGE_PIECES = ["in reply to RCPT TO command", "IN REPLY TO end of DATA", "after", "After pipelined MAIL FROM",
                 "SMTP command: rcpt", "for TEXT command", "for text command", "does not like recipient.",
                 "but sender was rejected.", "but greeting failed.", "failed on DATA command", "Banner refused",
                 "greeting was rejected", "refused to talk to me", ">>> RCPT TO:<a@b>", "<<< 550 no", "RCPT", "DATA",
                 "EHLO", "550 5.1.1 unknown", "\n", " ", "ſmtp command: data", "İn reply to rcpt", "é"]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_STAGE_PIECES), max_size=8))
def test_stage_word_checks_skip_only_patterns_that_cannot_match(pieces):
    """smtp_stage passes over a pattern whose words are absent: the same as running them all."""
    text = " ".join(pieces)
    every = tuple(("",) for _ in stage._STATED)  # "" is in every text: no pattern skipped
    fast = stage.smtp_stage(text)
    saved = stage._NEEDS
    stage._NEEDS = every
    try:
        assert fast == stage.smtp_stage(text)
    finally:
        stage._NEEDS = saved
