"""``ndrkb report``: batch records (JSON Lines) in, one self-contained HTML report out."""
from __future__ import annotations

import sys
from typing import Any

import click

from ..errors import InputError
from ..output.terminal import echo


@click.command()
@click.argument("records", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), required=True,
              help="The HTML file to write.")
@click.option("--title", default="ndrkb report", show_default=True, help="Title of the report.")
def report(records: str, output: str, title: str) -> None:
    """Write an HTML report of RECORDS (JSON Lines from `ndrkb classify`; - for stdin): charts by
    who must act, reason, status, recipient domain and cause; a sortable table; the error records."""
    html_report = load()
    try:
        fh = sys.stdin if records == "-" else open(records, encoding="utf-8", errors="replace")
    except OSError as exc:
        raise click.ClickException(f"cannot read {records}: {exc.strerror or exc}") from None
    try:
        with fh:
            summary = html_report.summarize(html_report.read_records(fh, records))
    except InputError as exc:
        raise click.ClickException(str(exc)) from None
    write(summary, output, title)


def load() -> Any:
    """The report module, or a clear error when the web extra is not installed."""
    try:
        from ..output import html_report
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise click.ClickException(f"ndrkb report needs the web extra (pip install 'ndrkb[web]'): {exc}") from None
    return html_report


def write(summary: Any, output: str, title: str = "ndrkb report") -> None:
    """Write the report of ``summary`` to ``output`` and say so on stderr."""
    html = load().render_html(summary, title)
    try:
        with open(output, "w", encoding="utf-8") as out:
            out.write(html)
    except OSError as exc:
        raise click.ClickException(f"cannot write {output}: {exc.strerror or exc}") from None
    echo(f"{output}: report of {summary.records} records ({summary.errors} error records)", err=True)
