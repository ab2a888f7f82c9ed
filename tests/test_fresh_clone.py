"""A fresh clone has no ``../shared`` beside it: the tests that need it are skipped, with a
reason, and collecting the suite reads nothing there."""
from __future__ import annotations

import shutil
import subprocess
import sys

from .conftest import REPO

NEEDS_SHARED = ["tests/test_line_endings.py", "tests/test_reference_codes.py", "tests/test_layouts.py"]


def test_without_shared_the_tests_that_need_it_skip_with_a_reason(tmp_path):
    clone = tmp_path / "ndrkb"  # its parent has no shared/
    for name in ("tests", "corpus"):
        shutil.copytree(REPO / name, clone / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", clone)
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rs", *NEEDS_SHARED,
         "-k", "no-shared or sisimai or score or pseudo or halves or index_is_read"],
        cwd=clone, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    skipped = [line for line in run.stdout.splitlines() if line.startswith("SKIPPED")]
    assert skipped and all(line.endswith(f"needs the reference data in {tmp_path / 'shared'} (absent)")
                           for line in skipped), run.stdout[-3000:]
    assert " passed" not in run.stdout and "error" not in run.stdout.lower(), run.stdout[-3000:]
