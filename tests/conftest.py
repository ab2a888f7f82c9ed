"""Shared fixtures: repository paths, the reference data beside the checkout, one diagnoser."""
from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "corpus"
#: Reference data and the labelled external corpus, beside the checkout (CI has them there;
#: a user's fresh clone has not): tests that need them are skipped, with this reason.
SHARED = REPO.parent / "shared"
HAVE_SHARED = SHARED.is_dir()
needs_shared = pytest.mark.skipif(not HAVE_SHARED, reason=f"needs the reference data in {SHARED} (absent)")


def shared_params(load, *names: str) -> list:
    """``load()``'s parameters when ../shared is there; else one skipped case that says why
    (so nothing reads ../shared when the tests are collected without it)."""
    if HAVE_SHARED:
        return load()
    return [pytest.param(*(None,) * len(names), marks=needs_shared, id="no-shared")]


@pytest.fixture(scope="session")
def diagnoser():
    from ndrkb import default_diagnoser

    return default_diagnoser()
