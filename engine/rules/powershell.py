"""Check the PowerShell lines a pack prints against Exchange Online's cmdlet reference.

A small tokenizer and parser for the subset of PowerShell that remediation lines use:
pipelines of commands, ``-Parameter`` names (``-Name:value`` too), bare words and
``<placeholders>``, quoted strings, ``$variables``, ``@{Add=...; Remove=...}``
hashtables, ``{ script blocks }`` and comma arrays ``"a","b"``.  Each Exchange command
is then checked against the shipped table ``data/exo-cmdlets.json`` (a copy of
``reference/exo-cmdlets.json``, read from Microsoft's cmdlet documentation): the cmdlet
exists and applies to Exchange Online (unless its remediation says it is for
on-premises), every parameter exists there, ``@{Add=}`` is used only where the
parameter has that form, and a multi-valued parameter of a ``Set-`` cmdlet is not
given a plain value (which replaces the whole list) unless the remediation says so.
"""
from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from importlib.resources import files
from typing import Optional, Union

#: Cmdlets of other modules the packs may print; their parameters are not checked.
OTHER_CMDLETS = frozenset({
    "Format-List", "Format-Table", "Where-Object", "Sort-Object", "Select-Object", "ForEach-Object",
    "Resolve-DnsName", "Test-NetConnection", "Start-ADSyncSyncCycle",
})
#: Verbs of commands that change something (a remediation should read the value first).
CHANGING_VERBS = frozenset({"Set", "Add", "Remove", "New", "Enable", "Disable", "Update", "Start"})
_ON_PREMISES = re.compile(r"on-premises|exchange server", re.IGNORECASE)
_REPLACES = re.compile(r"\b(replac|overwrit|clear)", re.IGNORECASE)


class PowerShellSyntaxError(ValueError):
    """A line outside the supported subset (or not PowerShell)."""


@dataclass(frozen=True)
class Token:
    """One token: its kind (word, param, string, var, hash, block, comma, pipe, semi) and text."""

    kind: str
    text: str
    keys: tuple[str, ...] = ()  # hashtable keys


@dataclass(frozen=True)
class Argument:
    """A parameter and its value: ``None`` (switch), one value, or a comma array of values."""

    name: str
    value: Union[None, Token, tuple[Token, ...]]


@dataclass
class Command:
    """One command of a pipeline: its name, named arguments and positional values."""

    name: str
    arguments: list[Argument] = field(default_factory=list)
    positional: list[Union[Token, tuple[Token, ...]]] = field(default_factory=list)


def _string(line: str, i: int) -> int:
    """End index (exclusive) of the quoted string starting at ``i``."""
    quote = line[i]
    j = i + 1
    while j < len(line):
        c = line[j]
        if c == "`" and quote == '"':
            j += 2
            continue
        if c == quote:
            if j + 1 < len(line) and line[j + 1] == quote:  # doubled quote inside
                j += 2
                continue
            return j + 1
        j += 1
    raise PowerShellSyntaxError(f"unterminated string at column {i + 1}")


def _braces(line: str, i: int) -> int:
    """End index (exclusive) of the ``{...}`` starting at ``i``, strings inside skipped."""
    depth, j = 0, i
    while j < len(line):
        c = line[j]
        if c in "\"'":
            j = _string(line, j)
            continue
        depth += c == "{"
        depth -= c == "}"
        j += 1
        if depth == 0:
            return j
    raise PowerShellSyntaxError(f"unbalanced '{{' at column {i + 1}")


def _bare(line: str, i: int) -> int:
    """End of a bare word; a ``<placeholder>`` inside it may hold spaces."""
    j = i
    while j < len(line) and line[j] not in " \t|,;(){}\"'":
        if line[j] == "<":
            close = line.find(">", j)
            if close < 0:
                raise PowerShellSyntaxError(f"unclosed '<' at column {j + 1}")
            j = close
        j += 1
    return j


_HASH_ENTRY = re.compile(r"\s*([A-Za-z]+)\s*=(.*)$", re.DOTALL)


def _hash_keys(body: str, whole: str) -> tuple[str, ...]:
    """The keys of a hashtable body ``Key = value; Key = "a","b"``; each value must be readable."""
    keys = []
    for entry in filter(str.strip, _split_entries(body)):
        m = _HASH_ENTRY.match(entry)
        values = tokenize(m.group(2)) if m and "{" not in m.group(2) else []  # no nesting: no recursion
        shape = [t.kind == "comma" for t in values]
        if not values or shape != [n % 2 == 1 for n in range(len(values))] or shape[-1] \
                or any(t.kind not in ("word", "string", "var") for t in values[::2]):
            raise PowerShellSyntaxError(f"cannot read the hashtable {whole}")
        keys.append(m.group(1))
    return tuple(keys)


def tokenize(line: str) -> list[Token]:
    """Tokens of one line; :class:`PowerShellSyntaxError` when outside the subset."""
    tokens: list[Token] = []
    i = 0
    while i < len(line):
        c = line[i]
        if c in " \t":
            i += 1
        elif c in "|,;":
            tokens.append(Token({"|": "pipe", ",": "comma", ";": "semi"}[c], c))
            i += 1
        elif c in "\"'":
            j = _string(line, i)
            tokens.append(Token("string", line[i:j]))
            i = j
        elif line.startswith("@{", i):
            j = _braces(line, i + 1)
            tokens.append(Token("hash", line[i:j], _hash_keys(line[i + 2:j - 1], line[i:j])))
            i = j
        elif c == "{":
            j = _braces(line, i)
            tokens.append(Token("block", line[i:j]))
            i = j
        elif c == "(" or c == ")":
            raise PowerShellSyntaxError(f"sub-expressions '(...)' are outside the checked subset (column {i + 1})")
        elif c == "$":
            j = _bare(line, i + 1)
            tokens.append(Token("var", line[i:j]))
            i = j
        elif c == "-" and i + 1 < len(line) and line[i + 1].isalpha() and (not tokens or tokens[-1].kind != "comma"):
            j = _bare(line, i + 1)
            name = line[i + 1:j]
            if ":" in name:  # -Name:value
                name, rest = name.split(":", 1)
                if not rest:
                    raise PowerShellSyntaxError(f"-{name}: without a value at column {i + 1}")
                tokens.append(Token("param", name))
                tokens.append(Token("var" if rest.startswith("$") else "word", rest))
            else:
                tokens.append(Token("param", name))
            i = j
        else:
            j = _bare(line, i)
            if j == i:
                raise PowerShellSyntaxError(f"unexpected {c!r} at column {i + 1}")
            tokens.append(Token("word", line[i:j]))
            i = j
    return tokens


def _split_entries(body: str) -> list[str]:
    """Entries of a hashtable body, split at ``;`` outside quotes."""
    parts, start, j = [], 0, 0
    while j < len(body):
        if body[j] in "\"'":
            j = _string(body, j)
            continue
        if body[j] == ";":
            parts.append(body[start:j])
            start = j + 1
        j += 1
    parts.append(body[start:])
    return parts


_VALUE_KINDS = ("word", "string", "var", "hash", "block")


def parse(line: str, switches: Optional[dict[str, set[str]]] = None) -> list[Command]:
    """The commands of a line (statements and pipelines flattened, in order).

    ``switches`` maps a cmdlet to its switch parameters (which take no value).
    """
    switches = switches or {}
    commands: list[Command] = []
    tokens = tokenize(line)
    i = 0
    expect_command = True
    while i < len(tokens):
        tok = tokens[i]
        if tok.kind in ("pipe", "semi"):
            if expect_command:
                raise PowerShellSyntaxError(f"empty command before {tok.text!r}")
            expect_command = True
            i += 1
            continue
        if expect_command:
            if tok.kind != "word":
                raise PowerShellSyntaxError(f"expected a command name, found {tok.text!r}")
            commands.append(Command(tok.text))
            expect_command = False
            i += 1
            continue
        cmd = commands[-1]
        if tok.kind == "param":
            takes_value = tok.text.lower() not in switches.get(cmd.name.lower(), set())
            nxt = tokens[i + 1] if i + 1 < len(tokens) else None
            if takes_value and nxt is not None and nxt.kind in _VALUE_KINDS:
                value, i = _value(tokens, i + 1)
                cmd.arguments.append(Argument(tok.text, value))
            else:
                cmd.arguments.append(Argument(tok.text, None))
                i += 1
        elif tok.kind in _VALUE_KINDS:
            value, i = _value(tokens, i)
            cmd.positional.append(value)
        else:
            raise PowerShellSyntaxError(f"unexpected {tok.text!r}")
    if expect_command and tokens:
        raise PowerShellSyntaxError("the line ends with a pipe")
    return commands


def _value(tokens: list[Token], i: int) -> tuple[Union[Token, tuple[Token, ...]], int]:
    """One value or a comma array starting at ``i``; returns it and the next index."""
    items = [tokens[i]]
    i += 1
    while i + 1 < len(tokens) and tokens[i].kind == "comma" and tokens[i + 1].kind in _VALUE_KINDS:
        items.append(tokens[i + 1])
        i += 2
    if i < len(tokens) and tokens[i].kind == "comma":
        raise PowerShellSyntaxError("an array ends with ','")
    return (items[0] if len(items) == 1 else tuple(items)), i


@functools.lru_cache(maxsize=1)
def cmdlet_table() -> dict:
    """The shipped Exchange cmdlet table (cmdlet -> applicability and parameters)."""
    return json.loads(files("ndrkb.rules").joinpath("data/exo-cmdlets.json").read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=1)
def _index() -> tuple[dict[str, tuple[str, dict]], dict[str, set[str]]]:
    cmdlets = cmdlet_table()["cmdlets"]
    by_lower = {name.lower(): (name, spec) for name, spec in cmdlets.items()}
    switches = {name.lower(): {p.lower() for p, v in spec["parameters"].items() if v["switch"]}
                for name, spec in cmdlets.items()}
    return by_lower, switches


@dataclass(frozen=True)
class Finding:
    """One problem in one line: ``error`` (wrong advice) or ``warning`` (cannot be checked)."""

    severity: str
    message: str


def check_line(line: str, context: str = "") -> tuple[list[Command], list[Finding]]:
    """Parse a line and check every Exchange command in it.

    ``context`` is the remediation's prose (title, steps, notes): it may say that a step is
    for on-premises Exchange, or that a plain value replaces a whole list on purpose.
    """
    by_lower, switches = _index()
    try:
        commands = parse(line, switches)
    except PowerShellSyntaxError as exc:
        return [], [Finding("error", f"cannot parse: {exc}")]
    findings: list[Finding] = []
    on_premises = bool(_ON_PREMISES.search(context))
    for cmd in commands:
        known = by_lower.get(cmd.name.lower())
        if known is None:
            if cmd.name not in OTHER_CMDLETS:
                findings.append(Finding("warning", f"{cmd.name}: not in the Exchange cmdlet table; not checked"))
            continue
        name, spec = known
        online = spec.get("applicable_online", False)
        if not online and not on_premises:
            findings.append(Finding("error", f"{name}: not available in Exchange Online, and the remediation "
                                             "does not say it is for on-premises Exchange"))
        if spec.get("replaced_by"):
            findings.append(Finding("error", f"{name}: replaced by {spec['replaced_by']}"))
        params = {p.lower(): (p, v) for p, v in spec["parameters"].items()}
        for syntax_only in spec.get("syntax_only_parameters", {}):
            params.setdefault(syntax_only.lower(), (syntax_only, {"multi_valued": False, "add_remove_syntax": False,
                                                                 "switch": False, "online": True}))
        for arg in cmd.arguments:
            found = params.get(arg.name.lower())
            if found is None:
                findings.append(Finding("error", f"{name}: no parameter -{arg.name}"))
                continue
            pname, pspec = found
            findings += _check_argument(name, pname, pspec, arg, context, on_premises or not online)
    return commands, findings


def _check_argument(cmdlet: str, pname: str, pspec: dict, arg: Argument, context: str,
                    elsewhere: bool) -> list[Finding]:
    """Findings for one argument; ``elsewhere``: the step is for on-premises Exchange (or the cmdlet is)."""
    out = []
    if not pspec.get("online", True) and not elsewhere:
        out.append(Finding("error", f"{cmdlet} -{pname}: not available in Exchange Online"))
    value = arg.value
    if pspec["switch"]:
        return out
    if value is None:
        out.append(Finding("error", f"{cmdlet} -{pname}: needs a value"))
        return out
    if isinstance(value, Token) and value.kind == "hash":
        if not pspec["add_remove_syntax"]:
            out.append(Finding("error", f"{cmdlet} -{pname}: has no @{{Add=...}}/@{{Remove=...}} form"))
        bad = [k for k in value.keys if k.lower() not in ("add", "remove")]
        if bad:
            out.append(Finding("error", f"{cmdlet} -{pname}: hashtable keys must be Add or Remove, not {bad}"))
        return out
    if isinstance(value, tuple) and not pspec["multi_valued"]:
        out.append(Finding("error", f"{cmdlet} -{pname}: takes one value, given a list"))
    if pspec["multi_valued"] and cmdlet.startswith("Set-") and not _says_replaces(context, pname):
        form = "add to it with @{Add=...}" if pspec["add_remove_syntax"] else "say in words that it replaces the list"
        out.append(Finding("error", f"{cmdlet} -{pname}: a plain value replaces the whole multi-valued list "
                                    f"(every entry already there is lost); {form}"))
    return out


def _says_replaces(context: str, pname: str) -> bool:
    """Whether some sentence of the prose names the parameter and says it replaces or clears the list."""
    for sentence in re.split(r"(?<=[.;:!?])\s+|\n", context):
        if pname.lower() in sentence.lower() and _REPLACES.search(sentence):
            return True
    return False


def changes_something(command: Command) -> bool:
    """Whether a command's verb changes state (``Set-``, ``New-``, ...)."""
    return command.name.split("-")[0].capitalize() in CHANGING_VERBS


__all__ = ["tokenize", "parse", "check_line", "cmdlet_table", "changes_something", "Command", "Argument", "Token",
           "Finding", "PowerShellSyntaxError", "OTHER_CMDLETS"]
