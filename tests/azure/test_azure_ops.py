"""The operations around the tutorial's path: cluster creation, cancel, allow lists, leaving long operations running."""

from __future__ import annotations

import pytest

from finetui.core.backend import JobRequest
from finetui.core.endpoint_options import AzureEndpointOptions
from finetui.core.errors import InvalidInput
from finetui.core.models import ClusterOptions, JobStatus


def test_create_compute(backend, fake):
    target = backend.create_compute("gpu2", ClusterOptions("Standard_NC24ads_A100_v4", 0, 2)).target
    assert (target.name, target.kind, target.gpus_per_node, target.max_nodes) == ("gpu2", "aml-cluster", 1, 2)
    assert fake.computes["gpu2"]["properties"]["properties"]["vmSize"] == "Standard_NC24ads_A100_v4"
    assert [t.name for t in backend.list_compute()] == ["gpu-a100", "gpu2"]
    with pytest.raises(InvalidInput, match="max nodes"):
        backend.create_compute("bad", ClusterOptions("Standard_NC24ads_A100_v4", 3, 2))


def test_cancel_job(backend, fake, chat_files):
    train, test = chat_files
    job = backend.submit_job(
        JobRequest(
            model="Phi-3-mini-4k-instruct",
            train_file=str(train),
            test_file=str(test),
            compute="gpu-a100",
            experiment="mine",
            display_name="try-1",
        )
    )
    assert (job.experiment, job.display_name) == ("mine", "try-1")
    fake.advance(job.name, "Running")
    assert backend.cancel_job(job.name).status is JobStatus.CANCELED


def test_bad_data_is_refused_before_anything_is_uploaded(backend, fake, tmp_path):
    with pytest.raises(InvalidInput, match=r"train file .*missing\.jsonl: not found"):
        backend.submit_job(
            JobRequest(model="Phi-3-mini-4k-instruct", train_file=str(tmp_path / "missing.jsonl"), compute="gpu-a100")
        )
    with pytest.raises(InvalidInput, match="needs a compute cluster"):
        backend.submit_job(JobRequest(model="Phi-3-mini-4k-instruct", train_file="x.jsonl"))
    assert not fake.blobs and not fake.job_bodies


def _registered_from_job(backend, fake, chat_files):
    train, test = chat_files
    job = backend.submit_job(
        JobRequest(model="Phi-3-mini-4k-instruct", train_file=str(train), test_file=str(test), compute="gpu-a100")
    )
    fake.advance(job.name, "Completed")
    return backend.register_model(job.name, "phi3-ultrachat")


def test_instance_type_checked_against_inference_allow_list(backend, fake, chat_files):
    registered = _registered_from_job(backend, fake, chat_files)
    assert registered.base_model == "Phi-3-mini-4k-instruct:7" and registered.version.isdigit()
    with pytest.raises(
        InvalidInput,
        match=r"instance type Standard_DS3_v2 is not in the model's "
        r"inference_compute_allow_list: choose one of Standard_NC6s_v3, Standard_NC24ads_A100_v4",
    ):
        backend.create_endpoint("ep2", registered.ref, AzureEndpointOptions(instance_type="Standard_DS3_v2"))
    assert "ep2" not in fake.endpoints


def test_endpoint_left_running_then_traffic_routed(backend, fake, chat_files):
    registered = _registered_from_job(backend, fake, chat_files)
    heard = []
    ep = backend.create_endpoint("ep3", registered.ref, AzureEndpointOptions(wait=False), progress=lambda m, f: heard.append(m))
    assert ep.name == "ep3" and not fake.endpoints["ep3"]["properties"].get("traffic")
    assert heard[-1] == "deployment demo started; route traffic once it is ready"
    backend.set_traffic("ep3", "demo")
    assert fake.endpoints["ep3"]["properties"]["traffic"] == {"demo": 100}
    backend.delete_endpoint("ep3", wait=False)
    assert "ep3" not in fake.endpoints


def test_invalid_rows_raise_data_error_naming_the_line(backend, fake, tmp_path):
    from finetui.core.errors import DataError

    bad = tmp_path / "train_sft.jsonl"
    bad.write_text(
        '{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}\n{"messages": "not a list"}\n'
    )
    with pytest.raises(DataError, match=r"^train file .*train_sft\.jsonl: line 2"):
        backend.submit_job(JobRequest(model="Phi-3-mini-4k-instruct", train_file=str(bad), compute="gpu-a100"))
    assert not fake.blobs and not fake.job_bodies


def test_size_tags_fill_parameter_count_and_context(backend, fake):
    fake.add_registry_model("Tiny-chat", "2", {"parameter_count": "3.8B", "context_length": "4096"})
    model = backend.get_model("Tiny-chat")
    assert (model.parameter_count, model.context_length) == (3_800_000_000, 4096)
