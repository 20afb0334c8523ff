"""The local training engine: TRL's SFTTrainer with a LoRA adapter, tuned per device.

``train`` is what the detached runner calls and what the throughput bench
calls, so both measure the same code. It loads the base model, trains on chat
rows (only ``messages`` is used), merges the adapter into the base and writes
the result as an MLflow transformers model. How the run is set up per device
(and why that differs from TRL's defaults) is in ``train_setup``.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..data.masking import WHOLE, Masking, mask_rows
from ..errors import DataError, InvalidInput, OperationFailed, json_problem
from ..faults import fault_point
from ..spec import FineTuneSpec
from .artifacts import resolve_hf_dirs
from .checkpoints import CHECKPOINTS_DIR
from .metrics import JobLog, MetricsFile, Throughput, make_callback
from .train_setup import apply_lora, build_config, load_model, plan_device, resolve_max_length, schedule


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
    masking: str = ""  # how the loss mask was made (core/data/masking.py)
    trained_share: float | None = None  # share of the (truncated) training tokens in the loss


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
                raise DataError(f"{path}:{lineno}: not a valid JSON row ({json_problem(exc)})") from None
            messages = row.get("messages") if isinstance(row, dict) else None
            if not isinstance(messages, list) or not messages:
                raise DataError(f"{path}:{lineno}: messages: missing or empty")
            rows.append({"messages": [{"role": m["role"], "content": m["content"]} for m in messages]})
    if not rows:
        raise DataError(f"{path}: no rows to train on")
    return rows


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
            # TrainingArguments fills output_dir in __post_init__: a str by the time a Trainer saves
            folder = Path(str(self.args.output_dir)) / f"checkpoint-{self.state.global_step}"
            existed = folder.exists()
            try:
                super()._save_checkpoint(model, trial)
            except BaseException:  # a cancel (SIGTERM) in the middle: drop the partial folder
                if not existed:
                    shutil.rmtree(folder, ignore_errors=True)
                raise
            finally:
                throughput.paused_s += time.perf_counter() - started

        def _save_optimizer_and_scheduler(self, output_dir: str) -> None:
            # the weights are written, trainer_state.json is not: a kill here leaves a partial checkpoint
            fault_point(f"train.checkpoint.{self.state.global_step}")
            super()._save_optimizer_and_scheduler(output_dir)

    return _Trainer


def _count_parameters(model: Any) -> tuple[int, int]:
    trainable = total = 0
    for p in model.parameters():
        total += p.numel()
        if p.requires_grad:
            trainable += p.numel()
    return trainable, total


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
    on_masking: Callable[[dict[str, Any]], None] | None = None,
    save: bool = True,
    resume_from: str | Path | None = None,
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
    log(
        f"data: {len(train_rows)} training rows from {train_file}"
        + (f", {len(test_rows)} test rows from {test_file}" if test_rows else ", no test file (no evaluation)")
    )
    log(
        f"device: {plan.name}"
        + (f" ({plan.kernels})" if plan.kernels else "")
        + f", {plan.threads} CPU thread{'s' if plan.threads != 1 else ''}, "
        + ("bf16" if plan.bf16 else "fp16" if plan.fp16 else "fp32")
    )
    if spec.apply_deepspeed:
        log("apply_deepspeed ignored locally: DeepSpeed is for the azure backend's multi-GPU clusters")
    if spec.num_nodes_finetune > 1:
        log(f"num_nodes_finetune={spec.num_nodes_finetune} ignored locally: training runs on this machine only")

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "right"

    set_seed(spec.seed)
    model = load_model(model_dir, plan, spec.apply_lora)
    max_length = resolve_max_length(spec, model.config)
    log(f"tokenizing with the chat template (max_length {max_length})")
    train_masks = mask_rows(tokenizer, [r["messages"] for r in train_rows])
    test_masks = mask_rows(tokenizer, [r["messages"] for r in test_rows]) if test_rows else None
    assistant_only = train_masks.method != WHOLE
    share = train_masks.trained_share(max_length)
    log(("WARNING: " if not assistant_only else "") + train_masks.describe(max_length))
    if on_masking is not None:
        on_masking({"method": train_masks.method, "trained_share": round(share, 4), "reason": train_masks.reason})
    if spec.apply_lora:
        model = apply_lora(model, spec, log)
    trainable, total = _count_parameters(model)
    log(f"parameters: {trainable:,} trainable of {total:,} ({100 * trainable / max(1, total):.2f}%)")
    per_epoch, total_steps = schedule(spec, len(train_rows))
    log(
        f"spec: epochs {spec.num_train_epochs:g}, max_steps {spec.max_steps}, batch {spec.per_device_train_batch_size}"
        f" x accumulation {spec.gradient_accumulation_steps}, lr {spec.learning_rate:g} ({spec.lr_scheduler_type}),"
        f" warmup {spec.warmup_ratio:g}, max_length {max_length}, "
        + (
            f"LoRA r {spec.lora_r} alpha {spec.lora_alpha} dropout {spec.lora_dropout:g}"
            if spec.apply_lora
            else "full fine-tuning"
        )
        + f"; {total_steps} steps, {per_epoch} per epoch"
    )

    config = build_config(
        spec,
        plan,
        output_dir=job_dir / CHECKPOINTS_DIR,
        max_length=max_length,
        train_rows=len(train_rows),
        has_eval=bool(test_rows),
    )
    throughput = Throughput()
    from .early_stop import describe_stop, early_stopping_callbacks

    trainer = _trainer_class(throughput)(
        model=model,
        args=config,
        train_dataset=_dataset(train_masks),
        eval_dataset=_dataset(test_masks) if test_masks else None,
        processing_class=tokenizer,
        callbacks=[make_callback(log, metrics, throughput), *early_stopping_callbacks(spec, bool(test_rows))],
    )
    # with tqdm off the Trainer prints every log dict to stdout, which is our log file; our callback writes it better
    from transformers import PrinterCallback, ProgressCallback

    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    phase("Running")
    log("training started")
    started = time.perf_counter()
    if resume_from:
        log(f"resuming from {Path(resume_from).name}: steps up to it are not trained again")
    output = trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    train_seconds = time.perf_counter() - started
    state = trainer.state
    eval_loss = _final_eval_loss(trainer) if test_rows else None
    rate = throughput.overall()
    log(
        f"training done: {state.global_step} steps, {state.epoch or 0:.2f} epochs in {train_seconds:.1f} s"
        + (f", train loss {output.training_loss:.4f}" if output.training_loss is not None else "")
        + (f", final eval_loss {eval_loss:.4f}" if eval_loss is not None else "")
        + (f", {rate:.0f} tok/s" if rate else "")
    )

    stopped = describe_stop(spec, state, total_steps) if test_rows else None
    if stopped:
        log(stopped)

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
        masking=train_masks.method,
        trained_share=share,
    )


def _dataset(masking: Masking) -> Any:
    """Rows already tokenized and masked: TRL builds labels from ``assistant_masks`` and truncates them."""
    from datasets import Dataset

    if masking.method == WHOLE:
        return Dataset.from_list([{"input_ids": r.input_ids} for r in masking.rows])
    return Dataset.from_list([{"input_ids": r.input_ids, "assistant_masks": r.mask} for r in masking.rows])


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
