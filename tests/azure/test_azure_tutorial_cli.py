"""The tutorial, step by step, each step its own ``finetui --backend azure`` process, against the fake service.

What reaches the service is checked against what the notebook builds: the pipeline
job (component, inputs, settings, display name, experiment) and the deployment
(instance type and count, liveness probe, request timeout, key auth, traffic).
"""

from __future__ import annotations

import json

from azure_fake import TUTORIAL_PARAMETERS

TUTORIAL_ROW = {
    "prompt": "Say hi",
    "prompt_id": "p1",
    "messages": [{"role": "user", "content": "Say hi"}, {"role": "assistant", "content": "Hi!"}],
}


def test_the_tutorial_from_the_terminal(azure_cli):
    cli, fake = azure_cli, azure_cli.fake
    fake.add_usage("standardNCSv3Family", used=0, limit=24)
    for name in ("train_sft.jsonl", "test_sft.jsonl"):
        (cli.cwd / name).write_text("\n".join(json.dumps({**TUTORIAL_ROW, "prompt_id": f"p{i}"}) for i in range(3)) + "\n")

    # 1. sign in and connect to the workspace
    who = cli.json("azure", "whoami")
    assert (who["credential"], who["workspace_name"]) == ("environment", "ws1")

    # 2. the foundation model, latest version
    model = cli.json("model", "show", "Phi-3-mini-4k-instruct")
    assert (model["version"], model["id"]) == ("7", "azureml://registries/azureml/models/Phi-3-mini-4k-instruct/versions/7")

    # 3. the compute: the tutorial's Standard_NC6s_v3 cluster, its checks and GPUs per node
    cluster = cli.json("azure", "compute-create", "gpu-cluster-v100", "--size", "Standard_NC6s_v3")
    assert cluster["compute"]["tier"] == "dedicated" and not cluster["quota"]["short"]
    fit = cli.json("compute", "check", "Phi-3-mini-4k-instruct", "--target", "gpu-cluster-v100")
    assert (fit["verdict"], fit["gpus_per_node"], fit["gpu_model"], fit["precision"]) == ("ok", 1, "V100", "fp16")

    # 5. the fine-tuning job
    job = cli.submit(test="test_sft.jsonl", compute="gpu-cluster-v100")
    body = fake.job_bodies[job["name"]]["properties"]
    assert body["displayName"] == "Phi-3-mini-4k-instruct-ultrachat-bs1-cosine-ds2-lora-save_limit-1-seqlen-1"
    assert body["experimentName"] == "chat_completion_Phi-3-mini-4k-instruct"
    assert (body["settings"]["force_rerun"], body["settings"]["continue_on_step_failure"]) == (True, False)
    node = body["jobs"]["chat_completion_pipeline"]
    assert node["componentId"] == "azureml://registries/azureml/components/chat_completion_pipeline/versions/0.0.65"
    inputs = {k: v.get("value", v.get("uri")) for k, v in node["inputs"].items()}
    train, test = inputs.pop("train_file_path"), inputs.pop("test_file_path")
    assert train.startswith("azureml://datastores/") and train.endswith("/train_sft.jsonl") and test.endswith("/test_sft.jsonl")
    # the notebook's finetune_parameters after model_specific_defaults, and nothing finetui made up
    assert inputs == {
        "mlflow_model_path": model["id"],
        "compute_model_import": "gpu-cluster-v100",
        "compute_preprocess": "gpu-cluster-v100",
        "compute_finetune": "gpu-cluster-v100",
        "compute_model_evaluation": "gpu-cluster-v100",
        **TUTORIAL_PARAMETERS,
    }
    assert body["outputs"]["trained_model"]["jobOutputType"] == "mlflow_model"
    assert node["outputs"]["mlflow_model_folder"]["value"] == "${{parent.outputs.trained_model}}"

    # watch it
    fake.advance(job["name"], "Running")
    fake.step(job["name"], "model_import", "Completed", "2026-01-01T00:01:00Z", "2026-01-01T00:03:00Z")
    fake.step(job["name"], "finetune", "Running", "2026-01-01T00:04:00Z")
    fake.set_step_log(job["name"], "finetune", "epoch 1 loss 1.2\n")
    steps = cli.json("job", "show", job["name"])["steps"]
    assert [(s["display_name"], s["status"], s["compute"]) for s in steps] == [
        ("model_import", "Completed", "gpu-cluster-v100"),
        ("finetune", "Running", "gpu-cluster-v100"),
    ]
    fake.step(job["name"], "finetune", "Completed", end="2026-01-01T01:00:00Z")
    fake.advance(job["name"], "Completed")
    assert "epoch 1 loss 1.2" in cli.run("job", "logs", job["name"]).stdout

    # 6. register the fine-tuned model
    registered = cli.json(
        "model", "register", "--job", job["name"], "--name", "Phi-3-mini-4k-instruct-ultrachat-200k", "--version", "1"
    )
    assert (
        fake.models[("Phi-3-mini-4k-instruct-ultrachat-200k", "1")]["properties"]["modelUri"]
        == f"azureml://jobs/{job['name']}/outputs/trained_model"
    )

    # 7. deploy with key auth, as the tutorial's ManagedOnlineDeployment
    ep = cli.json("endpoint", "create", "ultrachat-completion-1", "--model", f"{registered['name']}:1")
    assert ep["state"] == "Succeeded"
    endpoint = fake.endpoints["ultrachat-completion-1"]["properties"]
    assert endpoint["authMode"] == "Key" and endpoint["traffic"] == {"demo": 100}
    deployment = fake.deployments[("ultrachat-completion-1", "demo")]
    props = deployment["properties"]
    assert (props["instanceType"], deployment["sku"]["capacity"]) == ("Standard_NC6s_v3", 1)
    assert props["livenessProbe"]["initialDelay"] == "PT10M"
    assert props["requestSettings"]["requestTimeout"] == "PT1M30S"
    assert props["model"].endswith("/models/Phi-3-mini-4k-instruct-ultrachat-200k/versions/1")

    # 8. invoke with the tutorial's sample request
    request = {
        "input_data": {
            "input_string": [{"role": "user", "content": "Say hi"}],
            "parameters": {"temperature": 0.6, "top_p": 0.9, "do_sample": True, "max_new_tokens": 200},
        }
    }
    (cli.cwd / "sample_score.json").write_text(json.dumps(request))
    reply = cli.json("endpoint", "invoke", "ultrachat-completion-1", "--request-file", "sample_score.json")
    assert reply == {"output": "Hello from the fine-tuned model."}
    assert fake.scored[-1]["body"] == request and fake.scored[-1]["auth"]

    # 9. clean up
    deleted = cli.run("endpoint", "delete", "ultrachat-completion-1", "--yes")
    assert deleted.returncode == 0, deleted.stderr
    assert "ultrachat-completion-1" not in fake.endpoints
    assert fake.unhandled == []
