"""The detached job runner: ``python -m finetui.core.local.runner --workspace WS --job NAME``.

Started by LocalJobs in its own session, with stdout and stderr appended to
the job's ``user_logs/std_log.txt``. It moves the job record through
Preparing, Running, Finalizing and Completed (or Failed with a one-line
reason), each change guarded so that a ``Canceled`` written by ``job cancel``
is never overwritten. SIGTERM stops it at once: after ``job cancel`` (which
records Canceled first) the status is left alone; from anyone else the job
ends Failed, "stopped by SIGTERM", in the record and in the log alike. SIGHUP and SIGINT are ignored so a dropped SSH session or a Ctrl-C in
the terminal that started the app does not end a job.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
import traceback
import warnings
from pathlib import Path
from typing import Callable, TypeVar

from .mlflow_export import offline_env  # imports neither transformers nor mlflow

# Before anything imports transformers or mlflow: without these the MLflow save
# spends most of a minute on model-card and license look-ups that cannot succeed.
offline_env()
# OpenMP threads that spin while waiting steal the CPU from the thread doing the work whenever the
# machine has other load (the app, a browser, another job): 2 spinning threads trained the demo model
# 10x slower than 2 passive ones on a busy 2-core box. It must be set before torch loads OpenMP.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from ..errors import FinetuiError  # noqa: E402
from ..models import ACTIVE_STATUSES, JobStatus  # noqa: E402
from ..workspace import WorkspacePaths  # noqa: E402
from .metrics import LOG_RELPATH, JobLog, MetricsFile  # noqa: E402
from .records import Damaged, EvalRecord, JobRecord  # noqa: E402
from .store import Store  # noqa: E402

EXIT_CANCELED = 143  # what a shell reports for a process ended by SIGTERM
R = TypeVar("R", JobRecord, EvalRecord)


class JobCanceled(BaseException):
    """Raised in the main thread by SIGTERM; a BaseException so library ``except Exception`` blocks let it through."""


def _on_sigterm(signum: int, frame: object) -> None:
    # ignore further SIGTERMs while unwinding, so clean-up (temp folders) is not cut short
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise JobCanceled()


def install_signal_handlers() -> None:
    signal.signal(signal.SIGTERM, _on_sigterm)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, signal.SIG_IGN)


def run_job(paths: WorkspacePaths, store: Store, record: JobRecord) -> int:
    name = record.name
    job_dir = Path(record.job_dir or paths.job_dir(name))
    log = JobLog(job_dir / LOG_RELPATH)
    metrics = MetricsFile(job_dir / "metrics.jsonl")
    started = time.time()

    def current_status() -> str | None:
        current = store.get_job(name)
        return current.status.value if isinstance(current, JobRecord) else None

    def move(status: JobStatus, **changes: object) -> bool:
        updated = store.update_job_if(name, ACTIVE_STATUSES, status=status.value, **changes)
        if updated is None:
            log(f"job is {current_status()}; not moving it to {status.value}")
            return False
        return True

    try:
        if not move(JobStatus.PREPARING, pid=os.getpid(), started_at=started):
            return 0
        log(f"job {name} ({record.display_name or name}) preparing; runner pid {os.getpid()}")
        from ..spec import FineTuneSpec
        from .train import train

        spec = FineTuneSpec.from_mapping(record.spec, source="job spec")
        train_file, test_file = _prepare_data(job_dir, record, log)

        def on_phase(status: str) -> None:
            if not move(JobStatus(status)):
                raise JobCanceled()  # someone else ended the job (a cancel before our SIGTERM arrived)

        def on_masking(masking: dict) -> None:
            store.update_job(name, masking=masking)

        if not record.model_path:
            raise ValueError("the job's record names no local model folder")
        result = train(
            job_dir,
            record.model_path,
            train_file,
            test_file,
            spec,
            log=log,
            metrics=metrics,
            on_phase=on_phase,
            on_masking=on_masking,
            resume_from=record.resume_from,
        )
        duration = time.time() - started
        if move(JobStatus.COMPLETED, output_path=result.output_path, ended_at=time.time(), error=None):
            log(f"job completed in {duration:.1f} s; model at {result.output_path}")
        return 0
    except JobCanceled:
        # `job cancel` records Canceled before it signals; a SIGTERM from anyone else finds the job
        # still active and ends it Failed, so the record and the log's last line say the same thing.
        current = current_status()
        kept = _kept_checkpoints(job_dir)
        if current == JobStatus.CANCELED.value:
            log(f"canceled: stopping now; {kept}")
        elif current in ACTIVE_STATUSES:
            reason = f"stopped by SIGTERM (not sent by `finetui job cancel`); {kept}"
            move(JobStatus.FAILED, error=reason, ended_at=time.time())
            log(f"job failed: {reason}")
        else:
            log(f"job is {current}: stopping now; {kept}")
        return EXIT_CANCELED
    except BaseException as exc:  # every failure becomes a Failed job with a one-line reason
        from .train import describe_failure

        reason = describe_failure(exc)
        if not isinstance(exc, (KeyboardInterrupt, SystemExit)):
            log.raw(traceback.format_exc())
        log(f"job failed: {reason}")
        try:
            move(JobStatus.FAILED, error=reason, ended_at=time.time())
        except Exception as store_exc:  # the store itself failing must not hide the reason in the log
            log(f"could not record the failure: {store_exc}")
        return 1
    finally:
        log.close()


def _kept_checkpoints(job_dir: Path) -> str:
    from .checkpoints import complete_checkpoints

    done = complete_checkpoints(job_dir)
    if not done:
        return "no checkpoint was written"
    return f"{len(done)} complete checkpoint{'s' if len(done) != 1 else ''} kept (latest {done[-1].name})"


def _prepare_data(job_dir: Path, record: JobRecord, log: JobLog) -> tuple[Path, Path | None]:
    """Copies of the train/test files with only ``messages`` (TRL misreads ultrachat's ``prompt`` column)."""
    from ..data.prepare import prepare_training_file

    data = job_dir / "data"
    train = data / "train.jsonl"
    rows = prepare_training_file(record.train_file, train)
    log(f"prepared {rows} training rows from {record.train_file}")
    test = None
    if record.test_file:
        test = data / "test.jsonl"
        rows = prepare_training_file(record.test_file, test)
        log(f"prepared {rows} test rows from {record.test_file}")
    return train, test


def detached_main(
    argv: list[str] | None,
    module: str,
    flag: str,
    kind: str,
    read: Callable[[Store, str], R | Damaged | None],
    run: Callable[[WorkspacePaths, Store, R], int],
) -> int:
    """The command line of a detached process (``python -m MODULE --workspace WS --FLAG NAME``): ``run`` on the
    record ``read`` finds, with the signals handled as above; a missing or damaged record is one line, exit 2."""
    label = f"finetui {'runner' if kind == 'job' else kind + ' runner'}"
    parser = argparse.ArgumentParser(prog=f"python -m {module}")
    parser.add_argument("--workspace", required=True, type=Path)
    parser.add_argument(f"--{flag}", required=True, dest="name")
    args = parser.parse_args(argv)
    install_signal_handlers()
    # library deprecation notices (transformers v6 renames) are for us, not for the reader of a job log
    warnings.simplefilter("ignore", FutureWarning)
    try:
        workspace = args.workspace.expanduser().resolve()
        paths = WorkspacePaths(workspace)
        store = Store(paths.db)
        try:
            record = read(store, args.name)
            if record is None or isinstance(record, Damaged):
                why = f"no {kind} named" if record is None else f"a damaged record ({record.why}) for the {kind}"
                print(f"{label}: {why} {args.name!r} in {workspace}", file=sys.stderr)
                return 2
            return run(paths, store, record)
        finally:
            store.close()
    except JobCanceled:  # SIGTERM before the run's own handling began
        return EXIT_CANCELED
    except FinetuiError as exc:  # the store cannot be opened: one line in the log, not a traceback
        print(f"{label}: {exc}", file=sys.stderr)
        return 1


def main(argv: list[str] | None = None) -> int:
    return detached_main(argv, "finetui.core.local.runner", "job", "job", Store.get_job, run_job)


if __name__ == "__main__":
    sys.exit(main())
