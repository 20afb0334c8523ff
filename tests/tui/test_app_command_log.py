"""The app's actions reach the same command log as the CLI's, as the CLI line that repeats them."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys

from tui_fixtures import wait_for

from finetui.core.command_log import CommandLog
from finetui.tui.app import FinetuiApp

JOB = "tiny-chat-20250101-000000-abcd"


async def test_an_app_action_is_logged_as_its_cli_twin(local_ws):
    log = CommandLog(local_ws.paths.root)
    app = FinetuiApp(lambda: local_ws, poll_interval=None)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.mounted)
        await pilot.press("4")
        jobs = app.pane("jobs")
        await wait_for(pilot, lambda: jobs.jobs, timeout=30)
        jobs.backend_call(jobs.backend.cancel_job, JOB, then=jobs.loaded_cancel)  # what the Cancel dialog's "yes" does
        await wait_for(pilot, lambda: log.read(), timeout=60)
        jobs.backend_call(jobs.backend.list_jobs, then=jobs.loaded_jobs)  # a read: not an action
        await pilot.pause(0.5)
    entries = log.read()
    assert len(entries) == 1
    entry = entries[0]
    assert (entry.source, entry.action, entry.backend) == ("app", "job cancel", "local")
    assert entry.finetui == f"finetui --workspace {shlex.quote(str(local_ws.paths.root))} job cancel {JOB}"
    argv = shlex.split(entry.finetui)
    env = {k: v for k, v in os.environ.items() if k != "FINETUI_WORKSPACE"}
    again = subprocess.run(
        [sys.executable, "-m", "finetui.tui.cli.main", *argv[1:]], capture_output=True, text=True, env=env, timeout=300
    )
    assert again.returncode == entry.exit_code
    if entry.error:
        assert again.stderr.strip() == f"error: {entry.error}"
