"""Gateways', appliances' and sending services' readers (kb/gateway-readers): each family is told
by its own signs, and the reason its reader states is the one given, with the rule in the trace.

Every bounce here is written for the test in the layout of that system's reports.
"""
from __future__ import annotations

import pytest

from ndrkb import diagnose
from ndrkb.facts.extract import detect_mta
from ndrkb.intake.parts import Parts
from ndrkb.rules.schema import When


def _dsn(headers: str, text: str, fields: str) -> bytes:
    """A multipart/report with these top headers, human-readable text and recipient fields."""
    return f"""{headers}
To: sender@example.com
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain

{text}

--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net

Final-Recipient: rfc822; u@example.org
{fields}

--B--
""".encode()


def _one(message: bytes):
    (r,) = diagnose(message).recipients
    return r


@pytest.mark.parametrize("parts, family", [
    (Parts(headers={"x-mailer": "Amazon WorkMail", "x-ses-outgoing": "2016.01.14-192.0.2.1"}), "amazonworkmail"),
    (Parts(headers={"x-ses-outgoing": "2016.01.14-192.0.2.1"}), "amazonses"),
    (Parts(headers={"x-aws-outgoing": "192.0.2.1"}), "amazonses"),
    (Parts(text="Hello, this is the mail server on mx.example.net.\n\nI am sending you this message"), "powermta"),
    (Parts(headers={"return-path": "<apps@sendgrid.net>"}), "sendgrid"),
    (Parts(headers={"from": "MAILER-DAEMON@messagelabs.com"}), "messagelabs"),
    (Parts(headers={"from": '"InterScan MSS" <postmaster@example.net>'}), "interscanmss"),
    (Parts(text="****** Message from InterScan Messaging Security Suite ******\n"), "interscanmss"),
    (Parts(headers={"x-mxl-hash": "0123456789abcdef-0"},
           text="This message was created automatically by mail delivery software."), "mxlogic"),
    (Parts(headers={"from": "post_master@vtext.com"}), "verizon"),
    (Parts(text="Unable to deliver message to: <u@example.org>\nDelivery failed for the following reason:"),
     "mailfoundry"),
    (Parts(headers={"x-mailer": "SurfControl E-mail Filter"}), "surfcontrol"),
    (Parts(headers={"x-ahmailid": "00000001"}), "activehunter"),
    (Parts(headers={"from": '"Content-filter at mx.example.net" <postmaster@mx.example.net>'}), "amavis"),
    (Parts(subject="**Message you sent blocked by our bulk email filter**"), "barracuda"),
    (Parts(subject='Undeliverable Mail: "hello"'), "mailmarshal"),
])
def test_each_gateway_family_is_told_by_its_signs(parts, family):
    assert detect_mta(parts, set(), None) == family


def test_a_family_header_is_kept_from_a_real_message():
    """Intake keeps every header a family is told by (X-SES-Outgoing is not one the pipeline reads otherwise)."""
    r = _one(_dsn("From: MAILER-DAEMON@email-bounces.amazonses.com\nX-SES-Outgoing: 2016.10.12-192.0.2.6\n"
                  "Subject: Delivery Status Notification (Failure)",
                  "An error occurred while trying to deliver the mail to the following recipients:\nu@example.org",
                  "Action: failed\nStatus: 5.4.7\nDiagnostic-Code: smtp; Delivery expired (message too old)"))
    assert (r.facts.mta, r.reason) == ("amazonses", "expired"), r.rules
    assert "gateway-readers/ses-delivery-expired" in r.rules


@pytest.mark.parametrize("status, text, reason, rule", [
    ("5.3.4", "552 5.3.4 Message too large", "mesgtoobig", "ses-receiving-too-large"),
    ("5.6.1", "500 5.6.1 Message content rejected", "contenterror", "ses-receiving-content-rejected"),
    ("5.2.2", "552 5.2.2 Mailbox full", "mailboxfull", "ses-receiving-mailbox-full"),
])
def test_ses_receipt_rule_bounce_templates(status, text, reason, rule):
    r = _one(_dsn("From: postmaster@example.org\nX-SES-Outgoing: 2015.10.01-192.0.2.7\n"
                  "Subject: Delivery Status Notification (Failure)", "This message could not be delivered.",
                  f"Action: failed\nStatus: {status}\nDiagnostic-Code: smtp; {text}"))
    assert (r.facts.mta, r.reason) == ("amazonses", reason), r.rules
    assert f"gateway-readers/{rule}" in r.rules


def _powermta(category: str, text: str) -> bytes:
    return _dsn("From: postmaster@mx.example.net\nSubject: Delivery report",
                "Hello, this is the mail server on mx.example.net.\n\n  <u@example.org>  delivery failed; "
                "will not continue trying",
                f"Action: failed\nStatus: 5.0.0\nDiagnostic-Code: smtp;{text}\nX-PowerMTA-BounceCategory: {category}")


def test_powermtas_bounce_category_is_a_traced_fact():
    r = _one(_powermta("bad-mailbox", "550 5.1.1 <u@example.org>... User Unknown"))
    assert r.facts.extensions == {"x-powermta-bouncecategory": "bad-mailbox"}
    assert "X-Powermta-Bouncecategory" in r.facts.origin["extensions"]
    assert (r.facts.mta, r.reason, r.hard_bounce) == ("powermta", "userunknown", True), r.rules
    step = next(s for s in r.explanation if s.rule == "gateway-readers/powermta-bad-mailbox")
    assert step.matched["extensions"] == ["x-powermta-bouncecategory: bad-mailbox"]


@pytest.mark.parametrize("category, reason", [
    ("spam-related", "spamdetected"), ("policy-related", "policyviolation"), ("quota-issues", "mailboxfull"),
    ("bad-domain", "hostunknown"), ("no-answer-from-host", "networkerror"),
])
def test_powermtas_categories_name_the_reason(category, reason):
    r = _one(_powermta(category, "550 5.0.0 message refused"))
    assert r.reason == reason, r.rules
    assert r.decided_by["reason"].startswith("gateway-readers/powermta-")


def test_a_vendor_field_condition_needs_an_x_name_and_values():
    assert When(field={"x-powermta-bouncecategory": ["Bad-Mailbox"]}).field == {
        "x-powermta-bouncecategory": ["bad-mailbox"]}
    for bad in ({"status": ["5.1.1"]}, {"x-powermta-bouncecategory": []}):
        with pytest.raises(ValueError):
            When(field=bad)


def test_sendgrids_expired_action_is_read_as_delayed_and_expired():
    r = _one(_dsn("Return-Path: <apps@sendgrid.net>\nFrom: MAILER-DAEMON\nSubject: Undelivered Mail Returned to Sender",
                  "This is an automatically generated message from SendGrid.",
                  "Action: expired\nStatus: 4.0.0\nDiagnostic-Code: smtp; 451 4.3.0 temporary local problem"))
    assert (r.facts.mta, r.facts.action, r.reason, r.hard_bounce) == ("sendgrid", "delayed", "expired", False)
    assert "gateway-readers/sendgrid-expired" in r.rules


def test_messagelabs_rejected_recipient_is_unknown():
    r = _one(_dsn("From: MAILER-DAEMON@messagelabs.com\nSubject: Mail Delivery Failure",
                  "This is an automatically generated Delivery Status Notification.",
                  "Action: failed\nStatus: 5.0.0\nDiagnostic-Code: smtp; 542 u@example.org Rejected"))
    assert (r.facts.mta, r.reason, r.hard_bounce) == ("messagelabs", "userunknown", True), r.rules
    assert "gateway-readers/messagelabs-rejected-recipient" in r.rules


def _plain(sender: str, subject: str, body: str) -> bytes:
    """A one-part text/plain report from ``sender``."""
    return f"""From: {sender}
To: sender@example.com
Subject: {subject}
MIME-Version: 1.0
Content-Type: text/plain

{body}
""".encode()


@pytest.mark.parametrize("sender, subject, body, family, rule", [
    ('postmaster@example.net ("InterScan MSS")', "Mail could not be delivered",
     "****** Message from InterScan Messaging Security Suite ******\n\nThe following mail could not be delivered.\n"
     "Reason:  Unable to deliver message to <u@example.org>.\n", "interscanmss", "interscan-unable-to-deliver"),
    ("postmaster@example.net", "Delivery Status",
     "    --- The following addresses had delivery problems ---\n\n<u@example.org>   (User (u@example.org) unknown. )",
     "mcafee", "mcafee-user-address-unknown"),
    ("post_master@vtext.com", "Undeliverable Message",
     "Error: 550 - Requested action not taken: no such user here\n\nMessage details:\n  Subject: hello\n"
     "  MAIL FROM: sender@example.com\n  RCPT TO: 5555550100@vtext.com", "verizon", "verizon-no-such-user"),
])
def test_a_readers_own_unknown_user_remark(sender, subject, body, family, rule):
    r = _one(_plain(sender, subject, body))
    assert (r.facts.mta, r.reason, r.hard_bounce) == (family, "userunknown", True), r.rules
    assert f"gateway-readers/{rule}" in r.rules


def _mxlogic(error: str) -> bytes:
    return f"""From: Mail Delivery System <MAILER-DAEMON@mx.example.net>
To: sender@example.com
Subject: Mail delivery failed
X-MXL-Hash: 0123456789abcdef-0123456789abcdef0123456789abcdef01234567

This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  u@example.org
    {error}

Included is a copy of the message header:
""".encode()


def test_mxlogic_refused_sender_is_rejected_not_held():
    """Exim's reader holds a refusal after MAIL FROM (onhold); MX Logic's calls it rejected."""
    r = _one(_mxlogic("SMTP error from remote mail server after MAIL FROM:<sender@example.com>:\n"
                      "    host mx.example.org [192.0.2.1]: 550 not today"))
    assert (r.facts.mta, r.facts.command, r.reason) == ("mxlogic", "MAIL", "rejected"), r.rules
    assert "gateway-readers/mxlogic-sender-refused" in r.rules


def test_mxlogic_reads_exims_own_messages():
    r = _one(_mxlogic("Unrouteable address"))
    assert (r.facts.mta, r.reason) == ("mxlogic", "hostunknown"), r.rules
    assert "gateway-readers/mxlogic-unroutable" in r.rules


def _sns(body: str) -> bytes:
    """An SNS e-mail notification carrying an Amazon SES notification's JSON."""
    return f"""From: AWS Notifications <no-reply@sns.amazonaws.com>
To: ops@example.com
Subject: AWS Notification Message
x-amz-sns-message-id: 00000000-1111-2222-3333-444444444444
Content-Type: text/plain; charset=UTF-8

{body}

--
If you wish to stop receiving notifications from this topic, please click the link below.
""".encode()


def _bounce_json(kind: str, subtype: str, status: str, code: str) -> str:
    return ('{"notificationType":"Bounce","bounce":{"bounceType":"%s","bounceSubType":"%s","bouncedRecipients":'
            '[{"emailAddress":"u@example.org","action":"failed","status":"%s","diagnosticCode":"smtp; %s"}],'
            '"reportingMTA":"dsn; a1-2.smtp-out.us-west-2.amazonses.com"},"mail":{"source":"sender@example.com",'
            '"destination":["u@example.org"]}}' % (kind, subtype, status, code))


def test_an_ses_json_bounce_names_the_bounced_recipient_not_the_source():
    d = diagnose(_sns(_bounce_json("Permanent", "General", "5.1.1", "550 5.1.1 user unknown")))
    (r,) = d.recipients
    assert (r.recipient, r.facts.mta, r.facts.status, r.facts.reply_code, r.reason) == (
        "u@example.org", "amazonses", "5.1.1", 550, "userunknown"), r.rules
    assert r.facts.reporting_mta == "a1-2.smtp-out.us-west-2.amazonses.com"
    assert r.facts.extensions == {"x-amazonses-bouncetype": "permanent", "x-amazonses-bouncesubtype": "general"}


@pytest.mark.parametrize("subtype, reason, rule", [
    ("MailboxFull", "mailboxfull", "ses-notification-mailbox-full"),
    ("MessageTooLarge", "mesgtoobig", "ses-notification-too-large"),
])
def test_an_ses_json_bounce_type_names_the_reason(subtype, reason, rule):
    (r,) = diagnose(_sns(_bounce_json("Transient", subtype, "4.0.0", "452 try later"))).recipients
    assert r.reason == reason, r.rules
    assert r.decided_by["reason"] == f"gateway-readers/{rule}"


def test_an_ses_json_notification_folded_by_sns_is_unfolded():
    body = _bounce_json("Permanent", "General", "5.1.1", "550 5.1.1 user unknown").replace(
        '"u@example.org","action"', '"u@exam!\n ple.org","action"')
    (r,) = diagnose(_sns(body)).recipients
    assert (r.recipient, r.reason) == ("u@example.org", "userunknown")


def test_an_ses_json_delivery_is_delivered():
    body = ('{"notificationType":"Delivery","delivery":{"reportingMTA":"a1-2.smtp-out.us-west-2.amazonses.com",'
            '"recipients":["u@example.org"],"smtpResponse":"250 2.6.0 Message received"},"mail":{}}')
    (r,) = diagnose(_sns(body)).recipients
    assert (r.recipient, r.facts.action, r.facts.status, r.reason) == ("u@example.org", "delivered", "2.6.0",
                                                                       "delivered"), r.rules


@pytest.mark.parametrize("text", ["{not json", '{"notificationType":"Bounce","x":' + "[" * 100_000 + "]" * 100_000 + "}",
                                  '{"notificationType":"Bounce","bounce":{"bouncedRecipients":"x"}}',
                                  '{"notificationType":"Bounce","bounce":{"bouncedRecipients":[{"emailAddress":7}]}}'])
def test_a_broken_ses_notification_is_not_read_as_fields(text):
    from ndrkb.intake.notifications import ses_notification_blocks
    assert ses_notification_blocks(text) is None


def test_a_gateway_without_its_own_reasons_leaves_unknown_user_words_of_no_stage_to_the_procedure():
    """MailFoundry's reader states no reason and no SMTP command: unknown-user words at an unknown
    stage read as filtered (fact sheet 3.4 #8-9), as in a Postfix report, not as its own userunknown."""
    message = _plain("MAILER-DAEMON@example.net", "Message delivery has failed",
                     "Unable to deliver message to: <u@example.org>\nDelivery failed for the following reason:\n"
                     "Server mx.example.org[192.0.2.1] failed with: 550 <u@example.org> No such user here\n\n"
                     "This has been a permanent failure.  No further delivery attempts will be made.")
    r = _one(message)
    assert (r.facts.mta, r.facts.command, r.reason, r.hard_bounce) == ("mailfoundry", None, "filtered", False), r.rules
    assert "core-reasons/userunknown-stage-unknown" not in r.rules
