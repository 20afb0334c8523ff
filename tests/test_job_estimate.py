"""`compute check --train` on the local backend: throughput measured from this workspace's finished jobs."""

from __future__ import annotations

import json

import pytest

from cli_helpers import finetui_json
from model_folders import make_tiny_model

from finetui.core.local.records import JobRecord


def _finished_job(backend, name: str, rates: list[float]) -> None:
    job_dir = backend.paths.job_dir(name)
    job_dir.mkdir(parents=True)
    (job_dir / "metrics.jsonl").write_text(
        "".join(json.dumps({"name": "tokens_per_second", "value": r, "step": i + 1}) + "\n" for i, r in enumerate(rates))
    )
    backend.store.put_job(
        JobRecord.from_dict(
            {
                "name": name,
                "display_name": name,
                "status": "Completed",
                "backend": "local",
                "model": "tiny-chat:1",
                "train_file": "t.jsonl",
                "test_file": None,
                "spec": {},
                "overrides": [],
                "created_at": 1.0,
                "started_at": 2.0,
                "ended_at": 3.0,
                "error": None,
                "pid": None,
                "pid_start_time": None,
                "output_path": None,
                "experiment": "x",
                "job_dir": str(job_dir),
            }
        )
    )


def test_local_estimate_uses_the_measured_throughput(tmp_path, monkeypatch):
    from finetui.core.local.backend import LocalBackend

    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    backend = LocalBackend(tmp_path / "ws")
    backend.catalog.add_path(make_tiny_model(tmp_path / "tiny"), "tiny-chat")
    train = tmp_path / "train.jsonl"
    train.write_text(json.dumps({"messages": [{"role": "user", "content": "x" * 39_996}]}) + "\n")
    ws = backend.paths.root
    env = {"HF_HOME": str(tmp_path / "hf")}

    first = finetui_json(ws, "compute", "check", "tiny-chat", "--target", "cpu", "--train", str(train), env=env, check=False)
    assert first["price"]["per_hour"] == 0 and first["price"]["sku"] == "cpu"
    assert first["job_estimate"] is None and first["job_estimate_note"].startswith("no throughput measured here yet")

    _finished_job(backend, "job-a", [50.0, 100.0])  # the last tokens/s of each job counts
    _finished_job(backend, "job-b", [300.0])
    _finished_job(backend, "job-c", [200.0])
    out = finetui_json(ws, "compute", "check", "tiny-chat", "--target", "cpu", "--train", str(train), env=env, check=False)
    est = out["job_estimate"]
    assert est["throughput"]["tokens_per_s"] == 200.0  # the median of 100, 300, 200
    assert est["throughput"]["source"] == "measured here: median of 3 finished job(s)"
    tokens = train.stat().st_size // 4
    assert est["hours"] == pytest.approx(tokens * out["spec"]["num_train_epochs"] / 200.0 / 3600)
    assert est["cost"] == 0
