"""What a local training run is set up with: the device plan, the trainer's config, the model and its adapter.

Why the settings differ from TRL's defaults on a CPU: TRL turns on bf16 and
gradient checkpointing by default. On a CPU without bf16 kernels (no AVX-512
bf16 or AMX, like many laptops) the autocast runs through slow fallbacks, and
checkpointing recomputes every activation, together an order of magnitude
slower for the same tokens (``bench/train_throughput.py`` measures it). Where
the CPU has bf16 kernels, bf16 still gains nothing measurable over fp32 for
the models trained on a CPU, and fp32 keeps the numerics simple.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..errors import InvalidInput
from ..model_dims import default_lora_targets
from ..seq_length import job_sequence_length
from ..spec import FineTuneSpec

# A run shorter than this many epochs is evaluated every few steps, not once per epoch.
SHORT_RUN_EPOCHS = 2.0
EVALS_PER_SHORT_RUN = 4


@dataclass(frozen=True)
class DevicePlan:
    kind: str  # "cpu" or "cuda"
    name: str
    threads: int
    bf16: bool
    fp16: bool
    # on a CPU: torch's vector ISA and whether it has bf16 kernels ("AVX512, bf16 kernels"), for the log
    kernels: str = ""


def available_cores() -> int:
    """Cores this process may use; an explicit OMP_NUM_THREADS wins (a shared machine, a test)."""
    explicit = os.environ.get("OMP_NUM_THREADS", "").strip()
    if explicit.isdigit() and int(explicit) > 0:
        return int(explicit)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def plan_device() -> DevicePlan:
    import torch

    threads = available_cores()
    if torch.cuda.is_available():
        bf16 = torch.cuda.is_bf16_supported()
        return DevicePlan("cuda", torch.cuda.get_device_name(0), threads, bf16=bf16, fp16=not bf16)
    return DevicePlan("cpu", "cpu", threads, bf16=False, fp16=False, kernels=describe_kernels(cpu_kernels()))


def cpu_kernels() -> tuple[str, bool] | None:
    """torch's vector ISA on this CPU and whether it has bf16 kernels; None where torch cannot say."""
    import torch

    try:
        return torch.backends.cpu.get_cpu_capability(), bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return None


def describe_kernels(kernels: tuple[str, bool] | None) -> str:
    if kernels is None:
        return ""
    isa, bf16 = kernels
    return f"{isa}, {'bf16 kernels' if bf16 else 'no bf16 kernels'}"


def context_length(config: Any) -> int | None:
    for key in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        value = getattr(config, key, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def resolve_max_length(spec: FineTuneSpec, config: Any) -> int:
    return job_sequence_length(spec.max_seq_length, context_length(config)).max_length


def lora_targets(spec: FineTuneSpec, model_type: str | None) -> str | list[str]:
    targets = list(spec.lora_target_modules or default_lora_targets(model_type))
    # peft takes the "all-linear" shortcut only as a bare string
    return "all-linear" if targets == ["all-linear"] else targets


def schedule(spec: FineTuneSpec, rows: int) -> tuple[int, int]:
    """(optimizer steps per epoch, total steps)."""
    per_epoch = max(1, math.ceil(math.ceil(rows / spec.per_device_train_batch_size) / spec.gradient_accumulation_steps))
    total = spec.max_steps if spec.max_steps > 0 else max(1, math.ceil(spec.num_train_epochs * per_epoch))
    return per_epoch, total


def build_config(
    spec: FineTuneSpec, plan: DevicePlan, *, output_dir: Path, max_length: int, train_rows: int, has_eval: bool
) -> Any:
    from trl import SFTConfig

    per_epoch, total = schedule(spec, train_rows)
    eval_kwargs: dict[str, Any] = {"eval_strategy": "no"}
    if has_eval:
        if total < SHORT_RUN_EPOCHS * per_epoch:
            eval_kwargs = {"eval_strategy": "steps", "eval_steps": max(1, total // EVALS_PER_SHORT_RUN)}
        else:
            eval_kwargs = {"eval_strategy": "epoch"}
    save_kwargs: dict[str, Any] = {"save_strategy": "epoch"}
    if has_eval and spec.early_stopping_patience:
        from .early_stop import early_stopping_config

        save_kwargs = early_stopping_config(eval_kwargs)
    cpu = plan.kind == "cpu"
    return SFTConfig(
        output_dir=str(output_dir),
        num_train_epochs=spec.num_train_epochs,
        max_steps=spec.max_steps,
        per_device_train_batch_size=spec.per_device_train_batch_size,
        per_device_eval_batch_size=spec.per_device_eval_batch_size,
        learning_rate=spec.learning_rate,
        lr_scheduler_type=spec.lr_scheduler_type,
        # transformers 5 reads a value below 1 as a ratio and 1 or more as steps, so a ratio of 1 is all steps
        warmup_steps=spec.warmup_ratio if spec.warmup_ratio < 1 else total,
        weight_decay=spec.weight_decay,
        gradient_accumulation_steps=spec.gradient_accumulation_steps,
        max_length=max_length,
        **save_kwargs,
        save_total_limit=None if spec.save_total_limit == -1 else spec.save_total_limit,
        logging_steps=spec.logging_steps,
        logging_first_step=True,
        seed=spec.seed,
        data_seed=spec.seed,
        # rows arrive tokenized with their loss mask (core/data/masking.py), so TRL applies no template of its own
        assistant_only_loss=False,
        include_num_input_tokens_seen="non_padding",
        report_to="none",
        disable_tqdm=True,
        bf16=plan.bf16,
        fp16=plan.fp16,
        activation_checkpointing=False,  # TRL turns it on by default
        use_cpu=cpu,
        dataloader_num_workers=0 if cpu else min(4, plan.threads),
        dataloader_pin_memory=not cpu,
        dataset_num_proc=min(8, plan.threads) if train_rows >= 20_000 and plan.threads > 1 else None,
        **eval_kwargs,
    )


def load_model(model_dir: Path, plan: DevicePlan, lora: bool) -> Any:
    import torch
    from transformers import AutoModelForCausalLM

    # fp32 on a CPU (see the module's docstring). On a GPU a frozen LoRA base can sit in bf16
    # (peft keeps the adapter in fp32); weights the optimizer updates stay fp32 under autocast.
    dtype = torch.float32
    if plan.kind == "cuda" and plan.bf16 and lora:
        dtype = torch.bfloat16
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype)
    model.config.use_cache = False
    return model


def apply_lora(model: Any, spec: FineTuneSpec, log: Callable[[str], None]) -> Any:
    import torch
    from peft import LoraConfig, get_peft_model

    targets = lora_targets(spec, getattr(model.config, "model_type", None))
    config = LoraConfig(
        r=spec.lora_r,
        lora_alpha=spec.lora_alpha,
        lora_dropout=spec.lora_dropout,
        target_modules=targets,
        modules_to_save=list(spec.lora_modules_to_save) if spec.lora_modules_to_save else None,
        task_type="CAUSAL_LM",
    )
    try:
        model = get_peft_model(model, config)
    except ValueError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InvalidInput(f"lora_target_modules {targets}: {first}") from None
    for param in model.parameters():
        # a half-precision base (GPU) gives half-precision copies of modules_to_save; AdamW wants fp32
        if param.requires_grad and param.dtype != torch.float32:
            param.data = param.data.float()
    shown = targets if isinstance(targets, str) else ", ".join(targets)
    extra = f"; full copies of {', '.join(spec.lora_modules_to_save)}" if spec.lora_modules_to_save else ""
    log(f"LoRA on {shown}{extra}")
    return model
