"""The local training engine: TRL's SFTTrainer with a LoRA adapter, tuned per device.

``train`` is what the detached runner calls and what the throughput bench
calls, so both measure the same code. It loads the base model, trains on chat
rows (only ``messages`` is used), merges the adapter into the base and writes
the result as an MLflow transformers model.

Why the settings differ from TRL's defaults on a CPU: TRL turns on bf16 and
gradient checkpointing by default; on a CPU without bf16 kernels the first
runs autocast through slow paths and the second recomputes every activation,
together about an order of magnitude slower for the same tokens. Neither
saves anything the small models trained on a CPU need.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..errors import DataError, InvalidInput, OperationFailed
from ..spec import FineTuneSpec
from .artifacts import resolve_hf_dirs
from .metrics import JobLog, MetricsFile, Throughput, make_callback

# Phi-3 fuses q/k/v and gate/up; these are the linear layers LoRA adapts in Azure's Phi-3 recipes.
DEFAULT_TARGETS = {"phi3": ("qkv_proj", "o_proj", "gate_up_proj", "down_proj")}
DEFAULT_MAX_LENGTH = 1024
# A run shorter than this many epochs is evaluated every few steps, not once per epoch.
SHORT_RUN_EPOCHS = 2.0
EVALS_PER_SHORT_RUN = 4


@dataclass(frozen=True)
class TrainResult:
    output_path: str
    steps: int
    epochs: float
    train_loss: float | None
    eval_loss: float | None
    tokens: int
    tokens_per_second: float | None
    train_seconds: float
    save_seconds: float
    trainable_parameters: int
    total_parameters: int
    device: str
    assistant_only_loss: bool


@dataclass(frozen=True)
class DevicePlan:
    kind: str  # "cpu" or "cuda"
    name: str
    threads: int
    bf16: bool
    fp16: bool


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
    return DevicePlan("cpu", "cpu", threads, bf16=False, fp16=False)


def read_messages(path: str | Path) -> list[dict[str, Any]]:
    """Rows with only ``messages``; a line that is not a chat row raises DataError naming it."""
    rows = []
    with open(path, encoding="utf-8-sig") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}:{lineno}: not a valid JSON row ({exc.msg})") from None
            messages = row.get("messages") if isinstance(row, dict) else None
            if not isinstance(messages, list) or not messages:
                raise DataError(f"{path}:{lineno}: messages: missing or empty")
            rows.append({"messages": [{"role": m["role"], "content": m["content"]} for m in messages]})
    if not rows:
        raise DataError(f"{path}: no rows to train on")
    return rows


def context_length(config: Any) -> int | None:
    for key in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        value = getattr(config, key, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def resolve_max_length(spec: FineTuneSpec, config: Any) -> int:
    if spec.max_seq_length != -1:
        return spec.max_seq_length
    ctx = context_length(config)
    return min(ctx, DEFAULT_MAX_LENGTH) if ctx else DEFAULT_MAX_LENGTH


def lora_targets(spec: FineTuneSpec, model_type: str | None) -> str | list[str]:
    targets = list(spec.lora_target_modules or DEFAULT_TARGETS.get(model_type or "", ("all-linear",)))
    # peft takes the "all-linear" shortcut only as a bare string
    return "all-linear" if targets == ["all-linear"] else targets


def _assistant_only(tokenizer: Any, log: Callable[[str], None]) -> bool:
    """True when the chat template can mark assistant tokens (TRL patches the templates it knows)."""
    from trl.chat_template_utils import get_training_chat_template, has_generation_markers

    template = tokenizer.chat_template
    if not template:
        raise InvalidInput("the model's tokenizer has no chat template; finetui needs one to format chat rows")
    if has_generation_markers(template):
        return True
    try:
        get_training_chat_template(tokenizer)
    except ValueError:
        log("WARNING: the chat template has no {% generation %} markers; training on whole conversations "
            "(prompts included) instead of assistant replies only")
        return False
    log("chat template: using TRL's training variant with {% generation %} markers")
    return True


def _schedule(spec: FineTuneSpec, rows: int) -> tuple[int, int]:
    """(optimizer steps per epoch, total steps)."""
    per_epoch = max(1, math.ceil(math.ceil(rows / spec.per_device_train_batch_size) / spec.gradient_accumulation_steps))
    total = spec.max_steps if spec.max_steps > 0 else max(1, math.ceil(spec.num_train_epochs * per_epoch))
    return per_epoch, total


def build_config(spec: FineTuneSpec, plan: DevicePlan, *, output_dir: Path, max_length: int,
                 train_rows: int, has_eval: bool, assistant_only: bool) -> Any:
    from trl import SFTConfig

    per_epoch, total = _schedule(spec, train_rows)
    eval_kwargs: dict[str, Any] = {"eval_strategy": "no"}
    if has_eval:
        if total < SHORT_RUN_EPOCHS * per_epoch:
            eval_kwargs = {"eval_strategy": "steps", "eval_steps": max(1, total // EVALS_PER_SHORT_RUN)}
        else:
            eval_kwargs = {"eval_strategy": "epoch"}
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
        save_strategy="epoch",
        save_total_limit=None if spec.save_total_limit == -1 else spec.save_total_limit,
        logging_steps=spec.logging_steps,
        logging_first_step=True,
        seed=spec.seed,
        data_seed=spec.seed,
        assistant_only_loss=assistant_only,
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


def _trainer_class(throughput: Throughput) -> type:
    """SFTTrainer that keeps evaluation and checkpoint time out of tokens/s and never leaves half a checkpoint."""
    import shutil

    from trl import SFTTrainer

    class _Trainer(SFTTrainer):
        def evaluate(self, *args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return super().evaluate(*args, **kwargs)
            finally:
                throughput.paused_s += time.perf_counter() - started

        def _save_checkpoint(self, model: Any, trial: Any) -> None:
            started = time.perf_counter()
            folder = Path(self.args.output_dir) / f"checkpoint-{self.state.global_step}"
            existed = folder.exists()
            try:
                super()._save_checkpoint(model, trial)
            except BaseException:  # a cancel (SIGTERM) in the middle: drop the partial folder
                if not existed:
                    shutil.rmtree(folder, ignore_errors=True)
                raise
            finally:
                throughput.paused_s += time.perf_counter() - started

    return _Trainer


def _count_parameters(model: Any) -> tuple[int, int]:
    trainable = total = 0
    for p in model.parameters():
        total += p.numel()
        if p.requires_grad:
            trainable += p.numel()
    return trainable, total


def load_model(model_dir: Path, plan: DevicePlan, lora: bool) -> Any:
    import torch
    from transformers import AutoModelForCausalLM

    # fp32 on a CPU (bf16 matmuls there are slow without AMX). On a GPU a frozen LoRA base can sit in bf16
    # (peft keeps the adapter in fp32); weights the optimizer updates stay fp32 under autocast.
    dtype = torch.float32
    if plan.kind == "cuda" and plan.bf16 and lora:
        dtype = torch.bfloat16
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype)
    model.config.use_cache = False
    return model


def train(
    job_dir: Path,
    model_path: str | Path,
    train_file: str | Path,
    test_file: str | Path | None,
    spec: FineTuneSpec,
    *,
    log: Callable[[str], None] | None = None,
    metrics: MetricsFile | None = None,
    on_phase: Callable[[str], None] | None = None,
    save: bool = True,
) -> TrainResult:
    """Fine-tune ``model_path`` on ``train_file`` and write ``job_dir/outputs/mlflow_model``."""
    if log is not None:
        log("loading torch, transformers and TRL")
    import torch
    from transformers import AutoTokenizer, set_seed

    log = log or JobLog(None)
    metrics = metrics or MetricsFile(None)
    phase = on_phase or (lambda _status: None)
    job_dir = Path(job_dir)
    plan = plan_device()
    if plan.kind == "cpu":
        torch.set_num_threads(plan.threads)
    _quiet_libraries()

    model_dir, tokenizer_dir = resolve_hf_dirs(model_path)
    train_rows = read_messages(train_file)
    test_rows = read_messages(test_file) if test_file else None
    log(f"model: {model_path}")
    log(f"data: {len(train_rows)} training rows from {train_file}"
        + (f", {len(test_rows)} test rows from {test_file}" if test_rows else ", no test file (no evaluation)"))
    log(f"device: {plan.name}, {plan.threads} CPU thread{'s' if plan.threads != 1 else ''}, "
        + ("bf16" if plan.bf16 else "fp16" if plan.fp16 else "fp32"))
    if spec.apply_deepspeed:
        log("apply_deepspeed ignored locally: DeepSpeed is for the azure backend's multi-GPU clusters")
    if spec.num_nodes_finetune > 1:
        log(f"num_nodes_finetune={spec.num_nodes_finetune} ignored locally: training runs on this machine only")

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "right"
    assistant_only = _assistant_only(tokenizer, log)

    set_seed(spec.seed)
    model = load_model(model_dir, plan, spec.apply_lora)
    max_length = resolve_max_length(spec, model.config)
    if spec.apply_lora:
        model = _apply_lora(model, spec, log)
    trainable, total = _count_parameters(model)
    log(f"parameters: {trainable:,} trainable of {total:,} ({100 * trainable / max(1, total):.2f}%)")
    per_epoch, total_steps = _schedule(spec, len(train_rows))
    log(f"spec: epochs {spec.num_train_epochs:g}, max_steps {spec.max_steps}, batch {spec.per_device_train_batch_size}"
        f" x accumulation {spec.gradient_accumulation_steps}, lr {spec.learning_rate:g} ({spec.lr_scheduler_type}),"
        f" warmup {spec.warmup_ratio:g}, max_length {max_length}, "
        + (f"LoRA r {spec.lora_r} alpha {spec.lora_alpha} dropout {spec.lora_dropout:g}" if spec.apply_lora else "full fine-tuning")
        + f"; {total_steps} steps, {per_epoch} per epoch")

    from datasets import Dataset

    config = build_config(spec, plan, output_dir=job_dir / "checkpoints", max_length=max_length,
                          train_rows=len(train_rows), has_eval=bool(test_rows), assistant_only=assistant_only)
    throughput = Throughput()
    log(f"tokenizing with the chat template (max_length {max_length})")
    trainer = _trainer_class(throughput)(
        model=model,
        args=config,
        train_dataset=Dataset.from_list(train_rows),
        eval_dataset=Dataset.from_list(test_rows) if test_rows else None,
        processing_class=tokenizer,
        callbacks=[make_callback(log, metrics, throughput)],
    )
    # with tqdm off the Trainer prints every log dict to stdout, which is our log file; our callback writes it better
    from transformers import PrinterCallback, ProgressCallback

    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    phase("Running")
    log("training started")
    started = time.perf_counter()
    output = trainer.train()
    train_seconds = time.perf_counter() - started
    state = trainer.state
    eval_loss = _final_eval_loss(trainer) if test_rows else None
    rate = throughput.overall()
    log(f"training done: {state.global_step} steps, {state.epoch or 0:.2f} epochs in {train_seconds:.1f} s"
        + (f", train loss {output.training_loss:.4f}" if output.training_loss is not None else "")
        + (f", final eval_loss {eval_loss:.4f}" if eval_loss is not None else "")
        + (f", {rate:.0f} tok/s" if rate else ""))

    out = job_dir / "outputs" / "mlflow_model"
    save_seconds = 0.0
    if save:
        phase("Finalizing")
        from .mlflow_export import save_mlflow_model

        t0 = time.perf_counter()
        merged = trainer.model.merge_and_unload() if spec.apply_lora else trainer.model
        merged.config.use_cache = True
        save_mlflow_model(merged, tokenizer, out, base_model=str(model_path), job=job_dir.name, log=log)
        save_seconds = time.perf_counter() - t0
        log(f"saved the MLflow model to {out} in {save_seconds:.1f} s")
    return TrainResult(
        output_path=str(out),
        steps=state.global_step,
        epochs=float(state.epoch or 0),
        train_loss=output.training_loss,
        eval_loss=eval_loss,
        tokens=int(getattr(state, "num_input_tokens_seen", 0) or 0),
        tokens_per_second=rate,
        train_seconds=train_seconds,
        save_seconds=save_seconds,
        trainable_parameters=trainable,
        total_parameters=total,
        device=plan.name,
        assistant_only_loss=assistant_only,
    )


def _apply_lora(model: Any, spec: FineTuneSpec, log: Callable[[str], None]) -> Any:
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


def _final_eval_loss(trainer: Any) -> float | None:
    """The eval loss at the last step, evaluating once more if the schedule did not end on an evaluation."""
    for entry in reversed(trainer.state.log_history):
        if "eval_loss" in entry:
            if entry.get("step") == trainer.state.global_step:
                return float(entry["eval_loss"])
            break
    return float(trainer.evaluate()["eval_loss"])


def _quiet_libraries() -> None:
    """No progress bars in a log file."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    with contextlib.suppress(Exception):
        from transformers.utils import logging as tf_logging

        tf_logging.disable_progress_bar()
    with contextlib.suppress(Exception):
        from datasets.utils.logging import disable_progress_bar

        disable_progress_bar()


def describe_failure(exc: BaseException) -> str:
    """One line for the job's ``error``: the message, or the exception type when there is none."""
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    if isinstance(exc, (InvalidInput, OperationFailed)) or type(exc).__module__.startswith("finetui"):
        return first or type(exc).__name__
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__
