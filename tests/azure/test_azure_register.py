"""Item 4 of issue 12: only a Completed job's output is registered, on Azure as locally."""

from __future__ import annotations


def test_register_refuses_unfinished_jobs_naming_the_status(azure_cli):
    azure_cli.write_chat("train_sft.jsonl")
    job = azure_cli.submit()["name"]
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
