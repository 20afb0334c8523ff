"""Job logs from run history, as ``jobs.stream`` reads them, but resumable.

A run's details list its log files with SAS URLs; a file is fetched with an
HTTP Range from the byte offset already shown, so a dropped connection resumes
without repeating or losing lines (a server that ignores Range is cut locally).
With no step named, the steps' logs are read one after another, in the order
the steps started, as one stream whose offset is
``step_index * STEP_STRIDE + byte offset in that step's file``.
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import NotFound, OperationFailed
from ..log_reading import DEFAULT_MAX_BYTES, check_offset, whole_lines
from ..models import JobStatus, LogChunk
from .client import AzureClient
from .runs import AzureRuns, map_status

STEP_STRIDE = 1 << 40
_STD_LOG = re.compile(r"^user_logs/std_log.*\.txt$")
_FALLBACK_LOGS = ("azureml-logs/70_driver_log.txt", "logs/azureml/executionlogs.txt")


def pick_log_file(names: list[str]) -> str | None:
    """``user_logs/std_log*.txt`` first (rank 0 before the others), then the legacy driver logs."""
    std = sorted(n for n in names if _STD_LOG.match(n))
    if std:
        return std[0]
    for legacy in _FALLBACK_LOGS:
        if legacy in names:
            return legacy
    return sorted(names)[0] if names else None


class AzureLogs:
    def __init__(self, client: AzureClient, runs: AzureRuns) -> None:
        self.client = client
        self.runs = runs

    def details(self, run_id: str) -> Any:
        ws = self.client.ws
        return self.client.call(lambda: ws.jobs._runs_operations.get_run_details(run_id), self.client.ws_ctx(f"run {run_id}"))

    def _step_run_ids(self, name: str) -> tuple[list[tuple[str, str]], JobStatus]:
        sdk_job = self.runs.sdk_job(name)
        status = map_status(sdk_job.status)
        if str(getattr(sdk_job, "type", "")) != "pipeline":
            return [(str(sdk_job.name), str(sdk_job.display_name or sdk_job.name))], status
        return [(s.name, s.display_name or s.name) for s in self.runs.steps(name)], status

    def _resolve_step(self, name: str, step: str) -> str:
        runs = self._step_run_ids(name)[0]
        for run_id, label in runs:
            if step in (run_id, label):
                return run_id
        raise NotFound(f"job {name} has no step {step!r}; steps: " + (", ".join(label for _, label in runs) or "none yet"))

    def list_files(self, name: str, step: str | None = None) -> list[str]:
        run_id = self._resolve_step(name, step) if step else name
        names = sorted((getattr(self.details(run_id), "log_files", None) or {}).keys())
        preferred = pick_log_file(names)
        return ([preferred] if preferred else []) + [n for n in names if n != preferred]

    def fetch(self, url: str, offset: int, max_bytes: int, *, ended: bool) -> tuple[bytes, bool]:
        """Bytes of a log file from ``offset``, cut as ``log_reading.whole_lines`` cuts (whole lines only
        while the run may still write more or the file goes on past ``max_bytes``); and whether they
        run to the end of the file."""
        pipeline = self.client.ws.jobs._requests_pipeline
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        response = self.client.call(lambda: pipeline.get(url, headers=headers), self.client.ws_ctx("log file"))
        if response.status_code in (404, 416):  # not written yet, or nothing past offset
            return b"", True
        if response.status_code >= 400:
            raise OperationFailed(f"could not read a log file ({response.status_code}); try again")
        data = response.body()
        if response.status_code != 206 and offset:
            data = data[offset:]  # the server ignored Range: cut locally
        capped = len(data) > max_bytes
        kept = whole_lines(data[:max_bytes], final=ended and not capped, full=capped)
        return kept, len(kept) == len(data)

    def _read_file(
        self, run_id: str, file: str | None, offset: int, max_bytes: int, job_ended: bool = False
    ) -> tuple[bytes, bool, str | None]:
        """New whole lines of one run's log from ``offset``; and whether that run has ended and its log
        is read to the end (a step of an ended job counts as ended: a canceled pipeline can leave a child
        marked Running)."""
        details = self.details(run_id)
        ended = job_ended or map_status(getattr(details, "status", None)).terminal
        files = getattr(details, "log_files", None) or {}
        chosen = file or pick_log_file(list(files))
        if chosen is None or chosen not in files:
            if file and files:
                raise NotFound(f"run {run_id} has no log file {file}; it has: {', '.join(sorted(files))}")
            return b"", ended, chosen
        data, to_end = self.fetch(files[chosen], offset, max_bytes, ended=ended)
        return data, ended and to_end, chosen

    def read(
        self, name: str, offset: int = 0, max_bytes: int = DEFAULT_MAX_BYTES, step: str | None = None, file: str | None = None
    ) -> LogChunk:
        check_offset(offset)
        if step is not None or file is not None:
            run_id = self._resolve_step(name, step) if step else name
            data, done, _ = self._read_file(run_id, file, offset, max_bytes)
            return LogChunk(data.decode("utf-8", "replace"), offset, offset + len(data), done)
        runs, status = self._step_run_ids(name)
        index, pos = divmod(offset, STEP_STRIDE)
        start = offset
        while index < len(runs):
            run_id, label = runs[index]
            data, ended, chosen = self._read_file(run_id, None, pos, max_bytes, job_ended=status.terminal)
            if data:
                header = f"── step {label}: {chosen} ──\n" if pos == 0 else ""
                text = header + data.decode("utf-8", "replace")
                return LogChunk(text, start, index * STEP_STRIDE + pos + len(data), False)
            if not ended or index + 1 >= len(runs):
                break
            index, pos = index + 1, 0  # this step is done and read: go on to the next
        done = status.terminal and index >= len(runs) - 1
        return LogChunk("", start, max(index * STEP_STRIDE + pos, start), done)
