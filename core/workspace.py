"""Where a local workspace lives and how its directory is laid out.

One directory holds everything: ``finetui.db`` (SQLite, WAL) for records and
plain files for logs, metrics and artifacts, so a workspace can be copied,
inspected with ordinary tools, or shared by the app, the CLI and the detached
job and endpoint processes at once.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

ENV_VAR = "FINETUI_WORKSPACE"


def default_workspace() -> Path:
    if sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    elif os.name == "nt":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "finetui" / "workspace"


def resolve_workspace(explicit: str | os.PathLike[str] | None = None) -> Path:
    """Command line first, then FINETUI_WORKSPACE, then the user's data directory."""
    chosen = explicit or os.environ.get(ENV_VAR) or default_workspace()
    return Path(chosen).expanduser().resolve()


class _Under:
    """A path below the workspace root, read as a property: ``paths.jobs`` is ``root / "jobs"``."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __get__(self, paths: WorkspacePaths, owner: type | None = None) -> Path:
        return paths.root / self.name


@dataclass(frozen=True)
class WorkspacePaths:
    root: Path

    db = _Under("finetui.db")
    models = _Under("models")
    registry = _Under("registry")
    jobs = _Under("jobs")
    endpoints = _Under("endpoints")
    data = _Under("data")

    def job_dir(self, name: str) -> Path:
        from .names import confined

        return confined(self.jobs, "job", name)

    def endpoint_dir(self, name: str) -> Path:
        from .names import confined

        return confined(self.endpoints, "endpoint", name)

    def ensure(self) -> "WorkspacePaths":
        for d in (self.root, self.models, self.registry, self.jobs, self.endpoints, self.data):
            d.mkdir(parents=True, exist_ok=True)
        return self
