"""What a new user meets first (issue 17): several bounces in one input, inputs that yield
nothing, records that can be traced back, answers that say where they come from, a
report short enough to act on."""
from __future__ import annotations

import csv
import io
import json
import re
import shutil

import pytest
from click.testing import CliRunner

from ndrkb.cli import main

from .conftest import CORPUS

LINE_5_7_12 = (CORPUS / "exo-sender-auth" / "line-5.7.12-01.txt").read_text()
MODERN = CORPUS / "exchange" / "exo-modern-5.1.1-01.eml"
FULL = CORPUS / "exchange" / "exo-modern-5.2.2-01.eml"
SENDER_AUTH = CORPUS / "exo-sender-auth" / "exo-modern-5.7.12-01.eml"


def run(*args, input=None):
    return CliRunner().invoke(main, [str(a) for a in args], input=input, catch_exceptions=False)


@pytest.fixture()
def mbox(tmp_path):
    path = tmp_path / "box.mbox"
    path.write_bytes(b"".join(b"From MAILER-DAEMON Thu Nov 26 10:00:00 2026\n" + p.read_bytes().rstrip(b"\n") + b"\n\n"
                              for p in (MODERN, FULL, SENDER_AUTH, MODERN)))
    return path


@pytest.fixture()
def maildir(tmp_path):
    box = tmp_path / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (box / sub).mkdir(parents=True)
    shutil.copy(MODERN, box / "cur" / "1700000000.M1P1.host:2,S")
    shutil.copy(FULL, box / "new" / "1700000001.M2P2.host")
    return box


# --- item 2: several bounces in one input ----------------------------------------------

def test_diagnose_an_mbox_reports_every_message_headed_by_its_place(mbox):
    res = run("diagnose", mbox)
    assert res.exit_code == 0
    heads = [line for line in res.stdout.splitlines() if line.startswith("ndrkb diagnosis of")]
    separator = len(b"From MAILER-DAEMON Thu Nov 26 10:00:00 2026\n")
    assert heads[0] == f"ndrkb diagnosis of {mbox}, message 1 of 4 (index 0, byte {separator})"
    assert [h.split(", message ")[1].split(" (")[0] for h in heads] == ["1 of 4", "2 of 4", "3 of 4", "4 of 4"]
    assert res.stdout.count("Recipient: ") == 4


def test_diagnose_json_of_an_mbox_is_json_lines_one_diagnosis_per_message(mbox):
    lines = run("diagnose", "--json", mbox).stdout.splitlines()
    got = [(d["index"], d["mbox_offset"], d["recipients"][0]["status"]) for d in map(json.loads, lines)]
    assert [(i, s) for i, _, s in got] == [(0, "5.1.1"), (1, "5.2.2"), (2, "5.7.12"), (3, "5.1.1")]
    data = mbox.read_bytes()
    starts = [p.read_bytes()[:200] for p in (MODERN, FULL, SENDER_AUTH, MODERN)]
    assert [data[offset:offset + 200] for _, offset, _ in got] == starts  # each offset is where its message starts
    single = run("diagnose", "--json", MODERN).stdout
    assert single.count("\n") == 1 and json.loads(single)["recipients"]  # one message: one line, one object


def test_explain_a_maildir_names_each_message_file(maildir):
    res = run("explain", maildir)
    heads = [line for line in res.stdout.splitlines() if line.startswith("ndrkb explanation of")]
    assert heads == [f"ndrkb explanation of {maildir}, message 1 of 2 (index 0, file {maildir}/cur/1700000000.M1P1.host:2,S)",
                     f"ndrkb explanation of {maildir}, message 2 of 2 (index 1, file {maildir}/new/1700000001.M2P2.host)"]


# --- item 3: inputs that yield nothing are named ----------------------------------------

def test_classify_names_every_input_that_yields_nothing(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "README.md").write_text("# notes\n")
    res = run("classify", tmp_path / "empty", tmp_path / "docs", tmp_path / "nope")
    assert res.exit_code == 1
    assert f"{tmp_path / 'empty'}: a folder with no message in it" in res.stderr
    assert f"{tmp_path / 'docs'}: a folder with no message in it" in res.stderr
    assert f"Warning: no such file or folder: {tmp_path / 'nope'}" in res.stderr
    assert json.loads(res.stdout)["error"] == f"no such file or folder: {tmp_path / 'nope'}"  # and its record


def test_classify_closes_with_a_one_line_summary_when_stderr_is_not_a_terminal(tmp_path):
    (tmp_path / "a.txt").write_text(LINE_5_7_12)
    (tmp_path / "b.eml").write_bytes(b"")
    res = run("classify", "-j", "1", tmp_path)
    assert res.stderr.splitlines() == [res.stderr.strip()]
    assert res.stderr.startswith("ndrkb classify: 2 messages (1 diagnosed), 1 recipient, 1 error record; ")
    one = run("classify", "-j", "1", tmp_path / "a.txt").stderr
    assert one.startswith("ndrkb classify: 1 message (1 diagnosed), 1 recipient, 0 error records; ")


def test_diagnose_a_folder_says_it_is_one_and_what_to_run(tmp_path):
    res = run("diagnose", tmp_path)
    assert res.exit_code == 1
    assert f"{tmp_path} is a folder" in res.output and f"ndrkb classify {tmp_path}" in res.output
    assert "no such file or folder" in run("diagnose", tmp_path / "nope").output


# --- item 4: records a user can trace back ----------------------------------------------

NEW_FIELDS = ["status_inferred", "sender", "sender_domain", "recipient_domain", "subject", "message_id", "date",
              "diagnostic", "reporting_mta", "remote_mta", "command", "feedback_type", "file", "mbox_offset",
              "maildir_key", "language", "cuts"]


def test_records_carry_the_fields_after_the_stable_core(tmp_path):
    rec = json.loads(run("classify", SENDER_AUTH).stdout)
    assert list(rec)[15:] == NEW_FIELDS
    assert {k: rec[k] for k in ("sender", "sender_domain", "recipient_domain", "subject", "date", "reporting_mta",
                                "file", "status_inferred")} == {
        "sender": "priya.natarajan@example.org", "sender_domain": "example.org", "recipient_domain": "adatum.com",
        "subject": "Request for partnership information", "date": "Wed, 8 Nov 2023 16:47:03 +0000",
        "reporting_mta": "SN4PR0801MB3712.namprd08.prod.outlook.com", "file": str(SENDER_AUTH),
        "status_inferred": False}
    assert rec["message_id"].startswith("<CAH7xq3N") and rec["diagnostic"].startswith("550 5.7.12 RESOLVER.RST.")
    schema = json.loads(run("schema", "record").stdout)["properties"]
    assert all(name in schema for name in NEW_FIELDS)


def test_a_maildir_record_names_its_file_and_an_mbox_record_its_offset(maildir, mbox):
    records = [json.loads(line) for line in run("classify", "-j", "1", maildir, mbox).stdout.splitlines()]
    assert [(r["source"], r["file"], r["maildir_key"]) for r in records[:2]] == [
        (str(maildir), f"{maildir}/cur/1700000000.M1P1.host:2,S", "1700000000.M1P1.host"),
        (str(maildir), f"{maildir}/new/1700000001.M2P2.host", "1700000001.M2P2.host")]
    offsets = [r["mbox_offset"] for r in records[2:]]
    data = mbox.read_bytes()
    assert [data[o:o + 200] for o in offsets] == [p.read_bytes()[:200] for p in (MODERN, FULL, SENDER_AUTH, MODERN)]
    assert {r["file"] for r in records[2:]} == {str(mbox)}


ARF = b"""From: abuse@mail.example.net
To: postmaster@example.org
Subject: complaint
Date: Thu, 26 Nov 2026 10:00:00 +0000
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="b1"

--b1
Content-Type: text/plain

A recipient marked this message as spam.

--b1
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: example-fbl/1.0
Version: 1
Original-Rcpt-To: jo@mail.example.net

--b1
Content-Type: text/rfc822-headers

From: news@example.org
To: jo@mail.example.net
Subject: Our November letter
Message-ID: <nov-letter-1@example.org>

--b1--
"""


def test_a_complaint_record_gives_its_feedback_type_and_the_original_message():
    rec = json.loads(run("classify", "-", input=ARF).stdout)
    assert (rec["reason"], rec["feedback_type"]) == ("feedback", "abuse")
    assert (rec["sender"], rec["subject"], rec["message_id"]) == (
        "news@example.org", "Our November letter", "<nov-letter-1@example.org>")


# --- item 5: an answer says where it comes from -----------------------------------------

def test_an_inferred_status_is_marked_as_inferred():
    line = "451 Greylisted, try again later"
    rec = json.loads(run("classify", "-", input=line).stdout)
    status = rec["status"]
    assert status and status.startswith("4.") and rec["status_inferred"] is True
    assert f"status {status} (inferred)" in run("diagnose", "-", input=line).stdout
    assert f"status = '{status}'   (inferred by core-status/" in run("explain", "-", input=line).stdout
    given = json.loads(run("classify", "-", input="451 4.7.1 Greylisted, try again later").stdout)
    assert given["status_inferred"] is False
    assert "(inferred)" not in run("diagnose", "-", input="451 4.7.1 Greylisted, try again later").stdout


def test_explain_names_the_line_a_status_was_read_from():
    text = (CORPUS / "exchange" / "pasted-5.7.1-01.txt").read_text()
    number = next(n for n, line in enumerate(text.splitlines(), 1) if "5.7.1 RESOLVER" in line)
    assert number > 1
    out = run("explain", "-", input=text).stdout
    assert f"status = '5.7.1'   (text line {number})" in out
    assert f"reply_code = 550   (text line {number})" in out


# --- item 6: remediation grouped by recipient type --------------------------------------

def test_a_5_7_12_line_gives_fixes_grouped_by_type_with_how_to_find_it_first():
    out = run("diagnose", "-", input=LINE_5_7_12).stdout
    lines = out.splitlines()
    find = lines.index("     PS> Get-Recipient <recipient> | Format-List RecipientTypeDetails")
    groups = [n for n, line in enumerate(lines) if re.fullmatch(r"  [A-Z][A-Za-z]+(, [A-Z][A-Za-z]+)*:", line)]
    assert [lines[n].strip() for n in groups] == [
        "UserMailbox, SharedMailbox:", "MailUser:", "MailContact:",
        "MailUniversalDistributionGroup, MailUniversalSecurityGroup:", "DynamicDistributionGroup:",
        "GroupMailbox:", "PublicFolder:"]
    assert "  Any type:" in lines[find:groups[0]]  # the fix for every type comes first
    assert find < groups[0]
    mailbox = lines[groups[0]:groups[1]]
    assert any("PS> Set-Mailbox -Identity <recipient> -RequireSenderAuthenticationEnabled $false" in x for x in mailbox)
    assert not any("Set-DistributionGroup" in x for x in mailbox)
    assert "New EAC:" not in out  # admin-center steps on request
    steps = run("diagnose", "--steps", "-", input=LINE_5_7_12).stdout
    # every fix in full, as the report printed them all before (165 lines, 272 with the checks)
    assert "New EAC: Recipients > Mailboxes" in steps and len(steps.splitlines()) > 2 * len(lines)


# --- item 7: polish --------------------------------------------------------------------

def test_report_lines_fit_92_columns_except_commands_and_links():
    out = run("diagnose", "-", input=LINE_5_7_12).stdout
    too_long = [x for x in out.splitlines() if len(x) > 92 and "PS> " not in x and "https://" not in x]
    assert not too_long
    out = run("explain", CORPUS / "exchange" / "pasted-5.7.1-01.txt").stdout
    assert not [x for x in out.splitlines() if len(x) > 92 and "https://" not in x and " " in x.strip()]


def test_csv_booleans_are_written_as_json_writes_them():
    out = run("classify", "--format", "csv", SENDER_AUTH).stdout
    row = next(csv.DictReader(io.StringIO(out)))
    assert (row["permanent"], row["hard_bounce"], row["status_inferred"]) == ("true", "false", "false")


def test_diagnose_help_gives_the_exit_codes():
    for command in ("diagnose", "explain"):
        out = run(command, "--help").stdout
        assert "Exit status:" in out and "0  at least one recipient was diagnosed" in out


# --- item 8: docs that say what is so ------------------------------------------------

REPO = CORPUS.parent
USER_DOCS = [REPO / "README.md", REPO / "corpus" / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def test_no_user_document_sends_the_reader_to_a_design_file_outside_the_repository():
    assert not [p.name for p in USER_DOCS if "DESIGN" in p.read_text()]


def test_docs_vocabulary_gives_every_public_value_with_its_meaning():
    from ndrkb import vocabulary as v

    text = (REPO / "docs" / "vocabulary.md").read_text()
    for table in (v.ROLE_MEANINGS, v.RECIPIENT_TYPE_MEANINGS, v.REASON_MEANINGS, v.ACTION_MEANINGS, v.KIND_MEANINGS):
        for value, meaning in table.items():
            assert f"| `{value}` | {meaning} |" in text, value


def test_docs_records_lists_every_record_field_in_order():
    from ndrkb.models import RECORD_FIELDS

    text = (REPO / "docs" / "records.md").read_text()
    listed = re.findall(r"^\| `(\w+)` \|", text, re.M)
    assert listed == list(RECORD_FIELDS)
    example = json.loads(re.search(r"```json\n(.*?)```", text, re.S).group(1))
    assert list(example) == list(RECORD_FIELDS)


def test_writing_packs_names_the_built_in_pack_that_claims_its_example_code(tmp_path):
    from ndrkb import diagnose

    text = (REPO / "docs" / "writing-packs.md").read_text()
    line = re.search(r"rejects with `(550 5\.7\.999 [^`]+)`", text).group(1)
    claimed = re.search(r"the built-in `([\w-]+)` pack\s+claims", text).group(1)
    assert diagnose(line).recipients[0].decided_by["cause"].split("/")[0] == claimed
    assert run("packs", "new", "5.7.999", "--dir", tmp_path).exit_code == 0
    own = json.loads(run("classify", "--pack", tmp_path / "pack-5-7-999", "-", input=line).stdout)
    assert own["cause"].startswith("pack-5-7-999/")  # the exact-code rule of the new pack outranks the range


def test_the_original_headers_are_read_bounded():
    from ndrkb.limits import MAX_LINE_CHARS

    long = ARF.replace(b"Subject: Our November letter", b"Subject: " + b"x" * 1_000_000)
    rec = json.loads(run("classify", "-", input=long).stdout)
    assert rec["subject"] == "x" * MAX_LINE_CHARS  # the value read up to MAX_LINE_CHARS characters
