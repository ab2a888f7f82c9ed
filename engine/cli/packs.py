"""``ndrkb packs``: list, check, test and create rule packs (logic in :mod:`ndrkb.rules.authoring`).

Exit status: 0 success; 1 a pack problem or a failed example; 2 usage error.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import click

from ..errors import PackError
from ..output.terminal import echo
from .options import load_packset, pack_option, pack_sources


@click.group()
def packs() -> None:
    """Rule packs: list the installed ones and the reasons they decide, check, test and create packs."""


@packs.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the packs as JSON.")
@pack_option
def list_packs(as_json: bool, packs: tuple[Path, ...]) -> None:
    """List the installed packs: id, version, layer, dispatch, origin."""
    rows = []
    for p in load_packset(packs).packs:
        meta = p.spec.pack
        dispatch = (["always"] if meta.always or meta.stage != "diagnose" else []) + meta.codes + meta.tokens
        dispatch += [f"with {d}" for d in p.depends_on]
        rows.append({"id": p.id, "version": meta.version, "title": meta.title, "layer": meta.layer,
                     "stage": meta.stage, "codes": meta.codes, "tokens": meta.tokens, "always": meta.always,
                     "depends_on": list(p.depends_on), "dispatch": dispatch, "rules": len(p.spec.rule),
                     "examples": len(p.spec.example), "origin": p.origin, "path": str(p.path)})
    if as_json:
        echo(json.dumps(rows, indent=2))
        return
    for r in rows:
        echo(f"{r['id']} {r['version']}  [{r['layer']}, {r['stage']}]  {r['rules']} rules  "
                   f"({r['origin']})")
        echo(f"    dispatch: {', '.join(r['dispatch']) or '-'}")


@packs.command()
@click.option("--json", "as_json", is_flag=True, help="Print the reasons as JSON.")
@pack_option
def reasons(as_json: bool, packs: tuple[Path, ...]) -> None:
    """List every reason with its meaning and the rules that conclude it, strongest first.

    Each rule is shown with the salience it wins by, its stage and, for the reason
    procedure, its step of the precedence list.
    """
    from ..rules.authoring import reason_sources
    from ..vocabulary import REASON_MEANINGS

    found = reason_sources(load_packset(packs))
    if as_json:
        echo(json.dumps([{"reason": r, "meaning": REASON_MEANINGS[r], "rules": [vars(s) for s in sources]}
                         for r, sources in found.items()], indent=2))
        return
    for r, sources in found.items():
        echo(f"{r}: {REASON_MEANINGS[r]}")
        for s in sources:
            echo(f"    {s.salience:4d}  {s.stage}{'/' + s.step if s.step else ''}  {s.rule}")
        if not sources:
            echo("    (no rule concludes it)")


@packs.command()
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@pack_option
def check(path: Path, packs: tuple[Path, ...]) -> None:
    """Validate the pack(s) at PATH, alone and with the installed packs.

    Also checks every PowerShell line against Exchange Online's cmdlet table (unknown
    cmdlets are warnings), rules whose status conditions can never be dispatched, and
    references that are not URLs of the cited document.
    """
    from ..rules.authoring import check_folder

    found, problems, warnings = check_folder(path, pack_sources(packs))
    for warning in warnings:
        echo(f"warning: {warning}")
    for problem in problems:
        echo(problem)
    if problems:
        echo(f"{len(problems)} problem{'s' if len(problems) != 1 else ''} found", err=True)
        sys.exit(1)
    for p in found:
        s = p.spec
        echo(f"ok  {p.id} {s.pack.version}: {len(s.rule)} rules, {len(s.cause)} causes, "
                   f"{len(s.remediation)} remediations, {len(s.example)} examples")


@packs.command()
@click.argument("which", required=False, metavar="[PACK-ID|PATH]")
@pack_option
def test(which: Optional[str], packs: tuple[Path, ...]) -> None:
    """Run a pack's [[example]] NDRs (all packs when none is named) against their expectations."""
    from ..rules.authoring import run_examples, select_packs

    if which is not None and Path(which).exists():
        packs = (*packs, Path(which))
    packset = load_packset(packs)
    try:
        chosen = select_packs(packset, which)
    except PackError as exc:
        raise click.ClickException("\n".join(exc.problems)) from None
    passed = failed = 0
    untested = []
    for pack in chosen:
        results = run_examples(pack, packset)
        if not results:
            untested.append(pack.id)
        for res in results:
            echo(f"{'PASS' if res.ok else 'FAIL'}  {res.pack}  {res.file}")
            for diff in res.differences:
                echo(f"      {diff}")
            passed, failed = passed + res.ok, failed + (not res.ok)
    echo(f"{passed + failed} examples: {passed} passed, {failed} failed"
               + (f"; no examples in {', '.join(untested)}" if untested else ""))
    if failed:
        sys.exit(1)


@packs.command()
@click.argument("code")
@click.option("--dir", "into", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="Create the pack folder here.")
@pack_option
def new(code: str, into: Path, packs: tuple[Path, ...]) -> None:
    """Create a pack folder for a status CODE such as 5.7.999, with one example that passes."""
    from ..rules.authoring import check_folder, new_pack

    try:
        folder = new_pack(code, into)
    except PackError as exc:
        raise click.ClickException("\n".join(exc.problems)) from None
    _, problems, warnings = check_folder(folder, pack_sources(packs))
    for problem in problems + warnings:
        echo(f"warning: {problem}", err=True)
    echo(f"created {folder}/pack.toml and {folder}/examples/{code}.eml")
    echo(f"next: edit the TODOs, then `ndrkb packs check {folder}` and `ndrkb packs test {folder}`")
