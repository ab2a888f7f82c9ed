"""Line numbers in a ``pack.toml``: find the table, rule or field a message is about.

The TOML reader gives data without positions; this scans the text for table headers
so that every pack problem can name its file and line.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Optional

#: A table header line; the name is stripped in Python (the spaces around it once had three
#: quantifiers to share, cubic on a line of '[' and 4,000 spaces: 20 s at every load).
_HEADER = re.compile(r"^\s*(\[\[?)([^\[\]]*)\]\]?\s*(?:#.*)?$")


class Where:
    """Locates tables, rules and fields in a ``pack.toml`` so that messages give a line."""

    def __init__(self, path: Path, text: str):
        self.path = path
        self.lines = text.splitlines()
        self.headers: list[tuple[int, str, bool]] = []  # (line index, table name, is array)
        for i, line in enumerate(self.lines):
            m = _HEADER.match(line)
            if m and m.group(2).strip():
                name = ".".join(part.strip().strip("\"'") for part in m.group(2).split("."))
                self.headers.append((i, name, m.group(1) == "[["))

    def _block(self, table: str, nth: Optional[int]) -> Optional[tuple[int, int]]:
        starts = [i for i, name, array in self.headers if name == table and array == (nth is not None)]
        if nth is not None:
            starts = starts[nth:nth + 1]
        if not starts:
            return None
        start = starts[0]
        end = next((i for i, _, _ in self.headers if i > start), len(self.lines))
        return start, end

    def line(self, table: str, nth: Optional[int] = None, field: str = "") -> Optional[int]:
        """1-based line of ``field`` in the table (or of the table), if it can be found."""
        block = self._block(table, nth)
        if block is None:
            return None
        parts = [p for p in field.split(".") if p]
        patterns = []
        if len(parts) >= 2:
            a, b = re.escape(parts[0]), re.escape(parts[1])
            patterns += [rf"^\s*{a}\.{b}\s*=", rf"^\s*{a}\s*=.*\b{b}\s*="]
        if parts:
            patterns.append(rf"^\s*{re.escape(parts[0])}\s*(=|\.)")
        for pattern in patterns:
            for i in range(block[0] + 1, block[1]):
                if re.search(pattern, self.lines[i]):
                    return i + 1
        return block[0] + 1

    def line_of(self, table: str, nth: Optional[int], text: str) -> Optional[int]:
        """1-based line in the table where ``text`` (a value, as written or TOML-escaped) appears,
        else the table's own line."""
        block = self._block(table, nth)
        if block is None:
            return None
        escaped = text.replace("\\", "\\\\").replace('"', '\\"')
        found = (i for i in range(*block) if text in self.lines[i] or escaped in self.lines[i])
        return next(found, block[0]) + 1

    def __call__(self, table: str, nth: Optional[int], label: str, field: str = "") -> str:
        """``file:line: label: field`` for a message."""
        line = self.line(table, nth, field)
        return f"{self.path}{':' + str(line) if line else ''}: {label}" + (f": {field}" if field else "")
