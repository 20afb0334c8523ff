"""Detached processes that outlive the app: job runners, endpoint servers and Azure ttl watchers.

A process is known by its pid *and* its start time, so a pid the kernel has
reused for something else is never taken for ours (and never signalled).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Sequence


def process_start_time(pid: int) -> float | None:
    """When ``pid`` started (seconds since the epoch), or None if there is no such live process."""
    import psutil

    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        return float(proc.create_time())
    except (psutil.NoSuchProcess, psutil.AccessDenied, ProcessLookupError):
        return None


def is_alive(pid: int | None, start_time: float | None) -> bool:
    if not pid:
        return False
    started = process_start_time(pid)
    if started is None:
        return False
    # create_time is rounded differently by platforms; a second of slack is plenty
    # to tell our process from one that reused its pid later.
    return start_time is None or abs(started - start_time) < 1.0


def spawn_detached(
    argv: Sequence[str],
    *,
    log_path: Path,
    cwd: Path,
    env: dict[str, str] | None = None,
) -> tuple[int, float | None]:
    """Start ``argv`` in its own session with stdio going to ``log_path``.

    Its own session means no controlling terminal: closing the app or an SSH
    hang-up sends it nothing. The child is reaped by a daemon thread so a
    long-lived parent (the app) never accumulates zombies.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    full_env = dict(os.environ)
    full_env.update(env or {})
    full_env.setdefault("PYTHONUNBUFFERED", "1")
    with open(log_path, "ab", buffering=0) as log:
        proc = subprocess.Popen(
            list(argv),
            cwd=str(cwd),
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    threading.Thread(target=proc.wait, name=f"reap-{proc.pid}", daemon=True).start()
    return proc.pid, process_start_time(proc.pid)


def python_module_argv(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


def terminate(pid: int | None, start_time: float | None, *, grace: float = 10.0) -> bool:
    """SIGTERM the process group, then SIGKILL after ``grace`` seconds. True if it was running."""
    if not is_alive(pid, start_time):
        return False
    assert pid is not None
    _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if not is_alive(pid, start_time):
            return True
        time.sleep(0.05)
    _signal_group(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and is_alive(pid, start_time):
        time.sleep(0.05)
    return True


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(os.getpgid(pid), sig)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def tail_lines(path: Path, n: int = 5, max_bytes: int = 16384) -> list[str]:
    """The last ``n`` non-empty lines of a text file, read from its end only."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - max_bytes))
            data = f.read()
    except OSError:
        return []
    lines = [ln for ln in data.decode("utf-8", "replace").splitlines() if ln.strip()]
    return lines[-n:]


def gone_reason(
    pid: int | None, pid_start_time: float | None, created_at: float, log_path: Path, what: str, grace_s: float
) -> str | None:
    """Why the process behind an active record is gone, or None.

    None while it runs, or while one never recorded may still be starting (``grace_s``).
    The reason ends with the last line of its log, which usually says what happened.
    """
    if pid:
        if is_alive(pid, pid_start_time):
            return None
        reason = f"the {what} (pid {pid}) ended without finishing: killed by a signal or crashed"
    elif time.time() - created_at > grace_s:
        reason = f"the {what} never started"
    else:
        return None
    last = tail_lines(log_path, 1)
    return reason + (f"; last log line: {last[-1][:300]}" if last else "")
