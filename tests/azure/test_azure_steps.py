"""Item 6 of issue 12: a pipeline job's steps by name, in pipeline order, with status, duration and compute."""

from __future__ import annotations


def test_job_show_names_steps_in_pipeline_order(azure_cli):
    azure_cli.write_chat("train_sft.jsonl")
    job = azure_cli.submit()["name"]
    fake = azure_cli.fake
    fake.advance(job, "Running")
    # run history lists children by creation; here preprocess was created before model_import
    fake.step(job, "preprocess", "Completed", "2026-01-01T00:05:00Z", "2026-01-01T00:07:30Z", created="2026-01-01T00:00:00Z")
    fake.step(job, "model_import", "Completed", "2026-01-01T00:01:00Z", "2026-01-01T00:04:10Z", created="2026-01-01T00:00:30Z")
    fake.step(job, "finetune", "Failed", "2026-01-01T00:08:00Z", "2026-01-01T01:10:05Z")

    shown = azure_cli.json("job", "show", job)
    steps = [(s["display_name"], s["status"], s["duration_s"], s["compute"]) for s in shown["steps"]]
    assert steps == [
        ("model_import", "Completed", 190.0, "gpu-a100"),
        ("preprocess", "Completed", 150.0, "gpu-a100"),
        ("finetune", "Failed", 3725.0, "gpu-a100"),
    ]
    text = azure_cli.run("job", "show", job).stdout
    lines = text[text.index("steps:\n") :].splitlines()[1:4]
    assert [ln.split()[:4] for ln in lines] == [
        ["model_import", "Completed", "3m10s", "gpu-a100"],
        ["preprocess", "Completed", "2m30s", "gpu-a100"],
        ["finetune", "Failed", "1h02m", "gpu-a100"],
    ]
    table = azure_cli.run("azure", "steps", job).stdout.splitlines()
    assert table[0].split() == ["STEP", "STATUS", "DURATION", "COMPUTE", "RUN"]
    assert [ln.split()[0] for ln in table[1:]] == ["model_import", "preprocess", "finetune"]
