"""What particular MTAs' readers decide (kb/mta-readers; Sisimai 5.1's lib/Sisimai/Lhost/*.pm):
each family is told by its template and its own messages name their reason.  Every bounce
here is written for this test in that MTA's layout (addresses and hosts are fictional)."""
from __future__ import annotations

import pytest

from ndrkb import diagnose
from ndrkb.read.stage import smtp_stage

from .test_reason_procedure import dsn


def _mail(headers: str, body: str) -> bytes:
    return (headers.strip() + "\nTo: sender@example.com\nMIME-Version: 1.0\n"
            "Content-Type: text/plain; charset=us-ascii\n\n" + body.lstrip("\n")).encode()


QMAIL = _mail("From: MAILER-DAEMON@mx.example.net\nSubject: failure notice", """
Hi. This is the qmail-send program at mx.example.net.
I'm afraid I wasn't able to deliver your message to the following addresses.
This is a permanent error; I've given up. Sorry it didn't work out.

<u@example.org>:
Sorry, I couldn't find a mail exchanger or IP address. (#5.4.4)

--- Below this line is a copy of the message.
""")

DRAGONFLY = _mail("From: MAILER-DAEMON@df.example.net\nSubject: Mail delivery failed", """
This is the DragonFly Mail Agent v0.13 at df.example.net.

There was an error delivering your mail to <u@example.org>.

Could not deliver for the last 432000 seconds. Giving up.

Original message follows.
""")

OPENSMTPD = _mail("From: Mailer Daemon <MAILER-DAEMON@smtpd.example.net>\nSubject: Delivery status notification: error",
                  """
    Hi!

    This is the MAILER-DAEMON, please DO NOT REPLY to this e-mail.

    An error has occurred while attempting to deliver a message for
    the following list of recipients:

u@example.org: No MX found for domain

    Below is a copy of the original message:
""")

MESSAGING_SERVER = _mail("From: postmaster@ms.example.net\nSubject: Delivery Notification: Delivery has failed", """
This report relates to a message you sent with the following header fields:

  Message-id: <m1@example.com>
  To: u@example.org
  Subject: hello

Your message cannot be delivered to the following recipients:

  Recipient address: u@example.org
  Reason: Illegal host/domain name found
""")

COURIER = _mail("From: Courier mail server at mx.example.net <@>\nSubject: NOTICE: mail delivery status.", """
This is a delivery status notification from mx.example.net,
running the Courier mail server, version 1.1.

---------------------------------------------------------------------------

                           UNDELIVERABLE MAIL

Your message to the following recipients cannot be delivered:

<u@example.org>:
    No such domain.

---------------------------------------------------------------------------
""")

DOMINO = dsn("5.0.0", "Cannot route mail to user (u@example.org)").replace(b"smtp; ", b"X-Notes; ").replace(
    b"Subject: Undelivered Mail Returned to Sender", b"Subject: DELIVERY FAILURE: Cannot route mail to user")

NOTES = _mail("From: postmaster@notes.example.net\nSubject: Undeliverable message", """
------- Failure Reasons  --------

User not listed in public Name & Address Book
u@example.org

------- Returned Message --------
""")

IMAIL = _mail("From: postmaster@imail.example.net\nSubject: Undeliverable Mail\nX-Mailer: <SMTP32 v8.22>", """
User mailbox exceeds allowed size: u@example.org

Original message follows.
""")

FML = _mail("From: list-admin@example.org\nSubject: NOT MEMBER article from sender@example.com (list ML)\n"
            "Message-Id: <202401010000.FMLAAA00001.list@example.org>\nX-MLServer: fml [fml 4.0.3 release]", """
You are not a member of this mailing list <list@example.org>.

Original mail as follows:
""")

EXCHANGE_2003 = _mail("From: System Administrator <postmaster@ex.example.net>\nSubject: Undeliverable: hello\n"
                      "X-Mailer: Internet Mail Service (5.5.2657.72)", """
Your message

  To:      u@example.org
  Subject: hello
  Sent:    Mon, 1 Jan 2024 10:00:00 +0000

did not reach the following recipient(s):

u@example.org on Mon, 1 Jan 2024 10:00:05 +0000
    The recipient name is ambiguous
    MSEXCH:IMS:EXAMPLE:SITE:EX01 0 (000C0595) Ambiguous Recipient
""")


@pytest.mark.parametrize("report, family, reason, hard, rule", [
    (QMAIL, "qmail", "notaccept", True, "qmail-no-mail-exchanger"),
    (DRAGONFLY, "dragonfly", "expired", False, "dragonfly-gave-up"),
    (OPENSMTPD, "opensmtpd", "notaccept", True, "opensmtpd-rejects-all"),
    (MESSAGING_SERVER, "messagingserver", "hostunknown", True, "messagingserver-illegal-host"),
    (COURIER, "courier", "hostunknown", True, "courier-no-such-domain"),
    (DOMINO, "domino", "filtered", False, "domino-cannot-route"),
    (NOTES, "notes", "userunknown", True, "notes-not-in-address-book"),
    (IMAIL, "imail", "mailboxfull", False, "imail-mailbox-size"),
    (FML, "fml", "rejected", False, "fml-not-member"),  # the reader takes the address in <> as the recipient
    (EXCHANGE_2003, "exchange-legacy", "filtered", False, "exchange2003-ambiguous-recipient"),
])
def test_a_readers_own_message_names_the_reason(report, family, reason, hard, rule):
    (r,) = diagnose(report).recipients
    assert r.recipient == ("list@example.org" if family == "fml" else "u@example.org")
    assert (r.facts.mta, r.reason, r.hard_bounce) == (family, reason, hard), r.rules
    assert f"mta-readers/{rule}" in r.rules


def _exim(error: str) -> bytes:
    return _mail("From: Mail Delivery System <Mailer-Daemon@mx.example.net>\nSubject: Mail delivery failed", f"""
This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  u@example.org
    {error}
""")


def test_exims_router_user_not_found_is_unknown_user():
    (r,) = diagnose(_exim("user not found")).recipients
    assert (r.facts.mta, r.reason, r.hard_bounce) == ("exim", "userunknown", True), r.rules
    assert "mta-readers/exim-user-not-found" in r.rules


def test_a_readers_unknown_user_is_confirmed_before_the_filtered_test():
    """Fact sheet 3.4: the context test of the reader's own reason says yes first, so Notes'
    unknown-user table holds though the stage is unknown (quirk 1 would give filtered)."""
    (r,) = diagnose(NOTES).recipients
    assert r.facts.command is None and "core-reasons/filtered-after-rcpt" in r.rules
    assert r.reason == "userunknown"


def test_a_readers_provisional_reason_yields_to_the_context_tests():
    """qmail's 'system error' is provisional: a full mailbox read in context wins."""
    report = QMAIL.replace(b"Sorry, I couldn't find a mail exchanger or IP address. (#5.4.4)",
                           b"Remote host said: 552 5.2.2 mailbox full, system error")
    (r,) = diagnose(report).recipients
    assert (r.facts.mta, r.reason) == ("qmail", "mailboxfull"), r.rules
    assert "mta-readers/qmail-local-failure" in r.rules


def test_exchange_2007_token_names_the_reason():
    report = dsn("5.1.0", "550 5.1.0 RESOLVER.ADR.RecipLimit; too many recipients").replace(
        b"Subject: Undelivered Mail Returned to Sender",
        b"Subject: Undeliverable: hello\nX-MS-Exchange-Message-Is-Ndr:")
    (r,) = diagnose(report).recipients
    assert (r.facts.mta, r.reason) == ("exchange", "toomanyconn"), r.rules
    assert "mta-readers/exchange2007-recipient-limit" in r.rules


def test_postfix_reads_its_own_x_postfix_diagnostic_as_smtp():
    """Lhost/Postfix.pm turns the X-Postfix type into SMTP, so the context tests run on it (a
    generic DSN of that type skips them: fact sheet 10 quirk 9)."""
    text = "Host or domain name not found. Name service error for name=example.org type=MX: Host not found"
    generic = dsn("5.0.0", text).replace(b"smtp; ", b"X-Postfix; ")
    postfix = generic.replace(b"Delivery failed.", b"This is the mail system at host mx.example.net.")
    (g,), (p,) = diagnose(generic).recipients, diagnose(postfix).recipients
    assert g.facts.mta is None and "core-reasons/hostunknown-wording" not in g.rules
    assert p.facts.mta == "postfix" and "core-reasons/hostunknown-wording" in p.rules
    assert (p.reason, p.hard_bounce) == ("hostunknown", True)
    assert p.facts.diagnostic.startswith("Host or domain name not found")


def test_postfix_smtpd_transcript_gives_the_command_its_first_refusal_answered():
    transcript = """Transcript of session follows.

 Out: 220 mx.example.net ESMTP
 In:  EHLO client.example.com
 Out: 250 mx.example.net
 In:  MAIL FROM:<sender@example.com>
 Out: 250 2.1.0 Ok
 In:  RCPT TO:<u@example.org>
 Out: 250 2.1.5 Ok
 In:  DATA
 Out: 354 End data with <CR><LF>.<CR><LF>
 Out: 451 4.3.0 Error: queue file write error
 In:  QUIT
 Out: 221 2.0.0 Bye
"""
    assert smtp_stage(transcript) == ("DATA", "In:  DATA")


def test_exims_failed_pipe_is_a_mailer_error_unless_another_message_names_a_reason():
    (r,) = diagnose(_exim('pipe to |/usr/local/bin/filter\n      generated by u@example.org')).recipients
    assert (r.facts.mta, r.reason) == ("exim", "mailererror"), r.rules
    assert "mta-readers/exim-pipe-failed" in r.rules
    (r,) = diagnose(_exim('pipe to |/usr/local/bin/filter\n      retry timeout exceeded')).recipients
    assert r.reason == "expired" and "mta-readers/exim-pipe-failed" not in r.rules, r.rules


def test_sendmails_transcript_replies_are_read_with_its_one_recipients_diagnosis():
    """Lhost/Sendmail.pm puts the server's '<<<' replies before the Diagnostic-Code of a report
    with one recipient: the remote's own words decide, the generic DSN text alone would not."""
    report = dsn("5.0.0", "554 5.0.0 Service unavailable").replace(b"Delivery failed.", b"""   ----- Transcript of session follows -----
... while talking to mx.example.org.:
>>> MAIL From:<sender@example.com>
<<< 554 5.7.1 Service unavailable; client host [192.0.2.1] blocked using zen.example.net
554 5.0.0 Service unavailable""")
    (r,) = diagnose(report).recipients
    assert (r.facts.mta, r.facts.command, r.reason) == ("sendmail", "MAIL", "blocked"), r.rules
    assert "blocked using zen.example.net" in r.facts.diagnostic
