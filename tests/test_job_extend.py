"""``finetui job extend``: a Completed job trained N more epochs as a new job that continues it."""

from __future__ import annotations

import pytest

from cli_helpers import finetui, finetui_json

pytestmark = pytest.mark.slow


def test_extend_adds_epochs_and_links_the_lineage(trained_ws):
    from finetui.core.local.backend import LocalBackend

    ws, demo, name, registered = trained_ws
    first = finetui_json(ws, "job", "show", name)
    first_steps = max(p["step"] for p in finetui_json(ws, "job", "metrics", name, "--metric", "loss"))
    epochs = first["spec"]["num_train_epochs"]
    per_epoch = first_steps // int(epochs)

    out = finetui_json(ws, "job", "extend", name, "--epochs", "1")
    new = out["name"]
    assert new != name and out["extends"] == name and out["resume_from"].endswith(f"checkpoint-{first_steps}")
    finetui(ws, "job", "logs", new, "--follow", timeout=900)
    job = finetui_json(ws, "job", "show", new)
    assert job["status"] == "Completed", job
    assert job["spec"]["num_train_epochs"] == epochs + 1
    assert LocalBackend(ws).store.get_job(new).extends == name

    # one curve: the first job's points up to the checkpoint it continued from, then the steps carry on from there
    first_curve = [(p["step"], p["value"]) for p in finetui_json(ws, "job", "metrics", name, "--metric", "loss")]
    curve = [(p["step"], p["value"]) for p in finetui_json(ws, "job", "metrics", new, "--metric", "loss")]
    assert curve[: len(first_curve)] == first_curve
    steps = [step for step, _ in curve[len(first_curve) :]]
    logging = first["spec"]["logging_steps"]
    assert steps and first_steps < min(steps) <= first_steps + logging, steps
    assert finetui_json(ws, "job", "checkpoints", new)[-1]["step"] == first_steps + per_epoch  # one more epoch
    assert f"resuming from checkpoint-{first_steps}" in finetui(ws, "job", "logs", new).stdout

    for args, code in ((("--epochs", "0"), 2), (("--epochs", "nan"), 2)):
        proc = finetui(ws, "job", "extend", name, *args, check=False)
        assert proc.returncode == code and "--epochs" in proc.stderr, proc.stderr
    assert finetui(ws, "job", "extend", "no-such-job", "--epochs", "1", check=False).returncode == 2
