"""``ndrkb packs`` list / check / test / new, and site overrides through --pack and NDRKB_PACKS."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from ndrkb.cli import main

from .test_packs import HELPDESK, write_pack

LINE_5_7_12 = "550 5.7.12 RESOLVER.RST.SenderNotAuthenticatedForOrg; Delivery not authorized\n"


@pytest.fixture
def run():
    def invoke(*args: str, env: dict | None = None):
        return CliRunner().invoke(main, [str(a) for a in args], env=env, catch_exceptions=False)

    return invoke


@pytest.fixture
def new_pack(run, tmp_path) -> Path:
    result = run("packs", "new", "5.7.999", "--dir", tmp_path)
    assert result.exit_code == 0, result.output
    return tmp_path / "pack-5-7-999"


def test_new_pack_passes_check_and_test(run, new_pack):
    assert sorted(p.name for p in new_pack.rglob("*")) == ["5.7.999.eml", "examples", "pack.toml"]
    check = run("packs", "check", new_pack)
    assert check.exit_code == 0 and "ok  pack-5-7-999 0.1.0: 1 rules" in check.output
    test = run("packs", "test", new_pack)
    assert test.exit_code == 0, test.output
    assert "PASS  pack-5-7-999  examples/5.7.999.eml" in test.output
    assert "1 examples: 1 passed, 0 failed" in test.output


def test_new_refuses_an_existing_folder_and_a_bad_code(run, new_pack):
    again = run("packs", "new", "5.7.999", "--dir", new_pack.parent)
    assert again.exit_code == 1 and "already exists" in again.output
    bad = run("packs", "new", "5.7", "--dir", new_pack.parent)
    assert bad.exit_code == 1 and "not an enhanced status code" in bad.output


def _edit(folder: Path, *pairs: tuple[str, str], append: str = "") -> Path:
    path = folder / "pack.toml"
    text = path.read_text()
    for old, new in pairs:
        assert old in text
        text = text.replace(old, new, 1)
    path.write_text(text + append)
    return path


def test_five_reference_mistakes_give_five_precise_problems(run, new_pack):
    path = _edit(new_pack,
                 ('cause = "unexplained" }', 'cause = "unexplaind" }'),
                 ('reference = "https://www.iana.org', 'reference = "see www.iana.org'),
                 append="""
[[rule]]
id = "second"
description = "concludes a status in the diagnose stage"
reference = "RFC 3463"
then = { status = "5.7.1" }

[[rule]]
id = "third"
description = "adds a remediation that does not exist"
reference = "RFC 3463"
then = { add_remediation = ["no-such-fix"] }

[[rule]]
id = "fourth"
description = "follows a rule that does not exist"
reference = "RFC 3463"
when.after = ["pack-5-7-999/missing"]
then = { role = "sender" }
""")
    result = run("packs", "check", new_pack)
    assert result.exit_code == 1
    problems = [line for line in result.output.splitlines() if line.startswith(str(path))]
    assert len(problems) == 5, result.output
    expected = [("by-code", "then.cause", "no [cause.unexplaind]"),
                ("by-code", "reference", "must be a URL or an RFC number"),
                ("second", "then.status", "only packs of stage 'infer'"),
                ("third", "then.add_remediation", "no [remediation.no-such-fix]"),
                ("fourth", "when.after", "no rule missing")]
    for (rule, field, what), problem in zip(expected, problems):
        assert re.match(rf"{re.escape(str(path))}:[0-9]+: rule {rule}: {re.escape(field)}: ", problem), problem
        assert what in problem


def test_five_schema_mistakes_give_five_precise_problems(run, new_pack):
    path = _edit(new_pack,
                 ('when.status = ["5.7.999"]', 'when.status = ["5.7.9999"]'),
                 ('salience = 80', 'salience = 180'),
                 ('reason = "rejected"', 'reason = "nosuchreason"'),
                 ('id = "by-code"', 'id = "by-code"\nwhen.colour = ["red"]'),
                 append="""
[[rule]]
id = "no-description"
reference = "RFC 3463"
then = { role = "sender" }
""")
    result = run("packs", "check", new_pack)
    assert result.exit_code == 1
    problems = [line for line in result.output.splitlines() if line.startswith(str(path))]
    assert len(problems) == 5, result.output
    text = (new_pack / "pack.toml").read_text().splitlines()
    for rule, field, line_holds in [("by-code", "salience", "salience = 180"),
                                    ("by-code", "when.status", "5.7.9999"),
                                    ("by-code", "when.colour", "when.colour"),
                                    ("by-code", "then.reason", "nosuchreason"),
                                    ("no-description", "description", 'id = "no-description"')]:
        problem = next(p for p in problems if f": rule {rule}: {field}: " in p)
        line = int(problem[len(str(path)) + 1:].split(":")[0])
        assert line_holds in text[line - 1] or (field == "description" and text[line - 1] == "[[rule]]"), problem


def test_packs_test_reports_differences_and_fails(run, new_pack):
    _edit(new_pack, ('role = "sender_admin", cause = "unexplained", rules',
                     'role = "sender", cause = "unexplained", rules'))
    result = run("packs", "test", new_pack)
    assert result.exit_code == 1
    assert "FAIL  pack-5-7-999  examples/5.7.999.eml" in result.output
    assert "role: expected 'sender', got 'sender_admin'" in result.output


def test_packs_list_text_and_json(run, tmp_path):
    site = write_pack(tmp_path, "site", HELPDESK)
    text = run("packs", "list", "--pack", site)
    assert text.exit_code == 0
    assert re.search(r"^exo-sender-auth 1\.0\.0  \[knowledge, diagnose\]  [0-9]+ rules  \(builtin\)$",
                     text.output, re.M)
    assert "dispatch: with exo-sender-auth" in text.output
    rows = {r["id"]: r for r in json.loads(run("packs", "list", "--json", "--pack", site).output)}
    assert rows["acme-helpdesk"]["origin"] == f"--pack {site}"
    assert rows["acme-helpdesk"]["depends_on"] == ["exo-sender-auth"]
    assert rows["rfc3463"]["dispatch"] == ["always"] and rows["exo-sender-auth"]["codes"][0] == "5.7.12"


def test_every_builtin_pack_example_passes(run):
    result = run("packs", "test")
    assert result.exit_code == 0, result.output
    assert re.search(r"^([0-9]+) examples: \1 passed, 0 failed", result.output, re.M)
    assert "FAIL" not in result.output
    one = run("packs", "test", "exo-sender-auth")
    assert one.exit_code == 0 and "PASS  exo-sender-auth" in one.output and "PASS  rfc3463" not in one.output


def test_packs_test_unknown_pack_is_an_error(run):
    result = run("packs", "test", "no-such-pack")
    assert result.exit_code == 1 and "no such pack id or pack folder" in result.output


def test_incompatible_pack_is_refused_by_check(run, new_pack):
    _edit(new_pack, ('requires = ">=0.1"', 'requires = ">=3,<4"'))
    result = run("packs", "check", new_pack)
    assert result.exit_code == 1
    assert "pack pack-5-7-999 0.1.0 requires ndrkb >=3,<4, but this is ndrkb 0.1.0" in result.output


@pytest.mark.parametrize("how", ["--pack", "NDRKB_PACKS"])
def test_site_override_through_option_or_environment(run, tmp_path, how):
    site = write_pack(tmp_path / "packs", "site", HELPDESK)
    bounce = tmp_path / "line.txt"
    bounce.write_text(LINE_5_7_12)
    args, env = ((["--pack", site], None) if how == "--pack" else ([], {"NDRKB_PACKS": str(site.parent)}))
    report = run("diagnose", bounce, *args, env=env)
    trace = run("explain", bounce, *args, env=env)
    data = json.loads(run("diagnose", "--json", bounce, *args, env=env).output)
    assert report.exit_code == 0
    assert "Open a ticket at helpdesk.acme.example (added by acme-helpdesk/ticket)" in report.output
    assert "acme-helpdesk/ticket -> add_remediation" in report.output
    assert "[diagnose] acme-helpdesk/ticket  (pack acme-helpdesk, salience 950)" in trace.output
    assert "matched:   after=['exo-sender-auth/org-by-code']" in trace.output
    (r,) = data["recipients"]
    assert r["remediation"][-1]["id"] == "acme-helpdesk/open-ticket"
    assert r["remediation"][-1]["added_by"] == "acme-helpdesk/ticket"


def test_broken_installed_pack_makes_commands_fail_clearly(run, tmp_path):
    broken = write_pack(tmp_path, "broken", '[pack]\nid = "broken"\n')
    bounce = tmp_path / "line.txt"
    bounce.write_text(LINE_5_7_12)
    result = run("diagnose", "--pack", broken, bounce)
    assert result.exit_code == 1
    assert "cannot load packs" in result.output and "pack broken: title: Field required" in result.output


def test_packs_reasons_lists_every_reason_and_where_it_is_decided(run, tmp_path):
    """A site pack's rule concluding a reason shows up first under it (site layer wins)."""
    write_pack(tmp_path, "site-full", """\
        [pack]
        id = "site-full"
        title = "Site"
        version = "1.0"
        layer = "site"
        codes = ["5.2.2"]

        [[rule]]
        id = "our-quota"
        description = "our gateway's own quota words"
        reference = "https://example.org/our-gateway"
        when.text = ["cubby is stuffed"]
        then = { reason = "mailboxfull" }
        """)
    result = run("packs", "reasons", "--json", "--pack", tmp_path / "site-full")
    assert result.exit_code == 0, result.output
    listed = json.loads(result.output)
    from ndrkb.vocabulary import REASONS
    assert [r["reason"] for r in listed] == list(REASONS)
    full = next(r for r in listed if r["reason"] == "mailboxfull")
    assert full["rules"][0] == {"salience": 950, "stage": "diagnose", "step": "", "rule": "site-full/our-quota"}
    assert any(s["rule"] == "core-reasons/mailboxfull-status" and s["step"] == "context" for s in full["rules"])
    saliences = [s["salience"] for s in full["rules"]]
    assert saliences == sorted(saliences, reverse=True)
    text = run("packs", "reasons").output
    assert "userunknown: " in text and "reason/context  core-reasons/userunknown-at-rcpt" in text
