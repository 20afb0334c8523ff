"""How far a running job is: its step of the total and a time left from the recent steps' rate.

Read from what the Jobs pane already reads: the metrics (each with its step and
the time it was written) for the step and the rate, and the head of the log for
the total (the local runner logs ``...; N steps, M per epoch`` before training,
and every step line reads ``step K/N``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Sequence

from .models import MetricPoint

LOG_HEAD_BYTES = 64 << 10  # the schedule line comes within the first few KiB of a log
RECENT_STEPS = 5  # the rate is taken over the last few logged steps: it follows a slowdown
_TOTAL = re.compile(r"; (\d+) steps, \d+ per epoch|\bstep \d+/(\d+)")


@dataclass(frozen=True)
class JobProgress:
    step: int
    total: int | None  # None when the log does not say
    eta_s: float | None  # None until two steps were timed, or without a total

    def text(self) -> str:
        from .units import duration

        out = f"step {self.step}/{self.total}" if self.total else f"step {self.step}"
        return out + (f" · ETA {duration(self.eta_s)}" if self.eta_s is not None else "")


def total_steps(log_head: str) -> int | None:
    """The last total the head of a log names (a resumed or extended run logs its schedule again)."""
    found = [int(a or b) for a, b in _TOTAL.findall(log_head)]
    return found[-1] if found else None


def job_progress(points: Sequence[MetricPoint], log_head: str, now: float) -> JobProgress | None:
    """The step and ETA of a running job; None before its first logged step."""
    timed: dict[int, float] = {}
    for p in points:
        if p.step > 0 and p.timestamp is not None:
            timed[p.step] = max(p.timestamp, timed.get(p.step, p.timestamp))
    step = max((p.step for p in points), default=0)
    if step <= 0:
        return None
    total = total_steps(log_head)
    if total is not None and total < step:
        total = None  # a log that does not match its metrics: say nothing rather than something wrong
    recent = sorted(timed.items())[-RECENT_STEPS:]
    eta = None
    if total is not None and len(recent) >= 2:
        (s0, t0), (s1, t1) = recent[0], recent[-1]
        if s1 > s0 and t1 > t0:
            per_step = (t1 - t0) / (s1 - s0)
            eta = max(0.0, (total - s1) * per_step - max(0.0, now - t1))
    return JobProgress(step=step, total=total, eta_s=eta)


def read_progress(backend: Any, name: str, now: float) -> JobProgress | None:
    """A job's progress through the backend's own reads (metrics and the log's head)."""
    head = backend.read_log(name, 0, LOG_HEAD_BYTES).text
    return job_progress(backend.job_metrics(name), head, now)
