"""Pack loading: validation messages, discovery, dispatch with overrides, versions, the shipped schema."""
from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest

from ndrkb.errors import PackError
from ndrkb.intake.message import read_source
from ndrkb.rules.discovery import BUILTIN_DIR, PackSources, discover
from ndrkb.rules.loading import load_packs, read_pack, read_packs
from ndrkb.rules.schema import pack_json_schema

from .conftest import REPO

HELPDESK = """\
[pack]
id = "acme-helpdesk"
title = "ACME helpdesk"
version = "1.0.0"
layer = "site"

[[rule]]
id = "ticket"
description = "ACME: open a ticket for organisation-level sender-authentication bounces"
reference = "https://intranet.acme.example/mail"
when.after = ["exo-sender-auth/org-by-code"]
then = { add_remediation = ["open-ticket"] }

[remediation.open-ticket]
title = "Open a ticket at helpdesk.acme.example"
actor = "recipient_admin"
steps = ["Open a ticket at https://helpdesk.acme.example and attach the bounce."]
"""


def write_pack(root: Path, name: str, text: str) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "pack.toml").write_text(textwrap.dedent(text), encoding="utf-8")
    return folder


def problems_of(folder: Path) -> list[str]:
    with pytest.raises(PackError) as info:
        read_pack(folder)
    return info.value.problems


def test_shipped_schema_is_the_generated_one():
    shipped = (REPO / "engine" / "schema" / "pack.schema.json").read_text(encoding="utf-8")
    assert shipped == json.dumps(pack_json_schema(), indent=2, sort_keys=True) + "\n"


def test_builtin_packs_load_sorted_by_id():
    ids = [p.id for p in load_packs().packs]
    assert {"rfc3463", "core-reasons", "core-finalize", "exo-sender-auth"} <= set(ids)
    assert ids == sorted(ids)


@pytest.mark.parametrize("condition, problem", [
    ('status = ["5.7.99z"]', "not a status code, range or wildcard: 5.7.99z"),
    # names outside the vocabulary: a family no entry of MTA_FAMILIES defines never fires
    ('mta = ["postfix-ng"]', "unknown mta: 'postfix-ng'"),
    ('action = ["bounced"]', "unknown action: 'bounced'"),
    ('kind = ["dsn"]', "unknown kind: 'dsn'"),
    ('form = ["eml"]', "unknown form: 'eml'"),
    ('reason = ["spam"]', "unknown reason: 'spam'"),
    ('command = ["RCPT TO"]', "unknown command: 'RCPT TO'"),
    ('not_action = ["gone"]', "unknown not_action: 'gone'"),
    ('status_name = ["unknown"]', "unknown status_name: 'unknown'"),
])
def test_schema_errors_name_file_line_rule_and_field(tmp_path, condition, problem):
    folder = write_pack(tmp_path, "p", f"""\
        [pack]
        id = "p"
        title = "P"
        version = "1.0"
        codes = ["5.7.999"]

        [[rule]]
        id = "first"
        description = "d"
        reference = "RFC 3463"
        when.{condition}
        then = {{ role = "sender" }}
        """)
    (got,) = problems_of(folder)
    field = condition.split(" ")[0]
    assert got.startswith(f"{folder / 'pack.toml'}:11: rule first: when.{field}: ")
    assert problem in got


def test_toml_errors_give_the_line(tmp_path):
    folder = write_pack(tmp_path, "p", '[pack]\nid = "p"\ntitle = \n')
    (problem,) = problems_of(folder)
    assert problem.startswith(f"{folder / 'pack.toml'}:3: not valid TOML")


def test_incompatible_pack_is_refused_naming_pack_and_both_versions(tmp_path):
    folder = write_pack(tmp_path, "future", """\
        [pack]
        id = "future"
        title = "F"
        version = "2.1.0"
        requires = ">=9.0"
        always = true

        [[rule]]
        id = "r"
        description = "d"
        reference = "RFC 3463"
        then = { note = "n" }
        """)
    (problem,) = problems_of(folder)
    assert ":5: pack future: requires:" in problem
    assert "future 2.1.0 requires ndrkb >=9.0" in problem and "this is ndrkb 0.1.0" in problem


def test_example_outside_the_pack_folder_is_refused(tmp_path):
    (tmp_path / "secret.eml").write_text("x")
    folder = write_pack(tmp_path, "p", """\
        [pack]
        id = "p"
        title = "P"
        version = "1.0"
        codes = ["5.7.999"]

        [[rule]]
        id = "r"
        description = "d"
        reference = "RFC 3463"
        then = { role = "sender" }

        [[example]]
        file = "../secret.eml"
        expect = { role = "sender" }
        """)
    (problem,) = problems_of(folder)
    assert "example 1 (../secret.eml): file: must be a relative path inside the pack folder" in problem


def test_override_pack_rules_all_need_after(tmp_path):
    folder = write_pack(tmp_path, "site", HELPDESK + """
[[rule]]
id = "everything"
description = "would change every 5.7.12 diagnosis without following a rule"
reference = "https://intranet.acme.example/mail"
then = { role = "sender" }
""")
    (problem,) = problems_of(folder)
    assert "rule everything: when.after: this pack follows rules of other packs" in problem


def test_pack_that_never_runs_is_refused(tmp_path):
    folder = write_pack(tmp_path, "idle", """\
        [pack]
        id = "idle"
        title = "I"
        version = "1.0"
        layer = "site"

        [[rule]]
        id = "r"
        description = "d"
        reference = "RFC 3463"
        then = { role = "sender" }
        """)
    assert "never dispatched" in problems_of(folder)[0]


def test_duplicate_pack_id_is_refused(tmp_path):
    copy = write_pack(tmp_path, "exo-copy", """\
        [pack]
        id = "exo-sender-auth"
        title = "Same id as a built-in pack"
        version = "9.0"
        codes = ["5.1.1"]

        [[rule]]
        id = "r"
        description = "d"
        reference = "RFC 3463"
        then = { role = "sender" }
        """)
    with pytest.raises(PackError) as info:
        read_packs(PackSources(extra=(copy,)))
    assert any("pack exo-sender-auth (--pack" in p and "is already provided by" in p for p in info.value.problems)


def test_after_unknown_rule_or_missing_pack_is_refused(tmp_path):
    write_pack(tmp_path, "site", HELPDESK.replace("exo-sender-auth/org-by-code", "exo-sender-auth/nope")
               .replace('"acme-helpdesk"', '"a"'))
    write_pack(tmp_path, "site2", HELPDESK.replace("exo-sender-auth/org-by-code", "not-installed/x")
               .replace('"acme-helpdesk"', '"b"'))
    with pytest.raises(PackError) as info:
        read_packs(PackSources(extra=(tmp_path,)))
    text = "\n".join(info.value.problems)
    assert "rule ticket: when.after: names exo-sender-auth/nope, but no rule of that id" in text
    assert "rule ticket: when.after: names not-installed/x, but its pack is not installed" in text


def test_conflicting_overrides_are_refused(tmp_path):
    for name, role in (("a", "sender"), ("b", "sender_admin")):
        write_pack(tmp_path, name, HELPDESK.replace('"acme-helpdesk"', f'"{name}"')
                   .replace('then = { add_remediation = ["open-ticket"] }', f'then = {{ role = "{role}" }}'))
    with pytest.raises(PackError) as info:
        read_packs(PackSources(extra=(tmp_path,)))
    (problem,) = info.value.problems
    assert "rule ticket: then.role: conflicts with a/ticket" in problem


def test_two_site_packs_may_both_extend_a_rule(tmp_path):
    for name in ("a", "b"):
        write_pack(tmp_path, name, HELPDESK.replace('"acme-helpdesk"', f'"{name}"'))
    packs = load_packs(PackSources(extra=(tmp_path,)))
    chosen = [p.id for p in packs.select("diagnose", "5.7.12", None)]
    assert "a" in chosen and "b" in chosen


def test_override_pack_is_dispatched_only_with_the_pack_it_follows(tmp_path):
    packs = load_packs(PackSources(extra=(write_pack(tmp_path, "site", HELPDESK),)))
    assert "acme-helpdesk" in [p.id for p in packs.select("diagnose", "5.7.12", None)]
    assert "acme-helpdesk" in [p.id for p in packs.select("diagnose", None, "RESOLVER.RST.AuthRequired")]
    assert "acme-helpdesk" not in [p.id for p in packs.select("diagnose", "5.1.1", None)]
    assert "acme-helpdesk" not in [p.id for p in packs.select("finalize", "5.7.12", None)]


def test_site_override_adds_remediation_and_shows_in_the_trace(tmp_path):
    from ndrkb.diagnoser import Diagnoser

    diagnoser = Diagnoser(sources=PackSources(extra=(write_pack(tmp_path, "site", HELPDESK),)))
    msg = read_source("550 5.7.12 RESOLVER.RST.SenderNotAuthenticatedForOrg; Delivery not authorized")
    (r,) = diagnoser.diagnose_message(msg).recipients
    assert r.cause == "exo-sender-auth/sender-not-authenticated-org"
    added = [rem for rem in r.remediation if rem.added_by]
    assert [(rem.id, rem.added_by) for rem in added] == [("acme-helpdesk/open-ticket", "acme-helpdesk/ticket")]
    step = next(s for s in r.explanation if s.rule == "acme-helpdesk/ticket")
    assert step.matched == {"after": ["exo-sender-auth/org-by-code"]} and step.won == ["add_remediation"]
    # a code the override pack does not declare is untouched
    (other,) = diagnoser.diagnose_message(read_source("550 5.7.133 RESOLVER.RST.SenderNotAuthenticatedForGroup"
                                                      "; authentication required")).recipients
    assert not any(rem.added_by for rem in other.remediation)
    assert "acme-helpdesk/ticket" not in other.rules


def test_discover_env_and_extra_in_order_without_duplicates(tmp_path):
    env_pack = write_pack(tmp_path / "env", "site", HELPDESK)
    sources = PackSources.from_environment([env_pack, BUILTIN_DIR / "rfc3463"], {"NDRKB_PACKS": str(tmp_path / "env")})
    found = discover(sources)
    origins = [origin for _, origin in found]
    assert origins[0] == "builtin" and origins[-1] == f"NDRKB_PACKS {tmp_path / 'env'}"
    assert len({f.resolve() for f, _ in found}) == len(found)


def test_discover_reports_every_bad_place(tmp_path):
    with pytest.raises(PackError) as info:
        discover(PackSources.from_environment([tmp_path], {"NDRKB_PACKS": str(tmp_path / "missing")}))
    assert len(info.value.problems) == 2
    assert "(from NDRKB_PACKS): no pack.toml here" in info.value.problems[0]


def _fake_distribution(root: Path, value: str) -> None:
    info = root / "fakepack-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fakepack\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[ndrkb.packs]\nfake = {value}\n")


def test_entry_point_package_is_located_without_importing_it(tmp_path, monkeypatch):
    package = tmp_path / "fakepack_ndr"
    package.mkdir()
    marker = tmp_path / "imported"
    (package / "__init__.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    write_pack(package, "acme-helpdesk", HELPDESK)
    _fake_distribution(tmp_path, "fakepack_ndr")
    monkeypatch.syspath_prepend(str(tmp_path))
    found = dict(discover())
    assert found[package / "acme-helpdesk"] == "entry point fake of fakepack"
    assert not marker.exists() and "fakepack_ndr" not in sys.modules


def test_entry_point_naming_a_missing_package_is_an_error(tmp_path, monkeypatch):
    _fake_distribution(tmp_path, "no_such_package_ndr")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(PackError) as info:
        discover()
    assert info.value.problems == ["entry point fake of fakepack (group ndrkb.packs): "
                                   "cannot find package 'no_such_package_ndr'"]


def test_after_loops_and_other_stages_are_refused(tmp_path):
    write_pack(tmp_path, "loop", HELPDESK.replace('"acme-helpdesk"', '"loop"') + """
[[rule]]
id = "ping"
description = "follows pong"
reference = "RFC 3463"
when.after = ["loop/pong", "exo-sender-auth/org-by-code"]
then = { note = "ping" }

[[rule]]
id = "pong"
description = "follows ping"
reference = "RFC 3463"
when.after = ["loop/ping"]
then = { note = "pong" }

[[rule]]
id = "late"
description = "follows a finalize rule from the diagnose stage"
reference = "RFC 3463"
when.after = ["core-finalize/class-5-permanent"]
then = { note = "never" }
""")
    with pytest.raises(PackError) as info:
        read_packs(PackSources(extra=(tmp_path,)))
    text = "\n".join(info.value.problems)
    assert "rule pong: when.after: rules follow each other in a loop and can never fire: loop/ping -> loop/pong" in text
    assert "rule late: when.after: names core-finalize/class-5-permanent of stage finalize" in text


REASON_PACK = """\
[pack]
id = "p"
title = "P"
version = "1.0"
stage = "reason"
always = true

[[rule]]
id = "first"
description = "d"
reference = "RFC 3463"
{extra}
when.wording = ["{name}"]
then = {{ reason = "{reason}" }}

[wording]
mine = ["phrase one", "Phrase  Two"]
"""


@pytest.mark.parametrize("extra, name, reason, wanted", [
    ('step = "context"\nsalience = 60', "mine", "mailboxfull", "a step of the reason procedure is ranked by the "
                                                                 "precedence list; give no salience"),
    ('step = "status"', "mine", "userunknown", "a status-table reason in the retry set is step 'retry'"),
    ('step = "context"', "theirs", "mailboxfull", "no [wording] list 'theirs' in this pack"),
])
def test_reason_steps_and_wording_are_checked(tmp_path, extra, name, reason, wanted):
    folder = write_pack(tmp_path, "p", REASON_PACK.format(extra=extra, name=name, reason=reason))
    (problem,) = problems_of(folder)
    assert wanted in problem


def test_a_step_outside_the_reason_stage_is_refused(tmp_path):
    text = REASON_PACK.format(extra='step = "context"', name="mine", reason="mailboxfull")
    folder = write_pack(tmp_path, "p", text.replace('stage = "reason"', 'stage = "diagnose"'))
    (problem,) = problems_of(folder)
    assert "a step of the reason procedure concludes a reason, in a pack of stage 'reason'" in problem


def test_wording_lists_are_read_as_phrases_and_steps_ranked_by_the_precedence_list(tmp_path):
    from ndrkb.vocabulary import reason_rank

    pack = read_pack(write_pack(tmp_path, "p", REASON_PACK.format(extra='step = "context"', name="mine",
                                                                  reason="mailboxfull")))
    rule = pack.spec.rule[0]
    assert rule.when.text == ["phrase one", "phrase two"]
    assert pack.salience(rule) == 300 + 99 - reason_rank("context", "mailboxfull")  # the knowledge layer
