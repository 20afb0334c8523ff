"""The CLI with --backend azure, in-process, against the fake service.

Nothing is injected into our code: the workspace comes from a config.json in
the working directory, the credential from AZURE_CLIENT_* variables (a real
EnvironmentCredential signing in against the fake login service), and every
HTTP request goes to the fakes through requests' adapter.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from azure_fake import RG, SUB, WS, standard_fake
from azure_login import FakeLogin
from azure_replay import install

from finetui.tui.cli.main import cli


@pytest.fixture
def world(monkeypatch, tmp_path):
    fake, login = standard_fake(), FakeLogin(upn="ci@contoso.example")

    def route(req):
        if req.host in ("login.microsoftonline.com", "169.254.169.254"):
            return login(req)
        return fake(req)

    install(monkeypatch, route)
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".azureml").mkdir()
    (tmp_path / ".azureml" / "config.json").write_text(
        json.dumps({"subscription_id": SUB, "resource_group": RG, "workspace_name": WS})
    )
    for name in (
        "FINETUI_AZURE_SUBSCRIPTION",
        "FINETUI_AZURE_RESOURCE_GROUP",
        "FINETUI_AZURE_WORKSPACE_NAME",
        "FINETUI_AZURE_CONFIG",
        "FINETUI_AZURE_REGISTRY",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AZURE_TENANT_ID", "11111111-2222-3333-4444-555555555555")
    monkeypatch.setenv("AZURE_CLIENT_ID", "22222222-0000-0000-0000-000000000000")
    monkeypatch.setenv("AZURE_CLIENT_SECRET", "not-a-real-secret")
    monkeypatch.setenv("PATH", str(tmp_path))  # no `az`
    monkeypatch.setenv("FINETUI_WORKSPACE", str(tmp_path / "local-ws"))
    return fake


def run(*args: str):
    result = CliRunner().invoke(cli, ["--backend", "azure", *args], catch_exceptions=False)
    return result


def test_model_show_json(world):
    result = run("model", "show", "Phi-3-mini-4k-instruct", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["name"], data["version"], data["source"]) == ("Phi-3-mini-4k-instruct", "7", "azureml")
    assert data["model_specific_defaults"]["deepspeed_stage"] == 2


def test_whoami_json_and_text(world):
    result = run("azure", "whoami", "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["credential"] == "environment" and data["workspace_name"] == WS
    assert data["workspace_source"].endswith(".azureml/config.json")
    text = run("azure", "whoami")
    assert text.stdout.startswith("signed in with environment as ")


def test_missing_model_is_one_line_exit_2(world):
    result = run("model", "show", "No-such-model")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: model No-such-model not found in registry azureml")
    assert len(result.stderr.strip().splitlines()) == 1


def test_no_workspace_is_exit_2(world, tmp_path, monkeypatch):
    empty = tmp_path / "elsewhere"
    empty.mkdir()
    monkeypatch.chdir(empty)
    (tmp_path / ".azureml" / "config.json").unlink()
    result = run("azure", "workspace")
    assert result.exit_code == 2
    assert "no Azure ML workspace: config.json not found in" in result.stderr


def test_steps_and_logs(world, tmp_path):
    import json as _json

    row = {
        "prompt": "hi",
        "prompt_id": "1",
        "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}],
    }
    (tmp_path / "train.jsonl").write_text(_json.dumps(row) + "\n")
    result = run(
        "job", "submit", "--model", "Phi-3-mini-4k-instruct", "--train", "train.jsonl", "--compute", "gpu-a100", "--json"
    )
    assert result.exit_code == 0, result.output
    name = json.loads(result.stdout)["name"]
    world.advance(name, "Running")
    world.runs[f"{name}-finetune"]["status"] = "Running"
    world.set_step_log(name, "finetune", "loss 1.0\nloss 0.9\n")
    steps = run("azure", "steps", name, "--json")
    assert [s["display_name"] for s in json.loads(steps.stdout)] == ["finetune"]
    logs = run("azure", "logs", name, "--step", "finetune")
    assert logs.stdout == "loss 1.0\nloss 0.9\n" and logs.stderr.strip() == "offset 18"
    world.set_step_log(name, "finetune", "loss 1.0\nloss 0.9\nloss 0.8\n", "Completed")
    world.advance(name, "Completed")
    again = run("azure", "logs", name, "--step", "finetune", "--offset", "18", "--follow")
    assert again.stdout == "loss 0.8\n"


def test_endpoint_commands_on_azure(world, tmp_path, monkeypatch):
    from azure.core.pipeline.transport import RequestsTransport

    monkeypatch.setattr(RequestsTransport, "sleep", lambda self, duration: None)  # LRO polls, at once
    world.models[("ft", "1")] = {
        "id": f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.MachineLearningServices/"
        f"workspaces/{WS}/models/ft/versions/1",
        "name": "1",
        "properties": {"modelType": "mlflow_model", "tags": {}, "flavors": {"python_function": {"data": {}}}},
    }
    created = run("endpoint", "create", "ep1", "--model", "ft:1", "--json")
    assert created.exit_code == 0, created.output
    assert json.loads(created.stdout)["state"] == "Succeeded", (created.stdout, created.stderr)
    (tmp_path / "sample_score.json").write_text(json.dumps({"input_data": {"input_string": [{"role": "user", "content": "hi"}]}}))
    reply = run("endpoint", "invoke", "ep1", "--request-file", "sample_score.json", "--json")
    assert json.loads(reply.stdout) == {"output": "Hello from the fine-tuned model."}
    keys = run("endpoint", "keys", "ep1", "--json")
    assert keys.exit_code == 0 and "fake-key-1" in keys.stdout
    regen = run("endpoint", "regenerate-keys", "ep1", "--key", "secondary")
    assert regen.exit_code == 0, regen.output
    assert world.regenerated.lower() == "secondary"
    logs = run("endpoint", "logs", "ep1")
    assert logs.stdout == "Booting worker with pid: 7\nModel loaded\n"
    assert "fake-key" not in created.output + reply.output + logs.output
    deleted = run("endpoint", "delete", "ep1", "--yes")
    assert deleted.exit_code == 0 and "ep1" not in world.endpoints


def test_compute_list_and_check(world):
    listed = run("compute", "list", "--json")
    assert listed.exit_code == 0, listed.output
    assert [(t["name"], t["gpus_per_node"]) for t in json.loads(listed.stdout)] == [("gpu-a100", 1)]
    checked = run("compute", "check", "Phi-3-mini-4k-instruct", "--json")  # the only GPU cluster is picked
    assert checked.exit_code == 0, checked.output
    report = json.loads(checked.stdout)
    assert (report["target"], report["verdict"]) == ("gpu-a100", "ok")
    world.add_compute("k80", "Standard_NC6")
    refused = run("compute", "check", "Phi-3-mini-4k-instruct", "--target", "k80")
    assert refused.exit_code == 1 and "is not in the allow-listed computes for finetuning" in refused.stdout
