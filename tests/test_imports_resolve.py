"""Every name imported from finetui exists: lazy imports inside functions are not checked by pyflakes.

A formatter renamed in one module and still imported lazily by its old name in
another breaks only when that code path runs (`job show` of an Azure job lost its
steps this way). This walks every ``from finetui... import`` and relative import
in core/ and tui/, at any depth, and checks the module has each name.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

CHECK = r"""
import ast, importlib, pathlib, sys
missing = []
for top in ("core", "tui"):
    for path in sorted(pathlib.Path(top).rglob("*.py")):
        parts = list(path.with_suffix("").parts)
        package = ["finetui", *(parts if path.name == "__init__.py" else parts[:-1])]
        if path.name == "__init__.py":
            package = ["finetui", *parts[:-1]]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.ImportFrom):
                continue
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if not module.startswith("finetui"):
                continue
            try:
                loaded = importlib.import_module(module)
            except Exception as exc:
                missing.append(f"{path}:{node.lineno}: cannot import {module} ({exc})")
                continue
            for alias in node.names:
                if alias.name == "*" or hasattr(loaded, alias.name):
                    continue
                try:
                    importlib.import_module(f"{module}.{alias.name}")
                except Exception:
                    missing.append(f"{path}:{node.lineno}: {module} has no {alias.name}")
print("\n".join(missing))
sys.exit(1 if missing else 0)
"""


def test_every_imported_name_exists():
    proc = subprocess.run([sys.executable, "-c", CHECK], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
