"""Loading a pack is bounded too (issue 16 item 9): hostile TOML and rule chains are refused
with a message, quickly, never a traceback or seconds of work."""
from __future__ import annotations

import shutil
import time

import pytest

from ndrkb.errors import PackError
from ndrkb.rules.loading import load_packs, read_pack
from ndrkb.rules.toml_lines import Where
from ndrkb.rules.discovery import BUILTIN_DIR, PackSources

HEAD = """[pack]
id = "chain"
title = "t"
version = "1.0.0"
requires = ">=0.1"
layer = "knowledge"
codes = ["5.1.1"]
description = "d"
"""


def rule(n: int, after: str = "") -> str:
    return (f'\n[[rule]]\nid = "r{n}"\ndescription = "d"\nsalience = 10\nreference = "https://example.com/"\n'
            f'when.status = ["5.1.1"]\n' + (f'when.after = ["chain/r{after}"]\n' if after else "") +
            'then = { role = "sender" }\n')


def test_the_line_locator_is_linear():
    text = "[" + " " * 4000 + "\n" + "[[" + " " * 4000 + "x\n"
    started = time.process_time()
    Where(__import__("pathlib").Path("p.toml"), text * 5)
    assert time.process_time() - started < 0.5  # was 20 s a line


def test_deep_keys_and_nesting_are_refused(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "pack.toml").write_text(HEAD + "x" + ".y" * 20000 + " = 1\n")
    started = time.process_time()
    with pytest.raises(PackError) as exc:
        read_pack(tmp_path / "a")
    assert time.process_time() - started < 1.0
    assert exc.value.problems == [f"{tmp_path / 'a' / 'pack.toml'}:9: a key of more than 128 dotted parts; refused"]
    (tmp_path / "a" / "pack.toml").write_text(HEAD + "x = " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(PackError) as exc:
        read_pack(tmp_path / "a")
    assert "nested too deeply" in exc.value.problems[0] or "not valid TOML" in exc.value.problems[0]


@pytest.mark.parametrize("length", [900, 3000])
def test_long_after_chains_are_refused_at_load(tmp_path, length):
    folder = tmp_path / "chain"
    folder.mkdir()
    (folder / "pack.toml").write_text(HEAD + rule(0) + "".join(rule(n, str(n - 1)) for n in range(1, length)))
    with pytest.raises(PackError) as exc:
        load_packs(PackSources(extra=(folder,)))
    assert any(f"ends a chain of {length} rules following each other; at most 64 are allowed" in p
               for p in exc.value.problems)
    short = tmp_path / "short" / "chain"
    short.parent.mkdir()
    shutil.copytree(folder, short)
    (short / "pack.toml").write_text(HEAD + rule(0) + "".join(rule(n, str(n - 1)) for n in range(1, 60)))
    load_packs(PackSources(extra=(short,)))  # 60 rules in a chain load
    assert BUILTIN_DIR.exists()
