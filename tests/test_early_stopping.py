"""Early stopping on eval loss: a run that stops improving stops, and its best checkpoint is the one kept and registered."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli_helpers import finetui, finetui_json, submit
from finetui.core.spec import FineTuneSpec


def _overfitting_data(folder: Path) -> tuple[Path, Path]:
    """Training facts, and a test set asking the same questions with other answers.

    The model first learns the answer's shape (eval loss falls), then the
    training facts, which the test rows contradict (eval loss rises): a run
    that stops improving after a few epochs.
    """
    from finetui.core.local.demo.data import COUNTRIES

    facts = COUNTRIES[:16]

    def row(country: str, capital: str) -> str:
        return json.dumps(
            {
                "messages": [
                    {"role": "user", "content": f"What is the capital of {country}?"},
                    {"role": "assistant", "content": f"The capital of {country} is {capital}."},
                ]
            }
        )

    train, test = folder / "train.jsonl", folder / "test.jsonl"
    train.write_text("".join(row(c, a) + "\n" for c, a in facts), encoding="utf-8")
    test.write_text("".join(row(c, facts[(i + 1) % len(facts)][1]) + "\n" for i, (c, _a) in enumerate(facts)), encoding="utf-8")
    return train, test


@pytest.mark.slow
def test_early_stopping_stops_and_keeps_the_best_checkpoint(demo_ws, tmp_path):
    from safetensors.torch import load_file

    ws, demo = demo_ws
    train, test = _overfitting_data(tmp_path)
    epochs = 40
    name = submit(ws, demo["model"], train, f"num_train_epochs={epochs}", "early_stopping_patience=2", test=test).stdout.strip()
    finetui(ws, "job", "logs", name, "--follow", timeout=900)
    job = finetui_json(ws, "job", "show", name)
    assert job["status"] == "Completed", job
    assert job["spec"]["early_stopping_patience"] == 2

    evals = [(p["step"], p["value"]) for p in finetui_json(ws, "job", "metrics", name, "--metric", "eval_loss")]
    steps_per_epoch = 2  # 16 rows, batch 8 (the demo model's default)
    assert evals[-1][0] < epochs * steps_per_epoch, f"ran to the end: {evals}"
    best_step, best_loss = min(evals, key=lambda e: e[1])
    later = [loss for step, loss in evals if step > best_step]
    assert len(later) == 2 and all(loss >= best_loss for loss in later), evals  # patience 2: two evaluations without improvement
    assert "early stopping: eval_loss did not improve for 2 evaluations" in finetui(ws, "job", "logs", name).stdout

    checkpoints = finetui_json(ws, "job", "checkpoints", name)
    [best] = [c for c in checkpoints if c["best"]]
    assert best["step"] == best_step and best["eval_loss"] == pytest.approx(best_loss)

    reg = finetui_json(ws, "model", "register", "--job", name, "--checkpoint", "best", "--name", "early-best", timeout=600)
    assert f"step {best_step} (best)" in reg["description"]
    # the job's exported model is the best checkpoint loaded back at the end, the same weights
    mine = load_file(next(Path(reg["path"], "model").glob("*.safetensors")))
    final = load_file(next(Path(job["output_path"], "model").glob("*.safetensors")))
    assert mine.keys() == final.keys() and all(float((mine[k] - final[k]).abs().max()) < 1e-6 for k in mine)


def test_early_stopping_keys_are_checked(demo_ws, tmp_path):
    ws, demo = demo_ws
    for value, named in (("-1", "out of range"), ("two", "early_stopping_patience")):
        proc = submit(
            ws, demo["model"], demo["train_file"], f"early_stopping_patience={value}", test=demo["test_file"], check=False
        )
        assert proc.returncode == 2 and named in proc.stderr, proc.stderr
    proc = submit(ws, demo["model"], demo["train_file"], "early_stopping_patience=2", check=False)
    assert proc.returncode == 2 and "--test" in proc.stderr, proc.stderr
    spec = FineTuneSpec.from_mapping({"early_stopping_patience": 3, "early_stopping_threshold": "0.01"})
    assert (spec.early_stopping_patience, spec.early_stopping_threshold) == (3, 0.01)
    assert not any(k.startswith("early_stopping") for k in spec.pipeline_parameters())  # not Azure pipeline inputs
