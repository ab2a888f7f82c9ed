"""The ``ndrkb`` command line (click).

Exit status: 0 success; 1 nothing could be diagnosed, or a pack or runtime error;
2 usage error.  Errors are printed as ``Error: ...`` without a traceback.
"""
from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Optional

import click

from . import __version__
from .errors import NdrkbError, PackError

pack_option = click.option("--pack", "packs", multiple=True, type=click.Path(exists=True, path_type=Path),
                           help="Extra pack folder (or folder of packs); repeatable. Also: NDRKB_PACKS.")


def _diagnoser(packs: tuple[Path, ...]):  # type: ignore[no-untyped-def]
    from . import default_diagnoser
    from .diagnosis import Diagnoser

    try:
        return Diagnoser(extra_packs=packs) if packs else default_diagnoser()
    except PackError as exc:
        raise click.ClickException("cannot load packs:\n  " + "\n  ".join(exc.problems)) from None


def _read_one(path: str, packs: tuple[Path, ...]):  # type: ignore[no-untyped-def]
    from .intake import from_bytes, read_source
    from .limits import MAX_MESSAGE_BYTES
    from .models import Diagnosis

    diagnoser = _diagnoser(packs)
    try:
        if path == "-":
            msg = from_bytes(sys.stdin.buffer.read(MAX_MESSAGE_BYTES + 1))
        else:
            if not Path(path).is_file():
                raise click.ClickException(f"no such file: {path}")
            msg = read_source(Path(path))
    except NdrkbError as exc:
        return Diagnosis(source=path, error=str(exc))
    return diagnoser.diagnose_message(msg, source=path)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ndrkb")
def main() -> None:
    """ndrkb: diagnose email bounces (NDRs): what happened, who must act, why, and how to fix it."""


@main.command()
@click.argument("path")
@click.option("--json", "as_json", is_flag=True, help="Print the full diagnosis as JSON.")
@pack_option
def diagnose(path: str, as_json: bool, packs: tuple[Path, ...]) -> None:
    """Diagnose one bounce: an .eml, pasted NDR text or one SMTP reply line (PATH, or - for stdin)."""
    from .report import render_report

    d = _read_one(path, packs)
    click.echo(d.model_dump_json(indent=2) if as_json else render_report(d), nl=as_json)
    if not d.ok:
        sys.exit(1)


@main.command()
@click.argument("path")
@pack_option
def explain(path: str, packs: tuple[Path, ...]) -> None:
    """Print the full explanation: facts read and every rule fired, with matches and sources."""
    from .report import render_trace

    d = _read_one(path, packs)
    click.echo(render_trace(d), nl=False)
    if not d.ok:
        sys.exit(1)


@main.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True,
              help="Output format: JSON Lines or CSV (same columns).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write records here instead of stdout.")
@pack_option
def classify(paths: tuple[str, ...], fmt: str, output: Optional[str], packs: tuple[Path, ...]) -> None:
    """Classify bounces in files, folders (recursive), mboxes and Maildirs (- for stdin).

    Writes one DESIGN batch record per recipient per message; a message that cannot be
    read becomes an error record, and the run goes on.
    """
    from .batch import classify_records
    from .models import RECORD_FIELDS

    diagnoser = _diagnoser(packs)
    fh = open(output, "w", encoding="utf-8", newline="") if output else sys.stdout
    try:
        writer = csv.DictWriter(fh, fieldnames=list(RECORD_FIELDS)) if fmt == "csv" else None
        if writer:
            writer.writeheader()
        for rec in classify_records(paths, diagnoser=diagnoser):
            row = rec.model_dump()
            if writer:
                writer.writerow({k: (";".join(v) if isinstance(v, list) else v) for k, v in row.items()})
            else:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    finally:
        if output:
            fh.close()


@main.command()
@click.argument("which", type=click.Choice(["diagnosis", "record", "pack"]), default="diagnosis")
def schema(which: str) -> None:
    """Print a JSON Schema: the diagnosis, the batch record, or the pack format."""
    from .models import BatchRecord, Diagnosis
    from .packs import pack_json_schema

    doc = {"diagnosis": Diagnosis.model_json_schema, "record": BatchRecord.model_json_schema,
           "pack": pack_json_schema}[which]()
    click.echo(json.dumps(doc, indent=2, sort_keys=True))
