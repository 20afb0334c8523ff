"""Records of work done by a detached process: local fine-tuning jobs and evaluations.

Both are started the same way (``python -m MODULE --workspace WS --FLAG NAME``
in its own session, its output appended to a log), moved on by that process,
and read back reconciled with reality: a record that says Running while its
process is gone is marked Failed with the last line of its log, so nothing
stays Running forever. Cancel records Canceled first, then signals, so the
process knows the stop was asked for.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Generic, TypeVar

from ..errors import FinetuiError, NotFound, OperationFailed
from ..models import ACTIVE_STATUSES, JobStatus
from .. import procs
from .records import Damaged, EvalRecord, JobRecord

R = TypeVar("R", JobRecord, EvalRecord)

# A job recorded but whose process never reported in is dead after this long.
STARTUP_GRACE_S = 120.0


@dataclass(frozen=True)
class DetachedRuns(Generic[R]):
    """One kind of detached run, by the store's functions for its table."""

    kind: str  # "job", "evaluation": the word in messages
    process: str  # "runner", "evaluation": what could not start, or ended without finishing
    module: str  # the process: python -m MODULE --workspace WORKSPACE --FLAG NAME
    flag: str
    workspace: Path
    get_record: Callable[[str], R | Damaged | None]
    list_records: Callable[[], list[R | Damaged]]
    update_if: Callable[..., R | None]  # (name, allowed_from or None for any, **changes)
    log_path: Callable[[str], Path]
    missing: Callable[[str], str]  # the NotFound message for a name with no record
    active: tuple[str, ...] = ACTIVE_STATUSES
    on_gone: Callable[[R], object] | None = None  # clean-up once nobody writes for the run any more

    def get(self, name: str) -> R | Damaged:
        record = self.get_record(name)
        if record is None:
            raise NotFound(self.missing(name))
        return self.reconcile(record)

    def list_all(self) -> list[R | Damaged]:
        return [self.reconcile(r) for r in self.list_records()]

    def reconcile(self, record: R | Damaged) -> R | Damaged:
        """Mark a run Failed when its process is gone but the record says it is active."""
        if isinstance(record, Damaged) or record.status.terminal:
            return record  # a damaged record is shown as Damaged, never rewritten
        reason = procs.gone_reason(
            record.pid,
            record.pid_start_time,
            record.created_at,
            self.log_path(record.name),
            f"{self.process} process",
            STARTUP_GRACE_S,
        )
        if reason is None:
            return record
        if self.on_gone is not None:
            self.on_gone(record)
        updated = self.update_if(record.name, self.active, status=JobStatus.FAILED.value, error=reason, ended_at=time.time())
        return updated or self.get_record(record.name) or record

    def start(self, name: str, cwd: Path) -> None:
        """Spawn the process for ``name`` and record its pid; a spawn that fails leaves the run Failed."""
        argv = procs.python_module_argv(self.module, "--workspace", str(self.workspace), f"--{self.flag}", name)
        try:
            pid, started = procs.spawn_detached(argv, log_path=self.log_path(name), cwd=cwd)
        except OSError as exc:
            reason = f"could not start the {self.process}: {exc.strerror or exc}"
            with contextlib.suppress(FinetuiError):
                self.update_if(name, None, status=JobStatus.FAILED.value, error=reason, ended_at=time.time())
            raise OperationFailed(f"{self.kind} {name}: {reason}") from None
        self.update_if(name, None, pid=pid, pid_start_time=started)

    def cancel(self, record: R) -> None:
        """Record Canceled, then stop its process (a run that ended meanwhile is left as it ended)."""
        if (
            self.update_if(
                record.name, self.active, status=JobStatus.CANCELED.value, error="canceled by the user", ended_at=time.time()
            )
            is not None
        ):
            procs.terminate(record.pid, record.pid_start_time, grace=15.0)
