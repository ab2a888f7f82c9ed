"""The PowerShell check: tokenizer, parser, the cmdlet table, every shipped line, and ``packs check``."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ndrkb.cli import main
from ndrkb.rules.lint import lint_pack
from ndrkb.rules.loading import read_packs
from ndrkb.rules.powershell import check_line, cmdlet_table, parse, tokenize

from .conftest import SHARED


def _kinds(line: str) -> list[tuple[str, str]]:
    return [(t.kind, t.text) for t in tokenize(line)]


def test_tokenizer_reads_the_subset():
    assert _kinds('Set-Mailbox -Identity <sender address> -AcceptMessagesOnlyFrom @{Add="a b";Remove=\'c\'}') == [
        ("word", "Set-Mailbox"), ("param", "Identity"), ("word", "<sender address>"),
        ("param", "AcceptMessagesOnlyFrom"), ("hash", '@{Add="a b";Remove=\'c\'}')]
    assert tokenize('@{Add="x"; Remove="y"}')[0].keys == ("Add", "Remove")
    assert _kinds('Get-InboxRule -Mailbox <r> | Where-Object {$_.ForwardTo -or "}"} | Format-List Name,ForwardTo') == [
        ("word", "Get-InboxRule"), ("param", "Mailbox"), ("word", "<r>"), ("pipe", "|"), ("word", "Where-Object"),
        ("block", '{$_.ForwardTo -or "}"}'), ("pipe", "|"), ("word", "Format-List"), ("word", "Name"),
        ("comma", ","), ("word", "ForwardTo")]
    assert _kinds('X -A:$false "it""s" \'it\'\'s\' "a`"b"') == [
        ("word", "X"), ("param", "A"), ("var", "$false"), ("string", '"it""s"'), ("string", "'it''s'"),
        ("string", '"a`"b"')]


def test_parser_binds_values_arrays_and_switches():
    (cmd,) = parse('Set-X -List "a","b" -Flag -One $null Positional', switches={"set-x": {"flag"}})
    assert [(a.name, a.value if a.value is None or not isinstance(a.value, tuple) else len(a.value))
            for a in cmd.arguments][:2] == [("List", 2), ("Flag", None)]
    assert cmd.arguments[2].value.text == "$null" and cmd.positional[0].text == "Positional"
    assert [c.name for c in parse("Get-A | Format-List X; Get-B")] == ["Get-A", "Format-List", "Get-B"]


@pytest.mark.parametrize("line, fragment", [
    ('Set-Mailbox -Identity "open', "unterminated string"),
    ("Set-Mailbox (Get-Mailbox x)", "sub-expressions"),
    ("Get-Mailbox |", "ends with a pipe"),
    ("Set-Mailbox -EmailAddresses @{Add=}", "cannot read the hashtable"),
    ("Set-Mailbox -Identity <open", "unclosed '<'"),
    ("Set-Mailbox -EmailAddresses " + "@{Add=" * 5000 + "1" + "}" * 5000, "cannot read the hashtable"),
    ("Set-Mailbox -Identity: x", "without a value"),
])
def test_lines_outside_the_subset_are_findings_not_tracebacks(line, fragment):
    _, findings = check_line(line)
    assert findings and findings[0].severity == "error" and fragment in findings[0].message


def test_check_line_knows_cmdlets_parameters_and_list_forms():
    def errors(line: str, context: str = "") -> list[str]:
        return [f.message for f in check_line(line, context)[1] if f.severity == "error"]

    assert errors("Set-Mailbox -Identity <r> -AcceptMessagesOnlyFrom @{Add=\"<s>\"}") == []
    assert errors("Set-Mailbox -Identity <r> -MadeUpParameter 1") == ["Set-Mailbox: no parameter -MadeUpParameter"]
    assert "a plain value replaces" in errors('Set-UnifiedGroup -Identity g -AcceptMessagesOnlyFromSendersOrMembers "a","b"')[0]
    # the same line passes when the remediation says in words that it replaces the list
    assert errors('Set-UnifiedGroup -Identity g -AcceptMessagesOnlyFromSendersOrMembers "a","b"',
                  "AcceptMessagesOnlyFromSendersOrMembers replaces the whole list: include every current entry.") == []
    assert "no @{Add=...}" in errors('Set-UnifiedGroup -Identity g -AcceptMessagesOnlyFromSendersOrMembers @{Add="a"}')[0]
    assert "takes one value" in errors('Set-Mailbox -Identity a,b')[0]
    assert "not available in Exchange Online" in errors("Set-ReceiveConnector -Identity x -MaxMessageSize 1MB")[0]
    assert errors("Set-ReceiveConnector -Identity x -MaxMessageSize 1MB", "On-premises Exchange Server only.") == []
    assert errors("Get-MessageTrace") == ["Get-MessageTrace: replaced by Get-MessageTraceV2"]
    assert [f.severity for f in check_line("Get-Frobnicator -X 1")[1]] == ["warning"]
    assert check_line("Resolve-DnsName -Type MX example.org | Format-List")[1] == []


def test_the_shipped_table_is_the_shared_reference():
    shared = SHARED / "reference" / "exo-cmdlets.json"
    if not shared.is_file():
        pytest.skip("../shared/reference/exo-cmdlets.json is not present on this machine")
    assert cmdlet_table() == json.loads(shared.read_text(encoding="utf-8"))


def test_every_shipped_powershell_line_passes():
    packs = read_packs()
    lines = [line for p in packs for rem in p.spec.remediation.values() for line in rem.powershell + rem.check]
    assert len(lines) > 130
    assert [m for p in packs for sev, m in lint_pack(p) if ": remediation " in m] == []


def test_shipped_rules_are_dispatchable_and_cite_urls():
    findings = [m for p in read_packs() for sev, m in lint_pack(p)]
    assert findings == []


# ---------------------------------------------------------------- packs check on third-party packs

PACK = '''\
[pack]
id = "acme-ps"
title = "ACME PowerShell"
version = "1.0.0"
codes = ["5.7.998"]

[[rule]]
id = "r"
description = "5.7.998 at ACME"
reference = "https://acme.example/5.7.998"
when.status = ["5.7.998"]
then = {{ role = "recipient_admin", cause = "c" }}

[cause.c]
summary = "s"
remediation = ["fix-it"]

[remediation.fix-it]
title = "Fix it"
actor = "recipient_admin"
check = ["Get-Mailbox -Identity <recipient> | Format-List AcceptMessagesOnlyFrom"]
affects = "Every sender of this mailbox."
powershell = ["{line}"]
'''


def _check(tmp_path: Path, line: str):
    folder = tmp_path / "acme-ps"
    folder.mkdir()
    (folder / "pack.toml").write_text(PACK.format(line=line.replace('"', '\\"')))
    return CliRunner().invoke(main, ["packs", "check", str(folder)], catch_exceptions=False)


def test_packs_check_fails_on_a_made_up_parameter(tmp_path):
    result = _check(tmp_path, "Set-Mailbox -Identity <recipient> -AcceptEverything $true")
    assert result.exit_code == 1
    assert "pack acme-ps: remediation fix-it: powershell: Set-Mailbox: no parameter -AcceptEverything" in result.output
    assert "pack.toml:23:" in result.output


def test_packs_check_fails_on_a_list_that_overwrites(tmp_path):
    result = _check(tmp_path, 'Set-DistributionGroup -Identity <recipient> -AcceptMessagesOnlyFrom "a","b"')
    assert result.exit_code == 1
    assert ("pack acme-ps: remediation fix-it: powershell: Set-DistributionGroup -AcceptMessagesOnlyFrom: "
            "a plain value replaces the whole multi-valued list") in result.output


def test_packs_check_warns_on_an_unknown_cmdlet_and_passes(tmp_path):
    result = _check(tmp_path, "Set-AcmeGateway -Partner <sender>")
    assert result.exit_code == 0, result.output
    assert "warning: " in result.output and "Set-AcmeGateway: not in the Exchange cmdlet table" in result.output
