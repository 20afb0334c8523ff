"""The workspace's command log: every action finetui performed, with the commands that repeat it.

One JSON line per action in ``<workspace>/history.jsonl`` (0600, append-only:
each entry is one ``write`` on an ``O_APPEND`` descriptor, so the app, the CLI
and a watcher can all append without a lock). An entry holds the time, the
backend, the outcome and its equivalents: the ``finetui`` command line (with
``--workspace``) and, on Azure, the ``az ml`` commands and the azure-ai-ml
calls. Secrets never get here: a key is always ``$ENDPOINT_KEY``, with a note
saying where to get it.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .errors import InvalidInput, OperationFailed

LOG_NAME = "history.jsonl"
READ_MAX_BYTES = 8 << 20  # the newest 8 MiB of the log is plenty to show or export


@dataclass(frozen=True)
class LoggedAction:
    time: float
    backend: str
    action: str  # "endpoint create"
    outcome: str  # "ok", "failed", "bad input", "interrupted"
    exit_code: int
    finetui: str  # the command line that repeats it
    error: str | None = None
    az: tuple[str, ...] = ()  # `az ml` commands (Azure)
    sdk: tuple[str, ...] = ()  # azure-ai-ml Python (Azure)
    notes: tuple[str, ...] = ()  # e.g. where $ENDPOINT_KEY comes from
    source: str = "cli"  # "cli" or "app"

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "LoggedAction":
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        for key in ("az", "sdk", "notes"):
            known[key] = tuple(str(x) for x in known.get(key) or ())
        return cls(**known)


def outcome_of(exit_code: int) -> str:
    return {0: "ok", 2: "bad input", 130: "interrupted"}.get(exit_code, "failed")


@dataclass
class CommandLog:
    root: Path
    path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        self.path = self.root / LOG_NAME

    def append(self, entry: LoggedAction) -> None:
        """Add one entry; the workspace must exist (the log never creates a workspace)."""
        line = (json.dumps(asdict(entry), ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
        flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(self.path, flags, 0o600)
        except OSError as exc:
            raise OperationFailed(f"{self.path}: cannot write the command log ({exc.strerror or exc})") from None
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                line = b"\n" + line  # a writer died mid-line: its torn line must not swallow this one
            os.write(fd, line)
        except OSError as exc:
            raise OperationFailed(f"{self.path}: cannot write the command log ({exc.strerror or exc})") from None
        finally:
            os.close(fd)

    def read(self, limit: int | None = None) -> list[LoggedAction]:
        """Entries newest first; a torn or foreign line is skipped, never fatal."""
        from .files import open_regular

        if not self.path.exists():
            return []
        fd = open_regular(self.path, "command log")
        try:
            size = os.fstat(fd).st_size
            os.lseek(fd, max(0, size - READ_MAX_BYTES), os.SEEK_SET)
            parts = []
            while chunk := os.read(fd, 1 << 20):
                parts.append(chunk)
            data = b"".join(parts)
        finally:
            os.close(fd)
        if size > READ_MAX_BYTES:
            data = data.split(b"\n", 1)[-1]  # the first line is cut
        entries: list[LoggedAction] = []
        for raw in reversed(data.splitlines()):
            try:
                entries.append(LoggedAction.from_json(json.loads(raw)))
            except (ValueError, TypeError):
                continue
            if limit is not None and len(entries) >= limit:
                break
        return entries


def record(root: Path, entry: LoggedAction) -> bool:
    """Append ``entry`` when the workspace exists; False (and nothing created) when it does not."""
    root = Path(root)
    if not root.is_dir():
        return False
    CommandLog(root).append(entry)
    return True


def now() -> float:
    return time.time()


KEY_VAR = "$ENDPOINT_KEY"  # what a key is in every recorded line


def finetui_command(
    workspace: Path, backend: str, tokens: list[str], target: Any = None, global_options: tuple[str, ...] = ()
) -> str:
    """``finetui --workspace WS [--backend B --subscription S --resource-group G --workspace-name W] TOKENS``.

    On Azure ``target`` (an equivalents.AzureTarget) names the workspace in full, wherever it came
    from (options, the environment, a config.json found from the working folder), so the line
    repeats the action from any folder.
    """
    import shlex

    head = ["finetui", "--workspace", str(workspace)]
    if backend != "local":
        head += ["--backend", backend]
        if target is not None:
            head += [
                "--subscription",
                target.subscription_id,
                "--resource-group",
                target.resource_group,
                "--workspace-name",
                target.workspace_name,
            ]
        else:
            head += list(global_options)
    return " ".join(f'"{t}"' if t == KEY_VAR else shlex.quote(t) for t in head + list(tokens))


def check_export_path(path: str) -> str:
    """``--export`` writes a shell or a Python script: the suffix says which."""
    if path.endswith(".sh"):
        return "sh"
    if path.endswith(".py"):
        return "py"
    raise InvalidInput(f"--export {path!r}: name a .sh or a .py file")
