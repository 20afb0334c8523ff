"""``job extend``: train a Completed local job for more epochs, as a new job that continues the first.

The new job starts from the first job's last complete checkpoint (weights,
optimizer and scheduler state, step count) with ``num_train_epochs`` raised
by N, so its steps carry on from where the first ended; its record names the
job it extends (``extends``) and the checkpoint it started from.
"""

from __future__ import annotations

from ..backend import JobRequest
from ..errors import Conflict, InvalidInput, quote
from ..models import Job, JobStatus
from .checkpoints import complete_checkpoints
from .jobs import LocalJobs

MAX_EXTRA_EPOCHS = 1000


def extend_job(jobs: LocalJobs, name: str, epochs: float) -> tuple[Job, str]:
    """(the new job, the checkpoint it continues from)."""
    if not isinstance(epochs, (int, float)) or not 0 < epochs <= MAX_EXTRA_EPOCHS:
        raise InvalidInput(f"--epochs {quote(epochs)}: use more than 0 and at most {MAX_EXTRA_EPOCHS}")
    job = jobs.get(name)
    if job.status is not JobStatus.COMPLETED:
        raise Conflict(
            f"job {name} is {job.status.value}; only a Completed job can be extended (`job resume` continues a stopped one)"
        )
    spec = dict(job.spec)
    if int(spec.get("max_steps", -1)) > 0:
        raise InvalidInput(f"job {name} ran for max_steps={spec['max_steps']}; extend continues epoch-based jobs only")
    done = complete_checkpoints(jobs.paths.job_dir(job.name))
    if not done:
        raise Conflict(f"job {name} kept no complete checkpoint to continue from")
    spec["num_train_epochs"] = float(spec.get("num_train_epochs", 0)) + float(epochs)
    request = JobRequest(
        model=job.model,
        train_file=job.train_file,
        test_file=job.test_file,
        spec=spec,
        spec_source=f"job {name}",
        experiment=job.experiment,
        resume_from=str(done[-1]),
        extends=job.name,
    )
    return jobs.submit(request), str(done[-1])
