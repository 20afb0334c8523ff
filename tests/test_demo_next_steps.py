"""The "next steps" that `make app` / `finetui demo` print work when pasted into a shell as they are:
no FINETUI_WORKSPACE, no finetui on PATH, another directory, no placeholders to fill in."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cli_helpers import REPO, finetui

pytestmark = pytest.mark.slow


def _demo_command() -> list[str]:
    """What `make app` runs (`.venv/bin/finetui demo`), or the module where no entry point is installed."""
    script = Path(sys.executable).parent / "finetui"
    if script.is_file():
        return [os.path.relpath(script, REPO), "demo"]
    return [sys.executable, "-m", "finetui.tui.cli.main", "demo"]


@pytest.mark.timeout(1800)
def test_printed_next_steps_run_as_pasted(demo_ws, tmp_path):
    ws, demo = demo_ws
    env = {**os.environ, "FINETUI_WORKSPACE": str(ws), "HF_HUB_OFFLINE": "1"}
    printed = subprocess.run(_demo_command(), cwd=REPO, env=env, capture_output=True, text=True, timeout=600, check=True).stdout
    steps = printed.split("Next steps", 1)[1].splitlines()[1:]
    steps = [s.strip() for s in steps if s.strip()]
    assert len(steps) >= 8, printed
    assert all(str(ws) in s for s in steps), steps  # each names the workspace it means

    clean = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    try:
        done = subprocess.run(
            ["bash", "-e", "-c", "\n".join(steps)],
            cwd=tmp_path,
            env=clean,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=1500,
        )
        assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
        assert "deleted endpoint demo-chat" in done.stdout and '"output"' in done.stdout.replace("'", '"')
    finally:
        finetui(ws, "endpoint", "delete", "demo-chat", "--yes", check=False)
