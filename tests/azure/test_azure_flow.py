"""The whole tutorial, on the real SDK against the stateful fake service."""

from __future__ import annotations

from finetui.core.backend import JobRequest
from finetui.core.models import EndpointState, JobStatus, Verdict


def test_tutorial_flow(backend, fake, chat_files):
    train, test = chat_files

    # 2. the foundation model, latest version, tags parsed
    model = backend.get_model("Phi-3-mini-4k-instruct")
    assert (model.version, model.source) == ("7", "azureml")
    assert model.id == "azureml://registries/azureml/models/Phi-3-mini-4k-instruct/versions/7"
    assert model.model_specific_defaults["learning_rate"] == 2e-05

    # 3. compute checks: allow list matched case-insensitively, GPUs from list_sizes, memory estimate
    report = backend.check_compute("Phi-3-mini-4k-instruct", target="gpu-a100")
    assert report.verdict is Verdict.OK, report.reasons
    assert report.available_bytes == 80 * 2**30  # an "80 GB" A100 holds 80 GiB

    # 5. the pipeline job
    job = backend.submit_job(
        JobRequest(model="Phi-3-mini-4k-instruct", train_file=str(train), test_file=str(test), compute="gpu-a100")
    )
    assert job.status is JobStatus.NOT_STARTED
    assert job.display_name == "Phi-3-mini-4k-instruct-ultrachat-bs1-cosine-ds2-lora-save_limit-1-seqlen-1"
    assert job.experiment == "chat_completion_Phi-3-mini-4k-instruct"
    body = fake.job_bodies[job.name]["properties"]
    assert body["displayName"] == job.display_name
    assert body["experimentName"] == "chat_completion_Phi-3-mini-4k-instruct"
    assert body["settings"]["force_rerun"] is True and body["settings"]["continue_on_step_failure"] is False
    node = body["jobs"]["chat_completion_pipeline"]
    assert node["componentId"] == "azureml://registries/azureml/components/chat_completion_pipeline/versions/0.0.65"
    inputs = {k: v.get("value", v.get("uri")) for k, v in node["inputs"].items()}
    assert inputs["mlflow_model_path"] == model.id
    for key in ("compute_model_import", "compute_preprocess", "compute_finetune", "compute_model_evaluation"):
        assert inputs[key] == "gpu-a100"
    assert inputs["train_file_path"].endswith("/train_sft.jsonl") and inputs["train_file_path"].startswith(
        "azureml://datastores/"
    )
    assert inputs["test_file_path"].endswith("/test_sft.jsonl")
    assert inputs["number_of_gpu_to_use_finetuning"] == "1"
    assert (inputs["apply_lora"], inputs["apply_deepspeed"], inputs["deepspeed_stage"]) == ("true", "true", "2")
    assert (inputs["num_train_epochs"], inputs["learning_rate"], inputs["lr_scheduler_type"]) == ("3", "2e-05", "cosine")
    assert body["outputs"]["trained_model"]["jobOutputType"] == "mlflow_model"
    # the local files were uploaded to the workspace's blob store
    assert any(k.endswith("/train_sft.jsonl") for k in fake.blobs)

    # watch: steps appear as they start; logs stream without repeats and resume by offset
    fake.advance(job.name, "Running")
    fake.runs[f"{job.name}-model_import"]["status"] = "Running"
    fake.set_step_log(job.name, "model_import", "importing model\nhalf a li")
    chunk = backend.read_log(job.name, 0)
    assert chunk.text == "── step model_import: user_logs/std_log.txt ──\nimporting model\n"
    fake.set_step_log(job.name, "model_import", "importing model\nhalf a line\nimported\n", "Completed")
    fake.runs[f"{job.name}-finetune"]["status"] = "Running"
    fake.set_step_log(job.name, "finetune", "epoch 1 loss 1.2\n")
    seen, offset = [], chunk.next_offset
    for _ in range(4):
        c = backend.read_log(job.name, offset)
        seen.append(c.text)
        offset = c.next_offset
    text = "".join(seen)
    assert text == "half a line\nimported\n── step finetune: user_logs/std_log.txt ──\nepoch 1 loss 1.2\n"
    assert [s.display_name for s in backend.get_job(job.name).steps] == ["model_import", "finetune"]
    # the user can pick a step and a file
    assert backend.list_log_files(job.name, "finetune") == ["user_logs/std_log.txt"]
    assert backend.read_log(job.name, 8, step="finetune").text == "loss 1.2\n"

    for step, (loss, epoch) in enumerate([(1.2, 0.5), (0.8, 1.0)], start=1):
        fake.log_metric(f"{job.name}-finetune", "loss", loss, step)
        fake.log_metric(f"{job.name}-finetune", "epoch", epoch, step)
    points = backend.job_metrics(job.name)
    assert [(p.name, p.value, p.step, p.epoch) for p in points] == [("loss", 1.2, 1, 0.5), ("loss", 0.8, 2, 1.0)]
    fake.set_step_log(job.name, "finetune", "epoch 1 loss 1.2\nepoch 2 loss 0.8\n", "Completed")
    fake.advance(job.name, "Completed")
    last = backend.read_log(job.name, offset)
    assert last.text == "epoch 2 loss 0.8\n"
    final = backend.read_log(job.name, last.next_offset)
    assert final.text == "" and final.complete
    assert backend.get_job(job.name).status is JobStatus.COMPLETED
    assert [j.name for j in backend.list_jobs()] == [job.name]

    # 6. register the job's output
    registered = backend.register_model(
        job.name, "Phi-3-mini-4k-instruct-ultrachat-200k", version="1700000000", description="fine tuned"
    )
    assert registered.ref == "Phi-3-mini-4k-instruct-ultrachat-200k:1700000000"
    stored = fake.models[("Phi-3-mini-4k-instruct-ultrachat-200k", "1700000000")]["properties"]
    assert stored["modelUri"] == f"azureml://jobs/{job.name}/outputs/trained_model"
    assert stored["modelType"] == "mlflow_model"

    # 7. endpoint, deployment, traffic
    steps = []
    ep = backend.create_endpoint("ultrachat-completion-1", registered.ref, progress=lambda m, f: steps.append(m))
    assert ep.state is EndpointState.SUCCEEDED
    assert ep.scoring_uri == "https://ultrachat-completion-1.eastus.inference.ml.azure.com/score"
    assert fake.endpoints["ultrachat-completion-1"]["properties"]["authMode"] == "Key"
    dep = fake.deployments[("ultrachat-completion-1", "demo")]
    assert dep["sku"]["name"] == "Default" and dep["sku"]["capacity"] == 1
    props = dep["properties"]
    assert props["instanceType"] == "Standard_NC6s_v3"
    assert props["livenessProbe"]["initialDelay"] == "PT10M"
    assert props["requestSettings"]["requestTimeout"] == "PT1M30S"
    assert props["model"].endswith("/models/Phi-3-mini-4k-instruct-ultrachat-200k/versions/1700000000")
    assert fake.endpoints["ultrachat-completion-1"]["properties"]["traffic"] == {"demo": 100}
    assert any("creating endpoint" in m for m in steps) and steps[-1] == "endpoint ultrachat-completion-1 ready"
    assert [e.name for e in backend.list_endpoints()] == ["ultrachat-completion-1"]

    # 8. keys and invoke
    keys = backend.endpoint_keys("ultrachat-completion-1")
    assert keys.primary == "fake-key-1" and "fake-key" not in repr(keys)
    body = {
        "input_data": {
            "input_string": [{"role": "user", "content": "Say hi"}],
            "parameters": {"temperature": 0.6, "top_p": 0.9, "do_sample": True, "max_new_tokens": 200},
        },
        "params": {},
    }
    assert backend.invoke_endpoint("ultrachat-completion-1", body) == {"output": "Hello from the fine-tuned model."}
    assert fake.scored[-1]["body"] == body and fake.scored[-1]["auth"]

    # 9. delete
    backend.delete_endpoint("ultrachat-completion-1")
    assert "ultrachat-completion-1" not in fake.endpoints
    assert fake.unhandled == []


def test_catalog_listing_and_versions(backend):
    listed = backend.list_models("phi")
    assert [(m.name, m.version, m.id) for m in listed] == [
        ("Phi-3-mini-4k-instruct", "7", "azureml://registries/azureml/models/Phi-3-mini-4k-instruct/versions/7")
    ]
    assert backend.list_models("llama") == []
    assert sorted(backend.model_versions("Phi-3-mini-4k-instruct")) == ["6", "7"]
    assert backend.get_model("Phi-3-mini-4k-instruct:6").version == "6"
    assert backend.get_model("azureml://registries/azureml/models/Phi-3-mini-4k-instruct/versions/6").version == "6"


def test_sdk_output_never_reaches_the_terminal(fake, tmp_path, monkeypatch, capfd, chat_files):
    import logging

    from azure_fake import RG, SUB, WS
    from azure_replay import FakeCredential

    from finetui.core.azure.backend import AzureBackend

    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record)

    monkeypatch.chdir(tmp_path)
    backend = AzureBackend(
        subscription_id=SUB,
        resource_group=RG,
        workspace_name=WS,
        credential=FakeCredential(),
        transport=fake.transport,
        log_handler=Keep(),
    )
    train, test = chat_files
    job = backend.submit_job(
        JobRequest(model="Phi-3-mini-4k-instruct", train_file=str(train), test_file=str(test), compute="gpu-a100")
    )
    fake.advance(job.name, "Completed")
    registered = backend.register_model(job.name, "quiet-model", "1")
    backend.create_endpoint("quiet-ep", registered.ref)  # the SDK's poller thread prints a dot per poll
    backend.delete_endpoint("quiet-ep")
    backend.client.call(lambda: print("what the SDK printed"), backend.client.ws_ctx("nothing"))
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")
    assert any(r.getMessage() == "what the SDK printed" for r in records)


def test_importing_the_backend_does_not_load_the_sdk():
    import subprocess
    import sys

    code = (
        "import sys, finetui.core.azure.backend, finetui.tui.cli.azure_cmd; "
        "print([m for m in sys.modules if m.startswith(('azure.ai.ml', 'azure.identity'))])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
