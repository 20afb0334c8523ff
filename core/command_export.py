"""A command log as a runnable script: bash (the ``finetui`` lines) or Python (the azure-ai-ml calls).

Only actions that succeeded go in, oldest first, each under a comment with
its time and, for Azure, its ``az ml`` lines. A Python script runs Azure
actions through the SDK (one ``MLClient`` per workspace) and local ones
through the ``finetui`` command. Secrets stay out: the key is read from
``$ENDPOINT_KEY`` and the script says where to get it.
"""

from __future__ import annotations

import os
import shlex
import time
from pathlib import Path

from .command_log import LoggedAction
from .equivalents import AzureTarget, sdk_prelude
from .errors import InvalidInput, OperationFailed


def _stamp(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))


def _uses_key(entries: list[LoggedAction]) -> list[str]:
    return [n for e in entries for n in e.notes if n.startswith("ENDPOINT_KEY")]


def shell_script(entries: list[LoggedAction]) -> str:
    lines = ["#!/usr/bin/env bash", "# finetui session, exported by `finetui history --export`", "set -euo pipefail", ""]
    for note in dict.fromkeys(_uses_key(entries)):
        lines.append(f': "${{ENDPOINT_KEY:?set ENDPOINT_KEY first: {note.split(": ", 1)[-1]}}}"')
    for e in entries:
        lines.append(f"# {_stamp(e.time)}  {e.backend}: {e.action}")
        lines += [f"#   az: {az}" for az in e.az]
        lines += [f"#   note: {n}" for n in e.notes if not n.startswith("ENDPOINT_KEY")]
        lines.append(e.finetui)
        lines.append("")
    return "\n".join(lines)


def _target_of(e: LoggedAction) -> AzureTarget | None:
    argv = shlex.split(e.finetui)
    found = {}
    for flag, key in (("--subscription", "sub"), ("--resource-group", "rg"), ("--workspace-name", "ws")):
        if flag in argv:
            found[key] = argv[argv.index(flag) + 1]
    return AzureTarget(found["sub"], found["rg"], found["ws"]) if len(found) == 3 else None


def python_script(entries: list[LoggedAction]) -> str:
    lines = [
        '"""finetui session, exported by `finetui history --export`."""',
        "",
        "import os",
        "import shlex",
        "import subprocess",
        "import sys",
        "",
    ]
    target = next((t for t in map(_target_of, entries) if t is not None), None)
    if target is not None:
        lines += sdk_prelude(target) + [""]
    for note in dict.fromkeys(_uses_key(entries)):
        lines.append(f"# {note}")
        lines.append("ENDPOINT_KEY = os.environ['ENDPOINT_KEY']")
    lines += [
        "",
        "def finetui(line):",
        "    # `finetui ...` as this Python runs it (the same interpreter, so the same install)",
        "    argv = [sys.executable, '-m', 'finetui.tui.cli.main', *shlex.split(line)[1:]]",
        "    subprocess.run(argv, check=True)",
        "",
    ]
    for e in entries:
        lines.append(f"# {_stamp(e.time)}  {e.backend}: {e.action}")
        lines += [f"# note: {n}" for n in e.notes if not n.startswith("ENDPOINT_KEY")]
        if e.backend == "azure" and e.sdk and target is not None:
            lines += list(e.sdk)
        else:
            lines.append(f"finetui({e.finetui!r})")
        lines.append("")
    return "\n".join(lines)


def export_script(entries_newest_first: list[LoggedAction], path: str | os.PathLike[str]) -> Path:
    """Write the script for the successful entries (oldest first) to a new file ``path`` (0700)."""
    from .command_log import check_export_path

    kind = check_export_path(os.fspath(path))
    target = Path(path).expanduser()
    entries = [e for e in reversed(entries_newest_first) if e.outcome == "ok"]
    text = shell_script(entries) if kind == "sh" else python_script(entries)
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o700)
    except FileExistsError:
        raise InvalidInput(f"--export {target}: the file exists; name a new file") from None
    except OSError as exc:
        raise OperationFailed(f"--export {target}: cannot write it ({exc.strerror or exc})") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")
    except OSError as exc:
        target.unlink(missing_ok=True)
        raise OperationFailed(f"--export {target}: cannot write it ({exc.strerror or exc})") from None
    return target
