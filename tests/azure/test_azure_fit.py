"""Item 1 of issue 12: the compute verdict models what the pipeline does on the hardware.

fp16 on GPUs without bf16, DeepSpeed ZeRO sharding over the node's GPUs, gradient
checkpointing for LoRA runs, and the model's finetune_compute_allow_list as a
floor: an allow-listed SKU is at worst tight and never blocks a submit.
"""

from __future__ import annotations

import pytest

from azure_fake import PHI3_TAGS
from cli_helpers import submit_args

from finetui.core.azure.compute import combine, gpu_info
from finetui.core.models import CatalogModel, ComputeTarget, Verdict
from finetui.core.spec import FineTuneSpec

NO_TAGS: dict[str, str] = {}

# (model, its tags, SKU, GPUs per node, LoRA, DeepSpeed stage, max_seq_length) -> verdict, precision
TABLE = [
    # the tutorial: Phi-3-mini on one V100 with LoRA, ZeRO-2, the model's own length
    ("Phi-3-mini-4k-instruct", PHI3_TAGS, "Standard_NC6s_v3", 1, True, 2, -1, "ok", "fp16"),
    ("Phi-3-mini-4k-instruct", PHI3_TAGS, "Standard_NC24ads_A100_v4", 1, True, 2, -1, "ok", "bf16"),
    # a full fine-tune does not fit a V100 by the estimate; the allow list makes it tight
    ("Phi-3-mini-4k-instruct", PHI3_TAGS, "Standard_NC6s_v3", 1, False, 2, -1, "tight", "fp16"),
    ("Phi-3-mini-4k-instruct", PHI3_TAGS, "Standard_NC24s_v3", 4, False, 3, 512, "tight", "fp16"),
    # the same without an allow list stays does-not-fit
    ("Phi-3-mini-4k-instruct", NO_TAGS, "Standard_NC6s_v3", 1, False, 2, -1, "does-not-fit", "fp16"),
    ("Phi-3-mini-4k-instruct", NO_TAGS, "Standard_NC24ads_A100_v4", 1, False, 2, -1, "does-not-fit", "bf16"),
    ("Phi-3-mini-4k-instruct", NO_TAGS, "Standard_NC24ads_A100_v4", 1, False, 2, 512, "tight", "bf16"),
    # ZeRO-3 shards the weights over the node's 4 GPUs where ZeRO-2 cannot
    ("Llama-2-7b", NO_TAGS, "Standard_NC24s_v3", 4, True, 2, -1, "does-not-fit", "fp16"),
    ("Llama-2-7b", NO_TAGS, "Standard_NC24s_v3", 4, True, 3, -1, "ok", "fp16"),
    ("Llama-2-7b", NO_TAGS, "Standard_NC6s_v3", 1, True, 2, 512, "tight", "fp16"),
    # 16 GiB per V100 (NVIDIA's "16 GB" is binary): ZeRO-3 at the full 4096 tokens fits the 4-GPU node
    ("Phi-3-medium-4k-instruct", NO_TAGS, "Standard_NC24s_v3", 4, True, 3, -1, "ok", "fp16"),
    ("Phi-3-medium-4k-instruct", NO_TAGS, "Standard_NC24s_v3", 4, True, 3, 512, "ok", "fp16"),
    ("Phi-3-medium-4k-instruct", NO_TAGS, "Standard_NC4as_T4_v3", 1, True, 2, -1, "does-not-fit", "fp16"),
]


def _target(size: str, gpus: int) -> ComputeTarget:
    return ComputeTarget(name="c", kind="aml-cluster", vm_size=size, gpus=gpu_info(size, gpus), gpus_per_node=gpus, max_nodes=1)


@pytest.mark.parametrize("name,tags,size,gpus,lora,stage,seq,verdict,precision", TABLE)
def test_verdict_table(name, tags, size, gpus, lora, stage, seq, verdict, precision):
    model = CatalogModel(name=name, version="1", source="azureml", id="x", tags=tags)
    spec = FineTuneSpec(apply_lora=lora, apply_deepspeed=True, deepspeed_stage=stage, max_seq_length=seq)
    report = combine(model, spec, _target(size, gpus), [])
    assert (report.verdict.value, report.precision) == (verdict, precision), report.reasons
    assert report.gpus_per_node == gpus and report.gpu_memory_bytes == gpu_info(size, gpus)[0].memory_bytes
    assert report.decided_by in report.reasons
    if verdict == "does-not-fit":
        assert report.decided_by.startswith("needs ") and "the largest part is" in report.decided_by
    if verdict == "tight" and tags:
        assert "finetune_compute_allow_list" in report.decided_by


def test_zero3_shards_weights_zero2_does_not():
    model = CatalogModel(name="Llama-2-7b", version="1", source="azureml", id="x")
    two, three = (
        combine(model, FineTuneSpec(apply_deepspeed=True, deepspeed_stage=s), _target("Standard_NC24s_v3", 4), []) for s in (2, 3)
    )
    assert three.estimate.weights_bytes * 4 == pytest.approx(two.estimate.weights_bytes, rel=0.01)
    assert any("ZeRO-3 splits the weights, gradients and optimizer state over 4 GPUs" in r for r in three.reasons)


def test_component_precision_32_means_fp32_weights():
    model = CatalogModel(name="Phi-3-mini-4k-instruct", version="1", source="azureml", id="x", tags=PHI3_TAGS)
    half = combine(model, FineTuneSpec(), _target("Standard_NC6s_v3", 1), [])
    full = combine(model, FineTuneSpec(), _target("Standard_NC6s_v3", 1), [], {"precision": "32"})
    assert (half.precision, full.precision) == ("fp16", "fp32")
    assert full.estimate.weights_bytes > 1.9 * half.estimate.weights_bytes


def test_hard_problem_still_decides_on_an_allow_listed_model():
    model = CatalogModel(name="Phi-3-mini-4k-instruct", version="1", source="azureml", id="x", tags=PHI3_TAGS)
    report = combine(
        model, FineTuneSpec(), _target("Standard_NC6s_v3", 1), ["Provisioning failed, Compute 'c' is in failed state."]
    )
    assert report.verdict is Verdict.DOES_NOT_FIT and report.decided_by.startswith("Provisioning failed")


# -- through the CLI, each command its own process -------------------------------------------------
@pytest.fixture
def v100(azure_cli, tmp_path):
    azure_cli.fake.add_compute("v100", "Standard_NC6s_v3")
    azure_cli.write_chat("train_sft.jsonl")
    return azure_cli


def test_tutorial_row_fits_with_gpu_line(v100):
    report = v100.json("compute", "check", "Phi-3-mini-4k-instruct", "--target", "v100")
    assert report["verdict"] == "ok", report["reasons"]
    assert (report["gpus_per_node"], report["gpu_model"], report["gpu_memory_bytes"], report["precision"]) == (
        1,
        "V100",
        16 * 2**30,
        "fp16",
    )
    assert any("with gradient checkpointing" in r for r in report["reasons"])
    text = v100.run("compute", "check", "Phi-3-mini-4k-instruct", "--target", "v100")
    assert text.returncode == 0, text.stderr
    assert "  1 GPU per node: V100, 16.0 GiB each; trains in fp16\n" in text.stdout
    assert "  decided by: needs 11.3 GiB, V100 has 16.0 GiB\n" in text.stdout


def test_allow_listed_full_finetune_is_tight_and_submits(v100):
    report = v100.json("compute", "check", "Phi-3-mini-4k-instruct", "--target", "v100", "--set", "apply_lora=false")
    assert report["verdict"] == "tight"
    assert report["decided_by"].startswith("Standard_NC6s_v3 is on Phi-3-mini-4k-instruct's finetune_compute_allow_list")
    job = v100.run(*submit_args("Phi-3-mini-4k-instruct", "train_sft.jsonl", "apply_lora=false", compute="v100"), "--json")
    assert job.returncode == 0, job.stderr
    assert len(v100.fake.job_bodies) == 1


def test_refusal_quotes_the_deciding_reason(v100):
    v100.fake.add_registry_model("Llama-2-7b", "3", {"model_specific_defaults": "{'apply_deepspeed': 'true'}"})
    job = v100.run(
        "job", "submit", "--model", "Llama-2-7b", "--train", "train_sft.jsonl", "--compute", "v100", "--set", "apply_lora=false"
    )
    assert job.returncode == 1 and not v100.fake.job_bodies
    line = job.stderr.strip()
    assert line.startswith("error: Llama-2-7b on v100: needs ") and "V100 has 16.0 GiB; the largest part is" in line
    assert "(or pass --force)" in line and len(line.splitlines()) == 1
