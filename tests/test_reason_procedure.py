"""The reason procedure (kb/core-reasons, ndrkb.vocabulary.REASON_PROCEDURE) and the SMTP stage.

The vectors are those the fact sheet ``../shared/reference/sisimai-reasons.md`` section 12
lists for Sisimai 5.1 on synthetic RFC 3464 reports, run here through the whole pipeline.
"""
from __future__ import annotations

import pytest

from ndrkb import diagnose
from ndrkb.read.stage import smtp_stage
from ndrkb.vocabulary import REASON_PROCEDURE, REASONS, STATUS_REASONS, reason_rank, status_name


def dsn(status: str, text: str, action: str = "failed") -> bytes:
    """A generic RFC 3464 report for u@example.org with this Status (none when empty) and text."""
    status_line = f"Status: {status}\n" if status else ""
    return f"""From: MAILER-DAEMON@mx.example.net
To: sender@example.com
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain

Delivery failed.

--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net

Final-Recipient: rfc822; u@example.org
Action: {action}
{status_line}Diagnostic-Code: smtp; {text}

--B--
""".encode()


@pytest.mark.parametrize("status, text, reason, hard", [
    ("5.1.1", "550 5.1.1 <u@example.org>... User Unknown", "userunknown", True),
    ("", "550 User unknown (in reply to RCPT TO command)", "userunknown", True),
    ("5.7.1", "550 5.7.1 User unknown", "filtered", False),
    ("5.1.1", "550 5.1.1 Your IP is blacklisted: blocked using zen", "blocked", False),
    ("5.0.0", "421 Service temporarily unavailable", "onhold", False),
    ("", "450 4.1.1 <u@example.org>: User unknown (in reply to RCPT TO command)", "userunknown", True),
    ("", "554 host does not accept mail", "notaccept", True),
    ("", "450 host does not accept mail", "notaccept", False),
    ("", "554 go fish", "onhold", False),
    ("5.3.0", "552 Message too large", "exceedlimit", False),
    ("5.1.1", "550 5.7.1 rejected", "securityerror", False),
    ("", "503 Bad sequence of commands", "syntaxerror", False),
    ("5.0.0", "550 something odd (in reply to EHLO command)", "blocked", False),
    ("", "550 Relaying denied (in reply to EHLO command)", "norelaying", False),
    ("", "550 Virus detected (in reply to RCPT TO command)", "virusdetected", False),
    ("4.7.1", "451 4.7.1 Client host rejected: Please try again slower", "speeding", False),
    ("5.1.2", "550 5.1.2 Host name lookup failure", "networkerror", False),
    ("", "554 5.7.1 Rejected, reason code 550", "securityerror", False),
    ("5.2.0", "550 5.2.0 User unknown (in reply to RCPT TO command)", "userunknown", True),
    ("5.2.0", "550 5.2.0 User unknown (in reply to end of DATA command)", "filtered", False),
    ("4.2.1", "450 4.2.1 User unknown (in reply to end of DATA command)", "suspend", False),
    ("5.7.1", "550 5.7.1 User unknown (in reply to MAIL FROM command)", "securityerror", False),
    ("", "450 4.1.2 Host unknown", "hostunknown", True),
    ("5.6.4", "550 5.6.4 weird", "contenterror", False),
])
def test_fact_sheet_vectors(status, text, reason, hard):
    (r,) = diagnose(dsn(status, text)).recipients
    assert (r.reason, r.hard_bounce) == (reason, hard), r.rules


def test_user_unknown_at_an_unknown_stage_from_postfix_is_filtered():
    """Fact sheet 10 quirk 1 (and the section 12 vector "550 User unknown" with no status):
    Postfix's reader takes only the stage from its text, so unknown-user words that answered
    no known command read as filtered, not hard."""
    from .test_mta_families import _postfix

    (r,) = diagnose(_postfix("", "550 User unknown")).recipients
    assert (r.facts.mta, r.reason, r.hard_bounce) == ("postfix", "filtered", False), r.rules


def test_user_unknown_at_an_unknown_stage_from_an_unknown_system_is_filtered():
    """With no family known, a generic report follows the procedure (fact sheet 10 quirk 1):
    unknown-user words that answered no known command read as filtered, not hard."""
    (r,) = diagnose(dsn("", "550 User unknown")).recipients
    assert r.facts.mta is None
    assert (r.reason, r.hard_bounce) == ("filtered", False), r.rules
    assert "core-reasons/userunknown-stage-unknown" not in r.rules


def test_pasted_unknown_user_words_are_read_as_the_address_refused():
    """A reply line a person pasted has no report and no reader around it: its words decide
    (the same words in a generic report of no known family read as filtered, quirk 1)."""
    r = diagnose("550 Benutzer unbekannt").recipients[0]
    assert (r.facts.form, r.facts.mta, r.reason, r.hard_bounce) == ("text", None, "userunknown", True)
    assert r.decided_by["reason"] == "core-reasons/userunknown-pasted-words"
    (d,) = diagnose(dsn("", "550 Benutzer unbekannt")).recipients
    assert (d.facts.form, d.reason) == ("message", "filtered")


def test_log_rows_are_listings():
    line = ("Jan  1 00:00:00 mx postfix/smtp[1]: 4AB: to=<u@example.org>, relay=mx.example.org[192.0.2.1]:25, "
            "delay=1, dsn=5.1.1, status=bounced (host mx.example.org[192.0.2.1] said: 550 5.1.1 User unknown "
            "(in reply to RCPT TO command))")
    (r,) = diagnose(line, input_format="log").recipients
    assert r.facts.form == "listing"


def test_a_reader_that_states_unknown_users_keeps_userunknown():
    """Fact sheet 3.1 step 1: IMail's reader takes its 'Unknown user' line as the address
    refused (lib/Sisimai/Lhost/IMailServer.pm); the report's family decides, not its words."""
    imail = b"""From: Postmaster <postmaster@mx.example.org>
To: sender@example.com
Subject: Undeliverable Mail
X-Mailer: <SMTP32 v8.22>

Unknown user: u@example.org

Original message follows.
"""
    (r,) = diagnose(imail).recipients
    assert (r.facts.mta, r.reason, r.hard_bounce) == ("imail", "userunknown", True), r.rules
    assert "core-reasons/userunknown-stage-unknown" in r.rules


@pytest.mark.parametrize("text, command", [
    ("192.0.2.1 does not like recipient.\nRemote host said: 550 no such user here", "RCPT"),
    ("Connected to 192.0.2.1 but sender was rejected.\nRemote host said: 553 sorry", "MAIL"),
    ("Connected to 192.0.2.1 but my name was rejected.\nRemote host said: 550 go away", "HELO"),
    ("Connected to 192.0.2.1 but greeting failed.\nRemote host said: 554 no", "CONN"),
    ("192.0.2.1 failed after I sent the message.\nRemote host said: 554 content rejected", "DATA"),
])
def test_qmail_remote_names_the_stage(text, command):
    """qmail-remote.c's own messages say which command was refused (fact sheet 6.3, qmail)."""
    assert smtp_stage(text)[0] == command


def test_a_delayed_unknown_user_is_not_a_hard_bounce():
    """Issue 11 item 12: a dead-address reason is a hard bounce only once delivery was given up."""
    (r,) = diagnose(dsn("4.1.1", "450 4.1.1 <u@example.org>: User unknown (in reply to RCPT TO command)",
                        action="delayed")).recipients
    assert (r.reason, r.hard_bounce) == ("userunknown", False)


def test_the_reply_code_decides_a_class_conflict():
    """Fact sheet 2.5 rule 2: Status 5.0.0 over "421 4.7.0 ..." is 4.7.0."""
    (r,) = diagnose(dsn("5.0.0", "421 4.7.0 try again later")).recipients
    assert r.status == "4.7.0"


@pytest.mark.parametrize("status, text, reply", [
    ("5.1.1", "Deferred: 421 connection closed; earlier: 550 5.1.1 no such user", 550),
    ("5.0.0", "Connection timed out; 421 try later", None),  # no reply of class 5 quoted: none
    ("4.4.7", "550 4.4.7 QUEUE.Expired; message expired", 550),  # one reply with both: as written
])
def test_a_reply_code_of_another_class_than_the_status_is_not_the_failures(status, text, reply):
    """Fact sheet 9 step 4, RFC 2034 section 4: the reply code of a failure has its status's class."""
    (r,) = diagnose(dsn(status, text)).recipients
    assert (r.status, r.reply_code) == (status, reply)
    if reply is None:
        assert "no reply code of the status's class 5" in r.facts.origin["reply"]


def test_a_session_transcripts_answer_is_the_reply_not_the_senders_later_remarks():
    bounce = b"""From: Mail Delivery Subsystem <MAILER-DAEMON@mx.example.net>
To: sender@example.com
Subject: Returned mail: User unknown

   ----- Transcript of session follows -----
While talking to mx.example.org:
>>> RCPT To:<u@example.org>
<<< 550 <u@example.org>... User unknown
550 <u@example.org>... User unknown
421 example.org (smtp)... Deferred: Connection timed out during user open with example.org
"""
    (r,) = diagnose(bounce).recipients
    assert (r.reply_code, r.reason, r.hard_bounce) == (550, "userunknown", True)


def test_a_reply_code_followed_by_a_colon_is_read():
    (r,) = diagnose(dsn("", "550: <u@example.org>: User unknown")).recipients
    assert r.reply_code == 550


def test_the_stage_is_a_traced_fact():
    (r,) = diagnose(dsn("", "550 5.1.1 <u@example.org>: Recipient address rejected: User unknown "
                           "(in reply to RCPT TO command)")).recipients
    assert r.facts.command == "RCPT"
    assert r.facts.origin["command"].endswith("'in reply to RCPT'")


@pytest.mark.parametrize("text, command", [
    ("550 5.1.1 <a@b.example>: User unknown (in reply to RCPT TO command)", "RCPT"),
    ("554 5.7.1 refused (in reply to end of DATA command)", "DATA"),
    ("SMTP error from remote mail server after RCPT TO:<a@b.example>: 550 no such user", "RCPT"),
    ("SMTP error from remote mail server after end of data: 554 rejected", "DATA"),
    ("SMTP error from remote mail server after pipelined MAIL FROM:<s@c.example>: 553 no", "MAIL"),
    ("SMTP error from remote mail server after initial connection: 554 go away", "CONN"),
    ("host mx.b.example[192.0.2.1] refused to talk to me: 554 blocked", "HELO"),
    (">>> MAIL From:<s@c.example>\n<<< 250 ok\n>>> RCPT To:<a@b.example>\n<<< 550 unknown", "RCPT"),
    ("MAIL FROM:<> 250 OK RCPT TO:<a@b.example> 550 no", "RCPT"),
    ("Mail size limit exceeded for TEXT command", "DATA"),
    ("550 User unknown", None),
    ("in reply to rcpt to command", "RCPT"),
])
def test_smtp_stage(text, command):
    assert smtp_stage(text)[0] == command


def test_the_precedence_list_covers_the_procedure():
    ranks = [reason_rank(step, r) for step, reasons in REASON_PROCEDURE for r in reasons or ("",)]
    assert ranks == sorted(ranks) and max(ranks) < 100  # one order, within a layer's salience range
    assert all(r in REASONS for _, reasons in REASON_PROCEDURE for r in reasons)
    assert all(r in REASONS for r in STATUS_REASONS)
    assert (status_name(None), status_name("5.0.0"), status_name("4.7.1"), status_name("5.7.1")) == \
        ("none", "unnamed", "blocked", "securityerror")


def test_generic_reading_finds_the_recipient_and_says_so():
    text = ("Votre message n'a pas pu etre remis.\n"
            "Erreur permanente pour <lina.ortiz@dest.example> : boite inconnue\n"
            "Expediteur : <MAILER-DAEMON@relay.sender.example>, MAIL FROM:<ops@sender.example>\n"
            "Contact: postmaster@relay.sender.example\n")
    (r,) = diagnose(text).recipients
    assert r.recipient == "lina.ortiz@dest.example"
    assert r.facts.origin["recipient"].startswith("generic reading")


def test_an_envelope_sender_quoted_in_a_reply_is_never_the_recipient():
    text = ("  rosa.ng@mail.receiver.example\n"
            "    SMTP error from remote mail server after MAIL FROM:<ops@sender.example> SIZE=2048:\n"
            "    553 5.1.0 <ops@sender.example>: domain sender.example does not exist\n")
    assert [r.recipient for r in diagnose(text).recipients] == ["rosa.ng@mail.receiver.example"]


def test_a_local_programs_exit_status_is_the_diagnosis():
    """Fact sheet 3.5 step 5: a Diagnostic-Code of type X-Unix is a local mailer's exit status
    (mailererror); the warning text around it (queue notes, a transcript line) is not read into it."""
    report = dsn("4.5.0", "71", action="delayed").replace(b"Diagnostic-Code: smtp; 71", b"Diagnostic-Code: X-Unix; 71")
    report = report.replace(b"Delivery failed.", b"   ----- Transcript of session follows -----\n"
                            b"451 4.0.0 Operating system error\nWarning: message still undelivered after 4 hours")
    (r,) = diagnose(report).recipients
    assert r.reason == "mailererror", r.rules


def _exim(error: str) -> bytes:
    return f"""From: Mail Delivery System <Mailer-Daemon@mx.example.net>
To: sender@example.com
Subject: Mail delivery failed: returning message to sender

This message was created automatically by mail delivery software.

A message that you sent could not be delivered to one or more of its
recipients. This is a permanent error. The following address(es) failed:

  u@example.org
    {error}

------ This is a copy of the message, including all the headers. ------
""".encode()


@pytest.mark.parametrize("error, command, reason", [
    # fact sheet 5 blocked: Exim's reader calls a refused greeting blocked, whatever the words
    ("SMTP error from remote mail server after EHLO mx.example.net:\n    550 5.7.1 go away", "EHLO", "blocked"),
    # fact sheet 5 onhold: Exim's refusal after MAIL FROM is held when no words decide it
    ("SMTP error from remote mail server after MAIL FROM:<sender@example.com> SIZE=1234:\n    550 not today",
     "MAIL", "onhold"),
    ("SMTP error from remote mail server after MAIL FROM:<sender@example.com>:\n    550 5.7.1 not today", "MAIL",
     "onhold"),
])
def test_exim_readers_own_reasons(error, command, reason):
    (r,) = diagnose(_exim(error)).recipients
    assert (r.facts.mta, r.facts.command, r.reason) == ("exim", command, reason), r.rules


def test_qmail_ldap_lookup_failure_is_a_system_error_not_the_queue_lifetime():
    text = b"""From: MAILER-DAEMON@mx.example.net
To: sender@example.com
Subject: failure notice

Hi. This is the qmail-send program at mx.example.net.
I'm afraid I wasn't able to deliver your message to the following addresses.

<u@example.org>:
Unable to contact LDAP server. (#4.4.3)I'm not going to try again; this message has been in the queue too long.

--- Below this line is a copy of the message.
"""
    (r,) = diagnose(text).recipients
    assert (r.facts.mta, r.reason) == ("qmail", "systemerror"), r.rules
    assert "mta-readers/qmail-ldap-system-error" in r.rules


def test_sendmail_replies_without_a_command_answered_the_greeting():
    """Fact sheet 6.3: a Sendmail transcript with server replies but no >>> line is EHLO."""
    assert smtp_stage("... while talking to mx.example.org.:\n<<< 554 5.7.1 you are not welcome here")[0] == "EHLO"


def test_a_yahoo_report_answers_rcpt_when_its_text_names_no_stage():
    text = b"""From: MAILER-DAEMON@yahoo.com
To: sender@example.com
Subject: Failure Notice

Sorry, we were unable to deliver your message to the following address.

<u@example.org>:
Remote host said: 550 spam message rejected

--- Below this line is a copy of the message.
"""
    (r,) = diagnose(text).recipients
    assert (r.facts.mta, r.facts.command) == ("yahoo", "RCPT")
    assert "fact sheet" not in r.facts.origin["command"] and "Yahoo" in r.facts.origin["command"]


def test_the_reason_stage_always_decides_so_no_fallback_pack_concludes_a_reason():
    """Issue 10 item 3: core-reasons ends in two rules that hold for every bounce (error text or
    none), and every reason-stage rule outranks every fallback-layer rule; so a reason of a
    fallback pack (rfc3463) could never be kept, and none is written."""
    from ndrkb.rules.loading import load_packs

    packs = {p.id: p for p in load_packs().packs}
    core = packs["core-reasons"]
    ends = {r.id: r.when.model_dump(exclude_defaults=True) for r in core.spec.rule
            if r.id in ("held-undecided", "nothing-said")}
    assert ends == {"held-undecided": {"has_text": True}, "nothing-said": {"has_text": False}}
    lowest = min(p.salience(r) for p in packs.values() if p.spec.pack.stage == "reason" for r in p.spec.rule)
    fallback = [(p, r) for p in packs.values() if p.spec.pack.layer == "fallback" for r in p.spec.rule]
    assert fallback and max(p.salience(r) for p, r in fallback) < lowest
    assert [f"{p.id}/{r.id}" for p, r in fallback if r.then.reason] == []
    for report in (dsn("5.9.201", "550 5.9.201 something new"), dsn("5.1.1", ""), dsn("", "")):
        (r,) = diagnose(report).recipients
        assert r.decided_by["reason"].startswith(("core-reasons/", "mta-readers/", "provider-rhost/")), r.decided_by


@pytest.mark.parametrize("text, reason", [
    ("550 5.1.1 <u@example.org> - 192.0.2.1 has sent to too many recipients this hour. IB607", "speeding"),
    ("552 This message has been rejected due to content judged to be spam by the internet community. IB212",
     "spamdetected"),
])
def test_godaddys_bounce_codes_decide(text, reason):
    """Fact sheet 3.3: GoDaddy's published IB codes are final, over the status table."""
    (r,) = diagnose(dsn("5.1.1" if "5.1.1" in text else "", text)).recipients
    assert r.reason == reason and r.decided_by["reason"].startswith("provider-rhost/godaddy-"), r.rules


def test_gmails_null_mx_line_is_notaccept_not_a_dns_failure():
    text = ("DNS Error: 1234 DNS type 'mx' lookup of example.org responded with code NOERROR The domain example.org "
            "doesn't receive email according to the administrator: returned Null MX")
    report = dsn("4.0.0", text).replace(b"dns; mx.example.net", b"dns; googlemail.com")
    (r,) = diagnose(report).recipients
    assert (r.facts.mta, r.reason) == ("google", "notaccept"), r.rules


def test_sendmails_dsn_gives_the_diagnosis_and_its_transcript_only_the_stage():
    """Fact sheet 6.3: Sendmail's reader takes the stage from the transcript's last >>> line;
    the words of the transcript (here another address's 'User unknown') are not this failure's."""
    report = dsn("5.1.6", "551 not our user").replace(b"Delivery failed.", b"""   ----- Transcript of session follows -----
... while talking to mx.example.org.:
>>> DATA
<<< 551 not our user
550 5.1.1 User unknown
<<< 503 need RCPT command [data]""")
    (r,) = diagnose(report).recipients
    assert (r.facts.mta, r.facts.command, r.reason, r.hard_bounce) == ("sendmail", "DATA", "hasmoved", True), r.rules
    assert r.facts.origin["command"].startswith("session transcript")


@pytest.mark.parametrize("error, reason", [
    ("an MX or SRV record indicated no SMTP service", "notaccept"),
    ("retry timeout exceeded", "expired"),
    ("Unrouteable address", "hostunknown"),
])
def test_exims_own_messages_name_their_reason(error, reason):
    """Exim's reader reads Exim's own messages (lib/Sisimai/Lhost/Exim.pm, from Exim's source)."""
    (r,) = diagnose(_exim(error)).recipients
    assert (r.facts.mta, r.reason) == ("exim", reason), r.rules
    assert any(rule.startswith("mta-readers/exim-") for rule in r.rules)


@pytest.mark.parametrize("status, text, reason, rule", [
    # Sisimai 5.1's own phrases (lib/Sisimai/Reason/*.pm), one or two per reason, each
    # read by the step of the procedure the fact sheet gives that reason
    ("5.2.2", "552 5.2.2 The user you are trying to reach is over quota", "mailboxfull", "mailboxfull-status"),
    ("", "552 Recipient reached disk quota", "mailboxfull", "mailboxfull-words"),
    ("5.0.0", "552 5.0.0 Message length exceeds administrative limit", "mesgtoobig", "mesgtoobig-wording"),
    ("5.0.0", "550 5.0.0 This account has been temporarily suspended", "suspend", "suspend-wording"),
    ("", "550 Mailbox currently suspended", "suspend", "suspend-words"),
    ("5.7.1", "554 5.7.1 <u@example.org>: This system is not configured to relay mail (in reply to RCPT TO command)",
     "norelaying", "norelaying-wording"),
    ("5.7.1", "550 5.7.1 Please inspect your SPF settings", "authfailure", "authfailure-wording"),
    ("5.0.0", "550 5.0.0 Requested action not taken: mailbox unavailable (in reply to RCPT TO command)",
     "userunknown", "userunknown-at-rcpt"),
    ("5.0.0", "550 5.0.0 Message rejected due to user rules", "filtered", "filtered-after-rcpt"),
    ("5.7.1", "550 5.7.1 Sender IP reverse lookup rejected", "requireptr", "requireptr-wording"),
    ("5.7.1", "550 5.7.1 Invalid sender (in reply to MAIL FROM command)", "rejected", "rejected-at-mail"),
    ("5.0.0", "550 5.0.0 Address rejected by this host", "rejected", "rejected-elsewhere"),
    ("5.0.0", "550 5.0.0 Domain mentioned in email address is unknown", "hostunknown", "hostunknown-wording"),
    ("", "554 Message probably in a routing loop", "networkerror", "networkerror-words"),
    ("5.7.1", "554 5.7.1 Rejected: SpamAssassin score 12.1 (in reply to end of DATA command)",
     "spamdetected", "spamdetected-wording"),
    ("", "421 Too many SMTP sessions for this host", "toomanyconn", "toomanyconn-wording"),
    ("5.7.1", "554 5.7.1 Connection reset by peer", "blocked", "blocked-wording"),
    ("", "554 Message header size, or recipient list, exceeds policy limit", "contenterror", "contenterror-words"),
    ("", "450 Message expired after sitting in queue for 5 days", "expired", "expired-words"),
    ("", "550 Remote server is misconfigured", "systemerror", "systemerror-words"),
    ("", "550 Authentication credentials invalid", "securityerror", "securityerror-words"),
    ("", "553 Email rejected due to security policies", "policyviolation", "policyviolation-words"),
    ("", "550 Command failed: exit 75", "mailererror", "mailererror-words"),
    # Sisimai's ordered pairs, as ordered phrases: each fragment after the previous one
    ("5.7.1", "550 5.7.1 mail from 192.0.2.1 is not allowed to send from <example.com> per it's SPF Record",
     "authfailure", "authfailure-wording"),
    ("5.0.0", "550 5.0.0 User kijitora was not found (in reply to RCPT TO command)", "userunknown",
     "userunknown-at-rcpt"),
    ("5.7.1", "550 5.7.1 Reverse DNS lookup for host 192.0.2.1 failed permanently", "requireptr",
     "requireptr-wording"),
    ("5.7.1", "554 5.7.1 This message scored 12.3 spam points (in reply to end of DATA command)", "spamdetected",
     "spamdetected-wording"),
    ("5.7.1", "554 5.7.1 Email blocked by b.barracudacentral.org", "blocked", "blocked-wording"),
    # what local delivery agents say (lib/Sisimai/MDA.pm), after their own name
    ("", "X-Unix; mail.local: unknown user: u", "userunknown", "agent-userunknown"),
    ("", "maildrop: Invalid user specified.", "userunknown", "agent-userunknown"),
    ("", 'procmail: Quota exceeded while writing "/var/mail/u"', "mailboxfull", "agent-mailboxfull"),
    ("", "vdelivermail: account is locked email bounced", "filtered", "agent-filtered"),
    ("", "procmail: No space left to finish writing /var/mail/u", "systemfull", "agent-systemfull"),
    ("", "mail.local: temporary file write error", "systemerror", "agent-systemerror"),
    # a 5.1.x status with the recipient's address rejected: the refused-sender words do not
    # veto it (the exclusion inside Sisimai's rejected test)
    ("5.1.0", "550 5.1.0 Address rejected. because the address couldn't be found.", "userunknown",
     "userunknown-status-recipient-rejected"),
])
def test_sisimai_wording_per_reason(status, text, reason, rule):
    (r,) = diagnose(dsn(status, text)).recipients
    assert r.reason == reason and f"core-reasons/{rule}" in r.rules, r.rules


@pytest.mark.parametrize("phrase, text, found", [
    ("user … does not exist", "550 user kijitora does not exist", True),
    ("user … does not exist", "550 does not exist: user x", False),
    ("user … does not exist", "550 username does not exist", False),  # the space after "user" is its fragment's
    ("(…@…:blocked)", "550 (x@example.org:blocked)", True),
    ("(…@…:blocked)", "550 :blocked) (x@example.org", False),
])
def test_ordered_phrases(phrase, text, found):
    from ndrkb.rules.inference import Phrases, Text

    assert (phrase in Phrases([phrase]).found(Text(text))) is found


def test_an_ordered_phrase_with_an_empty_fragment_is_refused():
    from pydantic import ValidationError
    from ndrkb.rules.schema import When

    with pytest.raises(ValidationError, match="empty fragment"):
        When(text=["user … "])
