"""The time-to-live watcher of an Azure endpoint: a detached process that deletes it when its time is over.

A managed online endpoint bills until it is deleted, and Azure has no TTL of
its own, so ``endpoint create --ttl 2h`` starts ``python -m
finetui.core.azure.ttl_watch`` in its own session (it outlives the app, the
CLI and an SSH hang-up). It sleeps until ``expires_at``, deletes the endpoint
through the SDK, and says what happened in its status file,
``<workspace>/azure-ttl/<endpoint>.json`` (``watching``, ``deleted``,
``gone``, ``failed``, ``not enforced`` or ``stopped`` with the reason), which
``endpoint show`` reads. It signs in as the CLI does, minus the device code:
nobody is there to type it.

``--idle-timeout 30m`` starts the same watcher: it reads the endpoint's
request count from Azure Monitor (core/azure/monitor.py) and deletes the
endpoint once the last 30 minutes since it became ready show none. Where the
metric cannot be read it records that the idle timeout is not enforced and
why, keeps any time to live, and never deletes on missing data.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from ..names import confined
from ..ttl import check_ttl, expired_reason, idle_reason
from ..units import duration_as_typed

if TYPE_CHECKING:
    from .auth import SignInChain

FOLDER = "azure-ttl"


def status_path(local_root: Path, endpoint: str) -> Path:
    # an endpoint name has no dots (core/names.py), so the suffix cannot change which file it is
    return confined(Path(local_root) / FOLDER, "endpoint", endpoint).with_suffix(".json")


def _write(path: Path, status: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(json.dumps(status), encoding="utf-8")
    os.replace(tmp, path)


def read_status(local_root: Path, endpoint: str) -> dict[str, Any] | None:
    """The watcher's status with ``alive`` (its process still runs); None when the endpoint has none."""
    from .. import procs

    try:
        status: dict[str, Any] = json.loads(status_path(local_root, endpoint).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    status["alive"] = procs.is_alive(status.get("pid"), status.get("pid_start_time"))
    if status.get("state") == "watching" and not status["alive"]:
        status["state"] = "stopped"  # killed, or the machine restarted: the endpoint will not be deleted
    return status


def start_watcher(
    local_root: Path,
    workspace: Any,
    endpoint: str,
    ttl_s: float | None,
    created_at: float | None = None,
    registry_name: str | None = None,
    *,
    idle_timeout_s: float | None = None,
    ready_at: float | None = None,
) -> dict[str, Any]:
    """Start the detached watcher for ``endpoint`` of ``workspace`` (a WorkspaceRef); return its status.

    ``ttl_s`` deletes it that long after ``created_at``; ``idle_timeout_s`` once Azure Monitor shows
    no requests for that long after ``ready_at`` (None: when the watcher first sees it ready)."""
    from .. import procs

    ttl_s = check_ttl(ttl_s)
    created = created_at or time.time()
    path = status_path(local_root, endpoint)
    status = {
        "endpoint": endpoint,
        "subscription_id": workspace.subscription_id,
        "resource_group": workspace.resource_group,
        "workspace_name": workspace.workspace_name,
        "created_at": created,
        "ttl_s": ttl_s,
        "expires_at": created + ttl_s if ttl_s is not None else None,
        "idle_timeout_s": idle_timeout_s,
        "ready_at": ready_at,
        "idle_state": "watching" if idle_timeout_s else None,
        "state": "watching",
        "reason": None,
        "pid": None,
    }
    _write(path, status)
    argv = procs.python_module_argv("finetui.core.azure.ttl_watch", "--status", str(path), "--workspace", str(local_root))
    pid, started = procs.spawn_detached(
        argv,
        log_path=path.with_suffix(".log"),
        cwd=path.parent,
        env={"FINETUI_AZURE_REGISTRY": registry_name} if registry_name else None,
    )
    status.update(pid=pid, pid_start_time=started)
    _write(path, status)
    return status


REPLACED_AFTER_S = 300.0  # an endpoint created this long after our deadline's start is another one


def _superseded(status_file: Path, pid: int) -> bool:
    """True when the status file now names another watcher (a later create --ttl of the same name)."""
    try:
        owner = json.loads(status_file.read_text(encoding="utf-8")).get("pid")
    except (OSError, ValueError):
        return True
    return owner is not None and owner != pid


def _credential() -> SignInChain:
    from .auth import build_credential

    chain = build_credential(None)
    chain.credentials = [(label, cred) for label, cred in chain.credentials if label != "device code"]
    return chain


def poll_interval(idle_s: float) -> float:
    """How often the idle timeout reads the metrics: a quarter of it, at most every 5 minutes
    (Azure Monitor's time grain is a minute, so checking more often than that tells nothing new)."""
    return min(idle_s / 4, 300.0)


def _requests(backend: Any, endpoint: str, start: float, end: float) -> float:
    from .monitor import requests_between

    return requests_between(backend.client, endpoint, start, end)


def _check_idle(status: dict[str, Any], backend: Any, now: float, count: Callable[..., float]) -> str | None:
    """One look at the idle timeout: the reason to delete, or None. Updates ``status``.

    Missing data never deletes: when the metrics cannot be read the idle timeout is recorded as
    not enforced (a lost connection is tried again at the next poll)."""
    from ..errors import FinetuiError, NetworkUnavailable
    from ..models import EndpointState
    from .monitor import METRIC

    idle_s = status["idle_timeout_s"]
    if status.get("ready_at") is None:  # created with --no-wait: idle time counts once it is ready
        if backend.get_endpoint(status["endpoint"]).state is EndpointState.SUCCEEDED:
            status["ready_at"] = now
        return None
    if now < status["ready_at"] + idle_s:
        return None  # younger than the timeout: it cannot have been idle for that long
    try:
        served = count(backend, status["endpoint"], now - idle_s, now)
    except NetworkUnavailable as exc:
        status["idle_note"] = f"last check failed, tried again in {duration_as_typed(poll_interval(idle_s))}: {exc}"
        return None
    except FinetuiError as exc:
        why = str(exc).splitlines()[0]
        status.update(idle_state="not enforced", idle_note=f"idle timeout not enforced: {why}")
        return None
    status.update(idle_checked_at=now, idle_requests=served, idle_checks=status.get("idle_checks", 0) + 1, idle_note=None)
    return idle_reason(idle_s, f"Azure Monitor {METRIC}") if served == 0 else None


def watch(
    status_file: Path,
    local_root: Path,
    backend: Any = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.time,
    count_requests: Callable[..., float] = _requests,
) -> dict[str, Any]:
    """Wait for the deadline or the idle timeout, delete the endpoint, record the outcome; the body of the watcher process."""
    from ..errors import FinetuiError, NotFound

    status: dict[str, Any] = json.loads(status_file.read_text(encoding="utf-8"))
    me = os.getpid()
    expires_at, idle_s = status.get("expires_at"), status.get("idle_timeout_s")

    def signed_in() -> Any:
        nonlocal backend
        if backend is None:
            from .backend import AzureBackend

            backend = AzureBackend(
                status["subscription_id"], status["resource_group"], status["workspace_name"], credential=_credential()
            )
        return backend

    reason: str | None = None
    # no metric can show it idle for idle_s before it has been ready that long: sign in and look only then
    next_check = status["ready_at"] + idle_s if idle_s and status.get("ready_at") is not None else 0.0
    try:
        while reason is None:
            now = clock()
            if expires_at is not None and now >= expires_at:
                reason = expired_reason(status["ttl_s"])
                break
            idle_on = bool(idle_s) and status.get("idle_state") == "watching"
            if idle_on and idle_s and now >= next_check:
                reason = _check_idle(status, signed_in(), now, count_requests)
                next_check = now + poll_interval(idle_s)
                if status.get("ready_at") is not None:  # no metric can show it idle before then
                    next_check = max(next_check, status["ready_at"] + idle_s)
                if _superseded(status_file, me):
                    return status
                _write(status_file, status)
                idle_on = status.get("idle_state") == "watching"
            if reason is not None:
                break
            if not idle_on and expires_at is None:  # nothing left to enforce: the endpoint stays
                status.update(state="not enforced", reason=f"{status['idle_note']}; the endpoint stays", finished_at=clock())
                _write(status_file, status)
                return status
            wake = min(t for t in (expires_at, next_check if idle_on else None) if t is not None)
            sleep(min(60.0, max(wake - clock(), 0.05)))
    except NotFound:
        reason = None  # deleted by someone else while waiting for it to be ready: recorded as gone below
    if _superseded(status_file, me):
        return status  # the endpoint was created again with a new watcher: that one decides now
    try:
        if reason is None:
            raise NotFound(status["endpoint"])
        current = signed_in().get_endpoint(status["endpoint"])
        if current.created_at and current.created_at > status.get("created_at", 0) + REPLACED_AFTER_S:
            # deleted and created again by someone (portal, az, finetui without --ttl): not ours to delete
            status.update(state="gone", reason=f"{reason}; the endpoint was deleted and created again since, so it stays")
        else:
            backend.delete_endpoint(status["endpoint"])
            status.update(state="deleted", reason=f"deleted: {reason}")
        code = 0
    except NotFound:
        status.update(state="gone", reason=f"{reason or 'waiting for it to be ready'}; the endpoint was already deleted")
        code = 0
    except FinetuiError as exc:
        status.update(state="failed", reason=f"{reason}, but the delete failed: {str(exc).splitlines()[0]}")
        code = 1
    status["finished_at"] = clock()
    if _superseded(status_file, me):
        return status
    _write(status_file, status)
    if status["state"] != "gone":  # nothing was done to an endpoint that was gone or replaced
        _log_action(local_root, status, code)
    return status


def _log_action(local_root: Path, status: dict[str, Any], code: int) -> None:
    """The deletion is an action finetui performed: it goes to the command log like any other."""
    from ..command_log import LoggedAction, finetui_command, now, outcome_of, record
    from ..equivalents import AzureTarget, azure_equivalents
    from ..errors import FinetuiError

    target = AzureTarget(status["subscription_id"], status["resource_group"], status["workspace_name"])
    eq = azure_equivalents("endpoint delete", {"name": status["endpoint"]}, target)
    entry = LoggedAction(
        time=now(),
        backend="azure",
        action="endpoint delete",
        outcome=outcome_of(code),
        exit_code=code,
        error=None if code == 0 else status["reason"],
        finetui=finetui_command(local_root, "azure", ["endpoint", "delete", status["endpoint"], "--yes"], target),
        az=tuple(eq.az),
        sdk=tuple(eq.sdk),
        notes=(status["reason"],),
        source="ttl-watcher",
    )
    try:
        record(local_root, entry)
    except FinetuiError:
        pass  # the status file already says what happened


class _Terminated(BaseException):
    """SIGTERM: leave the wait at once (a BaseException, so no handler of an SDK call swallows it)."""


def _terminated(signum: int, frame: Any) -> None:
    raise _Terminated


def _stopped(status_file: Path) -> dict[str, Any]:
    """Record that this watcher was stopped: the endpoint stays, and nobody deletes it on time."""
    status: dict[str, Any] = json.loads(status_file.read_text(encoding="utf-8"))
    if not _superseded(status_file, os.getpid()):
        status.update(state="stopped", reason="the watcher was stopped (SIGTERM); the endpoint stays", finished_at=time.time())
        _write(status_file, status)
    return status


def main(argv: list[str] | None = None) -> int:
    import signal

    parser = argparse.ArgumentParser(prog="python -m finetui.core.azure.ttl_watch")
    parser.add_argument("--status", required=True)
    parser.add_argument("--workspace", required=True)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # the terminal that started us may go away
    signal.signal(signal.SIGTERM, _terminated)
    try:
        status = watch(Path(args.status), Path(args.workspace))
    except _Terminated:
        status = _stopped(Path(args.status))
    print(f"{status['endpoint']}: {status['state']}: {status['reason']}", flush=True)
    return 1 if status["state"] == "failed" else 0


if __name__ == "__main__":
    sys.exit(main())
