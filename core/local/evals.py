"""Local evaluations: submit, watch, cancel, read, like fine-tuning jobs.

An evaluation is recorded in the workspace's SQLite file (its own ``evals``
table, created on first use) and run by ``core/local/eval_runner.py`` in a
detached process, so it survives the app and an SSH hang-up. Reading one
reconciles it with reality: a runner that died is reported as Failed.
Per-row results are ``evals/<name>/rows.jsonl`` in the workspace.
"""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path
from typing import Any

from ..data.submit_check import require_valid_data
from ..errors import Conflict, InvalidInput, NotFound, OperationFailed, quote
from ..evaluate import DeployGate, EvalRequest, EvalRun, EvalScores, gate
from ..models import ACTIVE_STATUSES, JobStatus
from ..names import check_name, confined
from ..workspace import WorkspacePaths
from .. import procs
from .jobs import _existing_file
from .store import DAMAGED, Store, damage_reason

LOG_NAME = "log.txt"
ROWS_NAME = "rows.jsonl"
STARTUP_GRACE_S = 120.0
MAX_ROWS_LIMIT = 1_000_000
MAX_NEW_TOKENS_LIMIT = 4096

_SCHEMA = """CREATE TABLE IF NOT EXISTS evals (
    name TEXT PRIMARY KEY, status TEXT NOT NULL, model TEXT NOT NULL, created_at REAL NOT NULL, record TEXT NOT NULL)"""


class EvalStore:
    """The ``evals`` table: one JSON record per evaluation, updated in single write transactions."""

    def __init__(self, store: Store) -> None:
        self.store = store
        with store.transaction() as db:
            db.execute(_SCHEMA)

    def put(self, record: dict[str, Any]) -> None:
        with self.store.transaction() as db:
            db.execute("INSERT INTO evals(name, status, model, created_at, record) VALUES (?, ?, ?, ?, ?)",
                       (record["name"], record["status"], record["model"], record["created_at"], json.dumps(record)))

    def get(self, name: str) -> dict[str, Any] | None:
        rows = self.store.query("SELECT record, name FROM evals WHERE name = ?", (name,))
        return rows[0] if rows else None

    def list(self) -> list[dict[str, Any]]:
        return self.store.query("SELECT record, name FROM evals ORDER BY created_at DESC")

    def update_if(self, name: str, allowed_from: tuple[str, ...] | None, **changes: Any) -> dict[str, Any] | None:
        """Apply ``changes`` while the status is one of ``allowed_from`` (any, for None); None when it was not."""
        with self.store.transaction() as db:
            row = db.execute("SELECT record FROM evals WHERE name = ?", (name,)).fetchone()
            if row is None:
                return None
            record = json.loads(row[0])
            if allowed_from is not None and record["status"] not in allowed_from:
                return None
            record.update(changes)
            db.execute("UPDATE evals SET status = ?, record = ? WHERE name = ?", (record["status"], json.dumps(record), name))
        return record


class EvalManager:
    def __init__(self, paths: WorkspacePaths, store: Store, catalog: Any) -> None:
        self.paths = paths
        self.records = EvalStore(store)
        self.catalog = catalog

    @property
    def root(self) -> Path:
        return self.paths.root / "evals"

    def eval_dir(self, name: str) -> Path:
        return confined(self.root, "job", name)

    # -- submit ------------------------------------------------------------------
    def submit(self, request: EvalRequest) -> EvalRun:
        if request.max_rows is not None and not 1 <= request.max_rows <= MAX_ROWS_LIMIT:
            raise InvalidInput(f"--max-rows {quote(request.max_rows)}: use a whole number from 1 to {MAX_ROWS_LIMIT}")
        if not 1 <= request.max_new_tokens <= MAX_NEW_TOKENS_LIMIT:
            raise InvalidInput(f"--max-new-tokens {quote(request.max_new_tokens)}: use 1 to {MAX_NEW_TOKENS_LIMIT}")
        model = self._local_model(request.model, "model")
        base_ref = request.base or model.lineage.get("base_model") or None
        base = self._local_model(base_ref, "--base") if base_ref else None
        test_file = _existing_file(request.test_file, "--test")
        require_valid_data(test_file)

        name = f"eval-{model.name.lower()[:40].strip('-.')}-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"
        name = "".join(c if c.isalnum() or c in "-_" else "-" for c in name)
        folder = self.eval_dir(name)
        folder.mkdir(parents=True, exist_ok=True)
        record = {
            "name": name,
            "status": JobStatus.NOT_STARTED.value,
            "model": model.ref,
            "model_path": model.path,
            "base": base.ref if base else None,
            "base_path": base.path if base else None,
            "model_defaults": dict((base or model).model_specific_defaults),
            "test_file": str(test_file),
            "max_rows": request.max_rows,
            "max_new_tokens": request.max_new_tokens,
            "created_at": time.time(),
            "started_at": None,
            "ended_at": None,
            "error": None,
            "phase": "queued",
            "done": 0,
            "total": 0,
            "scores": {},
            "rows_path": None,
            "pid": None,
            "pid_start_time": None,
        }
        self.records.put(record)
        argv = procs.python_module_argv("finetui.core.local.eval_runner", "--workspace", str(self.paths.root), "--eval", name)
        try:
            pid, started = procs.spawn_detached(argv, log_path=folder / LOG_NAME, cwd=folder)
        except OSError as exc:
            self.records.update_if(name, None, status=JobStatus.FAILED.value, error=f"could not start the evaluation: {exc}",
                                   ended_at=time.time())
            raise
        self.records.update_if(name, None, pid=pid, pid_start_time=started)
        self.records.update_if(name, (JobStatus.NOT_STARTED.value,), status=JobStatus.QUEUED.value)
        return self.get(name)

    def _local_model(self, ref: str, what: str) -> Any:
        entry = self.catalog.get(ref)
        if not entry.path:
            raise InvalidInput(f"{what} {entry.ref} has no local files; local evaluations need a local model")
        return entry

    # -- read ------------------------------------------------------------------------
    def get(self, name: str) -> EvalRun:
        record = self.records.get(check_name("job", name))
        if record is None:
            raise NotFound(f"no evaluation named {name!r} in {self.paths.root}; `finetui eval list` shows them")
        return to_run(self._reconcile(record))

    def list(self) -> list[EvalRun]:
        return [to_run(self._reconcile(r)) for r in self.records.list()]

    def latest_for(self, ref: str) -> EvalRun | None:
        """The newest Completed evaluation of the catalog model ``ref`` resolves to."""
        wanted = self.catalog.get(ref).ref
        for r in self.records.list():
            if r["model"] == wanted and r["status"] == JobStatus.COMPLETED.value:
                return to_run(r)
        return None

    def gate(self, ref: str) -> DeployGate:
        """What to tell someone about to deploy ``ref``: its latest evaluation against its base."""
        wanted = self.catalog.get(ref).ref
        return gate(wanted, self.latest_for(wanted))

    def rows(self, name: str) -> list[dict[str, Any]]:
        run = self.get(name)
        if not run.rows_path:
            return []
        try:
            with open(run.rows_path, encoding="utf-8") as fh:
                return [json.loads(line) for line in fh if line.strip()]
        except (OSError, ValueError) as exc:  # removed or damaged since: one line, not a traceback
            why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc).splitlines()[0]
            raise OperationFailed(f"evaluation {name}: cannot read its per-row results {run.rows_path}: {why}") from None

    def log_path(self, name: str) -> Path:
        return self.eval_dir(self.get(name).name) / LOG_NAME

    def _reconcile(self, record: dict[str, Any]) -> dict[str, Any]:
        """Mark an evaluation Failed when its process is gone but the record says it is active."""
        if DAMAGED in record or record.get("status") not in ACTIVE_STATUSES:
            return record  # a damaged record is shown as Damaged, never rewritten
        reason = procs.gone_reason(record, self.eval_dir(record["name"]) / LOG_NAME, "evaluation process", STARTUP_GRACE_S)
        if reason is None:
            return record
        updated = self.records.update_if(record["name"], ACTIVE_STATUSES, status=JobStatus.FAILED.value, error=reason, ended_at=time.time())
        return updated or self.records.get(record["name"]) or record

    # -- cancel ----------------------------------------------------------------------
    def cancel(self, name: str) -> EvalRun:
        run = self.get(name)
        if run.status.terminal:
            raise Conflict(f"evaluation {name} has already ended ({run.status.value}); nothing to cancel")
        record = self.records.get(name) or {}
        if self.records.update_if(name, ACTIVE_STATUSES, status=JobStatus.CANCELED.value, error="canceled by the user",
                                  ended_at=time.time()) is not None:
            procs.terminate(record.get("pid"), record.get("pid_start_time"), grace=15.0)
        return self.get(name)


def to_run(r: dict[str, Any]) -> EvalRun:
    """An evaluation's record as a typed run; a damaged record shows as Damaged under its name, alone."""
    why = r.get(DAMAGED)
    if why is None:
        try:
            return _run(r)
        except (KeyError, TypeError, ValueError) as exc:
            why = damage_reason(exc)
    return EvalRun(name=str(r.get("name")), status=JobStatus.DAMAGED, model="", base=None, test_file="", created_at=0.0,
                   error=f"the evaluation's record in the workspace database is damaged ({why}); others are unaffected")


def _run(r: dict[str, Any]) -> EvalRun:
    return EvalRun(
        name=r["name"],
        status=JobStatus(r["status"]),
        model=r["model"],
        base=r.get("base"),
        test_file=r["test_file"],
        created_at=r["created_at"],
        max_rows=r.get("max_rows"),
        started_at=r.get("started_at"),
        ended_at=r.get("ended_at"),
        error=r.get("error"),
        phase=r.get("phase", ""),
        done=int(r.get("done") or 0),
        total=int(r.get("total") or 0),
        scores={side: EvalScores(**s) for side, s in (r.get("scores") or {}).items()},
        rows_path=r.get("rows_path"),
        pid=r.get("pid"),
    )
