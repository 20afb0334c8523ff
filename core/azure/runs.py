"""A job's runs in run history: its status in our words, the SDK's job, and its steps in pipeline order.

Shared by the job service (``jobs.py``) and the log reader (``logs.py``),
which both need a job's status and steps; neither imports the other for them.
"""

from __future__ import annotations

import time
from typing import Any

from ..models import JobStatus, JobStep
from .client import AzureClient

_STATUS = {s.value.lower(): s for s in JobStatus}
_STATUS.update(
    {
        "starting": JobStatus.PREPARING,
        "provisioning": JobStatus.PREPARING,
        "cancelrequested": JobStatus.CANCELED,
        "notresponding": JobStatus.RUNNING,
        "paused": JobStatus.QUEUED,
        "unknown": JobStatus.QUEUED,
    }
)

# chat_completion_pipeline's steps, in the order the pipeline runs them
PIPELINE_STEPS = ("model_import", "preprocess", "finetune", "model_evaluation")


def map_status(raw: Any) -> JobStatus:
    return _STATUS.get(str(getattr(raw, "value", raw) or "").lower(), JobStatus.QUEUED)


def to_timestamp(value: Any) -> float | None:
    """A datetime or an ISO 8601 string (``Z`` or an offset) as seconds since the epoch; ``None`` if unreadable."""
    if value is None:
        return None
    if hasattr(value, "timestamp"):
        return float(value.timestamp())
    try:
        from datetime import datetime

        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _pipeline_position(run: Any) -> int:
    name = str(getattr(run, "display_name", None) or getattr(run, "name", None) or "")
    return next((i for i, step in enumerate(PIPELINE_STEPS) if name == step or name.endswith(f"_{step}")), len(PIPELINE_STEPS))


def to_step(run: Any) -> JobStep:
    started, ended = to_timestamp(getattr(run, "start_time_utc", None)), to_timestamp(getattr(run, "end_time_utc", None))
    status = map_status(run.status)
    until = ended if ended is not None else (None if status.terminal else time.time())
    return JobStep(
        str(run.run_id),
        status,
        run.display_name or run.name,
        started_at=started,
        ended_at=ended,
        compute=getattr(run, "target", None) or None,
        duration_s=(until - started) if started is not None and until is not None else None,
    )


class AzureRuns:
    def __init__(self, client: AzureClient) -> None:
        self.client = client

    def sdk_job(self, name: str) -> Any:
        """The SDK's Job for ``name`` (a pipeline job, or a step's run id)."""
        ws = self.client.ws
        return self.client.call(lambda: ws.jobs.get(name), self.client.ws_ctx(f"job {name}"))

    def child_runs(self, name: str) -> list[Any]:
        """Run-history children (what ``jobs.list(parent_job_name=...)`` reads), kept as Run records:
        the SDK's Job view of them drops each step's error, which a failed job must show."""
        ws = self.client.ws
        runs = ws.jobs._runs_operations
        scope = self.client.workspace
        kids = self.client.call(
            lambda: list(runs._operation.get_child(scope.subscription_id, scope.resource_group, scope.workspace_name, name)),
            self.client.ws_ctx(f"steps of job {name}"),
        )
        kids.sort(key=lambda r: (_pipeline_position(r), to_timestamp(r.created_utc) or 0, str(r.run_id)))
        return kids

    def steps(self, name: str) -> tuple[JobStep, ...]:
        """The steps that have started, in pipeline order (model_import, preprocess, finetune, model_evaluation)."""
        return tuple(to_step(r) for r in self.child_runs(name))
