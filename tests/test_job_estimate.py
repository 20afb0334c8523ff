"""`compute check --train` on the local backend: throughput measured from this workspace's finished jobs."""

from __future__ import annotations

import json

import pytest

from cli_helpers import finetui_json
from model_folders import make_tiny_model

from finetui.core.local.records import JobRecord
from finetui.core.units import count


def _finished_job(backend, name: str, rates: list[float], model: str = "tiny-chat:1") -> None:
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
                "model": model,
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


def test_throughput_is_scaled_to_the_size_of_the_model_to_train(tmp_path, monkeypatch):
    """Tokens/s goes as 1/parameters: a job measured on a model twice the size says the small one runs twice as fast."""
    import numpy as np
    from model_folders import tiny_tensors
    from safetensors.numpy import save_file

    from finetui.core.estimate import documented_throughput, measured_throughput
    from finetui.core.local.backend import LocalBackend
    from finetui.core.prices import load_prices

    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    backend = LocalBackend(tmp_path / "ws")
    backend.catalog.add_path(make_tiny_model(tmp_path / "tiny"), "tiny-chat")
    wide = make_tiny_model(tmp_path / "wide")  # the same, plus as many parameters again in a head of its own
    save_file({**tiny_tensors(), "lm_head.weight": np.zeros((64, 28), np.float32)}, str(wide / "model.safetensors"))
    backend.catalog.add_path(wide, "wide-chat")
    small, large = (backend.get_model(m).parameter_count for m in ("tiny-chat", "wide-chat"))
    assert large == 2 * small > 0
    _finished_job(backend, "job-wide", [100.0], model="wide-chat:1")

    found = measured_throughput(backend, small)
    assert found.tokens_per_s == pytest.approx(200.0)
    assert found.source.endswith(f", scaled to {count(small)} parameters")
    assert measured_throughput(backend, large).tokens_per_s == 100.0  # its own size: as measured
    assert measured_throughput(backend, None).source == "measured here: median of 1 finished job(s)"

    table = load_prices(tmp_path / "ws")
    phi3_mini = documented_throughput(table, "Standard_NC24ads_A100_v4", 3_800_000_000)
    seven_b = documented_throughput(table, "standard_nc24ads_a100_v4", 7_600_000_000)
    assert seven_b.tokens_per_s == pytest.approx(phi3_mini.tokens_per_s / 2)
    assert "scaled to 7.6B" in seven_b.source and seven_b.uncertainty == 0.5
