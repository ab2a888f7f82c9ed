"""Reporting-system families: each is told by its documented signs, and knowledge that
belongs to one family stays off bounces known to come from another (issue 10, issue 11 item 17)."""
from __future__ import annotations

import pytest

from ndrkb import diagnose
from ndrkb.facts.extract import detect_mta
from ndrkb.intake.parts import Parts
from ndrkb.vocabulary import MTA_FAMILIES

from .test_reason_procedure import dsn


@pytest.mark.parametrize("parts, reporting, family", [
    (Parts(headers={"x-ms-exchange-message-is-ndr": ""}), None, "exchange"),
    (Parts(), "BN8PR12MB.namprd12.prod.outlook.com", "exchange-online"),
    (Parts(headers={"x-mailer": "Internet Mail Service (5.5.2653.19)"}), None, "exchange-legacy"),
    (Parts(text="Your message\n  To: a@b\ndid not reach the following recipient(s):\nu@example.org"), None,
     "exchange-legacy"),
    (Parts(text="Delivery to the following recipient failed permanently:\n\n     u@example.org"), None, "google"),
    (Parts(), "mx.google.com", "google"),
    (Parts(text="Sorry, we were unable to deliver your message to the following address.\n\n<u@example.org>:"),
     None, "yahoo"),
    (Parts(text="    --- The following addresses had delivery problems ---\n\n<u@example.org>   (User unknown)"),
     None, "mcafee"),
    (Parts(headers={"x-mailer": "<SMTP32 v8.22>"}), None, "imail"),
    (Parts(text="This is the mail system at host mx.example.net.\n\nI'm sorry to have to inform you"), None,
     "postfix"),
    (Parts(text="This message was created automatically by mail delivery software.\n\nA message that you sent"),
     None, "exim"),
    (Parts(text="Hi. This is the qmail-send program at mx.example.net.\nI'm afraid I wasn't able"), None, "qmail"),
    (Parts(text="This is a delivery status notification from mx.example.net, running the Courier mail server at"
                " version 1.0."), None, "courier"),
    (Parts(text="Hi!\n\nThis is the MAILER-DAEMON, please DO NOT REPLY to this e-mail.\n"), None, "opensmtpd"),
    (Parts(text="This is the DragonFly Mail Agent v0.13 at df.example.net.\n"), None, "dragonfly"),
    (Parts(text="This report relates to a message you sent with the following header fields:\n"), None,
     "messagingserver"),
    (Parts(headers={"subject": "DELIVERY FAILURE: User u not listed"}), None, "domino"),
    (Parts(text="------- Failure Reasons  --------\n\nUser not listed"), None, "notes"),
    (Parts(headers={"x-mlserver": "fml [fml 4.0.3 release]"}), None, "fml"),
    (Parts(headers={"x-mimeole": "Produced By Microsoft Exchange V6.5"}), None, "exchange-legacy"),
    (Parts(text="Postfix SMTP server: errors from client.example.com[192.0.2.1]\n"), None, "postfix"),
    (Parts(text="   ----- Transcript of session follows -----\n... while talking to mx.example.org.:"), None,
     "sendmail"),
    (Parts(text="Delivery failed."), "mx.example.net", None),
])
def test_each_family_is_told_by_its_signs(parts, reporting, family):
    assert detect_mta(parts, set(), reporting) == family


def test_a_heading_that_only_contains_another_family_sign_is_not_that_family():
    """Biglobe's '----- The following addresses had delivery problems -----' is not McAfee's
    three-dash heading."""
    parts = Parts(text="   ----- The following addresses had delivery problems -----\n<u@example.org>")
    assert detect_mta(parts, set(), None) != "mcafee"


def test_every_family_has_a_sign():
    assert all(f.headers or f.header_values or f.reporting_suffixes or f.line_kinds or f.phrases
               for f in MTA_FAMILIES.values())


def _postfix(status: str, text: str) -> bytes:
    return dsn(status, text).replace(b"Delivery failed.", b"This is the mail system at host mx.example.net.")


@pytest.mark.parametrize("status, text, exchange_rule", [
    ("5.2.2", "552 5.2.2 <u@example.org>: insufficient resources", "exo-mailbox/quota-5.2.2-generic"),
    ("5.7.1", "554 5.7.1 <u@example.org>: access refused", "exo-restrictions/policy-5.7.1-generic"),
])
def test_exchange_only_causes_stay_off_another_familys_bounce(status, text, exchange_rule):
    """Exchange Online's submission quota and transport rules are no cause of a Postfix bounce."""
    (r,) = diagnose(_postfix(status, text)).recipients
    assert r.facts.mta == "postfix"
    assert exchange_rule not in r.rules
    assert not any(c.startswith(("exo-mailbox/", "exo-restrictions/")) for c in r.causes or [r.cause or ""])
