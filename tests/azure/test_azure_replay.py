"""Every real recording in shared/azure-recordings, served back through the real SDK, through our backend.

Where a recording has a gap (the README lists them: no vmSizes, no run details,
no blob uploads), the stateful fake answers that request; every other answer
is the recorded one, matched by method and path.
"""

from __future__ import annotations

import os

import pytest

from azure_fake import FakeAzure
from azure_replay import RECORDINGS, FakeCredential, Recording, entry_reply, install

from finetui.core.endpoint_options import AzureEndpointOptions
from finetui.core.errors import InvalidInput, NotFound
from finetui.core.models import EndpointState, JobStatus

# CI always has shared/ beside the clone: there a missing folder is a failure, not a skip.
pytestmark = pytest.mark.skipif(
    not RECORDINGS.is_dir() and not os.environ.get("CI"), reason=f"recordings folder {RECORDINGS} is absent"
)

ZERO = "00000000-0000-0000-0000-000000000000"


def _backend(monkeypatch, tmp_path, handler, registry_name="azureml"):
    from finetui.core.azure.backend import AzureBackend

    monkeypatch.chdir(tmp_path)
    transport = install(monkeypatch, handler)
    return AzureBackend(
        subscription_id=ZERO,
        resource_group="00000",
        workspace_name="00000",
        credential=FakeCredential(),
        transport=transport,
        registry_name=registry_name,
        retry_backoff_factor=0.01,
    )


def test_01_registry_model_version_and_empty_latest(monkeypatch, tmp_path):
    # an unknown model is looked for in the workspace next (issue 12 item 3): no recording has that call
    rec = Recording.load("01_registry_model_get_latest.json", fallback=FakeAzure())
    backend = _backend(monkeypatch, tmp_path, rec, registry_name="testFeed")
    model = backend.get_model("test_267902544371:2")
    assert (model.name, model.version, model.source) == ("test_267902544371", "2", "azureml")
    assert model.id == "azureml://registries/testfeed/models/test_267902544371/versions/2"
    assert model.tags == {"foo": "bar", "abc": "123"} and model.description == "this is my test model"
    # the registry answers an unknown model's "latest" with an empty list, not a 404
    with pytest.raises(NotFound, match=r"^model test_267902544371 not found in registry testFeed"):
        backend.get_model("test_267902544371")
    assert [s[0] for s in rec.served] == ["GET"] * 3


def test_01b_workspace_model_missing_then_latest(monkeypatch, tmp_path):
    rec = Recording.load("01b_workspace_model_get_latest.json")
    backend = _backend(monkeypatch, tmp_path, rec)
    with pytest.raises(NotFound, match=r"registered model model_test_123661324327 not found in workspace 00000"):
        backend.get_registered("model_test_123661324327")
    found = backend.get_registered("model_test_123661324327")
    assert (found.name, found.version) == ("model_test_123661324327", "1")


def test_02_compute_get(monkeypatch, tmp_path):
    gaps = FakeAzure()
    gaps.add_vm_size("Standard_DS2_v2", 0, 7, 2)  # no vmSizes recording exists
    rec = Recording.load("02_compute_get.json", fallback=gaps)
    target = _backend(monkeypatch, tmp_path, rec).get_compute("test49208482942")
    assert (target.kind, target.vm_size, target.max_nodes) == ("aml-cluster", "Standard_DS2_v2", 2)
    assert target.gpus_per_node == 0 and target.gpus == () and target.provisioning_state == "Succeeded"


def test_04_05_pipeline_job_polls_to_failed_with_failing_step(monkeypatch, tmp_path):
    rec = Recording.load("04_pipeline_job_create_and_poll.json", "05_job_children.json", fallback=FakeAzure())
    backend = _backend(monkeypatch, tmp_path, rec)
    statuses = [backend.jobs.to_job(backend.jobs.runs.sdk_job("test_680454434153")).status for _ in range(2)]
    assert statuses == [JobStatus.RUNNING, JobStatus.RUNNING]
    job = backend.get_job("test_680454434153")
    assert job.status is JobStatus.FAILED and job.backend == "azure"
    assert job.started_at is not None and job.ended_at is not None and job.ended_at > job.started_at
    assert [(s.display_name, s.status) for s in job.steps] == [
        ("hello_world_inline_commandjob_2", JobStatus.FAILED),
        ("hello_world_inline_commandjob_1", JobStatus.FAILED),
    ]
    assert job.error.startswith(
        "step hello_world_inline_commandjob_2 failed: Error Code: ScriptExecution.WriteStreams.Authentication"
    )
    assert "Permission denied" in job.error


def test_05_steps_listing(monkeypatch, tmp_path):
    rec = Recording.load("04_pipeline_job_create_and_poll.json", "05_job_children.json")
    steps = _backend(monkeypatch, tmp_path, rec).job_steps("test_680454434153")
    assert len(steps) == 2 and all(s.status is JobStatus.FAILED for s in steps)
    assert {s.name for s in steps} == {"00000000-0000-0000-0000-000000000009", "00000000-0000-0000-0000-00000000000d"}


def test_06_register_local_mlflow_model(monkeypatch, tmp_path):
    folder = tmp_path / "mlflow_model"
    folder.mkdir()
    (folder / "MLmodel").write_text("flavors:\n  python_function: {}\n")
    gaps = FakeAzure()  # the datastore and blob upload calls were trimmed from the recording
    rec = Recording.load("06_model_create.json", fallback=gaps)
    backend = _backend(monkeypatch, tmp_path, rec)
    registered = backend.register_local_model(folder, "model_test_325261410915", "2")
    assert (registered.name, registered.version, registered.format) == ("model_test_325261410915", "2", "mlflow")
    assert registered.description == "this is my test model"
    put = next(r for r in rec.requests if r.method == "PUT" and "/models/" in r.path)
    assert put.json()["properties"]["modelType"] == "mlflow_model"
    assert any(k.endswith("/MLmodel") for k in gaps.blobs)
    assert backend.get_registered("model_test_325261410915:2").version == "2"


def test_07_endpoint_lifecycle(monkeypatch, tmp_path):
    gaps = FakeAzure()  # the registered model the deployment serves is not in the recording
    gaps.models[("my-model", "1")] = {
        "id": f"/subscriptions/{ZERO}/resourceGroups/00000/providers/Microsoft.MachineLearningServices/workspaces/00000/models/my-model/versions/1",
        "name": "1",
        "properties": {
            "modelType": "mlflow_model",
            "modelUri": "azureml://x",
            "tags": {},
            "flavors": {"python_function": {"data": {}}},
        },
    }
    rec = Recording.load("07_online_endpoint_lifecycle.json", fallback=gaps)
    backend = _backend(monkeypatch, tmp_path, rec)
    messages = []
    options = AzureEndpointOptions(instance_type="Standard_DS3_v2", deployment_name="online-dpm-1a5183914317445")
    ep = backend.create_endpoint("online-ept-5ce3da3806e04e3", "my-model:1", options, progress=lambda m, f: messages.append(m))
    assert ep.state is EndpointState.SUCCEEDED and ep.backend == "azure" and ep.auth_mode == "key"
    assert ep.scoring_uri == "https://online-ept-5ce3da3806e04e3.eastus.inference.ml.azure.com/score"
    assert messages[-1] == "endpoint online-ept-5ce3da3806e04e3 ready"
    puts = [r for r in rec.requests if r.method == "PUT"]
    assert [r.path.rsplit("/", 1)[-1] for r in puts] == [
        "online-ept-5ce3da3806e04e3",
        "online-dpm-1a5183914317445",
        "online-ept-5ce3da3806e04e3",
    ]
    assert puts[-1].json()["properties"]["traffic"] == {"online-dpm-1a5183914317445": 100}
    dep = puts[1].json()
    assert dep["properties"]["livenessProbe"]["initialDelay"] == "PT10M" and dep["sku"]["capacity"] == 1
    keys = backend.endpoint_keys("online-ept-5ce3da3806e04e3")
    assert (keys.primary, keys.secondary) == ("fake-key-1", "fake-key-2")
    reply = backend.invoke_endpoint("online-ept-5ce3da3806e04e3", {"input_data": {"input_string": ["hi"]}})
    assert reply == {"output": "[11055.977245525679, 4503.079536107787]"}
    # The recording stops while the delete is still Updating: end it, or the poller would poll for ever.
    status_key = next(k for k in rec.queues if "mfeOperationsStatus" in k[1] and k[1].endswith("000000000014"))
    rec.queues[status_key].append(
        {"StatusCode": 200, "ResponseHeaders": {"Content-Type": "application/json"}, "ResponseBody": {"status": "Succeeded"}}
    )
    backend.delete_endpoint("online-ept-5ce3da3806e04e3")
    assert ("DELETE", puts[0].path, 202) in rec.served


@pytest.mark.parametrize(
    "name, pattern, exc, message",
    [
        (
            "08_errors_400_badrequest_job_registry_component.json",
            r"/jobs/",
            InvalidInput,
            r"Azure refused to submit job .* \(400 BadRequest\): Invalid region eastus2 for operation consume in registry 00000-test\.",
        ),
        (
            "08_errors_400_usererror_job_unknown_compute.json",
            r"/jobs/",
            InvalidInput,
            r"\(400 UserError\): Unknown compute target 'testCompute'\.",
        ),
        (
            "08_errors_404_notfound_job_component_version.json",
            r"/jobs/",
            NotFound,
            r"^cannot submit job .* in workspace 00000 .*: something it refers to was not found: "
            r"Not found component microsoftsamplescommandcomponentbasic_nopaths_test \(version: non_existent\)\.$",
        ),
    ],
)
def test_08_job_submit_errors(monkeypatch, tmp_path, chat_files, name, pattern, exc, message):
    from azure_fake import standard_fake

    from finetui.core.backend import JobRequest

    fake = standard_fake()
    fake.serve("PUT", pattern, entry_reply(Recording.entries(name)[0]))
    backend = _backend(monkeypatch, tmp_path, fake)
    train, test = chat_files
    with pytest.raises(exc, match=message):
        backend.submit_job(
            JobRequest(model="Phi-3-mini-4k-instruct", train_file=str(train), test_file=str(test), compute="gpu-a100")
        )


def test_08_model_not_found(monkeypatch, tmp_path):
    rec = Recording.load("08_errors_404_usererror_model_not_found.json")
    with pytest.raises(
        NotFound,
        match=r"^registered model model_test_123661324327 not found in workspace 00000 .*: The specified resource "
        r"was not found\. \(Model container with name: model_test_123661324327 not found\.\)$",
    ):
        _backend(monkeypatch, tmp_path, rec).get_registered("model_test_123661324327")


def test_08_listsecrets_400_does_not_stop_an_upload(monkeypatch, tmp_path):
    folder = tmp_path / "mlflow_model"
    folder.mkdir()
    (folder / "MLmodel").write_text("flavors: {}\n")
    fake = FakeAzure()
    fake.serve("POST", r"/listSecrets$", entry_reply(Recording.entries("08_errors_400_usererror_datastore_listsecrets.json")[0]))
    registered = _backend(monkeypatch, tmp_path, fake).register_local_model(folder, "m1", "3")
    assert registered.ref == "m1:3"
