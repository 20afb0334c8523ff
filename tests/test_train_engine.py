"""The training engine in-process: the Trainer settings it picks, and how it copes with odd inputs."""

from __future__ import annotations

import io
import json
import os
import re

import pytest

from finetui.core.errors import DataError, InvalidInput
from finetui.core.spec import FineTuneSpec


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from tiny_model import build_tiny_setup

    return build_tiny_setup(tmp_path_factory.mktemp("tiny-engine"), hidden=32)


def _cpu_plan():
    from finetui.core.local.train_setup import DevicePlan

    return DevicePlan("cpu", "cpu", threads=2, bf16=False, fp16=False)


def _config(tmp_path, rows=100, has_eval=True, **spec_values):
    from finetui.core.local.train_setup import build_config

    spec = FineTuneSpec().replace({"per_device_train_batch_size": 10, **spec_values})
    return build_config(spec, _cpu_plan(), output_dir=tmp_path, max_length=256, train_rows=rows, has_eval=has_eval)


def test_cpu_config_turns_off_what_trl_turns_on(tmp_path):
    config = _config(tmp_path)
    assert config.bf16 is False and config.fp16 is False
    assert config.activation_checkpointing is False and config.gradient_checkpointing is False
    assert config.use_cpu and config.dataloader_num_workers == 0 and not config.dataloader_pin_memory
    assert config.report_to in ("none", [], ["none"]) and config.disable_tqdm
    assert config.max_length == 256
    assert config.save_strategy == "epoch" and config.save_total_limit is None  # spec -1


def test_evaluation_per_epoch_or_every_few_steps_for_short_runs(tmp_path):
    assert _config(tmp_path, num_train_epochs=3).eval_strategy == "epoch"
    short = _config(tmp_path, max_steps=8)  # 10 steps make an epoch
    assert short.eval_strategy == "steps" and short.eval_steps == 2
    assert _config(tmp_path, has_eval=False).eval_strategy == "no"
    assert _config(tmp_path, save_total_limit=2).save_total_limit == 2
    assert _config(tmp_path, warmup_ratio=0.1).warmup_steps == 0.1
    assert _config(tmp_path, warmup_ratio=1, max_steps=8).warmup_steps == 8


def test_max_length_and_lora_targets():
    from types import SimpleNamespace

    from finetui.core.local.train_setup import lora_targets, resolve_max_length

    spec = FineTuneSpec()
    assert resolve_max_length(spec, SimpleNamespace(max_position_embeddings=4096)) == 1024
    assert resolve_max_length(spec, SimpleNamespace(max_position_embeddings=512)) == 512
    assert resolve_max_length(spec.replace({"max_seq_length": 64}), SimpleNamespace(max_position_embeddings=512)) == 64
    assert lora_targets(spec, "phi3") == ["qkv_proj", "o_proj", "gate_up_proj", "down_proj"]
    assert lora_targets(spec, "llama") == "all-linear"
    assert lora_targets(spec.replace({"lora_target_modules": "q_proj,v_proj"}), "phi3") == ["q_proj", "v_proj"]
    assert lora_targets(spec.replace({"lora_target_modules": ["all-linear"]}), "phi3") == "all-linear"


def test_log_and_metrics_lines(tmp_path):
    from finetui.core.local.metrics import JobLog, MetricsFile

    stream = io.StringIO()
    log = JobLog(None, stream)
    log("step 5/60 | loss 2.3141\nsecond line")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2 and all(re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \| ", ln) for ln in lines)

    metrics = MetricsFile(tmp_path / "metrics.jsonl")
    metrics.write("loss", 2.5, 3, 0.25)
    metrics.write("loss", float("nan"), 4, 0.3)  # never written: JSON has no NaN
    points = [json.loads(ln) for ln in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert points == [{"name": "loss", "value": 2.5, "step": 3, "epoch": 0.25, "timestamp": points[0]["timestamp"]}]


def test_read_messages_keeps_only_messages_and_names_bad_lines(tmp_path):
    from finetui.core.local.train import read_messages

    good = tmp_path / "good.jsonl"
    good.write_text(
        json.dumps({"prompt": "hi", "prompt_id": "x", "messages": [{"role": "user", "content": "hi"}]}) + "\n\n", encoding="utf-8"
    )
    assert read_messages(good) == [{"messages": [{"role": "user", "content": "hi"}]}]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"messages": [{"role": "user", "content": "hi"}]}\n{"prompt": "x"}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"bad\.jsonl:2: messages"):
        read_messages(bad)


def test_template_without_generation_markers_trains_on_derived_assistant_mask(tmp_path, tiny, monkeypatch):
    import shutil

    from tiny_model import strip_generation_markers

    from finetui.core.local.train import train

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    model_dir = tmp_path / "model"
    shutil.copytree(tiny.model_dir, model_dir)
    strip_generation_markers(model_dir)
    lines: list[str] = []
    recorded: list[dict] = []
    spec = FineTuneSpec().replace({"max_steps": 2, "per_device_train_batch_size": 4, "logging_steps": 1})
    result = train(
        tmp_path / "job", model_dir, tiny.train_file, None, spec, log=lines.append, save=False, on_masking=recorded.append
    )
    assert result.assistant_only_loss is True and result.masking == "derived" and result.steps == 2
    assert 0 < result.trained_share < 0.9
    assert recorded == [{"method": "derived", "trained_share": round(result.trained_share, 4), "reason": ""}]
    assert any(line.startswith("loss mask: derived, ") and "% of tokens trained" in line for line in lines)
    assert any(line.startswith("step 2/2 |") for line in lines)


def test_unknown_lora_target_is_a_one_line_input_error(tmp_path, tiny, monkeypatch):
    from finetui.core.local.train import train

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    spec = FineTuneSpec().replace({"max_steps": 1, "lora_target_modules": ["no_such_proj"]})
    with pytest.raises(InvalidInput, match="lora_target_modules") as info:
        train(tmp_path / "job", tiny.model_dir, tiny.train_file, None, spec, save=False)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    "config, spec_values",
    [
        ("phi3", {}),  # the fused four finetui picks for Phi-3
        ("phi3", {"lora_target_modules": ["all-linear"], "lora_modules_to_save": ["lm_head", "embed_tokens"]}),
        ("phi3", {"lora_target_modules": ["qkv_proj"], "lora_r": 4}),
        ("llama", {}),  # any other architecture: all-linear, unfused q/k/v and gate/up
        ("llama", {"lora_target_modules": ["q_proj", "v_proj"]}),
    ],
)
def test_fit_estimate_counts_the_parameters_the_engine_trains(config, spec_values):
    """The memory estimate and the training engine agree on what LoRA trains (one table of defaults)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, Phi3Config, Phi3ForCausalLM

    from finetui.core.local.train_setup import apply_lora
    from finetui.core.model_dims import lora_parameters, modules_to_save_parameters, normalize_dims

    dims = dict(
        hidden_size=64,
        intermediate_size=96,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        vocab_size=128,
        max_position_embeddings=64,
    )
    cls, cfg = (
        (Phi3ForCausalLM, Phi3Config(**dims, pad_token_id=0)) if config == "phi3" else (LlamaForCausalLM, LlamaConfig(**dims))
    )
    torch.manual_seed(0)
    spec = FineTuneSpec().replace(spec_values)
    model = apply_lora(cls(cfg), spec, lambda _line: None)
    trained = sum(p.numel() for p in model.parameters() if p.requires_grad)
    normalized = normalize_dims(cfg.to_dict())
    assert lora_parameters(spec, normalized) + modules_to_save_parameters(spec, normalized) == trained


def test_cpu_kernels_follow_an_isa_limit():
    """What the job log and the bench's avx2 profile rest on: torch reports the kernels it was held to."""
    import subprocess
    import sys

    _x86_only()
    code = "from finetui.core.local.train_setup import cpu_kernels, describe_kernels; print(describe_kernels(cpu_kernels()))"
    env = {**os.environ, "ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_ENABLE_INSTRUCTIONS": "AVX2"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "AVX2, no bf16 kernels"


def test_train_bench_runs_both_profiles_and_ends_with_json(tmp_path):
    """A smoke run of bench/train_throughput.py on a very small model: both profiles, figures in the last line."""
    import subprocess
    import sys
    from pathlib import Path

    _x86_only()
    bench = Path(__file__).resolve().parents[1] / "bench" / "train_throughput.py"
    out = subprocess.run(
        [sys.executable, str(bench), "--steps", "2", "--rounds", "1", "--hidden", "32", "--layers", "1", "--batch", "2"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    assert set(summary["finetui_vs_defaults"]) == {"native", "avx2"}
    assert summary["profiles"]["avx2"]["cpu_capability"] == "AVX2" and summary["profiles"]["avx2"]["bf16_kernels"] is False
    for figures in summary["profiles"].values():
        assert figures["finetui_tokens_per_s"] > 0 and figures["trl_defaults_tokens_per_s"] > 0


def _x86_only():
    import platform

    if platform.machine().lower() not in ("x86_64", "amd64"):
        pytest.skip("the AVX2 limit is an x86 setting")


def test_warmup_learning_rate_is_logged_as_warmup_not_a_bare_zero(tmp_path):
    from transformers import TrainerControl, TrainerState, TrainingArguments

    from finetui.core.local.metrics import JobLog, MetricsFile, Throughput, make_callback

    stream = io.StringIO()
    callback = make_callback(JobLog(None, stream), MetricsFile(tmp_path / "m.jsonl"), Throughput())
    args = TrainingArguments(output_dir=str(tmp_path), warmup_steps=0.25, report_to="none", use_cpu=True)
    for step, rate in ((1, 0.0), (2, 2.5e-6), (5, 5e-6)):
        state = TrainerState(global_step=step, max_steps=12, epoch=step / 12)
        callback.on_log(args, state, TrainerControl(), logs={"loss": 2.0, "learning_rate": rate})
    lines = stream.getvalue().splitlines()
    assert lines[0].endswith("| lr 0 (warmup 1/3)")
    assert "lr 2.50e-6 (warmup 2/3)" in lines[1]
    assert "lr 5.00e-6" in lines[2] and "warmup" not in lines[2]
    recorded = [
        json.loads(ln)["value"]
        for ln in (tmp_path / "m.jsonl").read_text().splitlines()
        if json.loads(ln)["name"] == "learning_rate"
    ]
    assert recorded == [0.0, 2.5e-6, 5e-6]  # the metric is the rate each step used
