"""The ``ndrkb`` command line (click).

Exit status: 0 success; 1 nothing could be diagnosed, or a pack or runtime error;
2 usage error.  Errors are printed as ``Error: ...`` without a traceback.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Callable, Iterator, Optional

import click

from .. import __version__
from ..output.terminal import TerminalSafeGroup, echo
from ..vocabulary import RECIPIENT_TYPES
from . import report
from .serve import serve
from .options import (format_option, input_format_option, load_diagnoser, output_option, pack_option,
                      verbose_option)


def _diagnoses(path: str, packs: tuple[Path, ...], recipient_type: Optional[str] = None,
               input_format: str = "auto") -> Iterator:
    """The diagnosis of every message in PATH (a file, an mbox, a Maildir, or - for stdin), in order."""
    from ..intake.containers import iter_units, unit_source
    from ..models import Diagnosis

    if path != "-":
        if not os.path.exists(path):
            raise click.ClickException(f"no such file or folder: {path}")
        if os.path.isdir(path) and not _is_maildir(path):
            raise click.ClickException(f"{path} is a folder: diagnose reads one file, mbox or Maildir. "
                                       f"For every bounce in the folder run: ndrkb classify {path}")
    diagnoser = load_diagnoser(packs)
    empty: list[str] = []  # PATH itself cannot be read, or holds no message: a one-line error
    for unit in iter_units([path], empty=empty.append):
        if unit.error is not None and unit.error in empty:
            raise click.ClickException(unit.error)
        if unit.error is not None:
            yield Diagnosis(source=unit.source, index=unit.index, **unit.place(), error=unit.error)
        else:
            source = unit_source(unit)
            yield diagnoser.diagnose(source, name=unit.source, index=unit.index, recipient_type=recipient_type,
                                     place=unit.place(), input_format=input_format)
    if empty:
        raise click.ClickException(empty[0])


def _is_maildir(path: str) -> bool:
    from ..intake.sniff import is_maildir

    return is_maildir(Path(path))


def _each(path: str, packs: tuple[Path, ...], render: Callable, recipient_type: Optional[str] = None,
          input_format: str = "auto") -> None:
    """Print ``render(diagnosis, total)`` for every message of PATH; exit 1 when none was diagnosed."""
    from ..intake.containers import count_messages

    total = count_messages([path])
    ok = False
    for d in _diagnoses(path, packs, recipient_type, input_format):
        _emit(render(d, total))
        ok = ok or d.ok
    if not ok:
        sys.exit(1)


DIAGNOSE_EXIT = """\b
Exit status:
  0  at least one recipient was diagnosed
  1  nothing could be diagnosed (empty input, not a bounce, unreadable,
     a folder or a missing path, broken pack)
  2  usage error"""


def _emit(text: str) -> None:
    """Print a result on standard output; a closed or full one is a one-line error."""
    try:
        if sys.stdout is None:
            raise OSError(9, "Bad file descriptor")
        if sys.stdout.isatty():
            from ..output.terminal import terminal_safe

            text = terminal_safe(text)
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    except OSError as exc:
        raise click.ClickException(f"cannot write standard output: {exc.strerror or exc}") from None


@click.group(cls=TerminalSafeGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ndrkb")
@verbose_option
def main() -> None:
    """ndrkb: diagnose email bounces (NDRs): what happened, who must act, why, and how to fix it."""


@main.command(epilog=DIAGNOSE_EXIT)
@click.argument("path")
@click.option("--json", "as_json", is_flag=True,
              help="Print each message's full diagnosis as JSON, one per line (JSON Lines; one line for a "
                   "single message).")
@click.option("--recipient-type", type=click.Choice(RECIPIENT_TYPES), default=None,
              help="The kind of recipient, when you know it and the NDR does not say: "
                   "only the remediation for that type is shown.")
@click.option("--steps", is_flag=True,
              help="Show the admin-center steps and notes of every fix (shown anyway when the fixes do not "
                   "depend on the recipient's type).")
@input_format_option
@pack_option
def diagnose(path: str, as_json: bool, recipient_type: Optional[str], steps: bool, input_format: str,
             packs: tuple[Path, ...]) -> None:
    """Diagnose a bounce: an .eml, pasted NDR text, one SMTP reply line, MTA log lines, a
    message-trace export or Get-MessageTraceDetail text (PATH, or - for stdin).

    An mbox or a Maildir gives every message's diagnosis, each headed by its place.
    """
    from ..output.report import render_report, terminal_width

    width = terminal_width()
    _each(path, packs, lambda d, total: d.model_dump_json() + "\n" if as_json
          else render_report(d, total=total, width=width, steps=steps or None), recipient_type, input_format)


@main.command(epilog=DIAGNOSE_EXIT)
@click.argument("path")
@input_format_option
@pack_option
def explain(path: str, input_format: str, packs: tuple[Path, ...]) -> None:
    """Print the full explanation: facts read and every rule fired, with matches and sources.

    An mbox or a Maildir gives every message's explanation, each headed by its place.
    """
    from ..output.report import render_trace, terminal_width

    width = terminal_width()
    _each(path, packs, lambda d, total: render_trace(d, total=total, width=width), input_format=input_format)


@main.command(epilog="""\b
Exit status:
  0  the run completed and at least one message was diagnosed
     (messages that could not be read are error records in the output)
  1  no message could be diagnosed (every record is an error record, or no
     input was found), or packs or the output could not be used
  2  usage error
  130, 143  interrupted by SIGINT, SIGTERM: the output holds the whole records
     of the messages done (stderr says how many); --resume finishes the run""")
@click.argument("paths", nargs=-1, required=True)
@format_option
@output_option
@click.option("--workers", "-j", type=click.IntRange(min=1), default=None,
              help="Worker processes (default: the machine's cores; 1 = in this process).")
@click.option("--progress/--quiet", "progress", default=None,
              help="Force the progress bar and the closing summary by role, reason and status on stderr, "
                   "or silence them (default: shown when stderr is a terminal; otherwise a one-line "
                   "summary). Inputs that hold no message are named on stderr in any case.")
@click.option("--no-memo", is_flag=True, help="Turn inference memoization off (for measurement).")
@click.option("--resume", is_flag=True,
              help="Finish an interrupted run: keep the whole messages already in --output (but its last, "
                   "which is written again) and go on after them, with the same inputs.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Also write an HTML report of the records here (as `ndrkb report` does).")
@input_format_option
@pack_option
def classify(paths: tuple[str, ...], fmt: str, output: Optional[str], workers: Optional[int],
             progress: Optional[bool], no_memo: bool, resume: bool, report_path: Optional[str], input_format: str,
             packs: tuple[Path, ...]) -> None:
    """Classify bounces in files, folders (recursive), mboxes and Maildirs (- for stdin),
    and MTA logs and message traces (one record per failed or deferred recipient).

    Folders are walked in name order; there, documentation and data files (.md, .rst,
    .json, .jsonl, .csv, .toml, .yaml, .yml, .py) are skipped, except a .csv whose header
    is a message-trace export or tracking log. Writes one batch record
    per recipient per message, in input order; a message that cannot be read (or breaks a parser, exceeds the time bound, or kills a worker)
    becomes an error record naming the cause, and the run goes on. So do named pipes,
    devices and folders that cannot be read: nothing is skipped without a record. The
    output file is never one of the inputs; inside a folder walked, it is not read.
    """
    import signal
    import time
    from collections import Counter

    from ..intake.containers import count_messages
    from ..models import RECORD_FIELDS
    from ..run.batch import classify_rows
    from .records import RecordWriter

    if resume and not output:
        raise click.UsageError("--resume needs --output FILE (the output of the interrupted run)")
    skip = _output_identity(output, paths, resume)
    summary = report.load().Summary() if report_path else None
    diagnoser = load_diagnoser(packs, memoize=not no_memo)
    writer = RecordWriter(output, fmt, resume)
    skip |= _output_identity(output, paths, True)  # the file now exists: a folder walk passes it over
    show = (sys.stderr is not None and sys.stderr.isatty()) if progress is None else progress
    bar = None
    if show:
        from tqdm import tqdm

        tqdm.monitor_interval = 0  # no monitor thread: workers are forked
        total = count_messages(paths, skip)
        bar = tqdm(total=None if total is None else max(total - writer.done, 0), unit="msg", file=sys.stderr,
                   dynamic_ncols=True, smoothing=0.1, mininterval=0.25)
    tally: dict[str, Counter] = {"role": Counter(), "reason": Counter(), "status": Counter()}
    column = {name: RECORD_FIELDS.index(name) for name in (*tally, "error", "source", "index")}
    messages = diagnosed = records = errors = 0
    started = time.monotonic()
    stream = classify_rows(paths, diagnoser, workers=workers or _cores(), skip=skip, start=writer.done,
                           empty=lambda problem: echo(f"Warning: {problem}", err=True),
                           input_format=input_format)
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        for rows in stream:
            if messages == 0 and writer.next_key is not None and \
                    (rows[0][column["source"]], str(rows[0][column["index"]])) != writer.next_key:
                raise click.ClickException(f"cannot resume: the inputs differ from the interrupted run's "
                                           f"({output} goes on with {writer.next_key[0]} #{writer.next_key[1]})")
            writer.write(rows)
            messages += 1
            diagnosed += any(row[column["error"]] is None for row in rows)
            for row in rows:
                records += 1
                ok = row[column["error"]] is None
                errors += not ok
                for name, counter in tally.items():
                    counter[row[column[name]] or "-"] += ok
                if summary is not None:
                    summary.add(dict(zip(RECORD_FIELDS, row)))
            if bar is not None:
                bar.update()
        writer.close()
    except BrokenPipeError:  # the reader went away (| head): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    except (KeyboardInterrupt, _Terminated) as exc:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second signal does not cut the cleanup short
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stream.close()  # the workers are stopped
        writer.abandon()
        if bar is not None:
            bar.close()
        signum = signal.SIGTERM if isinstance(exc, _Terminated) else signal.SIGINT
        again = f"; `--resume -o {output}` finishes it" if output else ""
        echo(f"ndrkb: interrupted by {signum.name} after {writer.done + messages} messages: the output "
                   f"holds their records, whole{again}", err=True)
        sys.exit(128 + signum)
    finally:
        stream.close()
        signal.signal(signal.SIGTERM, previous)
        if bar is not None:
            bar.close()
    if summary is not None:
        report.write(summary, report_path)
    if progress is not False:
        _summary(messages, diagnosed, records, errors, tally if show else {}, time.monotonic() - started)
    if not diagnosed and not writer.done:
        sys.exit(1)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


class _Terminated(Exception):
    """SIGTERM, raised where the run is so that it stops as on SIGINT."""


def _terminate(signum: int, frame: object) -> None:
    raise _Terminated()


def _output_identity(output: Optional[str], paths: tuple[str, ...], resume: bool = False) -> set:
    """The output file's identity, for a folder walk to pass it over. An existing output
    that is an input, or that a folder walk would read, is refused: it would be emptied
    before it is read (unless resuming: then it is this run's own output)."""
    from ..intake.containers import NOT_MESSAGES

    try:
        st = os.stat(output) if output else None
    except OSError:
        return set()
    if st is None:
        return set()
    for src in paths:
        if resume or src == "-":
            continue
        try:
            same = os.path.samefile(src, output)
            inside = os.path.isdir(src) and not output.lower().endswith(NOT_MESSAGES) and \
                os.path.realpath(output).startswith(os.path.join(os.path.realpath(src), ""))
        except (OSError, ValueError):
            same = inside = False
        if same or inside:
            raise click.UsageError(f"--output {output} is {'one of the inputs' if same else 'read by the walk of ' + src}"
                                   ": it would be emptied before it is read; write elsewhere")
    return {(st.st_dev, st.st_ino)}


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def _summary(messages: int, diagnosed: int, records: int, errors: int, tally: dict, seconds: float) -> None:
    """The closing summary of ``classify`` on stderr: one line, then the counts in ``tally``."""
    rate = messages / seconds if seconds > 0 else 0.0
    lines = [f"ndrkb classify: {_count(messages, 'message')} ({diagnosed} diagnosed), "
             f"{_count(records - errors, 'recipient')}, {_count(errors, 'error record')}; "
             f"{seconds:.1f} s, {rate:.0f} messages/s"]
    for name, counter in tally.items():
        top = sorted(((n, k) for k, n in counter.items() if n), key=lambda nk: (-nk[0], nk[1]))
        shown = ", ".join(f"{k} {n}" for n, k in top[:12]) + (f", {len(top) - 12} more" if len(top) > 12 else "")
        lines.append(f"  by {name}: {shown or '-'}")
    echo("\n".join(lines), err=True)


@main.command()
@click.argument("which", type=click.Choice(["diagnosis", "record", "pack"]), default="diagnosis")
def schema(which: str) -> None:
    """Print a JSON Schema: the diagnosis, the batch record, or the pack format."""
    from ..models import BatchRecord, Diagnosis
    from ..rules.schema import pack_json_schema

    doc = {"diagnosis": Diagnosis.model_json_schema, "record": BatchRecord.model_json_schema,
           "pack": pack_json_schema}[which]()
    echo(json.dumps(doc, indent=2, sort_keys=True))


from .packs import packs  # noqa: E402  (the `ndrkb packs` group)

main.add_command(packs)
main.add_command(serve)
main.add_command(report.report)
