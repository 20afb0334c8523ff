"""Local fine-tuning jobs: submit, watch, cancel.

``submit`` checks everything that can be checked before a process starts
(spec, data, memory fit), records the job, and starts the runner
(``core/local/runner.py``) detached. Status is the record in SQLite, written
by the runner; reading a job also reconciles it with reality, so a runner
that died by a signal or a crash is reported as Failed, never Running forever.
"""

from __future__ import annotations

import builtins
import dataclasses
import json
import secrets
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..backend import JobRequest
from ..checkpoint_rows import checkpoint_step
from ..data.submit_check import require_valid_data
from ..errors import Conflict, DoesNotFit, FinetuiError, InvalidInput, NotFound
from ..log_reading import DEFAULT_MAX_BYTES, read_chunk
from ..models import Job, JobStatus, LogChunk, MetricPoint
from ..names import check_name
from ..spec import FineTuneSpec, resolve_spec
from ..units import size
from ..workspace import WorkspacePaths
from .checkpoints import remove_incomplete_checkpoints
from .detached import DetachedRuns
from .metrics import LOG_RELPATH, JobLog
from .records import Damaged, JobRecord, public
from .storage_errors import os_storage_error
from .store import Store

if TYPE_CHECKING:
    from ..data.preview import DataCheck

# job submit masks and measures at most this many training rows (a second or two of tokenizing)
CHECK_ROWS = 5000


class LocalJobs:
    def __init__(self, paths: WorkspacePaths, store: Store, catalog: Any) -> None:
        self.paths = paths
        self.store = store
        self.catalog = catalog
        self.runs = DetachedRuns[JobRecord](
            kind="job",
            process="runner",
            module="finetui.core.local.runner",
            flag="job",
            workspace=paths.root,
            get_record=store.get_job,
            list_records=store.list_jobs,
            update_if=store.update_job_if,
            log_path=lambda name: paths.job_dir(name) / LOG_RELPATH,
            missing=lambda name: f"no job named {name!r} in {paths.root}; `finetui job list` shows the jobs",
            # a runner killed while writing a checkpoint leaves part of one; nobody writes there any more
            on_gone=lambda record: remove_incomplete_checkpoints(paths.job_dir(record.name)),
        )

    def start_runner(self, name: str) -> None:
        """Spawn the detached runner of job ``name`` (a new job, or one `job resume` continues)."""
        self.runs.start(name, cwd=self.paths.job_dir(name))

    # -- submit ------------------------------------------------------------------
    def submit(self, request: JobRequest, backend: Any = None) -> Job:
        model = self.catalog.get(request.model)
        if not model.path:
            raise InvalidInput(f"model {model.ref} has no local files; local jobs need a local model")
        resolved = resolve_spec(model.model_specific_defaults, request.spec, user_source=request.spec_source)
        spec = resolved.spec
        train_file = _existing_file(request.train_file, "--train")
        test_file = _existing_file(request.test_file, "--test") if request.test_file else None
        if spec.early_stopping_patience and not test_file:
            raise InvalidInput("early_stopping_patience: early stopping watches the eval loss; pass --test FILE")
        check = _check_data(model, spec, train_file)
        if test_file:
            require_valid_data(test_file)
        self._check_fit(model, spec, request, None if check.sampled else check.longest_row)

        name = _new_job_name(model.name)
        job_dir = self.paths.job_dir(name)
        try:
            # The log's first line is written here, so a folder that cannot take a write fails the submit
            # rather than the runner. (The spec lives in the job's record, which runner, resume and extend read.)
            log = JobLog(job_dir / LOG_RELPATH)
            try:
                log(f"submitted: {model.ref}, {train_file.name}; data: {check.summary()}")
            finally:
                log.close()
        except OSError as exc:  # a full disk or a read-only workspace: leave no half-made job behind
            shutil.rmtree(job_dir, ignore_errors=True)
            raise os_storage_error(exc, job_dir, "writing the job folder") from None
        record = JobRecord(
            name=name,
            display_name=request.display_name or spec.display_name(model.name),
            status=JobStatus.NOT_STARTED,
            backend="local",
            model=model.ref,
            model_path=model.path,
            train_file=str(train_file),
            test_file=str(test_file) if test_file else None,
            spec=spec.to_dict(),
            overrides=[dict(o.__dict__) for o in resolved.overrides],
            created_at=time.time(),
            experiment=request.experiment or f"chat_completion_{model.name}",
            resume_from=request.resume_from,
            extends=request.extends,
            job_dir=str(job_dir),
            data_check=check.summary(),
        )
        try:
            self.store.put_job(record)
        except FinetuiError:
            shutil.rmtree(job_dir, ignore_errors=True)
            raise
        self.start_runner(name)
        # The runner may already have moved the job on; only a fresh record becomes Queued.
        self.store.update_job_if(name, (JobStatus.NOT_STARTED.value,), status=JobStatus.QUEUED.value)
        return dataclasses.replace(self.get(name), notes=resolved.notes())

    def _check_fit(self, model: Any, spec: FineTuneSpec, request: JobRequest, longest_row: int | None) -> None:
        from ..compute_fit import check_fit, pick_target
        from .hardware import detect_targets

        report = check_fit(model, spec, pick_target(detect_targets(), request.compute), longest_row=longest_row)
        if not report.fits and not request.force:
            hint = f"; {report.suggestion}" if report.suggestion else ""
            raise DoesNotFit(
                f"{model.ref} with this spec needs about {size(report.estimate.total_bytes)} on "
                f"{report.target}, which is more than it has{hint} (or pass --force)",
                report,
            )

    # -- read ------------------------------------------------------------------------
    def get(self, name: str) -> Job:
        return _to_job(self.record(name))

    def record(self, name: str) -> JobRecord | Damaged:
        """The job's record, reconciled with its runner."""
        return self.runs.get(check_name("job", name))

    def list(self) -> list[Job]:
        return [_to_job(r) for r in self.runs.list_all()]

    # -- cancel ----------------------------------------------------------------------
    def cancel(self, name: str) -> Job:
        record = self.record(name)
        if isinstance(record, Damaged) or record.status.terminal:
            job = _to_job(record)
            raise Conflict(f"job {name} has already ended ({job.status.value}); nothing to cancel")
        self.runs.cancel(record)
        return self.get(name)

    # -- logs and metrics ------------------------------------------------------------
    def log_path(self, name: str) -> Path:
        return self.paths.job_dir(self.get(name).name) / LOG_RELPATH

    def read_log(self, name: str, offset: int = 0, max_bytes: int = DEFAULT_MAX_BYTES) -> LogChunk:
        """Whole lines from ``offset``; ``complete`` once the job has ended and the log is read."""
        ended = self.get(name).status.terminal  # before the read: nothing is written after an ended job's size
        return read_chunk(self.paths.job_dir(name) / LOG_RELPATH, offset, max_bytes, ended=ended)

    # builtins.list: inside the class body `list` is the method above
    def metrics(self, name: str, _seen: frozenset[str] = frozenset()) -> builtins.list[MetricPoint]:
        """The job's metrics; a job made by ``job extend`` has the job it continues first, up to the
        checkpoint it started from, so its loss curve is the whole run's."""
        record = self.record(name)  # NotFound for a name with no job
        earlier: list[MetricPoint] = []
        if isinstance(record, JobRecord) and record.extends and record.resume_from and record.extends not in _seen:
            upto = checkpoint_step(Path(record.resume_from).name)
            try:
                earlier = [p for p in self.metrics(record.extends, _seen | {name}) if upto is None or p.step <= upto]
            except NotFound:  # the first job was deleted: the continued run's own points still stand
                earlier = []
        return earlier + self._own_metrics(name)

    def _own_metrics(self, name: str) -> builtins.list[MetricPoint]:
        path = self.paths.job_dir(name) / "metrics.jsonl"
        points: list[MetricPoint] = []
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return points
        for line in lines:
            try:
                d = json.loads(line)
                points.append(
                    MetricPoint(
                        name=str(d["name"]),
                        value=float(d["value"]),
                        step=int(d.get("step", 0)),
                        epoch=d.get("epoch"),
                        timestamp=d.get("timestamp"),
                    )
                )
            except (ValueError, KeyError, TypeError):
                continue  # a line still being written
        return points


def _existing_file(path: str | None, option: str) -> Path:
    from ..files import check_regular_file

    if not path:
        raise InvalidInput(f"{option}: a JSONL file is required")
    return check_regular_file(path, option)


def _check_data(model: Any, spec: FineTuneSpec, train_file: Path) -> DataCheck:
    """The training file validated, and its rows masked and measured as the trainer will (the first
    CHECK_ROWS of a big file), in one read of the file."""
    from ..data.preview import check_rows
    from ..data.tokens import load_tokenizer
    from ..seq_length import job_sequence_length

    rows: list[list[dict[str, Any]]] = []
    report = require_valid_data(train_file, sample=rows, sample_rows=CHECK_ROWS)
    length = job_sequence_length(spec.max_seq_length, model.context_length)
    return check_rows(load_tokenizer(model.path), rows, length, sampled=report.valid_rows > CHECK_ROWS)


def _new_job_name(model_name: str) -> str:
    slug = "".join(c if c.isalnum() else "-" for c in model_name.lower()).strip("-")[:24].strip("-")
    return f"{slug}-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"


def _to_job(r: JobRecord | Damaged) -> Job:
    if isinstance(r, Damaged):
        return Job(
            name=r.name,
            display_name=r.name,
            status=JobStatus.DAMAGED,
            backend="local",
            model="",
            train_file="",
            test_file=None,
            spec={},
            created_at=0.0,
            error=f"the job's record in the workspace database is damaged ({r.why}); other jobs are unaffected",
        )
    return public(r, Job)
