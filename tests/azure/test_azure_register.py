"""Item 4 of issue 12: only a Completed job's output is registered, on Azure as locally."""

from __future__ import annotations

import json


def test_register_refuses_unfinished_jobs_naming_the_status(azure_cli):
    row = {
        "prompt": "hi",
        "prompt_id": "1",
        "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}],
    }
    (azure_cli.cwd / "train_sft.jsonl").write_text(json.dumps(row) + "\n")
    job = azure_cli.json(
        "job", "submit", "--model", "Phi-3-mini-4k-instruct", "--train", "train_sft.jsonl", "--compute", "gpu-a100"
    )["name"]
    for status in ("Running", "Failed", "Canceled"):
        azure_cli.fake.advance(job, status)
        refused = azure_cli.run("model", "register", "--job", job, "--name", "phi3-ft")
        assert refused.returncode == 1, refused.stderr
        assert refused.stderr == f"error: job {job} is {status}; only a Completed job can be registered\n"
    assert not azure_cli.fake.models  # nothing was registered

    azure_cli.fake.advance(job, "Completed")
    done = azure_cli.json("model", "register", "--job", job, "--name", "phi3-ft", "--version", "1")
    assert (done["name"], done["version"], done["job"]) == ("phi3-ft", "1", job)
    body = azure_cli.fake.models[("phi3-ft", "1")]["properties"]
    assert body["modelUri"] == f"azureml://jobs/{job}/outputs/trained_model"
