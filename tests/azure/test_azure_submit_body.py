"""Items 7 and 10 of issue 12: a job sends only what someone chose, and --dry-run shows it exactly.

Each command is its own ``finetui --backend azure`` process against the fake service.
The YAML export is read back with the SDK's own ``load_job``; the Python export is run
as the tutorial would run it, and both must give the body finetui submits.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from azure_fake import TUTORIAL_PARAMETERS
from cli_helpers import submit_args

FILE_INPUTS = ("train_file_path", "test_file_path")


@pytest.fixture
def cli(azure_cli):
    azure_cli.write_chat("train_sft.jsonl", "test_sft.jsonl")
    return azure_cli


SUBMIT = submit_args("Phi-3-mini-4k-instruct", "train_sft.jsonl", test="test_sft.jsonl", compute="gpu-a100")


def _node_inputs(body: dict) -> dict:
    node = body["properties"]["jobs"]["chat_completion_pipeline"]
    return {k: v.get("value", v.get("uri")) for k, v in node["inputs"].items()}


def _no_source(value):
    """Without the SDK's ``_source`` marker, which says where a job was built (DSL, YAML), not what it is."""
    return {k: v for k, v in value.items() if k != "_source"} if isinstance(value, dict) else value


def _submitted(cli) -> dict:
    (body,) = cli.fake.job_bodies.values()
    return body


def test_only_chosen_parameters_are_sent(cli):
    cli.json(*SUBMIT)
    inputs = _node_inputs(_submitted(cli))
    params = {k: v for k, v in inputs.items() if not k.startswith("compute_") and k not in FILE_INPUTS}
    # the tutorial's training and optimization parameters, with the model's learning_rate over the tutorial's
    assert params == {
        "mlflow_model_path": "azureml://registries/azureml/models/Phi-3-mini-4k-instruct/versions/7",
        **TUTORIAL_PARAMETERS,
    }


def test_what_the_user_sets_is_sent(cli):
    (cli.cwd / "spec.yaml").write_text("warmup_ratio: 0.1\n")
    cli.json(*SUBMIT, "--spec", "spec.yaml", "--set", "lora_alpha=32")
    inputs = _node_inputs(_submitted(cli))
    assert (inputs["warmup_ratio"], inputs["lora_alpha"]) == ("0.1", "32")
    assert "lora_dropout" not in inputs and "weight_decay" not in inputs


def test_dry_run_is_what_submit_sends(cli):
    plan = cli.json(*SUBMIT, "--dry-run")
    assert not cli.fake.job_bodies and not cli.fake.blobs  # nothing uploaded, nothing started
    cli.json(*SUBMIT)
    body = _submitted(cli)["properties"]
    sent = _node_inputs({"properties": body})
    for key in FILE_INPUTS:  # local in the plan; uploaded to the datastore on submit
        assert sent.pop(key).endswith("/" + plan["inputs"].pop(key).rsplit("/", 1)[1])
    assert {k: str(v) for k, v in plan["inputs"].items()} == sent
    assert (plan["display_name"], plan["experiment"]) == (body["displayName"], body["experimentName"])
    assert plan["component"] == body["jobs"]["chat_completion_pipeline"]["componentId"]


def test_dry_run_yaml_loads_back_as_the_submitted_job(cli, monkeypatch):
    """The YAML, read by the SDK's load_job and submitted by the SDK, sends finetui's body."""
    from azure.ai.ml import MLClient, load_job
    from azure_fake import RG, SUB, WS
    from azure_replay import FakeCredential, install

    out = cli.run(*SUBMIT, "--dry-run", "--format", "yaml")
    assert out.returncode == 0, out.stderr
    (cli.cwd / "job.yaml").write_text(out.stdout)
    cli.json(*SUBMIT)
    by_finetui = _submitted(cli)
    cli.fake.job_bodies.clear()

    monkeypatch.chdir(cli.cwd)
    loaded = load_job(cli.cwd / "job.yaml")
    client = MLClient(
        FakeCredential(), SUB, RG, WS, transport=install(monkeypatch, cli.fake), show_progress=False, enable_telemetry=False
    )
    client.jobs.create_or_update(loaded)
    by_yaml = _submitted(cli)
    assert _node_inputs(by_yaml) == _node_inputs(by_finetui)
    for key in ("displayName", "experimentName", "settings", "tags", "outputs"):
        assert _no_source(by_yaml["properties"][key]) == _no_source(by_finetui["properties"][key]), key
    node, sent = (b["properties"]["jobs"]["chat_completion_pipeline"] for b in (by_yaml, by_finetui))
    assert (node["componentId"], node["outputs"]) == (sent["componentId"], sent["outputs"])


def test_dry_run_python_submits_the_same_job(cli):
    out = cli.run(*SUBMIT, "--dry-run", "--format", "python")
    assert out.returncode == 0, out.stderr
    (cli.cwd / "tutorial_job.py").write_text(out.stdout)
    ran = subprocess.run(
        [sys.executable, "tutorial_job.py"], cwd=cli.cwd, env=cli.env, capture_output=True, text=True, timeout=300
    )
    assert ran.returncode == 0, ran.stderr
    by_script = _submitted(cli)
    cli.fake.job_bodies.clear()
    cli.json(*SUBMIT)
    by_finetui = _submitted(cli)
    assert _node_inputs(by_script) == _node_inputs(by_finetui)
    for key in ("displayName", "experimentName", "settings"):
        assert _no_source(by_script["properties"][key]) == _no_source(by_finetui["properties"][key]), key


def test_dry_run_on_local_is_refused(cli):
    proc = cli.run_local(*SUBMIT, "--dry-run")
    assert (proc.returncode, proc.stderr) == (
        2,
        "error: job submit --dry-run: only --backend azure submits a job description to export\n",
    )


def test_submit_resolves_once_and_prints_the_notes_it_returns(cli):
    """Issue 11 item 4: the CLI does not resolve the spec before the backend does; the submitted job carries the notes."""
    before = len(cli.fake.requests)
    proc = cli.run(*SUBMIT, "--set", "learning_rate=1e-4")
    assert proc.returncode == 0, proc.stderr
    assert "note: you overrode the model's defaults for learning_rate=0.0001" in proc.stderr.splitlines()
    # the catalog lists the model's versions to find the latest: once per read of the model
    model_reads = [
        r.path
        for r in cli.fake.requests[before:]
        if r.method == "GET" and r.path.endswith("/models/Phi-3-mini-4k-instruct/versions")
    ]
    assert len(model_reads) == 1, model_reads
    submitted = cli.json(*SUBMIT)
    assert submitted["notes"] == ["note: the model's defaults set learning_rate=2e-05"]
