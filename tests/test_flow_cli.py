"""The tutorial's flow up to a registered model, through the real CLI, offline.

demo -> job submit -> job logs --follow -> job metrics -> model register -> model show,
each a separate ``finetui`` process, as a user at a terminal would run them.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from cli_helpers import LONG_RUN, finetui, finetui_json, submit, wait_for_status

pytestmark = pytest.mark.slow

SHORT = ("max_steps=12", "num_train_epochs=1", "logging_steps=1")


def _running_job(ws: Path, model: str, train: str) -> tuple[str, dict]:
    """A job submitted with far more steps than the test will wait for, once it is Running: its name and record."""
    name = submit(ws, model, train, *LONG_RUN).stdout.strip()
    return name, wait_for_status(ws, "job", name, {"Running"}, timeout=120)


def test_demo_to_registered_model(demo_ws):
    ws, demo = demo_ws
    name = submit(ws, demo["model"], demo["train_file"], *SHORT, test=demo["test_file"]).stdout.strip()
    assert name and "\n" not in name

    # The submitting process has exited; the job goes on by itself.
    followed = finetui(ws, "job", "logs", name, "--follow", timeout=240)
    assert "step" in followed.stdout
    assert followed.returncode == 0, followed.stderr

    job = finetui_json(ws, "job", "show", name)
    assert job["status"] == "Completed", job
    assert Path(job["output_path"], "MLmodel").is_file()

    points = finetui_json(ws, "job", "metrics", name)
    losses = [p["value"] for p in points if p["name"] == "loss"]
    assert len(losses) >= 4
    head, tail = losses[:3], losses[-3:]
    assert sum(tail) / len(tail) < sum(head) / len(head), losses
    assert any(p["name"] == "eval_loss" for p in points)

    # For people: one row per step, a column per metric, eval_loss only on the steps that evaluated
    rows = finetui(ws, "job", "metrics", name).stdout.splitlines()
    header = rows[0].split()
    assert header[:3] == ["STEP", "EPOCH", "loss"] and "eval_loss" in header
    steps = sorted({p["step"] for p in points})
    assert [int(r.split()[0]) for r in rows[1:]] == steps
    loss_at = {p["step"]: p["value"] for p in points if p["name"] == "loss"}
    for r in rows[1:]:
        cells = r.split()
        assert len(cells) == len(header)
        if int(cells[0]) in loss_at:
            assert float(cells[2]) == pytest.approx(loss_at[int(cells[0])], rel=1e-5)

    # Logs can be read again from any offset: the second half is a suffix of the whole.
    whole = finetui(ws, "job", "logs", name).stdout
    half = len(whole.encode()) // 2
    cut = whole.encode()[:half].rfind(b"\n") + 1
    again = finetui(ws, "job", "logs", name, "--offset", str(cut)).stdout
    assert whole.endswith(again) and again

    reg = finetui_json(ws, "model", "register", "--job", name, "--name", "demo-ft")
    assert reg["version"] == "1"
    reg2 = finetui_json(ws, "model", "register", "--job", name, "--name", "demo-ft")
    assert reg2["version"] == "2"

    shown = finetui_json(ws, "model", "show", "demo-ft:1")
    assert shown["lineage"]["job"] == name
    assert shown["lineage"]["base_model"].startswith(demo["model"])
    assert shown["lineage"]["train_file"].endswith("train_sft.jsonl")
    listed = finetui_json(ws, "model", "list")
    assert {"demo-ft"} <= {m["name"] for m in listed}


def test_submit_refuses_invalid_data_before_starting(demo_ws, tmp_path):
    ws, demo = demo_ws
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"messages": [{"role": "user", "content": "hi"}]}\n{"oops": 1}\n', encoding="utf-8")
    before = finetui_json(ws, "job", "list")
    proc = submit(ws, demo["model"], bad, check=False)
    assert proc.returncode == 2
    assert "bad.jsonl:1" in proc.stderr and proc.stderr.count("\n") == 1
    assert finetui_json(ws, "job", "list") == before


def test_bad_spec_key_is_named(demo_ws):
    ws, demo = demo_ws
    proc = submit(ws, demo["model"], demo["train_file"], "learning_rat=0.1", check=False)
    assert proc.returncode == 2
    assert "learning_rat" in proc.stderr and "learning_rate" in proc.stderr


def test_sigkill_runner_marks_job_failed(demo_ws):
    ws, demo = demo_ws
    name, job = _running_job(ws, demo["model"], demo["train_file"])
    os.kill(job["pid"], signal.SIGKILL)
    job = wait_for_status(ws, "job", name, {"Failed"}, timeout=30)
    assert "killed" in job["error"] or "crashed" in job["error"]


def test_cancel_ends_the_process_tree(demo_ws):
    ws, demo = demo_ws
    name, job = _running_job(ws, demo["model"], demo["train_file"])
    pid = job["pid"]
    canceled = finetui_json(ws, "job", "cancel", name)
    assert canceled["status"] == "Canceled"
    with pytest.raises(ProcessLookupError):
        for _ in range(100):
            os.kill(pid, 0)
            time.sleep(0.1)
    # Still Canceled after the runner is gone: nothing overwrote it.
    assert finetui_json(ws, "job", "show", name)["status"] == "Canceled"
    again = finetui(ws, "job", "cancel", name, check=False)
    assert again.returncode == 1 and "already ended" in again.stderr
    log = finetui(ws, "job", "logs", name).stdout
    assert log  # the log survives cancellation
    assert json.loads(json.dumps(canceled))["error"] == "canceled by the user"
