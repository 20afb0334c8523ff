"""Item 2 of issue 12: the tutorial's endpoint choices from the command line, checked as it checks them.

The instance type is checked against the *foundation* model's inference_compute_allow_list,
found through the registered model's lineage (its job, that job's model input).
"""

from __future__ import annotations

import pytest


@pytest.fixture
def registered(azure_cli):
    """phi3-ft:1, registered from a Completed fine-tune of Phi-3-mini-4k-instruct:7."""
    azure_cli.write_chat("train_sft.jsonl")
    job = azure_cli.submit()["name"]
    azure_cli.fake.advance(job, "Completed")
    azure_cli.json("model", "register", "--job", job, "--name", "phi3-ft", "--version", "1")
    azure_cli.job = job
    return azure_cli


def test_tutorial_defaults_and_every_choice(registered):
    ep = registered.json("endpoint", "create", "ep-default", "--model", "phi3-ft:1")
    assert ep["state"] == "Succeeded"
    dep = registered.fake.deployments[("ep-default", "demo")]
    props = dep["properties"]
    assert (props["instanceType"], dep["sku"]["capacity"]) == ("Standard_NC6s_v3", 1)
    assert props["livenessProbe"]["initialDelay"] == "PT10M" and props["requestSettings"]["requestTimeout"] == "PT1M30S"
    assert registered.fake.endpoints["ep-default"]["properties"]["authMode"] == "Key"

    registered.json(
        "endpoint",
        "create",
        "ep-chosen",
        "--model",
        "phi3-ft:1",
        "--instance-type",
        "standard_nc24ads_a100_v4",
        "--instance-count",
        "2",
        "--deployment-name",
        "blue",
        "--request-timeout-ms",
        "60000",
        "--liveness-delay",
        "300",
        "--readiness-delay",
        "30",
    )
    dep = registered.fake.deployments[("ep-chosen", "blue")]
    props = dep["properties"]
    assert (props["instanceType"], dep["sku"]["capacity"]) == ("standard_nc24ads_a100_v4", 2)  # allow list: any case
    assert props["livenessProbe"]["initialDelay"] == "PT5M" and props["readinessProbe"]["initialDelay"] == "PT30S"
    assert props["requestSettings"]["requestTimeout"] == "PT1M"
    assert registered.fake.endpoints["ep-chosen"]["properties"]["traffic"] == {"blue": 100}


def test_allow_list_found_through_the_job_lineage(registered):
    # a model registered outside finetui carries none of its tags: the job that made it leads to the base model
    registered.fake.models[("phi3-ft", "1")]["properties"]["tags"] = {}
    registered.fake.jobs[registered.job]["properties"]["tags"] = {}
    refused = registered.run("endpoint", "create", "ep-x", "--model", "phi3-ft:1", "--instance-type", "Standard_DS3_v2")
    assert refused.returncode == 2
    assert refused.stderr.splitlines()[-1] == (
        "error: instance type Standard_DS3_v2 is not in the model's inference_compute_allow_list: choose one of "
        "Standard_NC6s_v3, Standard_NC24ads_A100_v4 (the list of Phi-3-mini-4k-instruct, which phi3-ft was fine-tuned from)"
    )
    assert "ep-x" not in registered.fake.endpoints


def test_local_only_options_refused_on_azure(azure_cli):
    for args, named in (
        (["--port", "8080"], "--port"),
        (["--max-queue", "4"], "--max-queue"),  # --idle-timeout applies to both backends since issue 16
        (["--host", "0.0.0.0", "--port", "1"], "--host, --port"),
    ):
        proc = azure_cli.run("endpoint", "create", "ep1", "--model", "phi3-ft:1", *args)
        assert proc.returncode == 2
        assert proc.stderr.startswith(f"error: {named}: only for --backend local endpoints; Azure picks")
    assert not azure_cli.fake.endpoints and not [r for r in azure_cli.fake.requests if r.method == "PUT"]


def test_azure_only_options_refused_on_local(azure_cli, tmp_path):
    proc = azure_cli.run_local(
        "endpoint", "create", "ep1", "--model", "m:1", "--instance-type", "Standard_NC6s_v3", "--liveness-delay", "10"
    )
    assert (proc.returncode, proc.stderr) == (
        2,
        "error: --instance-type, --liveness-delay: only for --backend azure "
        "endpoints; a local endpoint is one server on this machine\n",
    )


def test_endpoint_dry_run_prints_what_create_sends(registered):
    import yaml

    out = registered.json("endpoint", "create", "ep-plan", "--model", "phi3-ft:1", "--instance-count", "2", "--dry-run")
    assert "ep-plan" not in registered.fake.endpoints
    endpoint, deployment = yaml.safe_load(out["endpoint"]), yaml.safe_load(out["deployment"])
    assert (endpoint["name"], endpoint["auth_mode"]) == ("ep-plan", "key")
    assert (deployment["name"], deployment["endpoint_name"], deployment["instance_type"], deployment["instance_count"]) == (
        "demo",
        "ep-plan",
        "Standard_NC6s_v3",
        2,
    )
    assert deployment["liveness_probe"]["initial_delay"] == 600
    assert deployment["request_settings"]["request_timeout_ms"] == 90000
    assert deployment["model"].endswith("/models/phi3-ft/versions/1")
