"""The command line: diagnose, explain, classify, schema; exit codes and clear errors."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from ndrkb.cli import main

#: The stable core of the batch record, in its order (docs/records.md).
CORE_FIELDS = ["source", "index", "recipient", "action", "status", "reply_code", "permanent", "hard_bounce",
               "reason", "role", "recipient_type", "cause", "causes", "rules", "error"]
LINE = "550 5.7.133 RESOLVER.RST.SenderNotAuthenticatedForGroup; authentication required"


@pytest.fixture()
def run():
    runner = CliRunner()

    def invoke(*args, input=None):
        return runner.invoke(main, list(args), input=input, catch_exceptions=False)

    return invoke


def test_diagnose_report_sections(run):
    res = run("diagnose", "-", input=LINE)
    assert res.exit_code == 0
    for heading in ("For the sender", "For the email admin", "Why (rules fired, in order)"):
        assert heading in res.output
    assert "Set-DistributionGroup -Identity <recipient> -RequireSenderAuthenticationEnabled $false" in res.output
    assert "exo-sender-auth/group-by-token" in res.output


def test_diagnose_json_is_a_diagnosis(run):
    res = run("diagnose", "--json", "-", input=LINE)
    data = json.loads(res.output)
    assert data["recipients"][0]["role"] == "recipient_admin"
    assert data["recipients"][0]["explanation"][0]["reference"].startswith("https://")


def test_explain_prints_each_rule_with_matches_and_source(run):
    res = run("explain", "-", input=LINE)
    assert res.exit_code == 0
    assert "matched:" in res.output and "source:" in res.output
    assert "token = 'RESOLVER.RST.SenderNotAuthenticatedForGroup'" in res.output


@pytest.mark.parametrize("data", [b"", b"\x00\x01\x02binary" * 50,
                                  b"From: a@b.example\nTo: c@d.example\nSubject: hi\n\nJust saying hello.\n"])
def test_bad_input_exits_1_without_traceback(run, data, tmp_path):
    path = tmp_path / "in.eml"
    path.write_bytes(data)
    res = run("diagnose", str(path))
    assert res.exit_code == 1
    assert "Could not diagnose" in res.output and "Traceback" not in res.output


def test_missing_file_is_a_clear_error(run):
    res = run("diagnose", "/nonexistent/x.eml")
    assert res.exit_code == 1 and "no such file" in res.output


def test_classify_writes_records_and_error_records(run, tmp_path):
    (tmp_path / "a.txt").write_text(LINE + "\n")
    (tmp_path / "b.eml").write_bytes(b"")
    res = run("classify", str(tmp_path))
    lines = [json.loads(x) for x in res.stdout.splitlines()]
    assert [r["source"].rsplit("/", 1)[-1] for r in lines] == ["a.txt", "b.eml"]
    assert lines[0]["status"] == "5.7.133" and lines[0]["error"] is None
    assert lines[1]["error"] and lines[1]["status"] is None
    assert list(lines[0])[:15] == CORE_FIELDS  # the stable core first, in its order; new fields after it
    assert "language" in lines[0]


def test_classify_csv_has_the_same_columns(run, tmp_path):
    (tmp_path / "a.txt").write_text(LINE + "\n")
    res = run("classify", "--format", "csv", str(tmp_path))
    header = res.stdout.splitlines()[0].split(",")
    assert header[:15] == CORE_FIELDS and header[-2:] == ["language", "cuts"]


def test_schema_commands(run):
    for which in ("diagnosis", "record", "pack"):
        assert "properties" in json.loads(run("schema", which).output)


def test_classify_writes_through_the_writer_registry(monkeypatch, tmp_path):
    """Output formats have one seam: --format offers every writer of ndrkb.output.writers, and
    classify writes through the one registered under the chosen name."""
    from ndrkb.cli.main import classify
    from ndrkb.output import writers

    choice = next(p for p in classify.params if p.name == "fmt").type
    assert list(choice.choices) == list(writers.WRITERS)

    class Tsv:
        """TSV: tab-separated record values."""

        def __init__(self, fh):
            self.fh = fh

        def write(self, row):
            self.fh.write("\t".join("" if v is None else str(v) for v in row) + "\n")

    monkeypatch.setitem(writers.WRITERS, "csv", Tsv)
    line = tmp_path / "line.txt"
    line.write_text(LINE)
    res = CliRunner().invoke(main, ["classify", "--format", "csv", "--workers", "1", str(line)])
    assert res.exit_code == 0, res.output
    assert res.stdout.split("\t")[3:5] == ["failed", "5.7.133"]


def test_verbose_shows_the_exception_behind_an_error_diagnosis(monkeypatch):
    """-v logs, at debug level, what a boundary turned into an error record."""
    import ndrkb.diagnoser

    def broken(parts):
        raise RuntimeError("boom in the reader")

    monkeypatch.setattr(ndrkb.diagnoser, "extract", broken)
    quiet = CliRunner().invoke(main, ["diagnose", "-"], input=LINE)
    loud = CliRunner().invoke(main, ["-v", "diagnose", "-"], input=LINE)
    assert quiet.exit_code == loud.exit_code == 1
    assert "RuntimeError: boom in the reader" in quiet.output
    assert "Traceback" not in quiet.output and "Traceback" in loud.output
