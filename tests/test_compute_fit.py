"""The memory-fit estimate and verdict: sanity against known models, monotonicity, suggestions."""

from __future__ import annotations

import json
import time

import pytest

from finetui.core.compute_fit import check_fit, estimate_memory, pick_target
from finetui.core.errors import InvalidInput, NotFound
from finetui.core.model_dims import model_dims, normalize_dims, params_from_dims
from finetui.core.models import CatalogModel, ComputeTarget, GpuInfo, Verdict
from finetui.core.spec import FineTuneSpec

from model_folders import PHI3_CONFIG, TINY_CONFIG, make_tiny_model

GB = 10**9
PHI3 = CatalogModel(name="Phi-3-mini-4k-instruct", version="1", source="test", id="t", context_length=4096)


def gpu(name: str, gb: int, count: int = 1) -> ComputeTarget:
    return ComputeTarget(name="gpu", kind="cuda", gpus=tuple(GpuInfo(name, gb * GB) for _ in range(count)), gpus_per_node=count)


A10, A100 = gpu("NVIDIA A10", 24), gpu("NVIDIA A100 80GB", 80)
CPU = ComputeTarget(name="cpu", kind="cpu", cpu_cores=2, memory_bytes=16 * GB)


def test_parameter_count_from_phi3_dims_is_3_8b():
    assert 3.7e9 < params_from_dims(normalize_dims(PHI3_CONFIG)) < 3.9e9


def test_phi3_full_fine_tune_does_not_fit_a_24gb_gpu_and_suggests_lora():
    spec = FineTuneSpec(apply_lora=False)
    report = check_fit(PHI3, spec, A10, config=PHI3_CONFIG)
    assert report.verdict is Verdict.DOES_NOT_FIT and not report.fits
    est = report.estimate
    assert est.trainable_parameters > 3.7e9
    # AdamW's two moments plus the fp32 master copy: 12 bytes per parameter
    assert est.optimizer_bytes == est.trainable_parameters * 12
    assert est.total_bytes > 60 * GB
    assert "LoRA" in report.suggestion and "apply_lora=true" in report.suggestion
    assert any(r.startswith("weights 7.1 GiB in bf16") for r in report.reasons)
    assert any("NVIDIA A10 has 22.4 GiB" in r for r in report.reasons)


def test_phi3_lora_bf16_fits_an_80gb_gpu():
    report = check_fit(PHI3, FineTuneSpec(), A100, config=PHI3_CONFIG)
    assert report.verdict in (Verdict.OK, Verdict.TIGHT)
    assert report.estimate.trainable_parameters < 0.01 * 3.8e9
    # the local trainer caps max_seq_length -1 at 1024 tokens; Azure ML's pipeline takes the whole context
    assert any("activations" in r and "1 × 1024 tokens" in r for r in report.reasons)
    assert any("max_seq_length -1: the model's context (4096 tokens) capped at 1024" in r for r in report.reasons)
    cluster = ComputeTarget(name="a100s", kind="aml-cluster", gpus=(GpuInfo("NVIDIA A100 80GB", 80 * GB),), gpus_per_node=1)
    on_azure = check_fit(PHI3, FineTuneSpec(), cluster, config=PHI3_CONFIG)
    assert any("activations" in r and "1 × 4096 tokens" in r for r in on_azure.reasons)


def test_suggested_max_seq_length_really_fits():
    spec = FineTuneSpec(max_seq_length=4096)
    small = gpu("NVIDIA T4", 16)
    report = check_fit(PHI3, spec, small, config=PHI3_CONFIG)
    assert report.verdict is Verdict.DOES_NOT_FIT
    assert report.suggestion.startswith("max_seq_length ")
    length = int(report.suggestion.split()[1])
    assert 128 <= length < 4096
    again = check_fit(PHI3, FineTuneSpec(max_seq_length=length), small, config=PHI3_CONFIG)
    assert again.verdict is Verdict.OK


def test_batch_suggestion_keeps_the_total_batch():
    spec = FineTuneSpec(per_device_train_batch_size=8, gradient_accumulation_steps=2, max_seq_length=2048)
    report = check_fit(PHI3, spec, A10, config=PHI3_CONFIG)
    assert report.verdict is Verdict.DOES_NOT_FIT
    assert "per_device_train_batch_size 1 with gradient_accumulation_steps 16" in report.suggestion


def test_hopeless_case_names_the_gpu_size_needed():
    huge = dict(PHI3_CONFIG, hidden_size=8192, intermediate_size=28672, num_hidden_layers=80, num_attention_heads=64)
    model = CatalogModel(name="big", version="1", source="test", id="b", parameter_count=70_000_000_000)
    report = check_fit(model, FineTuneSpec(apply_lora=False), A10, config=huge)
    assert report.verdict is Verdict.DOES_NOT_FIT
    assert "needs a GPU with at least" in report.suggestion and "--backend azure" in report.suggestion


@pytest.mark.parametrize(
    "change", [{"max_seq_length": 2048}, {"per_device_train_batch_size": 4}, {"apply_lora": False}, {"lora_r": 64}]
)
def test_more_work_needs_more_memory(change):
    base = FineTuneSpec(max_seq_length=1024)
    small = estimate_memory(PHI3, base, device_kind="cuda", config=PHI3_CONFIG)
    bigger = estimate_memory(PHI3, base.replace(change), device_kind="cuda", config=PHI3_CONFIG)
    assert bigger.total_bytes > small.total_bytes


def test_cpu_trains_in_fp32_and_warns_it_is_slow():
    on_cpu = estimate_memory(PHI3, FineTuneSpec(max_seq_length=512), device_kind="cpu", config=PHI3_CONFIG)
    on_gpu = estimate_memory(PHI3, FineTuneSpec(max_seq_length=512), device_kind="cuda", config=PHI3_CONFIG)
    assert on_cpu.weights_bytes > 1.9 * on_gpu.weights_bytes
    report = check_fit(PHI3, FineTuneSpec(max_seq_length=512), CPU, config=PHI3_CONFIG)
    assert any("on CPU is very slow" in r and "per step" in r for r in report.reasons)


def test_zero_shards_states_over_gpus():
    spec = FineTuneSpec(apply_lora=False, max_seq_length=1024, apply_deepspeed=True, deepspeed_stage=2)
    one = estimate_memory(PHI3, spec, device_kind="cuda", config=PHI3_CONFIG, gpus=1)
    four = estimate_memory(PHI3, spec, device_kind="cuda", config=PHI3_CONFIG, gpus=4)
    assert four.optimizer_bytes == one.optimizer_bytes // 4
    assert four.gradients_bytes == one.gradients_bytes // 4
    assert four.weights_bytes == one.weights_bytes
    stage3 = estimate_memory(PHI3, spec.replace({"deepspeed_stage": 3}), device_kind="cuda", config=PHI3_CONFIG, gpus=4)
    assert stage3.weights_bytes == one.weights_bytes // 4
    off = estimate_memory(PHI3, spec.replace({"apply_deepspeed": False}), device_kind="cuda", config=PHI3_CONFIG, gpus=4)
    assert off.optimizer_bytes == one.optimizer_bytes
    report = check_fit(PHI3, spec, gpu("Tesla V100", 16, count=4), config=PHI3_CONFIG)
    assert any("ZeRO-2" in r and "4 GPUs" in r for r in report.reasons)
    assert any(r.startswith("needs") and "each Tesla V100" in r for r in report.reasons)


def test_modules_to_save_count_as_trainable():
    plain = estimate_memory(PHI3, FineTuneSpec(max_seq_length=512), device_kind="cuda", config=PHI3_CONFIG)
    saved = estimate_memory(
        PHI3, FineTuneSpec(max_seq_length=512, lora_modules_to_save=("lm_head",)), device_kind="cuda", config=PHI3_CONFIG
    )
    assert saved.trainable_parameters - plain.trainable_parameters == 3072 * 32064


def test_model_without_config_is_invalid_input_naming_it():
    bare = CatalogModel(name="remote", version="2", source="azureml", id="r")
    with pytest.raises(InvalidInput, match=r"remote:2 lacks its config"):
        check_fit(bare, FineTuneSpec(), A100)
    with pytest.raises(InvalidInput, match=r"lacks num_hidden_layers"):
        check_fit(bare, FineTuneSpec(), A100, config={k: v for k, v in PHI3_CONFIG.items() if k != "num_hidden_layers"})


def test_model_dims_reads_a_folder_and_nested_text_config(tmp_path):
    folder = make_tiny_model(tmp_path / "m")
    assert model_dims(folder)["hidden_size"] == 16
    nested = {"model_type": "llava", "text_config": dict(TINY_CONFIG, hidden_size=48)}
    (tmp_path / "config.json").write_text(json.dumps(nested))
    dims = model_dims(tmp_path / "config.json")
    assert dims["hidden_size"] == 48 and dims["num_key_value_heads"] == 1 and dims["head_dim"] == 24
    gpt2 = normalize_dims({"model_type": "gpt2", "n_embd": 64, "n_layer": 2, "n_head": 4, "vocab_size": 100, "n_positions": 256})
    assert gpt2["intermediate_size"] == 256 and gpt2["max_position_embeddings"] == 256


def test_tiny_model_from_its_folder_fits_the_cpu(tmp_path):
    folder = make_tiny_model(tmp_path / "m")
    model = CatalogModel(name="tiny", version="1", source="local-path", id="x", path=str(folder), parameter_count=2048)
    report = check_fit(model, FineTuneSpec(), CPU)
    assert report.verdict is Verdict.OK and report.suggestion is None
    assert any("128 tokens" in r for r in report.reasons)  # -1 became the context length


def test_pick_target():
    cpu = ComputeTarget(name="cpu", kind="cpu")
    cuda = ComputeTarget(name="cuda:0", kind="cuda", gpus=(GpuInfo("G", GB),))
    assert pick_target([cpu], None) is cpu
    assert pick_target([cpu, cuda], None) is cuda
    assert pick_target([cpu, cuda], "local") is cuda
    assert pick_target([cpu, cuda], "cpu") is cpu
    with pytest.raises(NotFound, match="available: cpu, cuda:0"):
        pick_target([cpu, cuda], "cuda:7")


def test_check_is_fast():
    start = time.perf_counter()
    for _ in range(20):
        check_fit(PHI3, FineTuneSpec(apply_lora=False), gpu("T4", 16), config=PHI3_CONFIG)
    assert (time.perf_counter() - start) / 20 < 0.05


def test_adapter_only_folder_uses_its_base_models_dims(tmp_path):
    base = make_tiny_model(tmp_path / "base")
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": str(base), "r": 8}))
    assert model_dims(adapter)["hidden_size"] == TINY_CONFIG["hidden_size"]
    mlflow = tmp_path / "mlflow"
    (mlflow / "model").mkdir(parents=True)
    (mlflow / "MLmodel").write_text("flavors:\n  transformers:\n    model_binary: model\n")
    make_tiny_model(mlflow / "model")
    assert model_dims(mlflow)["num_hidden_layers"] == TINY_CONFIG["num_hidden_layers"]


def test_cluster_with_unknown_gpu_memory_is_tight_not_a_promise():
    cluster = ComputeTarget(name="gpu-cluster", kind="aml-cluster", vm_size="Standard_X", gpus_per_node=2, max_nodes=1)
    report = check_fit(PHI3, FineTuneSpec(max_seq_length=1024), cluster, config=PHI3_CONFIG)
    assert report.verdict is Verdict.TIGHT and report.available_bytes is None
    assert any("memory is unknown" in r for r in report.reasons)
    assert any("bf16" in r for r in report.reasons)  # a GPU cluster, so half precision


def test_lora_on_lm_head_counts_once():
    q_only = estimate_memory(PHI3, FineTuneSpec(lora_target_modules=("qkv_proj",)), device_kind="cuda", config=PHI3_CONFIG)
    with_head = estimate_memory(
        PHI3, FineTuneSpec(lora_target_modules=("qkv_proj", "lm_head")), device_kind="cuda", config=PHI3_CONFIG
    )
    assert with_head.trainable_parameters - q_only.trainable_parameters == 8 * (3072 + 32064)
