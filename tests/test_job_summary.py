"""The end-of-job summary: its lines, and next commands that the CLI accepts and whose names pass the name rules."""

from __future__ import annotations

import dataclasses
import shlex
import warnings

import click
import pytest

from cli_helpers import finetui, finetui_json
from finetui.core.job_summary import JobSummary, next_commands, registered_name
from finetui.core.models import Checkpoint, Job, JobStatus
from finetui.core.names import check_name


def _job(status: JobStatus, backend: str = "local", name: str = "job_20261129_0001", test: str | None = "my data/test.jsonl"):
    return Job(name, name, status, backend, "tiny-chat:1", "train.jsonl", test, {}, 0.0, 10.0, 70.0)


CHECKPOINTS = [
    Checkpoint(10, 0.5, "/ws/jobs/j/checkpoints/checkpoint-10", 1.9, 2.0),
    Checkpoint(20, 1.0, "/ws/jobs/j/checkpoints/checkpoint-20", 1.2, 1.4, best=True),
    Checkpoint(30, 1.5, "/ws/jobs/j/checkpoints/checkpoint-30", 0.7, 1.6),
]


def parses(line: str) -> bool:
    """Whether the real CLI's parser takes ``line`` down to its command (options, arguments, choices)."""
    from finetui.tui.cli.main import cli

    argv = shlex.split(line)
    assert argv[0] == "finetui"
    with warnings.catch_warnings():  # click 8.2 deprecates protected_args, where a group keeps its subcommand
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx = cli.make_context("finetui", argv[1:])
        command: click.Command = cli
        args = [*ctx.protected_args, *ctx.args]
        while isinstance(command, click.Group):
            name, sub, args = command.resolve_command(ctx, args)
            assert sub is not None, line
            ctx = sub.make_context(name, args, parent=ctx)
            command, args = sub, [*ctx.protected_args, *ctx.args]
    return True


def test_the_parser_check_catches_a_bad_line():
    for bad in ("finetui model register --job j --nme x", "finetui job extend j --epochs", "finetui job nosuch j"):
        with pytest.raises(click.UsageError):
            parses(bad)


def test_a_completed_local_job_suggests_register_best_eval_extend_and_deploy():
    lines = next_commands(_job(JobStatus.COMPLETED), CHECKPOINTS)
    assert lines == (
        "finetui model register --job job_20261129_0001 --name tiny-chat-ft",
        "finetui model register --job job_20261129_0001 --checkpoint best --name tiny-chat-best",
        "finetui eval tiny-chat-ft --test 'my data/test.jsonl'",
        "finetui job extend job_20261129_0001 --epochs 1",
        "finetui endpoint create tiny-chat-ft-ep --model tiny-chat-ft",
    )
    assert all(parses(line) for line in lines)


@pytest.mark.parametrize(
    "model, registered, endpoint",
    [
        ("microsoft/Phi-3-mini-4k-instruct:1", "Phi-3-mini-4k-instruct-ft", "phi-3-mini-4k-instruct-ft-ep"),
        ("Qwen/Qwen2.5-0.5B-Instruct", "Qwen2.5-0.5B-Instruct-ft", "qwen2-5-0-5b-instruct-ft-ep"),
        ("2026+model:3", "2026-model-ft", "ep-2026-model-ft-ep"),
        ("a" * 300 + ":1", "a" * 252 + "-ft", "a" * 28 + "-ep"),
    ],
)
def test_suggested_names_pass_the_name_rules(model, registered, endpoint):
    job = dataclasses.replace(_job(JobStatus.COMPLETED), model=model)
    assert registered_name(job) == check_name("registered model", registered)
    deploy = shlex.split(next_commands(job, [])[-1])
    assert (deploy[3], deploy[5]) == (check_name("endpoint", endpoint), registered)


def test_ended_jobs_on_each_backend():
    assert next_commands(_job(JobStatus.FAILED), CHECKPOINTS) == (
        "finetui job logs job_20261129_0001",
        "finetui job resume job_20261129_0001",
    )
    assert next_commands(_job(JobStatus.CANCELED), []) == ("finetui job logs job_20261129_0001",)
    azure = next_commands(_job(JobStatus.COMPLETED, "azure", "khaki_puppy_y6bgql74r2", None), CHECKPOINTS)
    assert azure == (
        "finetui --backend azure model register --job khaki_puppy_y6bgql74r2 --name tiny-chat-ft",
        "finetui --backend azure eval show khaki_puppy_y6bgql74r2",
        "finetui --backend azure endpoint create tiny-chat-ft-ep --model tiny-chat-ft",
    )
    running = next_commands(_job(JobStatus.RUNNING), [])
    assert all(parses(line) for line in (*azure, *running))


def test_the_summary_fits_one_screen():
    summary = JobSummary(
        "job_20261129_0001", "Completed", "tiny-chat:1", "local", 3725.0, 1200, 1834.6, 0.4712, 0.5523, 400, 800, 0.5601, 3, None,
        next_commands(_job(JobStatus.COMPLETED), CHECKPOINTS),
    )  # fmt: skip
    lines = summary.lines()
    assert lines[:7] == [
        "job job_20261129_0001 Completed",
        "  model      tiny-chat:1",
        "  ran        1h02m, 1,200 steps",
        "  throughput 1,835 tokens/s (median)",
        "  loss       0.4712 at the end",
        "  eval loss  0.5523 at best (step 400)",
        "  saved      3 checkpoints; the best kept: step 800 (eval loss 0.5601)",
    ]
    assert len(lines) <= 24 and max(len(line) for line in lines) <= 100


@pytest.mark.slow
def test_job_wait_ends_with_the_summary_and_job_summary_repeats_it(trained_ws):
    ws, demo, name, _registered = trained_ws
    waited = finetui(ws, "job", "wait", name).stdout.splitlines()
    assert waited[0] == f"job {name} Completed"
    assert waited[1].startswith(f"  model      {demo['model']}")  # its ref, with the version
    assert any(line.startswith("  throughput ") and line.endswith(" tokens/s (median)") for line in waited)
    base = demo["model"].split(":")[0]
    assert "next:" in waited and f"  finetui model register --job {name} --name {base}-ft" in waited
    shown = finetui_json(ws, "job", "summary", name)
    assert (shown["job"], shown["status"], shown["checkpoints"] >= 0) == (name, "Completed", True)
    assert shown["tokens_per_s"] > 0 and shown["duration_s"] > 0 and shown["final_loss"] is not None
    assert finetui(ws, "job", "summary", name).stdout.splitlines() == waited
