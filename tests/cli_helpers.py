"""Run the real ``finetui`` CLI in a subprocess, as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def finetui(workspace: Path | str, *args: str, timeout: float = 300, check: bool = True, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = dict(os.environ)
    full_env.pop("FINETUI_WORKSPACE", None)
    full_env.update({"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"})
    full_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, "-m", "finetui.tui.cli.main", "--workspace", str(workspace), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
        cwd=REPO,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"finetui {' '.join(args)} exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
        )
    return proc


def finetui_json(workspace: Path | str, *args: str, **kw: Any) -> Any:
    return json.loads(finetui(workspace, *args, "--json", **kw).stdout)
