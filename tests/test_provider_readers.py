"""Mailbox providers' readers (kb/provider-readers) and remote-host rules (kb/provider-rhost):
each provider's own layout is told by its signs and read the way the provider means it
(issue 10: the knowledge of Sisimai's Lhost and Rhost modules, on bounces written here)."""
from __future__ import annotations

import pytest

from ndrkb import diagnose
from ndrkb.rules.schema import When

from .test_reason_procedure import dsn


def message(headers: str, body: str) -> bytes:
    """A plain-text bounce with these header lines and this body."""
    return (f"{headers.strip()}\nTo: sender@example.com\nMIME-Version: 1.0\nContent-Type: text/plain\n\n"
            f"{body.strip()}\n").encode()


def gmail(reply: str) -> bytes:
    """Gmail's older notice: the remote server's reply quoted after its technical details."""
    return message(
        "From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>\n"
        "Subject: Delivery Status Notification (Failure)",
        f"""This is an automatically generated Delivery Status Notification

Delivery to the following recipient failed permanently:

     ann@example.org

Technical details of permanent failure:
Google tried to deliver your message, but it was rejected by the recipient domain. We recommend
contacting the other email provider for further information about the cause of this error. The
error that the other server returned was: {reply}

----- Original message -----
Subject: hello
""")


@pytest.mark.parametrize("reply, reason, command, rule", [
    ("550 550 <ann@example.org>: Recipient address rejected: User unknown (state 14).", "userunknown", "RCPT",
     "provider-readers/gmail-state-recipient"),
    ("550 550 #5.1.0 Address rejected ann@example.org (state 17).", "filtered", "DATA",
     "provider-readers/gmail-state-data-zero-code"),
    ("500 Remote server does not support TLS (state 6).", "systemerror", "MAIL",
     "provider-readers/gmail-state-session"),
    ("550 550 Access denied (state 13).", "blocked", "EHLO", "provider-readers/gmail-state-greeting"),
])
def test_gmail_state_number_names_the_stage_and_the_reason(reply, reason, command, rule):
    (r,) = diagnose(gmail(reply)).recipients
    assert (r.facts.mta, r.facts.command, r.reason) == ("google", command, reason)
    if rule:
        assert rule in r.rules


def test_gmail_state_yields_to_a_status_code_without_a_zero_part():
    """'550 5.2.2 ... Mailbox Full (state 14)': the code's own name decides, not the state."""
    (r,) = diagnose(gmail("550 550 5.2.2 <ann@example.org>... Mailbox Full (state 14).")).recipients
    assert r.reason == "mailboxfull"
    assert not any(x.startswith("provider-readers/gmail-state") for x in r.rules)


def test_gmail_delay_notice_is_told_by_its_sender_address():
    raw = message(
        "From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>\n"
        "Subject: Delivery Status Notification (Delay)",
        """Delivery to the following recipient has been delayed:

     ann@example.org

Message will be retried for 2 more day(s)

Technical details of temporary failure:
DNS Error: Domain name not found
""")
    (r,) = diagnose(raw).recipients
    assert r.facts.mta == "google"
    assert r.reason == "hostunknown"
    assert "provider-readers/gmail-dns-no-domain" in r.rules


def test_google_workspace_address_not_found():
    raw = message(
        "From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>\n"
        "Subject: Delivery Status Notification (Failure)",
        """** Address not found **

Your message wasn't delivered to ann@example.org because the address couldn't be found. Check for
typos or unnecessary spaces and try again.

The response from the remote server was:
550 Address rejected
""")
    (r,) = diagnose(raw).recipients
    assert (r.recipient, r.reason) == ("ann@example.org", "userunknown")
    assert "provider-readers/google-address-not-found" in r.rules


def with_header(raw: bytes, header: str) -> bytes:
    return header.encode() + b"\n" + raw


@pytest.mark.parametrize("header, text, family, reason, rule", [
    ("X-AOL-IP: 192.0.2.135", "550 Host or domain name not found. Name service error", "aol", "hostunknown",
     "provider-readers/aol-host-not-found"),
    ("X-Message-Info: AbCd123", "The mail could not be delivered to the recipient because the domain is not "
     "reachable. Please check the domain and try again", "hotmail", "hostunknown",
     "provider-readers/hotmail-domain-unreachable"),
    ("X-ZohoMail: Si CHF_MF_NL SS_10", "421 Host not reachable.", "zoho", "expired",
     "provider-readers/zoho-host-not-reachable"),
    ("X-GMX-Antispam: 0 (Mail was not recognized as spam)", "552 Mail size limit exceeded. For explanation visit "
     "the postmaster pages", "gmx", "mesgtoobig", "provider-readers/gmx-size-limit"),
])
def test_a_providers_header_names_its_reader(header, text, family, reason, rule):
    (r,) = diagnose(with_header(dsn("", text), header)).recipients
    assert (r.facts.mta, r.reason) == (family, reason)
    assert rule in r.rules


def test_yahoo_is_told_by_its_header():
    (r,) = diagnose(with_header(dsn("5.1.1", "550 5.1.1 User unknown"), "X-YMailISG: YtyUVyYWLDsbDh")).recipients
    assert (r.facts.mta, r.facts.command) == ("yahoo", "RCPT")


def test_ezweb_disabled_account_is_suspended():
    raw = message(
        "From: <Postmaster@ezweb.ne.jp>\nSubject: Mail System Error - Returned Mail",
        """The user(s) account is disabled.

<ann@ezweb.example.jp>
""")
    (r,) = diagnose(raw).recipients
    assert (r.facts.mta, r.reason) == ("au", "suspend")
    assert "provider-readers/au-account-disabled" in r.rules


def test_biglobe_user_unknown_is_filtered():
    raw = message(
        "From: postmaster@biglobe.ne.jp\nSubject: Returned mail: User unknown",
        """   ----- The following addresses had delivery problems -----
ann@example.biglobe.ne.jp

   ----- Non-delivered information -----
Mail Delivery Failed... User unknown
""")
    (r,) = diagnose(raw).recipients
    assert (r.facts.mta, r.reason) == ("biglobe", "filtered")
    assert "provider-readers/biglobe-user-unknown" in r.rules


def test_facebook_response_code():
    raw = dsn("5.1.1", "550 5.1.1 RCP-P1 http://postmaster.facebook.com/response_codes?ip=192.0.2.1#rcp "
                       "The attempted recipient address does not exist").replace(
        b"From: MAILER-DAEMON@mx.example.net", b"From: Facebook <mailer-daemon@mx.facebook.com>")
    (r,) = diagnose(raw).recipients
    assert (r.facts.mta, r.reason) == ("facebook", "userunknown")
    assert "provider-readers/facebook-no-such-recipient" in r.rules


def remote(host: str, status: str, text: str, recipient: str = "u@example.org") -> bytes:
    """A generic report whose Remote-MTA is this host."""
    return dsn(status, text).replace(b"Action:", f"Remote-MTA: dns; {host}\nAction:".encode()).replace(
        b"u@example.org", recipient.encode())


@pytest.mark.parametrize("raw, reason, rule", [
    (remote("gmail-smtp-in.l.google.com", "5.7.26", "550-5.7.26 This mail has been blocked because the sender is "
            "unauthenticated. Gmail requires all senders to authenticate with either SPF or DKIM."),
     "authfailure", "provider-rhost/google-authfailure-7-26"),
    (remote("aspmx.l.google.com", "4.7.0", "421-4.7.0 IP not in whitelist for RCPT domain, closing connection."),
     "blocked", "provider-rhost/google-blocked-7-0"),
    (remote("aspmx.l.google.com", "5.7.1", "550-5.7.1 Messages missing a valid Message-ID: header are not "
            "accepted."), "notcompliantrfc", "provider-rhost/google-notcompliantrfc-7-1"),
    (remote("mx01.mail.icloud.com", "5.1.6", "550 5.1.6 recipient no longer on server: u@example.org"),
     "hasmoved", "provider-rhost/apple-hasmoved"),
    (remote("mx3.qq.com", "", "550 Mail content denied. http://service.mail.qq.com/detail/122/171"),
     "spamdetected", "provider-rhost/tencent-spamdetected"),
    (remote("mx.charter.net", "5.7.1", "554 5.7.1 AUP#I-1310 too many connections"), "toomanyconn",
     "provider-rhost/spectrum-toomanyconn"),
    (remote("smtpz4.laposte.net", "4.2.1", "421 4.2.1 Service refuse. Veuillez essayer plus tard. Service "
            "refused, please try later. LPN006_107"), "undefined", "provider-rhost/franceptt-unknown-code"),
    (remote("mfsmax.docomo.ne.jp", "", "552 Too many recipients (in reply to RCPT TO command)"), "toomanyconn",
     "provider-rhost/docomo-toomanyconn"),
    (remote("eu-smtp-inbound-1.mimecast.com", "", "550 Invalid Recipient - https://community.mimecast.com"),
     "userunknown", "provider-rhost/mimecast-userunknown-550"),
])
def test_remote_host_rules(raw, reason, rule):
    (r,) = diagnose(raw).recipients
    assert r.reason == reason
    assert rule in r.rules


def test_google_wording_without_googles_host_is_not_googles_answer():
    """The same words from another receiving host are read by the generic procedure."""
    (r,) = diagnose(remote("mx.example.org", "5.7.28", "550 5.7.28 an unusual rate of unsolicited mail")).recipients
    assert not any(x.startswith("provider-rhost/google-") for x in r.rules)


def test_remote_host_rule_holds_for_the_providers_recipient_domain():
    """No remote host named: the recipient's domain inside a provider's host fragment is enough (qq.com)."""
    (r,) = diagnose(dsn("", "550 Mail content denied").replace(b"u@example.org", b"u@qq.com")).recipients
    assert (r.reason, "provider-rhost/tencent-spamdetected" in r.rules) == ("spamdetected", True)


def test_docomo_status_and_command():
    (r,) = diagnose(remote("mfsmax.docomo.ne.jp", "5.0.0", "550 Unknown user u@example.org (in reply to end of "
                                                          "DATA command)")).recipients
    assert (r.facts.command, r.reason) == ("DATA", "rejected")
    assert "provider-rhost/docomo-5-0-0-data" in r.rules


def test_rhost_fragments_are_lower_case_host_names():
    assert When(rhost=[".mail.icloud.com"]).rhost == [".mail.icloud.com"]
    with pytest.raises(ValueError, match="host name fragment"):
        When(rhost=["Mail.iCloud.com"])
    with pytest.raises(ValueError, match="host name fragment"):
        When(rhost=["mail icloud"])


def test_a_readers_own_unknown_user_holds_without_a_stage():
    """Hotmail's reader names the reason userunknown itself; the context test of that name says
    yes first when the reader's reason is its own (fact sheet 3.4), so the procedure's
    filtered-at-an-unknown-stage reading (10 quirk 1) does not apply."""
    raw = with_header(dsn("", "550 Requested action not taken: mailbox unavailable"), "X-Message-Info: AbCd123")
    (r,) = diagnose(raw).recipients
    assert (r.facts.mta, r.facts.command, r.reason) == ("hotmail", None, "userunknown")
    assert "provider-readers/hotmail-mailbox-unavailable" in r.rules
    assert "core-reasons/userunknown-stage-unknown" not in r.rules


@pytest.mark.parametrize("line", [
    "<u@example.org>: host mx02.mail.icloud.com[192.0.2.8] said: 552 5.2.2 <u@example.org>: user is over quota "
    "(in reply to RCPT TO command)",
    "u@example.org\n    SMTP error from remote mail server after RCPT TO:<u@example.org>:\n    host mx02.mail.icloud.com "
    "[192.0.2.8]: 552 5.2.2 <u@example.org>: user is over quota",
])
def test_the_remote_host_named_before_the_reply_is_the_receiving_provider(line):
    """Postfix's "host X[ip] said:" and Exim's "host X [ip]:" name the receiving host when no
    Remote-MTA field does."""
    (r,) = diagnose(line).recipients
    assert r.facts.remote_mta == "mx02.mail.icloud.com"
    assert (r.reason, "provider-rhost/apple-mailboxfull" in r.rules) == ("mailboxfull", True)


def test_ezweb_spam_filter_mark_makes_it_filtered():
    """X-SPASIGN: NG marks the notice of the recipient's anti-spam filter: filtered, whatever the text says."""
    raw = message(
        "From: <Postmaster@ezweb.ne.jp>\nSubject: Mail System Error - Returned Mail\nX-SPASIGN: NG",
        """<ann@ezweb.example.jp>

Each of the following recipients was rejected by a remote mail server.
""")
    (r,) = diagnose(raw).recipients
    assert (r.facts.mta, r.reason) == ("au-filter", "filtered")
    assert "provider-readers/au-spam-filter" in r.rules
