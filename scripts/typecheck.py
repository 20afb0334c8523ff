"""Type-check `core/` with mypy, under the package names it is installed as.

The repository keeps `core/` and `tui/` at the top level and installs them as
`finetui.core` and `finetui.tui` (pyproject's `package-dir`). mypy cannot follow
that mapping or setuptools' editable finder, so this lays out a `finetui/`
folder of links in `.typecheck/` (ignored by git; mypy's cache stays there
between runs) and checks `finetui.core` there, with the settings in
pyproject's `[tool.mypy]`. Exit status is mypy's.

    .venv/bin/python scripts/typecheck.py
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("core", "tui")


def main() -> int:
    base = REPO / ".typecheck"
    root = base / "finetui"
    root.mkdir(parents=True, exist_ok=True)
    for name in PACKAGES:
        link = root / name
        if not link.is_symlink():
            link.symlink_to(REPO / name, target_is_directory=True)
    command = [
        sys.executable,
        "-m",
        "mypy",
        "--config-file",
        str(REPO / "pyproject.toml"),
        "--cache-dir",
        str(base / ".mypy_cache"),
        "-p",
        "finetui.core",
    ]
    return subprocess.run(command, cwd=base).returncode


if __name__ == "__main__":
    sys.exit(main())
