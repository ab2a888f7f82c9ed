"""Text bound for a terminal: control characters a stranger put in a message (ESC sequences
that set the window title, clear the screen or erase lines; C1 controls) are shown as
``\\u00XX`` escapes instead of acting. Inside a JSON string that is the same character."""
from __future__ import annotations

import re

_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def terminal_safe(text: str) -> str:
    """``text`` with every control character but tab and newline escaped as ``\\u00XX``."""
    return _CONTROLS.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
