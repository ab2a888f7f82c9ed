"""Options and loaders shared by the ``ndrkb`` commands: one definition each.

``--pack`` (with ``NDRKB_PACKS``), ``--format``, ``--output`` and ``-v``; and the loading of
packs or a diagnoser with their errors turned into one-line messages.
"""
from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Callable, TypeVar

import click

from ..errors import PackError
from ..output.writers import WRITERS
from ..rules.discovery import PackSources

F = TypeVar("F", bound=Callable)

pack_option = click.option(
    "--pack", "packs", multiple=True, type=click.Path(exists=True, path_type=Path),
    help="Extra pack folder (or folder of packs); repeatable. Also: NDRKB_PACKS.")

format_option = click.option(
    "--format", "fmt", type=click.Choice(list(WRITERS)), default=next(iter(WRITERS)), show_default=True,
    help="Output format: " + "; ".join(f"{name}: {cls.__doc__.splitlines()[0].rstrip('.')}"
                                       for name, cls in WRITERS.items()) + ".")

def _input_formats() -> dict[str, str]:
    from ..intake.message import INPUT_FORMATS

    return INPUT_FORMATS


input_format_option = click.option(
    "--input-format", "input_format", type=click.Choice(list(_input_formats())), default="auto", show_default=True,
    help="What the input is, instead of finding out: " + "; ".join(f"{k}: {v}" for k, v in _input_formats().items())
         + ".")

output_option = click.option(
    "--output", "-o", type=click.Path(dir_okay=False, writable=True), default=None,
    help="Write here instead of stdout.")


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a record is emitted (not when it was made)."""

    @property  # type: ignore[override]
    def stream(self):  # type: ignore[no-untyped-def]
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:  # type: ignore[no-untyped-def]
        pass


_VERBOSE = _StderrHandler()
_VERBOSE.setFormatter(logging.Formatter("ndrkb: %(levelname)s: %(name)s: %(message)s"))


def verbose_option(f: F) -> F:
    """``-v``/``--verbose``: log what ndrkb caught at its boundaries (debug level) on stderr."""

    def enable(ctx: click.Context, param: click.Parameter, value: bool) -> None:
        logger = logging.getLogger("ndrkb")
        if value and _VERBOSE not in logger.handlers:
            logger.addHandler(_VERBOSE)
        elif not value and _VERBOSE in logger.handlers:
            logger.removeHandler(_VERBOSE)
        logger.setLevel(logging.DEBUG if value else logging.NOTSET)

    return click.option("--verbose", "-v", is_flag=True, expose_value=False, is_eager=True, callback=enable,
                        help="Show debug details, such as the exceptions behind error records.")(f)


def pack_sources(packs: tuple[Path, ...]) -> PackSources:
    """The pack folders to load: ``NDRKB_PACKS`` (read here, at the program's edge) and ``--pack``."""
    return PackSources.from_environment(extra=packs)


def _pack_error(exc: PackError) -> click.ClickException:
    return click.ClickException("cannot load packs:\n  " + "\n  ".join(exc.problems))


def load_packset(packs: tuple[Path, ...]):  # type: ignore[no-untyped-def]
    """The loaded packs, or a one-line-per-problem error."""
    from ..rules.loading import load_packs

    try:
        return load_packs(pack_sources(packs))
    except PackError as exc:
        raise _pack_error(exc) from None


def load_diagnoser(packs: tuple[Path, ...], memoize: bool = True):  # type: ignore[no-untyped-def]
    """A diagnoser over the packs (the shared one when nothing is special)."""
    from .. import default_diagnoser
    from ..diagnoser import Diagnoser

    try:
        if not packs and memoize:
            return default_diagnoser()
        return Diagnoser(sources=pack_sources(packs), memoize=memoize)
    except PackError as exc:
        raise _pack_error(exc) from None
