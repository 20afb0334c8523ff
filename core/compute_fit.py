"""Will this fine-tune fit? A memory estimate and a verdict, for any backend.

The estimate adds up what training holds at its peak: the weights, the
trainable parameters' gradients and AdamW state, the activations of one
micro-batch and a fixed runtime overhead. The numbers come from the model's
config.json dimensions, so the check runs in milliseconds without loading a
model. It is an estimate: it aims to be right within a few tens of percent
and to err on the side of "tight" rather than promise a fit.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from .errors import InvalidInput, NotFound
from .model_dims import (
    lora_parameters,
    lora_targets,
    missing_dims,
    model_dims,
    modules_to_save_parameters,
    normalize_dims,
    params_from_dims,
)
from .models import CatalogModel, ComputeTarget, FitReport, MemoryEstimate, Verdict
from .seq_length import SequenceLength, job_sequence_length
from .spec import FineTuneSpec

GB = 1e9
OK_FRACTION = 0.8  # leave a fifth for fragmentation and what the estimate misses
GPU_OVERHEAD = int(0.5 * GB)  # CUDA context and kernels
CPU_OVERHEAD = int(0.3 * GB)  # the Python process with torch and transformers loaded
CPU_FLOPS_PER_CORE = 5e10  # measured ~1e11 on one core for a 21M Llama with LoRA; halved for scaling over cores
SLOW_CPU_PARAMS = 100_000_000
ACT_ELEMS_PER_HIDDEN = 25
ACT_ELEMS_PER_INTERMEDIATE = 4
LOGIT_BYTES_PER_ENTRY = 16


# -- the estimate ----------------------------------------------------------------
def _config_for(model: CatalogModel) -> dict[str, Any] | None:
    if not model.path:
        return None
    try:
        return model_dims(model.path)
    except (InvalidInput, NotFound, OSError):
        return None


def _dims_for(model: CatalogModel, config: dict[str, Any] | None) -> dict[str, Any]:
    dims = normalize_dims(config) if config else _config_for(model)
    if dims is None:
        where = f"its folder {model.path} has no readable config.json" if model.path else "it has no local files"
        raise InvalidInput(
            f"model {model.ref} lacks its config (hidden_size, num_hidden_layers, ...): {where}; "
            "cannot estimate memory"
        )
    missing = missing_dims(dims)
    if missing:
        raise InvalidInput(f"model {model.ref}: its config lacks {', '.join(missing)}; cannot estimate memory")
    return dims


def sequence_length(model: CatalogModel, spec: FineTuneSpec, dims: dict[str, Any], longest_row: int | None = None,
                    *, local: bool = True) -> SequenceLength:
    """What the job's trainer uses: the local one caps ``-1``; Azure ML's pipeline takes the whole context."""
    context = model.context_length or dims.get("max_position_embeddings")
    return job_sequence_length(spec.max_seq_length, context, longest_row, **({} if local else {"cap": None}))


def estimate_memory(
    model: CatalogModel,
    spec: FineTuneSpec,
    *,
    device_kind: str,
    config: dict[str, Any] | None = None,
    gpus: int = 1,
    longest_row: int | None = None,
    local: bool = True,
) -> MemoryEstimate:
    """Peak training memory on one device. ``gpus`` > 1 lets DeepSpeed ZeRO shard the states.

    ``longest_row``: the data's longest row in tokens, when measured; batches are padded only to it.
    """
    dims = _dims_for(model, config)
    on_gpu = device_kind != "cpu"
    wbytes = 2 if on_gpu else 4  # bf16/fp16 on GPUs; fp32 on CPU, where half precision is slow or unsupported
    n_params = int(model.parameter_count or params_from_dims(dims))

    if spec.apply_lora:
        trainable = lora_parameters(spec, dims) + modules_to_save_parameters(spec, dims)
        weights = n_params * wbytes + trainable * 4  # adapters are kept in fp32
        optimizer = trainable * 8
    else:
        trainable = n_params
        weights = n_params * wbytes
        optimizer = trainable * 8 + (trainable * 4 if wbytes < 4 else 0)  # fp32 master copy in mixed precision
    gradients = trainable * 4

    if spec.apply_deepspeed and gpus > 1:
        optimizer //= gpus
        if spec.deepspeed_stage >= 2:
            gradients //= gpus
        if spec.deepspeed_stage >= 3:
            weights //= gpus

    s, b = sequence_length(model, spec, dims, longest_row, local=local).peak, spec.per_device_train_batch_size
    h, L, a, i = dims["hidden_size"], dims["num_hidden_layers"], dims["num_attention_heads"], dims["intermediate_size"]
    # Elements saved for backward per token and layer. Korthikanti et al. (2022) count 17h
    # (34 bytes at 16-bit) for a GPT layer; a transformers decoder layer keeps more: fp32
    # norm intermediates, rotary copies of q and k, and the gated MLP's four i-wide tensors.
    # Measured with peak RSS on CPU (fp32, Llama-shaped, SDPA): 25h + 4i.
    per_layer = s * b * (ACT_ELEMS_PER_HIDDEN * h + ACT_ELEMS_PER_INTERMEDIATE * i)
    if dims.get("attn_implementation") == "eager":
        per_layer += 5 * a * s * s * b // 2  # the attention matrix, which fused attention (SDPA) never stores
    # fp32 logits, their shifted copy, log-softmax and gradient: measured 16 bytes per vocab entry.
    activations = L * per_layer * wbytes + b * s * dims["vocab_size"] * LOGIT_BYTES_PER_ENTRY
    overhead = GPU_OVERHEAD if on_gpu else CPU_OVERHEAD
    return MemoryEstimate(
        weights_bytes=int(weights),
        trainable_parameters=int(trainable),
        gradients_bytes=int(gradients),
        optimizer_bytes=int(optimizer),
        activations_bytes=int(activations),
        overhead_bytes=overhead,
    )


# -- the verdict --------------------------------------------------------------------
def gb(n: float) -> str:
    if 0 < n < 1e5:
        return f"{n / 1e3:.1f} KB"
    if n < 0.1 * GB:
        return f"{n / 1e6:.1f} MB"
    return f"{n / GB:.1f} GB"


def count(n: int) -> str:
    for div, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if n >= div:
            return f"{n / div:.1f}{suffix}"
    return str(n)


def _device_kind(target: ComputeTarget) -> str:
    return "cuda" if target.gpus or (target.gpus_per_node or 0) > 0 else "cpu"


def _gpu_count(target: ComputeTarget, spec: FineTuneSpec) -> int:
    per_node = target.gpus_per_node or len(target.gpus)
    if not per_node:
        return 1
    nodes = min(spec.num_nodes_finetune, target.max_nodes or spec.num_nodes_finetune)
    return max(1, per_node * max(1, nodes))


def _verdict(total: int, available: int | None) -> Verdict:
    if available is None:
        return Verdict.TIGHT
    if total <= available * OK_FRACTION:
        return Verdict.OK
    if total <= available:
        return Verdict.TIGHT
    return Verdict.DOES_NOT_FIT


def _where(target: ComputeTarget, available: int | None) -> str:
    if available is None:
        return f"{target.name}'s memory is unknown"
    if target.gpus:
        gpu = min(target.gpus, key=lambda g: g.memory_bytes)
        each = "each " if len(target.gpus) > 1 or (target.gpus_per_node or 1) > 1 else ""
        return f"{each}{gpu.name} has {gb(available)}"
    return f"{target.name} has {gb(available)} of RAM"


def check_fit(
    model: CatalogModel, spec: FineTuneSpec, target: ComputeTarget, *, config: dict[str, Any] | None = None,
    longest_row: int | None = None,
) -> FitReport:
    dims = _dims_for(model, config)
    kind, gpus = _device_kind(target), _gpu_count(target, spec)
    local = target.kind != "aml-cluster"

    def estimate(s: FineTuneSpec, device: str = kind) -> MemoryEstimate:
        return estimate_memory(model, s, device_kind=device, config=dims, gpus=gpus, longest_row=longest_row, local=local)

    est = estimate(spec)
    available = target.accelerator_memory_bytes
    verdict = _verdict(est.total_bytes, available)
    n_params = int(model.parameter_count or params_from_dims(dims))
    length = sequence_length(model, spec, dims, longest_row, local=local)
    seq, batch = length.peak, spec.per_device_train_batch_size
    dtype = "bf16" if kind == "cuda" else "fp32"

    reasons = [f"weights {gb(est.weights_bytes)} in {dtype} ({count(n_params)} parameters)"]
    if spec.apply_lora:
        how = f"LoRA r={spec.lora_r} on {', '.join(lora_targets(spec, dims))}"
        if spec.lora_modules_to_save:
            how += f", full copies of {', '.join(spec.lora_modules_to_save)}"
    else:
        how = "full fine-tune"
    reasons.append(f"trainable parameters {count(est.trainable_parameters)} ({how})")
    reasons.append(f"gradients {gb(est.gradients_bytes)} and AdamW state {gb(est.optimizer_bytes)} in fp32")
    reasons.append(f"activations {gb(est.activations_bytes)} at batch {batch} × {seq} tokens")
    reasons.append(f"sequence length {length.max_length}: {length.why}"
                   + (f"; the longest row is {length.longest_row} tokens" if length.longest_row else ""))
    if spec.apply_deepspeed and gpus > 1:
        split = {1: "optimizer state", 2: "optimizer state and gradients", 3: "weights, gradients and optimizer state"}
        reasons.append(f"DeepSpeed ZeRO-{spec.deepspeed_stage} splits the {split[spec.deepspeed_stage]} over {gpus} GPUs")
    reasons.append(f"overhead {gb(est.overhead_bytes)} ({'CUDA context' if kind == 'cuda' else 'framework'})")
    reasons.append(f"needs {gb(est.total_bytes)}, {_where(target, available)}")
    if target.kind == "cpu":
        reasons.extend(_cpu_notes(target, spec, est, n_params, seq))

    suggestion = None
    if verdict is not Verdict.OK and available is not None:
        suggestion = _suggest(spec, seq, available, estimate, verdict)
    return FitReport(
        model=model.ref,
        target=target.name,
        verdict=verdict,
        estimate=est,
        available_bytes=available,
        reasons=tuple(reasons),
        suggestion=suggestion,
    )


def _cpu_notes(target: ComputeTarget, spec: FineTuneSpec, est: MemoryEstimate, n_params: int, seq: int) -> list[str]:
    notes = []
    from .local.hardware import available_memory_bytes

    free = available_memory_bytes()
    if free is not None and est.total_bytes > free and est.total_bytes <= (target.memory_bytes or 0):
        notes.append(f"only {gb(free)} of RAM is free now; other programs would have to give memory back")
    if n_params > SLOW_CPU_PARAMS:
        flops = (4 if spec.apply_lora else 6) * n_params * seq * spec.per_device_train_batch_size
        secs = flops / (CPU_FLOPS_PER_CORE * max(1, target.cpu_cores or 1))
        per = f"{secs:.0f} s" if secs >= 1 else f"{secs:.1f} s"
        notes.append(
            f"training {count(n_params)} parameters on CPU is very slow: roughly {per} per step "
            f"({1 / secs:.2g} steps/s) at batch {spec.per_device_train_batch_size} × {seq} tokens; "
            "a GPU or --backend azure is much faster"
        )
    return notes


def _suggest(spec: FineTuneSpec, seq: int, available: int, estimate: Any, verdict: Verdict) -> str | None:
    """The smallest change, tried in order, that brings the estimate under the limit."""
    for limit in (available * OK_FRACTION, available):
        changes: list[str] = []
        cur = spec
        if not cur.apply_lora:
            cur = dataclasses.replace(cur, apply_lora=True)
            changes.append("enable LoRA (apply_lora=true)")
            need = estimate(cur).total_bytes
            if need <= limit:
                return f"{' and '.join(changes)}: needs {gb(need)}"
        if cur.per_device_train_batch_size > 1:
            steps = cur.per_device_train_batch_size * cur.gradient_accumulation_steps
            cur = dataclasses.replace(cur, per_device_train_batch_size=1, gradient_accumulation_steps=steps)
            changes.append(f"per_device_train_batch_size 1 with gradient_accumulation_steps {steps}")
            need = estimate(cur).total_bytes
            if need <= limit:
                return f"{' and '.join(changes)}: needs {gb(need)}"
        length = 1 << (max(seq - 1, 1)).bit_length() - 1  # the largest power of two below seq
        while length >= 128:
            need = estimate(dataclasses.replace(cur, max_seq_length=length)).total_bytes
            if need <= limit:
                changes.append(f"max_seq_length {length} fits (needs {gb(need)})")
                return " and ".join(changes)
            length //= 2
        if verdict is Verdict.TIGHT:
            return None  # already fits; nothing short of new hardware makes it roomy
    need = estimate(spec, "cuda").total_bytes
    return f"needs a GPU with at least {math.ceil(need / OK_FRACTION / GB)} GB, or --backend azure with a larger VM"


def pick_target(targets: list[ComputeTarget], name: str | None) -> ComputeTarget:
    """The named target; with no name (or ``local``) the first GPU, else the CPU."""
    if not targets:
        raise NotFound("no compute targets found")
    for t in targets:
        if t.name == name:
            return t
    if name in (None, "", "local", "auto"):
        return next((t for t in targets if t.gpus), targets[0])
    if name in ("cuda", "gpu"):
        gpu = next((t for t in targets if t.gpus), None)
        if gpu is not None:
            return gpu
    raise NotFound(f"no compute target named {name!r}; available: {', '.join(t.name for t in targets)}")
