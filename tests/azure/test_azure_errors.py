"""Every kind of Azure failure reaches the user as one of our errors, with a message to act on."""

from __future__ import annotations

import threading

import pytest

from finetui.core.backend import JobRequest
from finetui.core.errors import AuthError, DoesNotFit, NotFound, OperationFailed
from finetui.core.models import JobStatus, Verdict

COMPUTE = r"/computes/gpu-a100$"


def test_401_names_credential_and_scope(backend, fake):
    fake.fail("GET", COMPUTE, 401, "InvalidAuthenticationToken", "The access token is invalid.")
    with pytest.raises(AuthError) as err:
        backend.get_compute("gpu-a100")
    assert str(err.value) == (
        "Azure rejected the token from FakeCredential for scope https://management.azure.com/.default while trying to "
        "read compute gpu-a100 in workspace ws1 (resource group rg1, subscription 00000000-0000-0000-0000-000000000000): "
        "The access token is invalid. (sign in again (`az login`), in the workspace's tenant)"
    )


def test_403_names_the_missing_role(backend, fake):
    fake.fail(
        "GET",
        COMPUTE,
        403,
        "AuthorizationFailed",
        "The client 'ana@contoso.example' does not have authorization to perform action "
        "'Microsoft.MachineLearningServices/workspaces/computes/read'.",
    )
    with pytest.raises(AuthError) as err:
        backend.get_compute("gpu-a100")
    message = str(err.value)
    assert message.startswith("FakeCredential may not read compute gpu-a100 in workspace ws1")
    assert "(403 AuthorizationFailed)" in message and "workspaces/computes/read" in message
    assert message.endswith("(ask an owner for the 'AzureML Data Scientist' role on the workspace)")


def test_404_says_what_and_where(backend):
    with pytest.raises(
        NotFound,
        match=r"^compute nope not found in workspace ws1 \(resource group rg1, .*\): "
        r"Compute nope is not found in workspace ws1$",
    ):
        backend.get_compute("nope")
    with pytest.raises(NotFound, match=r"^model Nope-7b not found in registry azureml: "):
        backend.get_model("Nope-7b")


def test_429_is_retried_after_retry_after_then_succeeds(backend, fake):
    fake.fail("GET", COMPUTE, 429, "TooManyRequests", "Rate limit exceeded.", times=2, **{"Retry-After": "7"})
    assert backend.get_compute("gpu-a100").name == "gpu-a100"
    assert fake.transport.slept[:2] == [7, 7]  # azure-core's retry policy waited what the service asked


def test_429_reported_when_retries_run_out(backend, fake):
    fake.fail("GET", COMPUTE, 429, "TooManyRequests", "Rate limit exceeded.", times=50, **{"Retry-After": "3"})
    with pytest.raises(
        OperationFailed,
        match=r"^Azure is throttling requests \(429\) to read compute gpu-a100 in "
        r"workspace ws1 .*; still refused after retrying — try again after 3 s$",
    ):
        backend.get_compute("gpu-a100")
    assert len(fake.transport.slept) == 4  # retry_total


def _store_model_ft_1(fake) -> None:
    """ft:1 in the workspace, the least a deployment needs: no tags, no lineage to check."""
    fake.models[("ft", "1")] = {
        "id": "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg1/providers/"
        "Microsoft.MachineLearningServices/workspaces/ws1/models/ft/versions/1",
        "name": "1",
        "properties": {"modelType": "mlflow_model", "tags": {}, "flavors": {"python_function": {"data": {}}}},
    }


def test_quota_error_on_deployment_names_sku(backend, fake):
    _store_model_ft_1(fake)
    fake.fail(
        "PUT",
        r"/deployments/demo$",
        400,
        "BadArgument",
        "Not enough quota available for Standard_NC6s_v3 in SubscriptionId 00000000-0000-0000-0000-000000000000. "
        "Current usage/limit: 0/0. Additional needed: 6",
    )
    with pytest.raises(OperationFailed) as err:
        backend.create_endpoint("ep1", "ft:1")
    message = str(err.value)
    assert message.startswith("not enough quota for Standard_NC6s_v3 to create deployment demo of endpoint ep1 in workspace ws1")
    assert "Current usage/limit: 0/0. Additional needed: 6" in message
    assert "request a quota increase" in message


def test_failed_long_operation_shows_service_message(backend, fake):
    _store_model_ft_1(fake)
    real = fake.deployment_put

    def failing(req, endpoint, name):
        status, headers, body = real(req, endpoint, name)
        op = headers["Azure-AsyncOperation"].split("/")[-1].split("?")[0]
        fake.operations[op] = {
            "status": "Failed",
            "error": {"code": "ResourceNotReady", "message": "User container has crashed or terminated: liveness probe failed"},
        }
        return status, headers, body

    fake.deployment_put = failing
    with pytest.raises(
        OperationFailed,
        match=r"create deployment demo of endpoint ep1 .*User container has crashed or "
        r"terminated: liveness probe failed",
    ):
        backend.create_endpoint("ep1", "ft:1")


def test_failed_job_shows_failing_step_and_log_tail(backend, fake, chat_files):
    train, test = chat_files
    job = backend.submit_job(
        JobRequest(model="Phi-3-mini-4k-instruct", train_file=str(train), test_file=str(test), compute="gpu-a100")
    )
    for step in ("model_import", "preprocess"):
        fake.runs[f"{job.name}-{step}"]["status"] = "Completed"
    fake.runs[f"{job.name}-finetune"]["error"] = {"error": {"code": "UserError", "message": "CUDA out of memory."}}
    fake.set_step_log(
        job.name, "finetune", "".join(f"step {i}\n" for i in range(30)) + "torch.OutOfMemoryError: CUDA out of memory\n", "Failed"
    )
    fake.advance(job.name, "Failed")
    failed = backend.get_job(job.name)
    assert failed.status is JobStatus.FAILED
    lines = failed.error.splitlines()
    assert lines[0] == "step finetune failed: CUDA out of memory."
    assert lines[1:] == [f"step {i}" for i in range(21, 30)] + ["torch.OutOfMemoryError: CUDA out of memory"]


def test_compute_checks_follow_the_tutorial(backend, fake):
    fake.add_compute("k80", "Standard_NC6")
    fake.add_compute("broken", "Standard_NC24ads_A100_v4", state="Failed")
    fake.add_compute("odd", "Standard_XYZ_v9")
    report = backend.check_compute("Phi-3-mini-4k-instruct", target="k80")
    assert report.verdict is Verdict.DOES_NOT_FIT
    assert report.reasons[0].startswith("VM size STANDARD_NC6 is not in the allow-listed computes for finetuning")
    report = backend.check_compute("Phi-3-mini-4k-instruct", target="broken")
    assert report.reasons[0] == (
        "Provisioning failed, Compute 'broken' is in failed state. please try creating a different compute"
    )
    fake.registry_models["Phi-3-mini-4k-instruct"]["7"]["properties"]["tags"].pop("finetune_compute_allow_list")
    backend.compute._sizes = None
    report = backend.check_compute("Phi-3-mini-4k-instruct", target="k80")
    assert "VM size STANDARD_NC6 is currently not supported for finetuning" in report.reasons
    report = backend.check_compute("Phi-3-mini-4k-instruct", target="odd")
    assert any(
        r.startswith(
            "Number of GPU's in compute STANDARD_XYZ_V9 not found. Available skus are: "
            "['Standard_DS3_v2', 'Standard_NC24ads_A100_v4', 'Standard_NC6s_v3']."
        )
        for r in report.reasons
    )


def test_does_not_fit_stops_submit_unless_forced(backend, fake, chat_files):
    fake.add_compute("k80", "Standard_NC6")
    train, test = chat_files
    request = JobRequest(model="Phi-3-mini-4k-instruct", train_file=str(train), test_file=str(test), compute="k80")
    with pytest.raises(DoesNotFit, match=r"^Phi-3-mini-4k-instruct on k80: VM size STANDARD_NC6 is not in the allow-listed"):
        backend.submit_job(request)
    assert not fake.job_bodies


def test_malformed_tag_is_a_warning_not_an_error(backend, fake):
    fake.add_registry_model(
        "Odd-model", "1", {"model_specific_defaults": "{'learning_rate': 2e-5", "finetune_compute_allow_list": "oops"}
    )
    model = backend.get_model("Odd-model")
    assert model.model_specific_defaults == {}
    assert "model_specific_defaults tag is not a Python literal" in model.tags["finetui_warnings"]
    assert "finetune_compute_allow_list tag is not a Python literal" in model.description


def test_sign_in_failure_is_an_auth_error(backend):
    from azure.core.exceptions import ClientAuthenticationError

    from finetui.core.azure.auth import SignInChain

    class Refuses:
        def get_token(self, *scopes, **kwargs):
            raise ClientAuthenticationError("AADSTS70043: The refresh token has expired")

    backend.client.credential = SignInChain([("Azure CLI", Refuses())])
    backend.client._ws_client = None
    with pytest.raises(
        AuthError,
        match=r"^could not sign in to Azure with the Azure CLI sign-in: the sign-in has expired "
        r"\(AADSTS70043\) \(run `az login`\)$",
    ):
        backend.get_compute("gpu-a100")


def test_deadline_gives_up_on_a_credential_that_never_returns():
    from azure.identity import CredentialUnavailableError

    from finetui.core.azure.auth import _Deadline

    gate = threading.Event()

    class Hangs:
        def get_token(self, *scopes, **kwargs):
            gate.wait(30)

    with pytest.raises(CredentialUnavailableError, match="managed identity: no answer within 0.2 s"):
        _Deadline(Hangs(), 0.2, "managed identity").get_token("scope")
    gate.set()
