"""The Python API: every input form, the Diagnosis model, and the host process left untouched."""
from __future__ import annotations

import email
import email.policy
import json

from ndrkb import Diagnosis, diagnose

from .conftest import CORPUS

SAMPLE = CORPUS / "exo-sender-auth" / "exo-modern-5.7.133-01.eml"


def _summary(d: Diagnosis):
    return [(r.recipient, r.status, r.role, r.cause, r.recipient_type) for r in d.recipients]


def test_path_str_bytes_and_message_give_the_same_diagnosis():
    data = SAMPLE.read_bytes()
    forms = [SAMPLE, str(SAMPLE), data, data.decode("utf-8"),
             email.message_from_bytes(data, policy=email.policy.compat32)]
    results = [_summary(diagnose(f)) for f in forms]
    assert results[0] == [("sales-team@contoso.com", "5.7.133", "recipient_admin",
                           "exo-sender-auth/sender-not-authenticated-group", "group")]
    assert all(r == results[0] for r in results)


def test_source_name_is_the_path_only_for_paths():
    assert diagnose(SAMPLE).source == str(SAMPLE)
    assert diagnose(SAMPLE.read_bytes()).source is None


def test_diagnosis_round_trips_through_json():
    d = diagnose(SAMPLE)
    again = Diagnosis.model_validate_json(d.model_dump_json())
    assert again == d
    schema = Diagnosis.model_json_schema()
    assert "recipients" in schema["properties"]


def test_each_fact_records_where_it_was_read():
    r = diagnose(SAMPLE).recipients[0]
    assert r.facts.origin["recipient"].startswith("delivery-status part 1")
    assert "status" in r.facts.origin


def test_unknown_status_code_still_gets_a_diagnosis():
    r = diagnose("550 5.9.123 something odd happened").recipients[0]
    assert (r.status, r.permanent, r.role) == ("5.9.123", True, "sender_admin")
    assert r.cause == "rfc3463/unregistered-code"


def test_truncated_mime_is_read_as_far_as_it_goes():
    data = SAMPLE.read_bytes()
    cut = data[: data.index(b"Content-Type: message/delivery-status")]
    d = diagnose(cut)
    assert d.error is None and d.recipients[0].status == "5.7.133"


def test_non_bounce_email_says_what_was_found():
    d = diagnose(CORPUS / "not-bounces" / "personal-01.eml")
    assert not d.recipients and "not a bounce" in d.error and "text/plain body" in d.error


def test_records_match_the_design_format():
    from ndrkb import BatchRecord

    recs = BatchRecord.from_diagnosis(diagnose(CORPUS / "exo-sender-auth" / "dsn-multi-01.eml"))
    assert [r.status for r in recs] == ["5.1.10", "5.7.12", "5.2.2"]
    assert json.loads(recs[1].model_dump_json())["role"] == "recipient_admin"


def test_json_data_is_not_read_as_a_bounce():
    d = diagnose(b'{"file": "x.eml", "status": "5.7.26", "reply_code": 550}\n')
    assert not d.recipients and "JSON data" in d.error


def test_bare_reply_lines_take_their_action_from_the_codes():
    delayed = diagnose("451 4.7.1 Greylisted, try again later").recipients[0]
    given_up = diagnose("550 4.4.7 QUEUE.Expired; message expired").recipients[0]
    assert (delayed.action, delayed.role, delayed.permanent) == ("delayed", "none", False)
    assert (given_up.action, given_up.permanent) == ("failed", False) and given_up.role != "none"


_REPORT = (b"From: MAILER-DAEMON@mx.example.org\nTo: alice@example.org\nSubject: Undelivered Mail\n"
           b"MIME-Version: 1.0\nContent-Type: multipart/report; report-type=delivery-status; boundary=\"b1\"\n\n"
           b"--b1\nContent-Type: text/plain\nContent-Disposition: attachment; filename=\"r\xe9sum\xe9.txt\"\n\n"
           b"<bob@example.com>: host mx.example.com[192.0.2.7] said: 550 5.1.1 <bob@example.com>:\n"
           b"    Recipient address rejected: User unknown (in reply to RCPT TO command)\n--b1--\n")


def test_raw_8bit_header_values_are_read_not_raised():
    """compat32 hands back header objects, not strings, for raw 8-bit values (seen by fuzzing)."""
    d = diagnose(_REPORT)
    assert d.error is None and [(r.recipient, r.status) for r in d.recipients] == [("bob@example.com", "5.1.1")]
    # a multipart whose boundary never occurs and whose Content-Type carries 8-bit bytes: read as text
    broken = _REPORT.replace(b'boundary="b1"', b'boundary="zz"; name="\xe9"')
    d = diagnose(broken)
    assert d.error is None and d.recipients[0].status == "5.1.1"


def test_input_that_breaks_a_reader_gives_an_error_diagnosis(monkeypatch):
    import ndrkb.diagnoser

    assert "JSON" not in (diagnose(b"[" * 100_000 + b"\n").error or "")  # too deep for json: read as text

    def broken(parts):
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(ndrkb.diagnoser, "extract", broken)
    d = diagnose(SAMPLE)
    assert not d.recipients and d.error == "internal error while reading: RecursionError: maximum recursion depth exceeded"
