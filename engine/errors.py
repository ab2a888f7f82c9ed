"""The project's own exceptions: every failure a user can meet is one of these."""
from __future__ import annotations


class NdrkbError(Exception):
    """Base class of every error ndrkb raises on purpose."""


class InputError(NdrkbError):
    """The input could not be read as a bounce (empty, binary, truncated, not an NDR)."""


class PackError(NdrkbError):
    """A rule pack is malformed, conflicting or incompatible.

    ``problems`` lists every problem found, each already naming file, rule and issue.
    """

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))
