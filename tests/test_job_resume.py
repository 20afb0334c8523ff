"""``finetui job resume``: a job killed mid-run continues from its last complete checkpoint and the steps add up."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from cli_helpers import finetui, finetui_json, submit, wait_for_status
from finetui.core.local.checkpoints import complete_checkpoints

pytestmark = pytest.mark.slow

STEPS_PER_EPOCH = 2  # 16 rows, batch 8 (the demo model's default)
EPOCHS = 60


def _data(folder: Path) -> Path:
    from finetui.core.local.demo.data import COUNTRIES

    path = folder / "train.jsonl"
    path.write_text(
        "".join(
            json.dumps(
                {
                    "messages": [
                        {"role": "user", "content": f"What is the capital of {c}?"},
                        {"role": "assistant", "content": f"The capital of {c} is {a}."},
                    ]
                }
            )
            + "\n"
            for c, a in COUNTRIES[:16]
        ),
        encoding="utf-8",
    )
    return path


def _loss_steps(job_dir: Path) -> list[tuple[int, float]]:
    out = []
    for line in (job_dir / "metrics.jsonl").read_text(encoding="utf-8").splitlines():
        point = json.loads(line)
        if point["name"] == "loss":
            out.append((point["step"], point["timestamp"]))
    return out


def test_resume_after_sigkill_completes_without_training_a_step_twice(demo_ws, tmp_path):
    ws, demo = demo_ws
    name = submit(ws, demo["model"], _data(tmp_path), f"num_train_epochs={EPOCHS}", "logging_steps=1").stdout.strip()
    job_dir = Path(ws) / "jobs" / name
    deadline = time.monotonic() + 600
    while not complete_checkpoints(job_dir):  # the first epoch's checkpoint is written whole
        assert time.monotonic() < deadline, "no checkpoint was written"
        time.sleep(0.1)
    job = finetui_json(ws, "job", "show", name)
    assert job["status"] == "Running", job
    os.kill(job["pid"], signal.SIGKILL)
    wait_for_status(ws, "job", name, {"Failed"}, timeout=120)
    last = complete_checkpoints(job_dir)[-1]
    resumed_at_step = int(last.name.rpartition("-")[2])
    assert resumed_at_step < EPOCHS * STEPS_PER_EPOCH
    killed_at = time.time()

    resumed = finetui_json(ws, "job", "resume", name)
    assert resumed["status"] == "Queued" and resumed["name"] == name
    follow = finetui(ws, "job", "logs", name, "--follow", timeout=900)
    assert follow.returncode == 0
    job = finetui_json(ws, "job", "show", name)
    assert job["status"] == "Completed" and job["error"] is None, job
    assert f"resuming from {last.name}" in follow.stdout

    total = EPOCHS * STEPS_PER_EPOCH
    after = [step for step, stamp in _loss_steps(job_dir) if stamp > killed_at]
    assert after == list(range(resumed_at_step + 1, total + 1)), after  # no step up to the checkpoint again, none missing
    before = {step for step, stamp in _loss_steps(job_dir) if stamp <= killed_at}
    assert set(range(1, resumed_at_step + 1)) <= before
    assert complete_checkpoints(job_dir)[-1].name == f"checkpoint-{total}"

    again = finetui(ws, "job", "resume", name, check=False)
    assert again.returncode == 1 and "only a Failed or Canceled job" in again.stderr
    assert finetui(ws, "job", "resume", "no-such-job", check=False).returncode == 2
    assert finetui(ws, "job", "resume", "../x", check=False).returncode == 2


def test_resume_without_a_checkpoint_is_refused(demo_ws, tmp_path):
    ws, demo = demo_ws
    name = submit(ws, demo["model"], _data(tmp_path), f"num_train_epochs={EPOCHS}").stdout.strip()
    wait_for_status(ws, "job", name, {"Preparing", "Running"}, timeout=300)
    finetui(ws, "job", "cancel", name)
    for folder in (Path(ws) / "jobs" / name / "checkpoints").glob("checkpoint-*"):
        (folder / "trainer_state.json").unlink(missing_ok=True)  # as if every save had been cut off
    proc = finetui(ws, "job", "resume", name, check=False)
    assert proc.returncode == 1 and "no complete checkpoint" in proc.stderr, proc.stderr
    assert finetui_json(ws, "job", "show", name)["status"] == "Canceled"
