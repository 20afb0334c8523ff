"""A job that ends while the app is open: a toast on screen, and the bell and OSC 9/777 in the terminal stream (tmux)."""

from __future__ import annotations

import dataclasses
import os
import shlex
import shutil
import subprocess
import sys
import time

import pytest
from test_tmux import Tmux, _alive

from finetui.core.procs import process_start_time
from finetui.core.models import JobStatus
from finetui.tui.notify import EndWatcher, desktop_notice

T0 = 1_760_000_000.0


def test_end_watcher_announces_each_end_after_the_start_once():
    watcher = EndWatcher(since=T0)
    rows = [("job old", "Completed", T0 - 5, None), ("job running", "Running", None, None), ("job new", "Failed", T0 + 1, "boom")]
    assert [(e.what, e.status, e.error) for e in watcher.ended(rows)] == [("job new", "Failed", "boom")]
    assert watcher.ended(rows) == []
    assert [e.what for e in watcher.ended([*rows, ("evaluation e1", "Completed", T0 + 2, None)])] == ["evaluation e1"]


def test_desktop_notice_cannot_be_cut_short():
    seq = desktop_notice("finetui", "job a;b\x07\x1b]9;x Completed")
    assert seq.startswith("\x1b]9;finetui: job a,b") and seq.count("\x07") == 2 and seq.count("\x1b") == 2
    assert "\x1b]777;notify;finetui;job a,b" in seq


@pytest.mark.skipif(shutil.which("tmux") is None and not os.environ.get("CI"), reason="tmux is not installed")
def test_job_end_rings_and_notifies_under_tmux(local_ws, tmp_path):
    # a job whose "runner" is a process of ours: when it dies, reading the job marks it Failed
    runner = subprocess.Popen(["sleep", "600"], start_new_session=True)
    name = "tiny-chat-20250102-000000-beef"
    job_dir = local_ws.paths.job_dir(name)
    (job_dir / "user_logs").mkdir(parents=True)
    (job_dir / "user_logs" / "std_log.txt").write_text("step 1/10\n", encoding="utf-8")
    record = dataclasses.replace(
        local_ws.store.get_job("tiny-chat-20250101-000000-abcd"),
        name=name,
        status=JobStatus.RUNNING,
        ended_at=None,
        created_at=time.time(),
        pid=runner.pid,
        pid_start_time=process_start_time(runner.pid),
        job_dir=str(job_dir),
    )
    local_ws.store.put_job(record)

    stream = tmp_path / "pane.out"
    tmux = Tmux(f"finetui-notify-{os.getpid()}")
    env = f"HF_HOME={shlex.quote(str(tmp_path / 'hf'))} TERM=xterm-256color NO_COLOR=1"
    cmd = f"{env} {shlex.quote(sys.executable)} -m finetui.tui.cli.main --workspace {shlex.quote(str(local_ws.paths.root))}"
    tmux("new-session", "-d", "-s", "app", "-x", "100", "-y", "30", cmd)
    try:
        tmux("pipe-pane", "-o", "-t", "app", f"cat >> {shlex.quote(str(stream))}")
        tmux.wait_for("tiny-chat:1")
        runner.kill()
        runner.wait()
        screen = tmux.wait_for(name, timeout=60)  # the toast (its text wraps with the terminal's width)
        assert "Failed" in screen and "ended without" in screen
        deadline = time.monotonic() + 20
        while b"\x1b]9;finetui: job " + name.encode() + b" Failed\x07" not in stream.read_bytes():
            assert time.monotonic() < deadline, stream.read_bytes()[-500:]
            time.sleep(0.1)
        raw = stream.read_bytes()
        assert f"\x1b]777;notify;finetui;job {name} Failed\x07".encode() in raw
        assert raw.count(b"\x07") >= 3  # OSC 9, OSC 777 and the bell
        tmux("send-keys", "-t", "app", "q")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _alive(tmux):
            time.sleep(0.1)
    finally:
        subprocess.run(["tmux", "-L", tmux.socket, "kill-server"], capture_output=True)
        if runner.poll() is None:
            runner.kill()
