"""``job resume``: a Failed or Canceled local job continues from its last complete checkpoint.

The same job (same name, folder, log and metrics.jsonl) goes back to Queued
with ``resume_from`` set, and a new runner starts it; the Trainer restores
the weights, optimizer, scheduler, RNG state and its place in the data from
the checkpoint, so no step up to it is trained twice and the loss curve goes
on as one. Partial checkpoint folders (a kill mid-save) are removed first,
since no runner is writing to the job any more.
"""

from __future__ import annotations

import os

from ..errors import Conflict
from ..models import Job, JobStatus
from .. import procs
from .checkpoints import complete_checkpoints, remove_incomplete_checkpoints
from .jobs import LocalJobs
from .records import JobRecord

RESUMABLE = (JobStatus.FAILED.value, JobStatus.CANCELED.value)


def resume_job(jobs: LocalJobs, name: str) -> Job:
    record = jobs.record(name)  # reconciled: a runner that died is Failed by now
    if not isinstance(record, JobRecord) or record.status.value not in RESUMABLE:
        raise Conflict(f"job {name} is {jobs.get(name).status.value}; only a Failed or Canceled job can be resumed")
    job_dir = jobs.paths.job_dir(record.name)
    remove_incomplete_checkpoints(job_dir)
    done = complete_checkpoints(job_dir)
    if not done:
        raise Conflict(f"job {name} saved no complete checkpoint to resume from; submit it again")
    last = done[-1]
    # until the runner is spawned this process stands for it, so a reader meanwhile sees a live job,
    # and a crash here leaves a job that reads as Failed again rather than Queued forever
    me = os.getpid()
    updated = jobs.store.update_job_if(
        name,
        RESUMABLE,
        status=JobStatus.QUEUED.value,
        resume_from=str(last),
        error=None,
        ended_at=None,
        pid=me,
        pid_start_time=procs.process_start_time(me),
        resumed=[*record.resumed, last.name],
    )
    if updated is None:
        raise Conflict(f"job {name} changed while resuming it; try again")
    jobs.start_runner(name)
    return jobs.get(name)
