"""A job's checkpoints: which are complete, their losses, the best, and registering one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli_helpers import finetui, finetui_json
from finetui.core.local.checkpoint_list import list_checkpoints
from finetui.core.local.checkpoints import complete_checkpoints


def _checkpoint(
    root: Path, step: int, history: list[dict], *, state: bool = True, weights: bool = True, best: str | None = None
) -> Path:
    folder = root / "checkpoints" / f"checkpoint-{step}"
    folder.mkdir(parents=True)
    if weights:
        (folder / "adapter_model.safetensors").write_bytes(b"weights")
    if state:
        (folder / "trainer_state.json").write_text(
            json.dumps({"global_step": step, "epoch": step / 10, "log_history": history, "best_model_checkpoint": best})
        )
    return folder


HISTORY = [
    {"step": 5, "loss": 2.0},
    {"step": 10, "loss": 1.5},
    {"step": 10, "eval_loss": 1.2},
    {"step": 15, "loss": 1.0},
    {"step": 20, "loss": 0.5},
    {"step": 20, "eval_loss": 1.4},
]


def test_interrupted_checkpoints_are_skipped_and_the_lowest_eval_loss_is_best(tmp_path):
    _checkpoint(tmp_path, 10, HISTORY[:3])
    _checkpoint(tmp_path, 20, HISTORY)
    _checkpoint(tmp_path, 30, [], state=False)  # cut off after the weights: no trainer_state.json
    _checkpoint(tmp_path, 40, [], state=False, weights=False)  # an empty folder
    (tmp_path / "checkpoints" / "checkpoint-x").mkdir()
    (tmp_path / "checkpoints" / "checkpoint-50").symlink_to(tmp_path / "checkpoints" / "checkpoint-20")
    assert [p.name for p in complete_checkpoints(tmp_path)] == ["checkpoint-10", "checkpoint-20"]
    rows = list_checkpoints(tmp_path)
    assert [(c.step, c.epoch, c.train_loss, c.eval_loss, c.best) for c in rows] == [
        (10, 1.0, 1.5, 1.2, True),
        (20, 2.0, 0.5, 1.4, False),
    ]
    assert complete_checkpoints(tmp_path / "nowhere") == [] and list_checkpoints(tmp_path / "nowhere") == []


def test_the_trainers_best_mark_wins(tmp_path):
    _checkpoint(tmp_path, 10, HISTORY[:3])
    last = _checkpoint(tmp_path, 20, HISTORY, best=str(tmp_path / "checkpoints" / "checkpoint-20"))
    assert [c.path for c in list_checkpoints(tmp_path) if c.best] == [str(last)]


@pytest.mark.slow
def test_job_checkpoints_and_register_best(trained_ws):
    from safetensors.torch import load_file

    ws, demo, name, registered = trained_ws
    rows = finetui_json(ws, "job", "checkpoints", name)
    assert rows and [c["best"] for c in rows].count(True) == 1
    last = rows[-1]
    metrics = finetui_json(ws, "job", "metrics", name, "--metric", "eval_loss")
    assert last["eval_loss"] == pytest.approx(metrics[-1]["value"]) and last["train_loss"] is not None
    human = finetui(ws, "job", "checkpoints", name).stdout
    assert f"* {rows[[c['best'] for c in rows].index(True)]['step']}" in human

    reg = finetui_json(
        ws, "model", "register", "--job", name, "--checkpoint", str(last["step"]), "--name", "demo-ckpt", timeout=600
    )
    assert reg["job"] == name and f"step {last['step']}" in reg["description"]
    # the last checkpoint merged is the model the job exported at its end
    mine = load_file(next(Path(reg["path"], "model").glob("*.safetensors")))
    final = load_file(next(Path(registered["path"], "model").glob("*.safetensors")))
    assert mine.keys() == final.keys()
    assert all(float((mine[k] - final[k]).abs().max()) < 1e-6 for k in mine)

    for bad, named in (("999999", "steps:"), ("abc", "step number or best"), ("-1", "step number")):
        proc = finetui(ws, "model", "register", "--job", name, "--checkpoint", bad, "--name", "x", check=False)
        assert proc.returncode == 2 and named in proc.stderr, proc.stderr
    assert finetui(ws, "job", "checkpoints", "no-such-job", check=False).returncode == 2  # an unknown name is bad input
