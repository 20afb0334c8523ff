"""Run the real ``finetui`` CLI in a subprocess, as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]

# ``--set`` values that keep a demo job training for far longer than any test waits for it
LONG_RUN = ("max_steps=100000", "num_train_epochs=1000")


def finetui(
    workspace: Path | str, *args: str, timeout: float = 300, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
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
        raise AssertionError(f"finetui {' '.join(args)} exited {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    return proc


def submit_args(
    model: str, train: Path | str, *sets: str, test: Path | str | None = None, compute: str | None = None
) -> tuple[str, ...]:
    """``job submit`` of ``model`` on ``train`` (and ``test``, on ``compute``), one ``--set`` per KEY=VALUE in ``sets``."""
    args = ["job", "submit", "--model", model, "--train", str(train)]
    if test is not None:
        args += ["--test", str(test)]
    if compute is not None:
        args += ["--compute", compute]
    for setting in sets:
        args += ["--set", setting]
    return tuple(args)


def submit(
    workspace: Path | str, model: str, train: Path | str, *sets: str, test: Path | str | None = None, **kw: Any
) -> subprocess.CompletedProcess[str]:
    """``finetui job submit`` (see submit_args); its stdout is the job's name."""
    return finetui(workspace, *submit_args(model, train, *sets, test=test), **kw)


def finetui_json(workspace: Path | str, *args: str, **kw: Any) -> Any:
    return json.loads(finetui(workspace, *args, "--json", **kw).stdout)


def wait_for_status(workspace: Path | str, noun: str, name: str, wanted: set[str], timeout: float = 600) -> Any:
    """``finetui NOUN show NAME --json`` until its status is one of ``wanted``; polls, with a generous deadline."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        record = finetui_json(workspace, noun, "show", name)
        if record["status"] in wanted:
            return record
        assert time.monotonic() < deadline, f"{noun} {name} still {record['status']} after {timeout:g} s"
        time.sleep(0.5)
