"""Names that are never used or never defined, over the whole tree: the mistakes a reader trips on.

Also one formatting for the whole tree (`ruff format`), so a diff shows changes, not style;
and the type check of core/: the service layer's annotations are a contract the UIs rely on.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


SOURCES = ["core", "tui", "bench", "tests", "scripts"]


def _ruff() -> str:
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    assert ruff, "ruff is in the test extra: pip install -e '.[test]'"
    return ruff


def test_no_unused_or_undefined_names():
    # F: pyflakes (unused imports and variables, undefined names); E9: syntax errors
    proc = subprocess.run(
        [_ruff(), "check", "--no-cache", "--select", "F,E9", *SOURCES],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_tree_is_formatted():
    # pyproject's [tool.ruff] (line-length 130); `ruff format core tui bench tests scripts` fixes a failure
    proc = subprocess.run(
        [_ruff(), "format", "--no-cache", "--check", *SOURCES], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.timeout(960)  # the subprocess's own limit below decides; a cold mypy cache takes a minute or more
def test_core_type_checks():
    # scripts/typecheck.py: mypy over finetui.core with pyproject's [tool.mypy] settings; exit status is mypy's
    proc = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "typecheck.py")], cwd=REPO, capture_output=True, text=True, timeout=900
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
