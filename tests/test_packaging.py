"""Packaging and import hygiene: what `pip install` ships, and what importing core costs."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_every_package_directory_is_listed_in_pyproject():
    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = set()
    for top, dotted in (("core", "finetui.core"), ("tui", "finetui.tui")):
        for init in (REPO / top).rglob("__init__.py"):
            rel = init.parent.relative_to(REPO / top)
            found.add(".".join([dotted, *rel.parts]) if rel.parts else dotted)
    assert found == listed, f"add to / remove from pyproject packages: {sorted(found ^ listed)}"


HEAVY = ("textual", "torch", "transformers", "peft", "trl", "datasets", "mlflow", "azure.ai.ml", "fastapi")


def test_core_imports_no_ui_and_no_heavy_library():
    modules = [
        "finetui.core",
        "finetui.core.models",
        "finetui.core.spec",
        "finetui.core.backend",
        "finetui.core.errors",
        "finetui.core.workspace",
        "finetui.core.local.backend",
        "finetui.core.local.jobs",
        "finetui.core.local.registry",
        "finetui.core.local.store",
        "finetui.core.evaluate",
        "finetui.core.local.evals",
        "finetui.core.local.checkpoint_list",
        "finetui.core.local.early_stop",
    ]
    code = (
        "import sys, importlib\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "from finetui.core.local.backend import LocalBackend\n"
        "import tempfile; b = LocalBackend(tempfile.mkdtemp()); b.list_jobs()\n"
        f"bad = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"core imported: {out.stdout.strip()}"


def test_store_uses_wal(tmp_path):
    from finetui.core.local.store import Store

    store = Store(tmp_path / "x.db")
    mode = store._conn().execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_license_is_an_spdx_expression_with_a_setuptools_that_reads_it():
    # A TOML table here makes setuptools >= 77 print a 13-line deprecation box three times on every `make`;
    # a plain SPDX string needs setuptools 77 or later, so the build requirement has to say so.
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert pyproject["project"]["license"] == "MIT"
    [setuptools] = [r for r in pyproject["build-system"]["requires"] if r.startswith("setuptools")]
    from packaging.requirements import Requirement
    from packaging.version import Version

    spec = Requirement(setuptools).specifier
    assert spec.contains(Version("77.0.0")) and not spec.contains(Version("76.1.0")), setuptools
