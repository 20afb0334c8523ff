"""The job runner as a real detached process on a tiny model, against a real SQLite store.

Each test inserts a job record the way LocalJobs does, starts
``python -m finetui.core.local.runner`` with its output appended to the job
log, and checks what a user would see: the status, the log, metrics.jsonl and
the MLflow model folder.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tiny_model import build_tiny_setup
from waiting import wait_for

from finetui.core.local.records import JobRecord

pytestmark = pytest.mark.slow

ACTIVE = ("NotStarted", "Queued", "Preparing", "Running", "Finalizing")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return build_tiny_setup(tmp_path_factory.mktemp("tiny"))


def _job(ws: Path, name: str, tiny, *, train_file=None, test_file="default", **spec_values):
    from finetui.core.local.store import Store
    from finetui.core.spec import FineTuneSpec
    from finetui.core.workspace import WorkspacePaths

    paths = WorkspacePaths(ws).ensure()
    spec = FineTuneSpec().replace(
        {
            "max_steps": 16,
            "per_device_train_batch_size": 8,
            "per_device_eval_batch_size": 16,
            "learning_rate": 3e-3,
            "logging_steps": 2,
            "lora_modules_to_save": ["embed_tokens", "lm_head"],
            "lr_scheduler_type": "constant",
            **spec_values,
        }
    )
    job_dir = paths.job_dir(name)
    (job_dir / "user_logs").mkdir(parents=True)
    store = Store(paths.db)
    store.put_job(
        JobRecord.from_dict(
            {
                "name": name,
                "display_name": f"{name}-display",
                "status": "Queued",
                "backend": "local",
                "model": "tiny:1",
                "model_path": str(tiny.model_dir),
                "train_file": str(train_file or tiny.train_file),
                "test_file": str(tiny.test_file) if test_file == "default" else test_file,
                "spec": spec.to_dict(),
                "created_at": time.time(),
                "started_at": None,
                "ended_at": None,
                "error": None,
                "pid": None,
                "output_path": None,
                "experiment": "tests",
                "job_dir": str(job_dir),
            }
        )
    )
    return store, job_dir


def _spawn(ws: Path, name: str, job_dir: Path, **extra_env: str) -> subprocess.Popen:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1", **extra_env)
    with open(job_dir / "user_logs" / "std_log.txt", "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "finetui.core.local.runner", "--workspace", str(ws), "--job", name],
            cwd=job_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _log(job_dir: Path) -> str:
    return (job_dir / "user_logs" / "std_log.txt").read_text(encoding="utf-8")


def test_runner_trains_and_saves_a_loadable_model(tmp_path, tiny):
    store, job_dir = _job(tmp_path, "ok", tiny)
    proc = _spawn(tmp_path, "ok", job_dir)
    assert proc.wait(timeout=180) == 0, _log(job_dir)

    job = store.get_job("ok")
    assert job.status == "Completed", job
    assert job.error is None and job.pid == proc.pid
    assert job.started_at <= job.ended_at
    out = Path(job.output_path)
    assert out == job_dir / "outputs" / "mlflow_model" and (out / "MLmodel").is_file()
    assert not [p for p in out.parent.iterdir() if p.name != "mlflow_model"], "temporary folders left behind"

    log = _log(job_dir)
    assert "| step 2/16 | epoch" in log and " tok/s" in log
    assert "trainable of" in log and "eval_loss" in log and "job completed" in log
    # which CPU kernels ran, since they decide how fast a CPU trains
    assert re.search(r"device: cpu \((AVX2|AVX512|DEFAULT|[A-Z0-9_]+), (no )?bf16 kernels\)", log), log
    assert "{'loss'" not in log  # the Trainer's own dict printing is off

    points = [json.loads(line) for line in (job_dir / "metrics.jsonl").read_text().splitlines()]
    assert all(set(p) == {"name", "value", "step", "epoch", "timestamp"} for p in points)
    losses = [p["value"] for p in points if p["name"] == "loss"]
    evals = [p["value"] for p in points if p["name"] == "eval_loss"]
    assert len(losses) >= 8 and losses[-1] < losses[0]
    assert len(evals) >= 2 and evals[-1] < evals[0]
    assert any(p["name"] == "tokens_per_second" and p["value"] > 0 for p in points)

    # the prepared data keeps only messages (TRL would misread ultrachat's prompt column)
    first = json.loads((job_dir / "data" / "train.jsonl").read_text().splitlines()[0])
    assert list(first) == ["messages"]

    from transformers import AutoModelForCausalLM, AutoTokenizer

    from finetui.core.local.artifacts import resolve_hf_dirs

    model_dir, tok_dir = resolve_hf_dirs(out)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    tok = AutoTokenizer.from_pretrained(tok_dir)
    assert type(model).__name__ == "Phi3ForCausalLM"  # merged: a plain model, no peft wrapper
    assert not any("lora" in n for n, _ in model.named_parameters())
    ids = tok.apply_chat_template(
        [{"role": "user", "content": "Hello!"}], add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    assert model.generate(**ids, max_new_tokens=3, do_sample=False).shape[1] > ids["input_ids"].shape[1]


def test_bad_train_file_fails_with_one_line_reason(tmp_path, tiny):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}\n{not json\n', encoding="utf-8"
    )
    store, job_dir = _job(tmp_path, "bad", tiny, train_file=bad)
    proc = _spawn(tmp_path, "bad", job_dir)
    assert proc.wait(timeout=60) == 1
    job = store.get_job("bad")
    assert job.status == "Failed" and job.ended_at
    assert "bad.jsonl:2" in job.error and "\n" not in job.error
    assert "job failed: " in _log(job_dir)
    assert not (job_dir / "outputs").exists()


def test_missing_model_fails_cleanly(tmp_path, tiny):
    store, job_dir = _job(tmp_path, "nomodel", tiny)
    store.update_job("nomodel", model_path=str(tmp_path / "nowhere"))
    assert _spawn(tmp_path, "nomodel", job_dir).wait(timeout=60) == 1
    job = store.get_job("nomodel")
    assert job.status == "Failed" and "does not exist" in job.error


def test_sigterm_stops_promptly_and_keeps_canceled(tmp_path, tiny):
    store, job_dir = _job(tmp_path, "cancel", tiny, max_steps=100000, num_train_epochs=1000, logging_steps=1)
    proc = _spawn(tmp_path, "cancel", job_dir)
    try:
        wait_for(lambda: "| step 3/" in _log(job_dir), 120, "training steps in the log")
        # what `job cancel` does: record Canceled first, then signal the process group
        store.update_job_if("cancel", ACTIVE, status="Canceled", error="canceled by the user", ended_at=time.time())
        sent = time.monotonic()
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)
        assert time.monotonic() - sent < 5
    finally:
        if proc.poll() is None:
            proc.kill()
    job = store.get_job("cancel")
    assert job.status == "Canceled" and job.error == "canceled by the user"
    assert _last_line(job_dir).split(" | ", 1)[-1].startswith("canceled: stopping now")
    assert not (job_dir / "outputs" / "mlflow_model").exists()


def test_sighup_and_sigint_do_not_end_the_job_and_sigkill_leaves_no_output(tmp_path, tiny):
    store, job_dir = _job(tmp_path, "killed", tiny, max_steps=100000, num_train_epochs=1000, logging_steps=1)
    proc = _spawn(tmp_path, "killed", job_dir)
    try:
        wait_for(lambda: "| step 2/" in _log(job_dir), 120, "training steps in the log")
        os.kill(proc.pid, signal.SIGHUP)
        os.kill(proc.pid, signal.SIGINT)
        seen = _log(job_dir).count("| step ")
        wait_for(lambda: _log(job_dir).count("| step ") > seen + 2, 60, "training to go on after SIGHUP/SIGINT")
        assert proc.poll() is None
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    job = store.get_job("killed")
    assert job.status == "Running"  # LocalJobs's dead-runner check turns this into Failed
    assert not (job_dir / "outputs" / "mlflow_model").exists()


def test_runner_leaves_a_canceled_job_alone(tmp_path, tiny):
    store, job_dir = _job(tmp_path, "early", tiny)
    store.update_job("early", status="Canceled", error="canceled by the user")
    assert _spawn(tmp_path, "early", job_dir).wait(timeout=60) == 0
    job = store.get_job("early")
    assert job.status == "Canceled" and job.pid is None
    assert "not moving it to Preparing" in _log(job_dir)


def _last_line(job_dir: Path) -> str:
    return _log(job_dir).strip().splitlines()[-1]


def test_a_sigterm_not_from_cancel_fails_the_job_in_record_and_log_alike(tmp_path, tiny):
    store, job_dir = _job(tmp_path, "termed", tiny, max_steps=100000, num_train_epochs=1000, logging_steps=1)
    proc = _spawn(tmp_path, "termed", job_dir)
    try:
        wait_for(lambda: "| step 3/" in _log(job_dir), 180, "training steps in the log")
        os.killpg(proc.pid, signal.SIGTERM)  # an OOM killer, a shutdown, `kill PID`: not `job cancel`
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    job = store.get_job("termed")
    assert job.status == "Failed" and job.ended_at, job
    assert job.error.startswith("stopped by SIGTERM") and "\n" not in job.error
    last = _last_line(job_dir)
    assert "job failed: stopped by SIGTERM" in last and "cancel" not in last.split("(")[0], last


def test_sigkill_during_a_checkpoint_leaves_no_checkpoint_taken_for_complete(tmp_path, tiny):
    from finetui.core.local.checkpoints import checkpoint_folders, complete_checkpoints
    from finetui.core.local.jobs import LocalJobs
    from finetui.core.workspace import WorkspacePaths

    rows = sum(1 for line in Path(tiny.train_file).read_text(encoding="utf-8").splitlines() if line.strip())
    per_epoch = -(-rows // 8)
    store, job_dir = _job(tmp_path, "ckpt", tiny, max_steps=-1, num_train_epochs=3, test_file=None)
    marker = tmp_path / "paused"
    proc = _spawn(
        tmp_path,
        "ckpt",
        job_dir,
        FINETUI_TEST_PAUSE_AT=f"train.checkpoint.{2 * per_epoch}",
        FINETUI_TEST_PAUSE_MARKER=str(marker),
    )
    try:
        wait_for(lambda: marker.exists() or proc.poll() is not None, 300, "the second checkpoint to start")
        assert proc.poll() is None, _log(job_dir)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    first, second = (job_dir / "checkpoints" / f"checkpoint-{n * per_epoch}" for n in (1, 2))
    assert checkpoint_folders(job_dir) == [first, second]  # the killed one is on disk, half written
    assert complete_checkpoints(job_dir) == [first]

    # reading the job notices the dead runner, records Failed and drops the partial checkpoint
    job = LocalJobs(WorkspacePaths(tmp_path), store, catalog=None).get("ckpt")
    assert job.status.value == "Failed" and "killed by a signal" in job.error
    assert checkpoint_folders(job_dir) == [first] and (first / "trainer_state.json").is_file()
