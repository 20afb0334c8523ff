"""``finetui job wait``: exit codes and --on-done, against real runner jobs, through the real CLI."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from cli_helpers import LONG_RUN, REPO, finetui, finetui_json, submit, wait_for_status

pytestmark = pytest.mark.slow


def _on_done(out: Path) -> str:
    """A command line that writes the job name and status it was given to ``out``."""
    code = f"import os; open({str(out)!r}, 'w').write(os.environ['FINETUI_JOB_NAME'] + ' ' + os.environ['FINETUI_JOB_STATUS'])"
    return shlex.join([sys.executable, "-c", code])


def _start_wait(ws: Path, *args: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "FINETUI_WORKSPACE"}
    return subprocess.Popen(
        [sys.executable, "-m", "finetui.tui.cli.main", "--workspace", str(ws), "job", "wait", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env=env,
    )


def test_wait_on_a_completed_job_runs_on_done(trained_ws, tmp_path):
    ws, demo, name, registered = trained_ws
    out = tmp_path / "done.txt"
    proc = finetui(ws, "job", "wait", name, "--on-done", _on_done(out))
    assert proc.returncode == 0 and f"job {name} Completed" in proc.stdout
    assert out.read_text() == f"{name} Completed"
    assert finetui_json(ws, "job", "wait", name)["status"] == "Completed"

    failing = finetui(
        ws, "job", "wait", name, "--on-done", shlex.join([sys.executable, "-c", "raise SystemExit(3)"]), check=False
    )
    assert failing.returncode == 1 and "exited 3" in failing.stderr


def test_wait_refuses_unknown_names_and_bad_commands(demo_ws, tmp_path):
    ws, _demo = demo_ws
    for args, named in [
        (("no-such-job",), "no-such-job"),
        (("../etc",), "job name"),
        (("no-such-job", "--on-done", "no-such-program-1234 --flag"), "no-such-program-1234"),
        (("no-such-job", "--on-done", "'unclosed"), "--on-done"),
        (("no-such-job", "--on-done", "   "), "empty"),
        (("no-such-job", "--timeout", "nan"), "--timeout"),
    ]:
        proc = finetui(ws, "job", "wait", *args, check=False)
        assert proc.returncode == 2, (args, proc.stderr)
        assert named in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    negative = finetui(ws, "job", "wait", "no-such-job", "--timeout", "-1", check=False)  # click's own usage error
    assert negative.returncode == 2 and "--timeout" in negative.stderr


def test_wait_exits_1_for_timeout_failed_and_canceled_jobs(demo_ws, tmp_path):
    ws, demo = demo_ws
    name = submit(ws, demo["model"], demo["train_file"], *LONG_RUN).stdout.strip()
    job = wait_for_status(ws, "job", name, {"Running"})
    timed_out = finetui(ws, "job", "wait", name, "--timeout", "1", check=False)
    assert timed_out.returncode == 1 and "still Running" in timed_out.stderr

    out = tmp_path / "failed.txt"
    waiter = _start_wait(ws, name, "--on-done", _on_done(out))
    os.kill(job["pid"], signal.SIGKILL)  # the runner dies: the job is reported Failed
    stdout, stderr = waiter.communicate(timeout=300)
    assert waiter.returncode == 1, stderr
    assert f"job {name} Failed" in stdout and out.read_text() == f"{name} Failed"

    name = submit(ws, demo["model"], demo["train_file"], *LONG_RUN).stdout.strip()
    wait_for_status(ws, "job", name, {"Preparing", "Running"})
    out = tmp_path / "canceled.txt"
    waiter = _start_wait(ws, name, "--on-done", _on_done(out))
    finetui(ws, "job", "cancel", name)
    stdout, stderr = waiter.communicate(timeout=300)
    assert waiter.returncode == 1, stderr
    assert f"job {name} Canceled" in stdout and out.read_text() == f"{name} Canceled"
