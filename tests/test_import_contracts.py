"""The layering contracts in pyproject.toml's [tool.importlinter] hold, and they do break on a violation.

import-linter runs in a subprocess (its graph builder imports the packages it
checks; a fresh interpreter keeps that out of this one), without its cache, so
nothing is written into the repository.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
RUN = (
    "import sys; from importlinter.cli import lint_imports; "
    "sys.exit(lint_imports(config_filename=sys.argv[1], no_cache=True, no_logo=True))"
)


def lint(config: Path, cwd: Path, pythonpath: str | None = None) -> subprocess.CompletedProcess[str]:
    env = None if pythonpath is None else {**os.environ, "PYTHONPATH": pythonpath}
    return subprocess.run([sys.executable, "-c", RUN, str(config)], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def contracts() -> list[dict]:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["tool"]["importlinter"]["contracts"]


def test_the_layering_contracts_hold():
    names = {c["name"] for c in contracts()}
    assert {
        "core never imports tui or textual",
        "core.local and core.azure never import each other",
        "no import cycles between sibling modules or packages",
        "tui reaches backends only through core.backend",
    } <= names
    result = lint(ROOT / "pyproject.toml", ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    for name in names:
        assert f"{name} KEPT" in result.stdout


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")


def _renamed_config(package: str) -> str:
    """This repository's contracts, for a package laid out like finetui but named ``package``.

    The known exceptions (``ignore_imports``) are left out: they name modules the copy does not have.
    """
    lines = ["[tool.importlinter]", f'root_packages = ["{package}.core", "{package}.tui"]', "include_external_packages = true"]
    for contract in contracts():
        lines.append("\n[[tool.importlinter.contracts]]")
        for key, value in contract.items():
            if key == "ignore_imports":
                continue
            if isinstance(value, list):
                value = [v.replace("finetui.", f"{package}.") for v in value]
                lines.append(f"{key} = [" + ", ".join(f'"{v}"' for v in value) + "]")
            else:
                lines.append(f'{key} = "{value}"')
    return "\n".join(lines) + "\n"


def test_a_deliberate_violation_breaks_each_contract(tmp_path):
    package = "ftviolation"
    clean = {
        f"{package}/core/__init__.py": "",
        f"{package}/core/models.py": "X = 1\n",
        f"{package}/core/backend.py": f"from {package}.core import models\n",
        f"{package}/core/local/__init__.py": "",
        f"{package}/core/local/jobs.py": f"from {package}.core import models\n",
        f"{package}/core/azure/__init__.py": "",
        f"{package}/core/azure/jobs.py": f"from {package}.core import models\n",
        f"{package}/core/azure/logs.py": f"from {package}.core.azure import jobs\n",
        f"{package}/tui/__init__.py": "",
        f"{package}/tui/app.py": f"import textual\nfrom {package}.core import backend\n",
    }
    _write(tmp_path, clean)
    (tmp_path / "pyproject.toml").write_text(_renamed_config(package), encoding="utf-8")
    kept = lint(tmp_path / "pyproject.toml", tmp_path, pythonpath=str(tmp_path))
    assert kept.returncode == 0, kept.stdout + kept.stderr  # the copy of the layout passes before it is broken

    _write(
        tmp_path,
        {
            f"{package}/core/models.py": "import textual\nX = 1\n",  # core imports textual
            f"{package}/core/azure/jobs.py": (
                f"from {package}.core import models\nfrom {package}.core.local import jobs\n"
                "\n\ndef tail():\n    from . import logs\n"
            ),  # azure -> local; jobs <-> logs
            f"{package}/tui/app.py": f"import textual\nfrom {package}.core.local import jobs\n",  # tui -> a backend
        },
    )
    broken = lint(tmp_path / "pyproject.toml", tmp_path, pythonpath=str(tmp_path))
    assert broken.returncode == 1, broken.stdout + broken.stderr
    out = broken.stdout
    assert "core never imports tui or textual BROKEN" in out
    assert f"{package}.core.models -> textual" in out
    assert "core.local and core.azure never import each other BROKEN" in out
    assert "no import cycles between sibling modules or packages BROKEN" in out
    assert "tui reaches backends only through core.backend BROKEN" in out
    assert f"{package}.tui.app -> {package}.core.local.jobs" in out
