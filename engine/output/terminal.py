"""Text bound for a terminal: control characters a stranger put in a message (ESC sequences
that set the window title, clear the screen or erase lines; C1 controls) are shown as
``\\u00XX`` escapes instead of acting. Inside a JSON string that is the same character."""
from __future__ import annotations

import re
import sys
from typing import Optional, TextIO

import click

_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def terminal_safe(text: str) -> str:
    """``text`` with every control character but tab and newline escaped as ``\\u00XX``."""
    return _CONTROLS.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def for_stream(text: str, stream: Optional[TextIO]) -> str:
    """``text`` made :func:`terminal_safe` when ``stream`` is a terminal, else unchanged."""
    try:
        tty = stream is not None and stream.isatty()
    except (ValueError, OSError):  # a closed stream
        tty = False
    return terminal_safe(text) if tty else text


def echo(text: str, err: bool = False) -> None:
    """``click.echo`` for text that may hold a stranger's characters (file names, pack or
    message text): escaped when the stream it goes to is a terminal."""
    click.echo(for_stream(text, sys.stderr if err else sys.stdout), err=err)


class TerminalSafeGroup(click.Group):
    """A command group whose error messages cannot drive the terminal: they often quote a
    file name or a message's text."""

    def invoke(self, ctx: click.Context):  # type: ignore[no-untyped-def]
        try:
            return super().invoke(ctx)
        except click.ClickException as exc:
            exc.message = for_stream(exc.message, sys.stderr)
            raise
