"""Placeholders in pack prose: filled from the facts, refused at load when unknown."""
from __future__ import annotations

import pytest

from ndrkb.errors import PackError
from ndrkb.models import RecipientFacts
from ndrkb.rules.loading import read_pack
from ndrkb.rules.placeholders import filler, unknown

from .test_packs import write_pack

PACK = """\
[pack]
id = "acme-ph"
title = "ACME placeholders"
version = "1.0.0"
codes = ["5.7.998"]

[[rule]]
id = "r"
description = "5.7.998 at ACME"
salience = 99
reference = "https://acme.example/5.7.998"
when.status = ["5.7.998"]
then = {{ role = "recipient_admin", cause = "c" }}

[cause.c]
summary = "The {{recipient_type}} {{recipient}} refused it."
sender = "{sender}"
remediation = ["fix"]

[remediation.fix]
title = "Fix"
actor = "recipient_admin"
steps = [
  "First step.",
  "{step}",
]
"""


def test_fill_uses_the_facts_and_falls_back():
    fill = filler(RecipientFacts(status="5.7.998", recipient="a@example.org", reply_code=550), "m365_group")
    assert fill("{recipient_type} {recipient} said {reply_code} {status}") == \
        "Microsoft 365 group a@example.org said 550 5.7.998"
    empty = filler(RecipientFacts(), None)
    assert empty("The {recipient_type} ({status}); @{{Add=1}}") == "The recipient (given in the bounce); @{Add=1}"


def test_unknown_placeholders_are_found():
    assert unknown("{status} {Status} {{literal}} {sender_ip}") == ["{Status}", "{sender_ip}"]


def test_a_pack_with_an_unknown_placeholder_is_refused_with_file_and_line(tmp_path):
    folder = write_pack(tmp_path, "acme-ph", PACK.format(sender="Forward it ({status}).", step="Ask {mailbox_owner}."))
    with pytest.raises(PackError) as info:
        read_pack(folder)
    (problem,) = info.value.problems
    assert problem.startswith(f"{folder / 'pack.toml'}:25: remediation fix: steps: unknown placeholder "
                              "{mailbox_owner}")


def test_a_pack_with_known_placeholders_loads_and_is_filled(tmp_path):
    from ndrkb.diagnoser import Diagnoser
    from ndrkb.rules.discovery import PackSources
    from ndrkb.rules.loading import load_packs

    folder = write_pack(tmp_path, "acme-ph", PACK.format(sender="Forward it ({status}).", step="Ask {recipient}."))
    read_pack(folder)
    d = Diagnoser(packs=load_packs(PackSources(extra=(folder,))))
    r = d.diagnose_facts(RecipientFacts(status="5.7.998", recipient="b@example.org", reply_code=550))
    assert r.sender_advice == "Forward it (5.7.998)."
    assert r.cause_info[0].summary == "The recipient b@example.org refused it."
    assert r.remediation[0].steps == ["First step.", "Ask b@example.org."]


def test_every_recipient_type_has_a_prose_name():
    """{recipient_type} in pack text names every type of the vocabulary, umbrella types too."""
    from ndrkb.vocabulary import RECIPIENT_TYPE_NAMES, RECIPIENT_TYPES

    assert set(RECIPIENT_TYPE_NAMES) == set(RECIPIENT_TYPES)
