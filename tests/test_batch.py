"""Batch classification: inputs of every form, record columns, error records, worker
death, the time bound, and the same output whatever the number of workers."""
from __future__ import annotations

import csv
import functools
import io
import json
import os
import shutil
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import ndrkb
from ndrkb.intake import containers
from ndrkb.run import pool
from ndrkb.cli import main

from .conftest import CORPUS

LINE = "550 5.7.133 RESOLVER.RST.SenderNotAuthenticatedForGroup; authentication required\n"
DSN = (CORPUS / "exo-sender-auth" / "dsn-multi-01.eml").read_bytes()
MODERN = (CORPUS / "exo-sender-auth" / "exo-modern-5.7.12-01.eml").read_bytes()


def mbox_of(*messages: bytes) -> bytes:
    return b"".join(b"From MAILER-DAEMON Thu Nov 26 10:00:00 2026\n" + m.rstrip(b"\n") + b"\n\n" for m in messages)


def rows(sources, **options):
    return [r.model_dump() for r in ndrkb.classify([str(s) for s in sources], **options)]


@pytest.fixture()
def mixed(tmp_path):
    """A folder holding files, a nested Maildir and an mbox."""
    top = tmp_path / "in"
    (top / "sub").mkdir(parents=True)
    (top / "a.eml").write_bytes(MODERN)
    (top / "sub" / "line.txt").write_text(LINE)
    (top / "sub" / "z.mbox").write_bytes(mbox_of(MODERN, b"", DSN))
    maildir = top / "maildir"
    for d in ("cur", "new", "tmp"):
        (maildir / d).mkdir(parents=True)
    (maildir / "new" / "200.host").write_bytes(DSN)
    (maildir / "cur" / "100.host:2,S").write_bytes(MODERN)
    (maildir / "cur" / ".hidden").write_bytes(b"not a message")
    return top


def test_every_input_form_gives_records_in_a_stable_order(mixed):
    got = [(r["source"].replace(str(mixed), "IN"), r["index"], r["recipient"], r["error"] is None)
           for r in rows([mixed])]
    keys = [(s, i) for s, i, _, _ in got]
    assert sorted(set(keys), key=keys.index) == [
        ("IN/a.eml", 0), ("IN/maildir", 0), ("IN/maildir", 1), ("IN/sub/line.txt", 0),
        ("IN/sub/z.mbox", 0), ("IN/sub/z.mbox", 1), ("IN/sub/z.mbox", 2)]
    # the Maildir is ordered by unique name: cur/100 (MODERN) before new/200 (DSN, two recipients)
    assert [r for s, _, r, _ in got if s == "IN/maildir"] == [
        r["recipient"] for r in rows([CORPUS / "exo-sender-auth" / "exo-modern-5.7.12-01.eml"])
    ] + [r["recipient"] for r in rows([CORPUS / "exo-sender-auth" / "dsn-multi-01.eml"])]
    mbox = [r for r in rows([mixed / "sub" / "z.mbox"])]
    assert [r["index"] for r in mbox].count(1) == 1 and mbox[[r["index"] for r in mbox].index(1)]["error"] == \
        "the input is empty"
    assert all(r["error"] is None for r in mbox if r["index"] != 1)
    assert rows([mixed / "nope.eml"])[0]["error"].startswith("no such file or folder")


def test_counting_matches_the_walk(mixed):
    sources = [str(mixed), str(mixed / "sub" / "z.mbox"), str(mixed / "missing")]
    assert containers.count_messages(sources) == len(list(containers.iter_units(sources))) == 11


@pytest.mark.parametrize("name, data, error", [
    ("empty.eml", b"", "the input is empty"),
    ("binary.eml", bytes(range(256)) * 8, "the input is binary data, not an email or NDR text"),
    ("truncated.eml", DSN[:400], "not a bounce: no failed recipient or status code found"),
])
def test_unreadable_messages_become_error_records(tmp_path, name, data, error):
    (tmp_path / name).write_bytes(data)
    (tmp_path / "zz.txt").write_text(LINE)
    out = rows([tmp_path])
    assert [r["source"].rsplit("/", 1)[-1] for r in out] == [name, "zz.txt"]
    assert out[0]["error"].startswith(error) and all(out[0][f] is None for f in ("status", "role", "reason"))
    assert out[1]["error"] is None and out[1]["status"] == "5.7.133"


def test_a_parser_breaking_becomes_an_error_record(tmp_path, monkeypatch):
    (tmp_path / "a.txt").write_text(LINE)
    (tmp_path / "b.txt").write_text(LINE)

    def broken(text):
        raise RecursionError("deep")

    monkeypatch.setattr("ndrkb.read.walker.lex_lines", broken)
    out = rows([tmp_path])
    assert [r["error"] for r in out] == ["internal error while reading: RecursionError: deep"] * 2


def test_verbose_classify_logs_the_exception_behind_an_error_record(tmp_path, monkeypatch):
    """``ndrkb -v classify``: the traceback behind an internal-error record is logged at debug
    level on stderr; without -v only the record says it."""
    (tmp_path / "a.txt").write_text(LINE)

    def broken(msg, **kwargs):
        raise KeyError("boom")

    from ndrkb.diagnoser import Diagnoser

    monkeypatch.setattr(Diagnoser, "classify_message", lambda self, msg, **kw: broken(msg, **kw))
    quiet = CliRunner().invoke(main, ["classify", "-j", "1", str(tmp_path)])
    loud = CliRunner().invoke(main, ["-v", "classify", "-j", "1", str(tmp_path)])
    assert "internal error: KeyError" in quiet.stdout and "internal error: KeyError" in loud.stdout
    assert "Traceback" not in quiet.stderr and "Traceback" in loud.stderr


def fault(action: str, name: str, unit) -> None:
    """Fault injection (the ``hook`` of a run): on a message whose source holds ``name``,
    exit the worker, loop in Python, or loop in C (deaf to signals)."""
    if name not in unit.source:
        return
    if action == "exit":
        os._exit(3)
    if action == "hang":
        while True:
            time.sleep(0.01)
    if action == "spin":
        sum(range(10**13))


def invoke(*args, input=None):
    return CliRunner().invoke(main, ["classify", *args], input=input, catch_exceptions=False)


def test_cli_jsonl_and_csv_have_the_record_columns(mixed, tmp_path):
    res = invoke("-j", "1", str(mixed))
    assert res.exit_code == 0  # no terminal: no progress bar, a one-line summary
    assert res.stderr.startswith("ndrkb classify: ") and res.stderr.count("\n") == 1, res.stderr
    records = [json.loads(line) for line in res.stdout.splitlines()]
    # The documented columns (docs/records.md), written out: the writers take theirs from
    # RECORD_FIELDS, so comparing with RECORD_FIELDS would hold whatever the record became.
    assert [list(r) for r in records] == [RECORD_COLUMNS] * len(records)
    out = tmp_path / "out.csv"
    res = invoke("-j", "1", "--format", "csv", "-o", str(out), str(mixed))
    assert res.exit_code == 0 and res.stdout == ""
    assert invoke("-j", "1", "--quiet", str(mixed)).stderr == ""
    table = list(csv.reader(io.StringIO(out.read_text())))
    assert table[0] == RECORD_COLUMNS
    assert table[1:] == [[_csv_cell(v) for v in r.values()] for r in records]  # each row is its JSON record
    assert any(r["error"] for r in records) and any(r["permanent"] is True for r in records)


#: The record's columns as docs/records.md gives them: the stable core, then the added fields.
RECORD_COLUMNS = ["source", "index", "recipient", "action", "status", "reply_code", "permanent", "hard_bounce",
                  "reason", "role", "recipient_type", "cause", "causes", "rules", "error",
                  "status_inferred", "sender", "sender_domain", "recipient_domain", "subject", "message_id", "date",
                  "diagnostic", "reporting_mta", "remote_mta", "command", "feedback_type", "file", "mbox_offset",
                  "maildir_key", "language", "cuts"]


def _csv_cell(value) -> str:
    """A JSON value as docs/records.md says CSV writes it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return ";".join(value) if isinstance(value, list) else str(value)


def test_cli_stdin_message_and_mbox(tmp_path):
    res = invoke("-", input=LINE)
    assert res.exit_code == 0 and json.loads(res.stdout)["status"] == "5.7.133"
    res = invoke("-", input=mbox_of(MODERN, DSN, MODERN))
    got = [(r["source"], r["index"]) for r in map(json.loads, res.stdout.splitlines())]
    dsn_recipients = len(rows([CORPUS / "exo-sender-auth" / "dsn-multi-01.eml"]))
    assert dsn_recipients > 1 and got == [("-", 0)] + [("-", 1)] * dsn_recipients + [("-", 2)]


def test_cli_progress_summary_and_exit_status(tmp_path):
    (tmp_path / "a.txt").write_text(LINE)
    (tmp_path / "b.eml").write_bytes(b"")
    res = invoke("--progress", "-j", "1", str(tmp_path))
    assert res.exit_code == 0
    assert "2 messages (1 diagnosed), 1 recipient, 1 error record;" in res.stderr
    assert "by role: recipient_admin 1" in res.stderr and "by status: 5.7.133 1" in res.stderr
    assert "2/2" in res.stderr  # the progress bar knew the total
    res = invoke(str(tmp_path / "b.eml"))
    assert res.exit_code == 1 and json.loads(res.stdout)["error"] == "the input is empty"
    assert invoke("--workers", "0", str(tmp_path)).exit_code == 2


@pytest.fixture()
def many(tmp_path, monkeypatch):
    """Thirty-odd messages, sent in chunks of three so several chunks are in flight."""
    monkeypatch.setattr(pool, "CHUNK_SIZE", 3)
    folder = tmp_path / "many"
    shutil.copytree(CORPUS, folder)
    (folder / "box.mbox").write_bytes(mbox_of(MODERN, DSN, b"\x00\x01", MODERN))
    return folder


def test_workers_give_the_records_of_the_in_process_run(many):
    one = rows([many], workers=1)
    assert len({(r["source"], r["index"]) for r in one}) >= 30
    assert rows([many], workers=2) == one
    assert rows([many], workers=2, memoize=False) == one


def test_a_worker_dying_mid_run_loses_nothing(many, monkeypatch):
    expected = rows([many], workers=1)
    got = rows([many], workers=2, hook=functools.partial(fault, "exit", "exo-modern-5.7.133-01"))
    victim = [r for r in got if "exo-modern-5.7.133-01" in r["source"]]
    assert [r["error"] for r in victim] == ["worker process died on this message (exit status 3)"]
    assert [r for r in got if r not in victim] == [r for r in expected if "exo-modern-5.7.133-01" not in r["source"]]


@pytest.mark.parametrize("hook, error", [
    ("hang", "time bound exceeded: not diagnosed within 0.3 s"),  # interrupted in Python
    ("spin", "time bound exceeded: the worker was stopped after 1.6 s of CPU time"),  # stuck in C
])
def test_the_time_bound_holds_in_workers(many, monkeypatch, hook, error):
    got = rows([many], workers=2, timeout=0.3, hook=functools.partial(fault, hook, "line-5.7.13-01"))
    assert [r["error"] for r in got if "line-5.7.13-01" in r["source"]] == [error]
    assert sum(r["error"] is None for r in got) > 25


def test_the_time_bound_holds_in_process(tmp_path, monkeypatch):
    (tmp_path / "a.txt").write_text(LINE)
    (tmp_path / "b.txt").write_text(LINE.replace("5.7.133", "5.7.12"))
    real = ndrkb.default_diagnoser().classify_message

    def slow(msg, source=None, index=0, place={}):
        while source.endswith("a.txt"):
            pass
        return real(msg, source=source, index=index, place=place)

    monkeypatch.setattr(ndrkb.default_diagnoser(), "classify_message", slow)
    out = rows([tmp_path], timeout=0.2)
    assert [r["error"] for r in out] == ["time bound exceeded: not diagnosed within 0.2 s", None]


def test_a_serial_run_installs_the_time_bound_handler_once_per_chunk_not_per_message(tmp_path, monkeypatch):
    import signal

    from ndrkb.run import batch

    for i in range(40):
        (tmp_path / f"m{i:02d}.txt").write_text(LINE.replace("5.7.133", f"5.7.{i % 9}"))
    expected = rows([tmp_path], timeout=0)  # no bound at all
    installs = []
    real = signal.signal
    monkeypatch.setattr(signal, "signal", lambda sig, handler: installs.append(sig) or real(sig, handler))
    assert rows([tmp_path]) == expected
    chunks = -(-40 // batch.SERIAL_CHUNK)
    assert installs.count(signal.SIGALRM) == 2 * chunks  # was 2 per message


def test_folder_walk_skips_documentation_and_data_but_not_named_files(tmp_path):
    (tmp_path / "README.md").write_text("Example: 550 5.7.133 RESOLVER.RST.SenderNotAuthenticatedForGroup\n")
    (tmp_path / "expected.jsonl").write_text('{"status": "5.7.133"}\n')
    (tmp_path / "bounce.txt").write_text("550 5.7.133 RESOLVER.RST.SenderNotAuthenticatedForGroup; x\n")
    walked = [Path(r["source"]).name for r in rows([str(tmp_path)])]
    assert walked == ["bounce.txt"]
    assert containers.count_messages([str(tmp_path)]) == 1  # the progress total follows the same walk
    named = rows([str(tmp_path / "README.md")])
    assert named[0]["status"] == "5.7.133"


def test_long_mbox_lines_are_read_in_pieces_with_the_same_messages(tmp_path, monkeypatch):
    """A stranger's mbox may hold a line of gigabytes: lines are read at most READ_LINE_BYTES
    at a time, and a piece that starts with "From " inside a long line splits nothing."""
    long_line = b"X-Padding: " + b"y" * 37 + b"From here on nothing splits " + b"z" * 100 + b"\n"
    box = tmp_path / "box.mbox"
    box.write_bytes(mbox_of(MODERN.replace(b"\n\n", b"\n" + long_line + b"\n", 1), DSN))
    whole = [containers.read_unit(u) for u in containers.iter_units([str(box)])]
    monkeypatch.setattr(containers, "READ_LINE_BYTES", 16)
    pieces = [containers.read_unit(u) for u in containers.iter_units([str(box)])]
    with open(box, "rb") as fh:  # standard input and named pipes: the bytes are kept while splitting
        streamed = [u.data for u in containers.iter_stream("-", fh)]
    assert len(whole) == 2 and pieces == whole == streamed and long_line in whole[0]


def _wide_dsn(recipients: int) -> bytes:
    """A DSN with many recipient blocks: small to send to a worker, large to send back."""
    blocks = "".join(f"\nFinal-Recipient: rfc822; user{i}@example.com\nAction: failed\nStatus: 5.1.1\n"
                     f"Diagnostic-Code: smtp; 550 5.1.1 user{i} unknown\n" for i in range(recipients))
    return ("From: MAILER-DAEMON@example.net\nTo: s@example.org\nSubject: Undelivered\nMIME-Version: 1.0\n"
            "Content-Type: multipart/report; report-type=delivery-status; boundary=B\n\n"
            "--B\nContent-Type: text/plain\n\nfailed\n--B\nContent-Type: message/delivery-status\n\n"
            "Reporting-MTA: dns; mx.example.net\n" + blocks + "\n--B--\n").encode()


def test_workers_sending_back_large_results_do_not_deadlock(tmp_path):
    """300 DSNs of 60 recipients (18,000 records, megabytes of results): the pool once hung
    here, each side blocked sending to the other. Run in a child process with a deadline."""
    import subprocess
    import sys

    mbox = tmp_path / "wide.mbox"
    mbox.write_bytes(mbox_of(*[_wide_dsn(60)] * 300))
    code = ("import sys, ndrkb; n = sum(1 for r in ndrkb.classify([sys.argv[1]], workers=2) "
            "if r.error is None and r.status == '5.1.1'); print(n)")
    done = subprocess.run([sys.executable, "-c", code, str(mbox)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "18000"


@pytest.mark.parametrize("workers", [2, 4])
def test_stream_bytes_the_parent_holds_do_not_grow_with_workers(workers, monkeypatch):
    """Messages read from a stream are the only bytes the parent holds: at most WINDOW_BYTES
    and one chunk are read ahead, whatever the number of workers (4 x workers x 64 messages
    of up to 8 MiB once: 5.6 GB with two workers)."""
    from ndrkb.intake.containers import Unit
    from ndrkb.limits import MAX_MESSAGE_BYTES

    monkeypatch.setattr(pool, "WINDOW_BYTES", 1 << 20)
    data = LINE.encode() + b"x" * (256 << 10)
    pulled = worst = 0

    def units():
        nonlocal pulled
        for i in range(80):
            pulled += 1
            yield Unit("-", i, data=data)

    workers_pool = pool.Pool(workers, ndrkb.default_diagnoser(), 30)
    try:
        for done, _ in enumerate(workers_pool.run(units()), 1):
            worst = max(worst, (pulled - done) * len(data))
    finally:
        workers_pool.close()
    assert done == 80 and worst <= pool.WINDOW_BYTES + MAX_MESSAGE_BYTES + len(data)
