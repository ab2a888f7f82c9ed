"""The HTML corpus report: aggregation, escaping, determinism, the CLI commands."""
from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

pytest.importorskip("matplotlib", reason="the web extra is not installed (pip install '.[web]')")
from ndrkb.cli import main  # noqa: E402
from ndrkb.output.html_report import domain_of, read_records, render_html, summarize  # noqa: E402

from .conftest import CORPUS  # noqa: E402


def rec(**fields):
    base = {"source": "a.eml", "index": 0, "recipient": "u@Example.COM", "status": "5.1.1", "reason": "userunknown",
            "role": "sender", "cause": "mta-common/unknown-user", "error": None}
    return {**base, **fields}


def test_counts_by_column_and_combination():
    s = summarize([rec(), rec(index=1), rec(recipient="v@other.org", role="recipient_admin", source="b.eml"),
                   rec(error="not a bounce", recipient=None, source="c.eml")])
    assert (s.records, s.errors, len(s.messages)) == (4, 1, 4)
    assert s.groups[("example.com", "5.1.1", "userunknown", "sender", "mta-common/unknown-user")] == 2
    assert s.groups[("other.org", "5.1.1", "userunknown", "recipient_admin", "mta-common/unknown-user")] == 1
    assert s.example[("example.com", "5.1.1", "userunknown", "sender", "mta-common/unknown-user")] == "a.eml"
    assert s.error_list == [("c.eml", "not a bounce")]


def test_groups_whose_labels_agree_are_merged_in_the_table():
    long = "x" * 300
    s = summarize([rec(cause=long + "a", source="b.eml"), rec(cause=long + "b", source="a.eml")])
    groups, example = s.table()
    assert list(groups.values()) == [2] and list(example.values()) == ["a.eml"]


def test_recipient_domains():
    assert domain_of("a@B.example>") == "b.example"
    assert domain_of(None) == "(not named)"
    assert domain_of("a@<script>x") == "(invalid)"


def test_markup_in_records_is_escaped_and_the_file_is_self_contained():
    bad = "<script>alert(1)</script>"
    html = render_html(summarize([rec(cause=bad, source=bad), rec(error=bad, source="x")]))
    assert "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert not re.search(r"<(script|link|img|iframe)\b[^>]*\b(src|href)=", html)  # nothing fetched
    assert html.count("<svg") == 5 and "<script" not in html.split("<h2 id=\"combinations\"")[0]


def test_the_same_records_give_the_same_bytes():
    records = [rec(), rec(recipient="x@y.org", status="5.7.1"), rec(error="bad")]
    assert render_html(summarize(records)) == render_html(summarize(records))


def test_a_line_that_is_not_a_record_is_a_clear_error(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps(rec()) + "\n{oops\n")
    res = CliRunner().invoke(main, ["report", str(path), "-o", str(tmp_path / "r.html")])
    assert res.exit_code == 1 and "line 2: not JSON" in res.output and "Traceback" not in res.output
    for line in ('{"a": 1}', json.dumps(rec(cause=["a", "list"])), "[1]"):
        with pytest.raises(Exception, match="line 1: not a batch record"):
            list(read_records([line]))


def test_classify_report_equals_report_of_its_records(tmp_path):
    runner = CliRunner()
    out, direct, later = tmp_path / "r.jsonl", tmp_path / "a.html", tmp_path / "b.html"
    res = runner.invoke(main, ["classify", str(CORPUS), "-j", "1", "-o", str(out), "--report", str(direct)])
    assert res.exit_code == 0, res.output
    res = runner.invoke(main, ["report", str(out), "-o", str(later)])
    assert res.exit_code == 0 and "error records" in res.output
    assert direct.read_bytes() == later.read_bytes()
    html = direct.read_text()
    assert "recipient_admin" in html and "not-bounces" in html
