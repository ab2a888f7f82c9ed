"""The generic reading (issue 10 item 3): recipients of bounces in layouts no terminal names,
never the sender, the list or a mail-system address; delay notices read as delayed."""
from __future__ import annotations

from ndrkb import diagnose
from ndrkb.read.walker import addresses_in, clean_address

LIST_ORIGINAL = """Return-Path: <team-bounces@lists.example.org>
From: Ivo Poster <ivo@poster.example.com>
To: team@lists.example.org
Subject: [team] minutes
List-Post: <mailto:team@lists.example.org>

Minutes attached.
"""


def _bounce(body: str, frm: str = "MAILER-DAEMON@mx.member.example", to: str = "team-bounces@lists.example.org",
            extra: str = "") -> bytes:
    return (f"From: {frm}\nTo: {to}\nSubject: Undeliverable\nDate: Tue, 04 Mar 2025 10:00:00 +0000\n{extra}"
            f"MIME-Version: 1.0\nContent-Type: text/plain\n\n{body}").encode()


def test_quotes_and_address_type_tags_are_not_part_of_the_address():
    assert addresses_in("addressed to 'greta@member.example', and SMTP=beth@exch.example; on Tue") == \
        ["greta@member.example", "beth@exch.example"]
    assert clean_address("rfc822=Ann@B.example") == "ann@b.example"
    assert clean_address("bounce+ann=b.example@lists.example") == "bounce+ann=b.example@lists.example"


def test_the_list_the_original_went_through_is_never_the_recipient():
    body = "Your message has met trouble\nin this mail system. Sorry.\n\n--- original message ---\n" + LIST_ORIGINAL
    assert [r.recipient for r in diagnose(_bounce(body)).recipients] == []
    body = ("Your message has met trouble\nto local user una@member.example.\n\n--- original message ---\n"
            + LIST_ORIGINAL)
    (r,) = diagnose(_bounce(body)).recipients
    assert r.recipient == "una@member.example"
    assert r.facts.origin["recipient"].startswith("generic reading")


def test_the_list_address_on_a_delivery_line_opens_no_block():
    body = ("Your message to team@lists.example.org could not be delivered to:\n\n  una@member.example\n\n"
            "--- original message ---\n" + LIST_ORIGINAL)
    assert [r.recipient for r in diagnose(_bounce(body)).recipients] == ["una@member.example"]


def test_a_postmaster_address_counts_only_when_the_original_was_sent_to_it():
    body = ("   ----- The following addresses had delivery problems -----\npostmaster@mx.member.example\n\n"
            "Mailbox over quota.\n\n--- original message ---\nFrom: ivo@poster.example.com\n"
            "To: <postmaster@mx.member.example>\nSubject: hi\n\nhello\n")
    bounce = _bounce(body, frm="postmaster@member.example", to="ivo@poster.example.com")
    assert [r.recipient for r in diagnose(bounce).recipients] == ["postmaster@mx.member.example"]
    body = body.replace("To: <postmaster@mx.member.example>", "To: <una@member.example>")
    bounce = _bounce(body, frm="postmaster@member.example", to="ivo@poster.example.com")
    assert [r.recipient for r in diagnose(bounce).recipients] == ["una@member.example"]


def test_a_list_reporting_on_itself_names_the_list():
    body = "Mail loop detected for <team@lists.example.org>.\n"
    bounce = _bounce(body, frm="team-admin@lists.example.org", to="team-admin@lists.example.org",
                     extra="Return-Path: <owner-team@lists.example.org>\n")
    assert [r.recipient for r in diagnose(bounce).recipients] == ["team@lists.example.org"]


def test_a_delay_notice_without_codes_reads_as_delayed_and_says_why():
    body = ("Delivery to the following recipient has been delayed:\n\n     una@member.example\n\n"
            "Message will be retried for 2 more day(s)\n")
    (r,) = diagnose(_bounce(body)).recipients
    assert r.action == "delayed" and not r.hard_bounce
    assert "delay notice" in r.facts.origin["action"]
    failed = body.replace("Message will be retried", "550 5.1.1 user unknown; the message will not be retried")
    assert diagnose(_bounce(failed)).recipients[0].action == "failed"


def test_bare_names_under_a_list_heading_are_mailboxes_of_the_reporting_domain():
    body = ("Your mail to the following recipients could not be delivered because they are not accepting mail:\n"
            "\tjazzcat7\n\tbettyboop42\n\nThanks\n")
    records = diagnose(_bounce(body, frm="MAILER-DAEMON@aol.example.com")).recipients
    assert [r.recipient for r in records] == ["jazzcat7@aol.example.com", "bettyboop42@aol.example.com"]
    assert records[0].facts.origin["recipient"].startswith("text line 2: generic reading")
    # a bare word that does not follow the heading directly is text, not a recipient
    body = body.replace("\tjazzcat7\n\tbettyboop42\n", "Sorry.\n\tjazzcat7\n")
    assert [r.recipient for r in diagnose(_bounce(body, frm="MAILER-DAEMON@aol.example.com")).recipients] == []


def test_a_mail_system_address_a_delivery_status_part_names_keeps_its_text():
    bounce = b"""From: MAILER-DAEMON@mx.member.example
To: ivo@poster.example.com
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b"

--b
Content-Type: text/plain

<postmaster@member.example> (expanded from <info@member.example>): host
    mx2.member.example[192.0.2.8] said: 554 5.7.1 Message rejected (in reply to end
    of DATA command)

--b
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.member.example

Final-Recipient: rfc822; postmaster@member.example
Original-Recipient: rfc822; info@member.example
Action: failed
Status: 5.7.1

--b--
"""
    (r,) = diagnose(bounce).recipients
    assert r.recipient == "postmaster@member.example"
    assert r.facts.command == "DATA" and "expanded from" in r.facts.diagnostic
