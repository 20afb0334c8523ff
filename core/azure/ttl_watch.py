"""The time-to-live watcher of an Azure endpoint: a detached process that deletes it when its time is over.

A managed online endpoint bills until it is deleted, and Azure has no TTL of
its own, so ``endpoint create --ttl 2h`` starts ``python -m
finetui.core.azure.ttl_watch`` in its own session (it outlives the app, the
CLI and an SSH hang-up). It sleeps until ``expires_at``, deletes the endpoint
through the SDK, and says what happened in its status file,
``<workspace>/azure-ttl/<endpoint>.json`` (``watching``, ``deleted``,
``gone`` or ``failed`` with the reason), which ``endpoint show`` reads. It
signs in as the CLI does, minus the device code: nobody is there to type it.
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
from ..ttl import check_ttl, expired_reason

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
    ttl_s: float,
    created_at: float | None = None,
    registry_name: str | None = None,
) -> dict[str, Any]:
    """Start the detached watcher for ``endpoint`` of ``workspace`` (a WorkspaceRef); return its status."""
    from .. import procs

    ttl_s = check_ttl(ttl_s)
    expires_at = (created_at or time.time()) + ttl_s
    path = status_path(local_root, endpoint)
    status = {
        "endpoint": endpoint,
        "subscription_id": workspace.subscription_id,
        "resource_group": workspace.resource_group,
        "workspace_name": workspace.workspace_name,
        "created_at": expires_at - ttl_s,
        "ttl_s": ttl_s,
        "expires_at": expires_at,
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


def watch(
    status_file: Path,
    local_root: Path,
    backend: Any = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.time,
) -> dict[str, Any]:
    """Wait for the deadline, delete the endpoint, record the outcome; the body of the watcher process."""
    from ..errors import FinetuiError, NotFound

    status: dict[str, Any] = json.loads(status_file.read_text(encoding="utf-8"))
    me = os.getpid()
    while clock() < status["expires_at"]:
        sleep(min(60.0, max(status["expires_at"] - clock(), 0.05)))
    if _superseded(status_file, me):
        return status  # the endpoint was created again with a new watcher: that one decides now
    reason = expired_reason(status["ttl_s"])
    if backend is None:
        from .backend import AzureBackend

        backend = AzureBackend(
            status["subscription_id"], status["resource_group"], status["workspace_name"], credential=_credential()
        )
    try:
        current = backend.get_endpoint(status["endpoint"])
        if current.created_at and current.created_at > status.get("created_at", 0) + REPLACED_AFTER_S:
            # deleted and created again by someone (portal, az, finetui without --ttl): not ours to delete
            status.update(state="gone", reason=f"{reason}; the endpoint was deleted and created again since, so it stays")
        else:
            backend.delete_endpoint(status["endpoint"])
            status.update(state="deleted", reason=f"deleted: {reason}")
        code = 0
    except NotFound:
        status.update(state="gone", reason=f"{reason}; the endpoint was already deleted")
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


def main(argv: list[str] | None = None) -> int:
    import signal

    parser = argparse.ArgumentParser(prog="python -m finetui.core.azure.ttl_watch")
    parser.add_argument("--status", required=True)
    parser.add_argument("--workspace", required=True)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # the terminal that started us may go away
    status = watch(Path(args.status), Path(args.workspace))
    print(f"{status['endpoint']}: {status['state']}: {status['reason']}", flush=True)
    return 0 if status["state"] != "failed" else 1


if __name__ == "__main__":
    sys.exit(main())
