"""Item 8 of issue 12: --set takes any input the registry's chat_completion_pipeline declares,
checked against the component's own input spec (name with did-you-mean, type, enum, range)."""

from __future__ import annotations

import pytest

from cli_helpers import submit_args


@pytest.fixture
def cli(azure_cli):
    azure_cli.write_chat("train_sft.jsonl")
    return azure_cli


SUBMIT = submit_args("Phi-3-mini-4k-instruct", "train_sft.jsonl", compute="gpu-a100")


def test_component_inputs_are_sent(cli):
    cli.json(
        *SUBMIT,
        "--set",
        "precision=16",
        "--set",
        "max_grad_norm=0.3",
        "--set",
        "apply_early_stopping=true",
        "--set",
        "early_stopping_patience=3",
        "--set",
        "optim=adamw_torch",
    )
    (body,) = cli.fake.job_bodies.values()
    inputs = {k: v.get("value") for k, v in body["properties"]["jobs"]["chat_completion_pipeline"]["inputs"].items()}
    assert (
        inputs["precision"],
        inputs["max_grad_norm"],
        inputs["apply_early_stopping"],
        inputs["early_stopping_patience"],
        inputs["optim"],
    ) == ("16", "0.3", "true", "3", "adamw_torch")


def test_component_inputs_in_a_spec_file_and_the_fit_check(cli):
    (cli.cwd / "spec.yaml").write_text("precision: '32'\n")
    report = cli.json("compute", "check", "Phi-3-mini-4k-instruct", "--target", "gpu-a100", "--spec", "spec.yaml")
    assert report["precision"] == "fp32"  # the component's precision "32" trains in full precision


@pytest.mark.parametrize(
    "setting,message",
    [
        (
            "precison=16",
            "error: --set: precison: neither a fine-tuning parameter nor an input of chat_completion_pipeline; "
            "did you mean precision?",
        ),
        ("precision=8", "error: --set: precision: 8 is not one of 32, 16"),
        ("optim=sgd", "error: --set: optim: 'sgd' is not one of adamw_hf, adamw_torch, adafactor"),
        ("early_stopping_patience=0", "error: --set: early_stopping_patience: 0 is out of range: must be at least 1"),
        ("warmup_steps=ten", "error: --set: warmup_steps: expected a whole number, got 'ten'"),
        ("max_grad_norm=abc", "error: --set: max_grad_norm: expected a number, got 'abc'"),
        (
            "compute_finetune=other",
            "error: --set: compute_finetune is set by finetui from --model, --compute, --train and --test",
        ),
    ],
)
def test_bad_component_inputs_are_refused(cli, setting, message):
    proc = cli.run(*SUBMIT, "--set", setting)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.splitlines()[-1].startswith(message), proc.stderr
    assert not cli.fake.job_bodies
