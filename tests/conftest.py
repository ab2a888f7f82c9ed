"""Shared fixtures: repository paths and one diagnoser for the whole session."""
from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "corpus"
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def diagnoser():
    from ndrkb import default_diagnoser

    return default_diagnoser()
