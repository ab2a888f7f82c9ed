"""The forms admins hold (issue 12): localized NDRs, MTA log lines, message traces and
tracking logs — sniffed, read into one record per failed or deferred recipient."""
from __future__ import annotations

import json
import shutil
import time

import pytest
from click.testing import CliRunner

import ndrkb
from ndrkb import diagnose
from ndrkb.cli.main import main
from ndrkb.intake.message import InputRecords, InputText, from_bytes
from ndrkb.intake.logs import read_log
from ndrkb.intake.sniff import input_form
from ndrkb.output.report import render_report
from ndrkb.read.walker import ADDRESS

from .conftest import CORPUS

LOCALIZED = CORPUS / "localized"
LOGS = CORPUS / "logs"
TRACES = CORPUS / "traces"


# --- localized NDRs -----------------------------------------------------------------------

@pytest.mark.parametrize("language, name", [
    ("de", "pasted-de-5.1.10-01.txt"), ("fr", "pasted-fr-5.2.2-01.txt"), ("es", "pasted-es-5.7.133-01.txt"),
    ("it", "pasted-it-5.1.1-01.txt"), ("nl", "pasted-nl-5.4.1-01.txt"), ("pt-BR", "pasted-pt-5.7.12-01.txt"),
    ("pl", "pasted-pl-4.4.7-01.txt"), ("ru", "pasted-ru-5.1.1-01.txt"), ("ja", "pasted-ja-5.7.12-01.txt"),
    ("zh-CN", "pasted-zh-5.1.10-01.txt"), ("ru", "pasted-ru-legacy-5.1.1-01.txt"),
    ("es", "pasted-es-legacy-5.2.2-01.txt"), ("de", "gmail-de-5.1.1-01.txt"), ("fr", "gmail-fr-5.1.1-01.txt"),
    ("es", "gmail-es-5.1.1-01.txt"), ("ja", "gmail-ja-5.1.1-01.txt"),
])
def test_a_localized_ndr_names_its_recipient_and_language_and_reports_in_english(language, name):
    d = diagnose(LOCALIZED / name)
    (r,) = d.recipients
    assert r.recipient == ADDRESS.search((LOCALIZED / name).read_text(encoding="utf-8")).group(0)
    assert r.language == language and r.facts.language == language
    assert r.facts.origin["recipient"].startswith("text line")
    assert "For the sender" in render_report(d)  # the report stays in English
    (record,) = ndrkb.default_diagnoser().classify_message(from_bytes((LOCALIZED / name).read_bytes()))
    assert record.language == language


def test_the_german_ndr_of_the_issue_names_its_recipient():
    """Was "(not named in the input)": the German headline names the recipient."""
    text = ("Ihre Nachricht an jonas.weber@contoso.com konnte nicht zugestellt werden.\n\n"
            "Diagnoseinformationen für Administratoren:\nGenerierender Server: AM0PR02MB5523.eurprd02.prod.outlook.com\n"
            "Vom Remoteserver wurde '550 5.1.10 RESOLVER.ADR.RecipientNotFound; not found' zurückgegeben.\n")
    (r,) = diagnose(text).recipients
    assert (r.recipient, r.status, r.reply_code, r.language) == ("jonas.weber@contoso.com", "5.1.10", 550, "de")


@pytest.mark.parametrize("reply, status, reason", [
    ("550 Benutzer unbekannt", "5.1.1", "userunknown"), ("550 Utilisateur inconnu", "5.1.1", "userunknown"),
    ("550 Usuario desconocido", "5.1.1", "userunknown"), ("550 Utente sconosciuto", "5.1.1", "userunknown"),
    ("550 Onbekende gebruiker", "5.1.1", "userunknown"), ("550 Usuário desconhecido", "5.1.1", "userunknown"),
    ("550 Nieznany użytkownik", "5.1.1", "userunknown"), ("550 Пользователь не найден", "5.1.1", "userunknown"),
    ("550 ユーザーが見つかりません", "5.1.1", "userunknown"), ("550 用户不存在", "5.1.1", "userunknown"),
    ("552 Postfach voll", "5.2.2", "mailboxfull"), ("452 Почтовый ящик переполнен", "4.2.2", "mailboxfull"),
    ("552 邮箱已满", "5.2.2", "mailboxfull"), ("452 Buzón lleno", "4.2.2", "mailboxfull"),
])
def test_non_english_mta_wording_gives_the_status_and_reason(reply, status, reason):
    (r,) = diagnose(reply).recipients
    assert (r.status, r.reason) == (status, reason)


def test_an_english_ndr_has_no_language():
    (r,) = diagnose(CORPUS / "exchange" / "pasted-5.2.2-01.txt").recipients
    assert r.language is None
    assert "language" in ndrkb.RecipientDiagnosis.model_fields
    fields = list(ndrkb.BatchRecord.model_fields)
    assert fields.index("language") > fields.index("error")  # after the stable core


# --- MTA logs -----------------------------------------------------------------------------

def _records(path):
    return list(ndrkb.classify([str(path)]))


def test_postfix_one_record_per_failed_or_deferred_recipient_sent_lines_none():
    records = _records(LOGS / "postfix-mixed-01.log")
    assert [(r.recipient, r.action, r.status, r.reply_code) for r in records] == [
        ("anna.kowalski@example.org", "failed", "5.1.1", 550),
        ("bob.smith@example.net", "failed", "5.7.1", 554),
        ("ops@example.com", "delayed", "4.4.1", None),
        ("carl@fabrikam.com", "failed", "5.2.2", None),
        ("nobody@fabrikam.com", "failed", "5.1.1", 550),
    ]
    assert "lena.fischer@contoso.com" not in {r.recipient for r in records}  # status=sent
    deferred = records[2]
    assert deferred.permanent is False and deferred.role == "none"


def test_postfix_facts_say_where_each_came_from():
    d = diagnose(LOGS / "postfix-mixed-01.log")
    first = d.recipients[0].facts
    assert first.command == "RCPT" and first.remote_mta == "mx.example.org" and first.reporting_mta == "mx1"
    assert first.origin["status"] == "Postfix log line 3: dsn="
    assert first.origin["command"] == "Postfix log line 3: (in reply to RCPT TO command)"
    assert first.mta == "postfix" and d.mta == "postfix"
    assert d.found == ["Postfix log (1 delayed, 4 failed, 1 sent)"]
    local = d.recipients[3].facts
    assert "cannot update mailbox" in local.diagnostic and local.remote_mta is None


def test_two_postfix_lines_are_two_records_each_with_its_own_status_and_reason():
    """The issue: an unknown user then a relay denial came out as one record mixing them."""
    lines = LOGS.joinpath("postfix-mixed-01.log").read_text().splitlines()
    d = diagnose("\n".join([lines[2], lines[4]]))
    assert [(r.recipient, r.status, r.reason) for r in d.recipients] == [
        ("anna.kowalski@example.org", "5.1.1", "userunknown"), ("bob.smith@example.net", "5.7.1", "norelaying")]


def test_a_log_of_delivered_lines_only_is_an_error_record_saying_so():
    line = LOGS.joinpath("postfix-mixed-01.log").read_text().splitlines()[3]
    d = diagnose(line + "\n")
    assert d.recipients == [] and "no failed or deferred recipient in the Postfix log (1 sent)" in d.error


def test_exim_failures_deferrals_and_stages():
    d = diagnose(LOGS / "exim-mainlog-01.log")
    got = [(r.recipient, r.action, r.status, r.facts.command) for r in d.recipients]
    assert got == [("priya.nair@example.org", "failed", "5.1.1", "RCPT"), ("tom.lee@example.net", "delayed", "4.7.1", "RCPT"),
                   ("sales@example.com", "failed", "5.1.2", None), ("big.files@example.org", "failed", "5.3.4", "DATA")]
    assert d.recipients[1].facts.origin["command"].endswith("after RCPT TO")
    assert d.recipients[1].permanent is False


def test_sendmail_one_fact_per_address_on_a_line():
    text = ("Nov 29 09:30:02 gw1 sendmail[4102]: 2ATCU1x4004101: to=<a.one@example.org>,<b.two@example.org>, "
            "delay=00:00:01, mailer=esmtp, pri=121822, relay=mx.example.org. [192.0.2.25], dsn=5.1.1, stat=User unknown\n")
    d = diagnose(text)
    assert [(r.recipient, r.status, r.facts.remote_mta) for r in d.recipients] == [
        ("a.one@example.org", "5.1.1", "mx.example.org"), ("b.two@example.org", "5.1.1", "mx.example.org")]


def test_exchange_tracking_log_fail_events():
    d = diagnose(LOGS / "exchange-tracking-01.log")
    assert [(r.recipient, r.status, r.reply_code, r.cause) for r in d.recipients] == [
        ("kim.park@fabrikam.com", "5.2.2", 554, "exo-mailbox/mailbox-full"),
        ("ghost@fabrikam.com", "5.1.1", 550, "exo-addressing/recipient-unknown")]
    assert d.found == ["Exchange message tracking log (2 failed, 1 receive, 1 send)"]
    assert d.mta == "exchange" and d.recipients[0].facts.reporting_mta == "EX02"


# --- message traces -----------------------------------------------------------------------

def test_get_messagetrace_export_failed_and_pending_rows_delivered_counted():
    d = diagnose(TRACES / "get-messagetrace-01.csv")
    assert [(r.recipient, r.action) for r in d.recipients] == [("tobias.brandt@example.org", "failed"),
                                                                ("finance@example.net", "delayed")]
    assert d.found == ["message trace (1 delayed, 1 delivered, 1 expanded, 1 failed)"]
    assert d.recipients[0].facts.origin["action"] == "message trace row 2: Status Failed"


def test_a_semicolon_export_with_a_type_line_is_read_too():
    """Export-Csv -UseCulture in a German locale writes ';' and Windows PowerShell a #TYPE line."""
    text = ('#TYPE Deserialized.Microsoft.Exchange.Management.FfoReporting.MessageTrace\n'
            '"Received";"SenderAddress";"RecipientAddress";"Subject";"Status"\n'
            '"29.11.2026 08:15:03";"chris.baker@fabrikam.com";"eva.braun@example.org";"Angebot";"Failed"\n')
    (r,) = diagnose(text).recipients
    assert (r.recipient, r.action) == ("eva.braun@example.org", "failed")


def test_extended_report_and_summary_report():
    d = diagnose(TRACES / "extended-report-01.csv")
    assert [(r.recipient, r.status, r.cause) for r in d.recipients] == [
        ("dana.white@contoso.com", "5.7.133", "exo-sender-auth/sender-not-authenticated-group"),
        ("sam.ortiz@example.org", "5.1.1", "mta-common/unknown-user")]
    assert d.recipients[1].facts.remote_mta == "mx.example.org"  # {FQDN=...}
    s = diagnose(TRACES / "enhanced-summary-01.csv")
    assert [(r.recipient, r.action) for r in s.recipients] == [("maria.garcia@example.org", "failed")]


def test_trace_detail_list_and_table_text():
    (r,) = diagnose(TRACES / "trace-detail-01.txt").recipients
    assert (r.recipient, r.status, r.reply_code, r.role) == ("dana.white@contoso.com", "5.7.133", 550, "recipient_admin")
    table = ("Date                   Event      Detail\n"
             "----                   -----      ------\n"
             "11/29/2026 9:40:01 AM  Receive    Message received by: AM0PR02MB5523.eurprd02.prod.outlook.com\n"
             "11/29/2026 9:40:02 AM  Fail       Reason: [{LED=550 5.1.10 RESOLVER.ADR.RecipientNotFound; not found};{MSG=}]\n")
    (t,) = diagnose(table).recipients
    assert (t.recipient, t.status, t.action) == (None, "5.1.10", "failed")


def test_an_unknown_csv_is_refused_naming_the_columns_expected():
    d = diagnose("Name,Department,Phone\nAda,IT,555-0100\nBob,HR,555-0101\n")
    assert d.error.startswith("a table whose columns are not a message trace or tracking log (found: Name, Department, Phone)")
    assert "RecipientAddress, Status" in d.error and "recipient_status" in d.error


# --- sniffing and the override ------------------------------------------------------------

@pytest.mark.parametrize("path, form", [
    (LOGS / "postfix-mixed-01.log", "log"), (LOGS / "exim-mainlog-01.log", "log"), (LOGS / "sendmail-01.log", "log"),
    (LOGS / "exchange-tracking-01.log", "table"), (TRACES / "get-messagetrace-01.csv", "table"),
    (TRACES / "trace-detail-01.txt", "trace-detail"), (CORPUS / "exchange" / "pasted-5.2.2-01.txt", None),
    (LOCALIZED / "pasted-ja-5.7.12-01.txt", None),
])
def test_sniffing_tells_the_forms_apart(path, form):
    assert input_form(path.read_bytes()) == form


def test_a_reply_line_with_commas_is_not_a_table():
    line = b"550 5.7.1 Service unavailable, Client host blocked, see https://example.org/rbl\n"
    assert input_form(line) is None and isinstance(from_bytes(line), InputText)


def test_input_format_overrides_sniffing():
    data = (LOGS / "postfix-mixed-01.log").read_bytes()
    assert isinstance(from_bytes(data), InputRecords)
    assert isinstance(from_bytes(data, "text"), InputText)
    d = diagnose(CORPUS / "exchange" / "pasted-5.2.2-01.txt", input_format="table")
    assert d.error == "the input is not a table with a header row"
    result = CliRunner().invoke(main, ["diagnose", "--input-format", "log", str(LOGS / "sendmail-01.log"), "--json"])
    assert result.exit_code == 0 and json.loads(result.output)["recipients"][0]["recipient"] == "jo.martin@example.org"


# --- classify over a mixed folder ---------------------------------------------------------

def test_classify_a_mixed_folder_one_record_per_failed_recipient_in_input_order(tmp_path):
    for src in (LOGS / "postfix-mixed-01.log", TRACES / "get-messagetrace-01.csv", LOCALIZED / "pasted-de-5.1.10-01.txt",
                CORPUS / "exchange" / "exo-modern-5.1.1-01.eml"):
        shutil.copy(src, tmp_path / src.name)
    (tmp_path / "staff.csv").write_text("Name,Department,Phone\nAda,IT,555-0100\n")  # data, skipped by the walk
    records = list(ndrkb.classify([str(tmp_path)], workers=2))
    assert [(r.source.rsplit("/", 1)[1], r.recipient) for r in records] == [
        ("exo-modern-5.1.1-01.eml", records[0].recipient),
        ("get-messagetrace-01.csv", "tobias.brandt@example.org"), ("get-messagetrace-01.csv", "finance@example.net"),
        ("pasted-de-5.1.10-01.txt", "jonas.weber@contoso.com"),
        ("postfix-mixed-01.log", "anna.kowalski@example.org"), ("postfix-mixed-01.log", "bob.smith@example.net"),
        ("postfix-mixed-01.log", "ops@example.com"), ("postfix-mixed-01.log", "carl@fabrikam.com"),
        ("postfix-mixed-01.log", "nobody@fabrikam.com"),
    ]
    assert all(r.error is None for r in records)
    named = list(ndrkb.classify([str(tmp_path / "staff.csv")]))  # named on the command line: read, refused
    assert len(named) == 1 and "not a message trace" in named[0].error


# --- bounds -------------------------------------------------------------------------------

def test_a_long_log_is_read_within_bounds_and_keeps_the_first_recipients(monkeypatch):
    monkeypatch.setattr("ndrkb.intake.message.MAX_LISTED", 1000)
    line = ("Nov 29 09:12:03 mx1 postfix/smtp[2345]: 4F1A2B3C4D: to=<u{n}@example.org>, relay=mx.example.org"
            "[192.0.2.25]:25, delay=1, delays=0/0/0/0, dsn=5.1.1, status=bounced (host mx.example.org[192.0.2.25] said: "
            "550 5.1.1 <u{n}@example.org>: User unknown (in reply to RCPT TO command))")
    text = "\n".join(line.format(n=n) for n in range(3000)) + "\n" + "x" * 200_000 + "\n"
    started = time.monotonic()
    d = diagnose(text)
    assert len(d.recipients) == 1000 and d.recipients[0].recipient == "u0@example.org"
    assert "2000 beyond the first 1000, not reported" in d.found[0]
    assert time.monotonic() - started < 20


def test_a_hostile_table_is_an_error_or_records_never_a_traceback():
    text = "event_id,recipient_address,recipient_status\n" + "FAIL,\"" + "a" * 100_000 + "@x\",\"{[{LED=" + "{" * 5000 + "\n"
    d = diagnose(text)
    assert d.error is None or isinstance(d.error, str)


def test_crafted_log_lines_are_read_in_linear_time():
    """Each of these took from 0.3 to 0.6 s per line before (a lazy field list, a lazy stage)."""
    p = "Nov 29 09:30:02 gw1 "
    lines = [p + "sendmail[1]: q: to=" + "a=b, " * 1700, p + "sendmail[1]: q: to=" + "a=b, " * 1600 + ", stat=x",
             "2026-11-29 09:20:12 1uQzAb-0004Xy-Q1 ** a@b " + "SMTP error from remote mail after " * 230,
             p + "postfix/smtp[1]: Q: to=<a@b>, relay=x, dsn=5.1.1, status=bounced (" + "host a[b] said: " * 500 + ")"]
    started = time.monotonic()
    for line in lines:
        read_log("\n".join([line[:8192]] * 200) + "\n")
    assert time.monotonic() - started < 10


def test_a_recipient_retried_then_bounced_is_one_record_with_its_latest_state():
    line = ("{date} mx1 postfix/smtp[2347]: {qid}: to=<{rcpt}>, relay=none, delay=30, delays=0/0/30/0, dsn={dsn}, "
            "status={status} ({text})")
    timeout = "connect to mx.example.com[203.0.113.9]:25: Connection timed out"
    text = "\n".join([
        line.format(date="Nov 29 09:12:05", qid="7A8B9C0D1E", rcpt="ops@example.com", dsn="4.4.1", status="deferred", text=timeout),
        line.format(date="Nov 29 09:12:06", qid="1111111111", rcpt="other@example.com", dsn="4.4.1", status="deferred", text=timeout),
        line.format(date="Nov 30 09:12:05", qid="7A8B9C0D1E", rcpt="ops@example.com", dsn="4.4.1", status="deferred", text=timeout),
        line.format(date="Dec  4 09:12:05", qid="7A8B9C0D1E", rcpt="ops@example.com", dsn="4.4.7", status="bounced",
                    text="delivery temporarily suspended: " + timeout)]) + "\n"
    d = diagnose(text)
    assert [(r.recipient, r.action, r.status) for r in d.recipients] == [("ops@example.com", "failed", "4.4.7"),
                                                                        ("other@example.com", "delayed", "4.4.1")]
    assert d.recipients[0].facts.origin["action"] == "Postfix log line 4: status=bounced"
    assert d.found == ["Postfix log (3 delayed, 1 failed)"]  # lines, by outcome


def test_a_tracking_log_defer_then_fail_of_one_message_is_one_record():
    head = "event_id,internal_message_id,recipient_address,recipient_status,server_hostname\n"
    rows = ('DEFER,42,kim.park@fabrikam.com,"451 4.4.0 Primary target IP address responded with: 421 4.4.2 Connection dropped",EX02\n'
            "FAIL,42,kim.park@fabrikam.com,550 5.4.300 Message expired,EX02\n")
    (r,) = diagnose(head + rows).recipients
    assert (r.action, r.status, r.reply_code) == ("failed", "5.4.300", 550)
