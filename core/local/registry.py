"""The local model registry: a completed job's MLflow model, versioned and immutable.

Versions are 1, 2, ... per name, allocated in SQLite, and a version's files
are never replaced: they are copied in under a temporary name, renamed into
place, and made read-only. The lineage (job, base model, data, spec) travels
with the record. The artifact is the MLflow model folder the runner wrote,
the same kind of artifact Azure ML registers as an MLflow model.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ..backend import require_completed
from ..errors import Conflict, InvalidInput, NotFound
from ..models import Job, RegisteredModel
from ..names import check_name, check_ref, confined
from ..workspace import WorkspacePaths
from ..faults import fault_point
from .registry_files import STAGING_PREFIX, copy_in, fsync_dir, make_read_only, new_staging, remove_tree, sweep_stale_staging
from .storage_errors import os_storage_error
from .store import (
    DAMAGED,
    Store,
    delete_registered,
    insert_registered,
    next_registered_version,
    parse_record,
    registered_exists,
    registered_rows,
)


class LocalRegistry:
    def __init__(self, paths: WorkspacePaths, store: Store) -> None:
        self.paths = paths
        self.store = store

    def register(self, job: Job, name: str, version: str | None = None, description: str = "") -> RegisteredModel:
        check_name("registered model", name)
        wanted: int | None = None
        if version is not None:
            if not str(version).isdigit() or int(version) < 1:
                raise InvalidInput(f"--version {version!r}: versions are whole numbers from 1")
            wanted = int(version)
        require_completed(job)
        source = Path(job.output_path or "")
        if not job.output_path or not (source / "MLmodel").is_file():
            raise NotFound(f"job {job.name} has no MLflow model in its outputs ({source})")

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
        registry = self.paths.registry
        staging = new_staging(registry)
        try:
            sweep_stale_staging(registry)
            copy_in(source, staging)
            make_read_only(staging, top=False)  # the top folder is made read-only once renamed into place
        except BaseException as exc:
            _discard(staging)
            if isinstance(exc, OSError):
                raise os_storage_error(exc, registry, "copying the model into") from None
            raise
        final: Path | None = None
        try:
            with self.store.transaction() as db:
                # Holding the write lock: nobody else is between a rename and its insert, so a
                # version folder without a row, or a row without its folder, is a crash's leftover.
                self._sweep_half_versions(db)
                version_number = wanted or next_registered_version(db, name)
                if wanted and registered_exists(db, name, wanted):
                    raise Conflict(f"{name}:{wanted} is already registered; versions are immutable, pick another")
                final = confined(registry, "registered model", name) / str(version_number)
                final.parent.mkdir(parents=True, exist_ok=True)
                staging.rename(final)
                fault_point("register.rename")  # a kill here: a folder with no row, swept next time
                final.chmod(0o555)
                fsync_dir(final.parent)
                record = insert_registered(db, dict(record, path=str(final)), version_number)
        except BaseException as exc:
            _discard(staging)
            if final is not None and not self._recorded(name, final):
                _discard(final)
            if isinstance(exc, OSError):
                raise os_storage_error(exc, registry, "moving the model into") from None
            raise
        return _to_registered(record)

    def _sweep_half_versions(self, db: Any) -> None:
        """Inside the register transaction: drop rows without files and files without rows."""
        kept: set[tuple[str, str]] = set()
        for name, version, raw in registered_rows(db):
            record = parse_record(raw, name, version)
            if DAMAGED in record:
                kept.add((name, str(version)))  # a damaged row is shown as damaged, not swept
                continue
            path = record.get("path")
            expected = self.paths.registry / name / str(version)
            # the recorded path, or where it would be in a workspace that was moved since
            if path and (Path(path).is_dir() or expected.is_dir()):
                kept.add((name, str(version)))
            else:
                delete_registered(db, name, version)
        for folder in self.paths.registry.iterdir():
            if folder.name.startswith(STAGING_PREFIX) or not folder.is_dir() or folder.is_symlink():
                continue
            for version_dir in folder.iterdir():
                if version_dir.name.isdigit() and (folder.name, version_dir.name) not in kept:
                    remove_tree(version_dir)

    def _recorded(self, name: str, final: Path) -> bool:
        """After a failed transaction: did the row make it in after all (a commit that raised late)?"""
        try:
            return any(r.get("path") == str(final) for r in self.store.list_registered(name))
        except Exception:
            return False

    def list(self, name: str | None = None) -> list[RegisteredModel]:
        return [_to_registered(r) for r in self.store.list_registered(name) if r.get("path")]

    def get(self, ref: str) -> RegisteredModel:
        # a catalog name (org/name) passes too: it is simply not found here
        name, version = check_ref("model", ref)
        versions = self.list(name)
        if not versions:
            raise NotFound(
                f"no registered model named {name!r} in workspace {self.paths.root}; `finetui model list` shows the catalog"
            )
        if not version:
            return max(versions, key=lambda m: int(m.version))
        for m in versions:
            if m.version == version:
                return m
        raise NotFound(f"{name} has no version {version}; versions: {', '.join(m.version for m in versions)}")


def _discard(path: Path) -> None:
    """Best-effort removal while another error is already on its way to the user."""
    try:
        remove_tree(path)
    except OSError:
        pass


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
