"""The local model registry: a completed job's MLflow model, versioned and immutable.

Versions are 1, 2, ... per name, allocated in SQLite, and a version's files
are never replaced: they are copied in under a temporary name, renamed into
place, and made read-only. The lineage (job, base model, data, spec) travels
with the record. The artifact is the MLflow model folder the runner wrote,
the same kind of artifact Azure ML registers as an MLflow model.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import time
from pathlib import Path
from typing import Any

from ..backend import require_completed
from ..errors import Conflict, InvalidInput, NotFound
from ..models import Job, RegisteredModel
from ..workspace import WorkspacePaths
from .store import Store

# Azure ML's rule for asset names, so a name that works here also works there.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$")


class LocalRegistry:
    def __init__(self, paths: WorkspacePaths, store: Store) -> None:
        self.paths = paths
        self.store = store

    def register(self, job: Job, name: str, version: str | None = None, description: str = "") -> RegisteredModel:
        if not _NAME.match(name or ""):
            raise InvalidInput(
                f"model name {name!r}: use letters, digits, '-', '_' or '.', starting with a letter or digit (at most 255)"
            )
        wanted: int | None = None
        if version is not None:
            if not str(version).isdigit() or int(version) < 1:
                raise InvalidInput(f"--version {version!r}: versions are whole numbers from 1")
            wanted = int(version)
        require_completed(job)
        source = Path(job.output_path or "")
        if not job.output_path or not (source / "MLmodel").is_file():
            raise NotFound(f"job {job.name} has no MLflow model in its outputs ({source})")

        staging = self.paths.registry / f".staging-{os.getpid()}-{time.time_ns()}"
        shutil.copytree(source, staging)
        record: dict[str, Any] = {
            "name": name,
            "path": "",
            "job": job.name,
            "base_model": job.model,
            "created_at": time.time(),
            "description": description or f"{job.model} fine-tuned by job {job.name}",
            "format": "mlflow",
            "lineage": {
                "job": job.name,
                "display_name": job.display_name,
                "base_model": job.model,
                "train_file": job.train_file,
                "test_file": job.test_file,
                "spec": job.spec,
            },
        }
        try:
            record = self.store.add_registered(record, wanted)
        except FileExistsError:
            shutil.rmtree(staging, ignore_errors=True)
            raise Conflict(f"{name}:{wanted} is already registered; versions are immutable, pick another") from None
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        final = self.paths.registry / name / record["version"]
        final.parent.mkdir(parents=True, exist_ok=True)
        staging.rename(final)
        _make_read_only(final)
        record = self._set_path(name, int(record["version"]), str(final))
        return _to_registered(record)

    def _set_path(self, name: str, version: int, path: str) -> dict[str, Any]:
        import json

        with self.store.transaction() as db:
            row = db.execute("SELECT record FROM registered WHERE name = ? AND version = ?", (name, version)).fetchone()
            record = json.loads(row[0])
            record["path"] = path
            db.execute(
                "UPDATE registered SET record = ? WHERE name = ? AND version = ?", (json.dumps(record), name, version)
            )
        return record

    def list(self, name: str | None = None) -> list[RegisteredModel]:
        return [_to_registered(r) for r in self.store.list_registered(name) if r.get("path")]

    def get(self, ref: str) -> RegisteredModel:
        name, _, version = ref.partition(":")
        versions = self.list(name)
        if not versions:
            raise NotFound(f"no registered model named {name!r}; `finetui model list` shows the catalog")
        if not version:
            return max(versions, key=lambda m: int(m.version))
        for m in versions:
            if m.version == version:
                return m
        raise NotFound(f"{name} has no version {version}; versions: {', '.join(m.version for m in versions)}")


def _make_read_only(root: Path) -> None:
    for dirpath, _dirs, files in os.walk(root):
        for f in files:
            p = Path(dirpath) / f
            p.chmod(p.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def _to_registered(r: dict[str, Any]) -> RegisteredModel:
    return RegisteredModel(
        name=r["name"],
        version=str(r["version"]),
        path=r["path"],
        job=r.get("job"),
        base_model=r.get("base_model"),
        created_at=r["created_at"],
        description=r.get("description", ""),
        format=r.get("format", "mlflow"),
        lineage=r.get("lineage", {}),
    )
