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
import re
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
from .units import GIB, MIB, count, size

OK_FRACTION = 0.8  # leave a fifth for fragmentation and what the estimate misses
GPU_OVERHEAD = 512 * MIB  # CUDA context and kernels
CPU_OVERHEAD = 300 * MIB  # the Python process with torch and transformers loaded
CPU_FLOPS_PER_CORE = 5e10  # measured ~1e11 on one core for a 21M Llama with LoRA; halved for scaling over cores
SLOW_CPU_PARAMS = 100_000_000
ACT_ELEMS_PER_HIDDEN = 25
ACT_ELEMS_PER_INTERMEDIATE = 4
LOGIT_BYTES_PER_ENTRY = 16

# -- precision: what the GPU can compute in ----------------------------------------------
# CUDA compute capability by GPU family. bf16 needs 8.0 (Ampere) or newer; on older GPUs
# (V100, T4, P100, K80) mixed-precision training falls back to fp16, at the same 2 bytes.
COMPUTE_CAPABILITY = {
    "K80": 3.7,
    "M60": 5.2,
    "P100": 6.0,
    "P40": 6.1,
    "V100": 7.0,
    "T4": 7.5,
    "A100": 8.0,
    "A10": 8.6,
    "A10G": 8.6,
    "L4": 8.9,
    "L40": 8.9,
    "L40S": 8.9,
    "H100": 9.0,
    "H200": 9.0,
}
_BYTES = {"fp32": 4, "bf16": 2, "fp16": 2}


def compute_capability(gpu_name: str) -> float | None:
    """The capability of a GPU named like "V100", "NVIDIA A100-SXM4-80GB" or "A10 (1/6)"; None if unknown."""
    for word in re.split(r"[\s\-_/()]+", gpu_name.upper()):
        if word in COMPUTE_CAPABILITY:
            return COMPUTE_CAPABILITY[word]
    return None


def training_precision(target: ComputeTarget, requested: str | None = None) -> str:
    """fp32 on a CPU or when asked for (the component's ``precision: "32"``); else bf16 where every GPU
    has it, fp16 where one does not."""
    if _device_kind(target) == "cpu" or requested == "fp32":
        return "fp32"
    caps = [compute_capability(g.name) for g in target.gpus]
    return "fp16" if any(c is not None and c < 8 for c in caps) else "bf16"


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
            f"model {model.ref} lacks its config (hidden_size, num_hidden_layers, ...): {where}; cannot estimate memory"
        )
    missing = missing_dims(dims)
    if missing:
        raise InvalidInput(f"model {model.ref}: its config lacks {', '.join(missing)}; cannot estimate memory")
    return dims


def sequence_length(
    model: CatalogModel, spec: FineTuneSpec, dims: dict[str, Any], longest_row: int | None = None, *, local: bool = True
) -> SequenceLength:
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
    precision: str | None = None,
    gradient_checkpointing: bool = False,
    longest_row: int | None = None,
    local: bool = True,
) -> MemoryEstimate:
    """Peak training memory on one device. ``gpus`` > 1 lets DeepSpeed ZeRO shard the states.

    ``precision`` is fp32, bf16 or fp16 (default: half on GPUs; fp32 on CPU, where half precision
    is slow or unsupported). With ``gradient_checkpointing`` each layer keeps only its input and
    one layer's activations are recomputed at a time during backward. ``longest_row``: the data's
    longest row in tokens, when measured; batches are padded only to it.
    """
    dims = _dims_for(model, config)
    on_gpu = device_kind != "cpu"
    wbytes = _BYTES[precision] if precision else (2 if on_gpu else 4)
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
    # With checkpointing a layer keeps its input (s*b*h) and backward rebuilds one layer at a time.
    kept = (L * s * b * h + per_layer) if gradient_checkpointing else L * per_layer
    # fp32 logits, their shifted copy, log-softmax and gradient: measured 16 bytes per vocab entry.
    activations = kept * wbytes + b * s * dims["vocab_size"] * LOGIT_BYTES_PER_ENTRY
    overhead = GPU_OVERHEAD if on_gpu else CPU_OVERHEAD
    return MemoryEstimate(
        weights_bytes=int(weights),
        trainable_parameters=int(trainable),
        gradients_bytes=int(gradients),
        optimizer_bytes=int(optimizer),
        activations_bytes=int(activations),
        overhead_bytes=overhead,
        parameters=n_params,
    )


# -- the verdict --------------------------------------------------------------------
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
        return f"{each}{gpu.name} has {size(available)}"
    return f"{target.name} has {size(available)} of RAM"


def check_fit(
    model: CatalogModel,
    spec: FineTuneSpec,
    target: ComputeTarget,
    *,
    config: dict[str, Any] | None = None,
    precision: str | None = None,
    gradient_checkpointing: bool = False,
    longest_row: int | None = None,
) -> FitReport:
    """The estimate against ``target``'s memory. ``precision`` "fp32" forces full precision; otherwise
    GPUs train in bf16, or fp16 where they lack it. ``gradient_checkpointing`` is what the trainer does."""
    dims = _dims_for(model, config)
    kind, gpus = _device_kind(target), _gpu_count(target, spec)
    dtype = training_precision(target, precision)
    local = target.kind != "aml-cluster"

    def estimate(s: FineTuneSpec, device: str = kind) -> MemoryEstimate:
        return estimate_memory(
            model,
            s,
            device_kind=device,
            config=dims,
            gpus=gpus,
            precision=dtype if device == kind else None,
            gradient_checkpointing=gradient_checkpointing,
            longest_row=longest_row,
            local=local,
        )

    est = estimate(spec)
    available = target.accelerator_memory_bytes
    verdict = _verdict(est.total_bytes, available)
    n_params = int(model.parameter_count or params_from_dims(dims))
    length = sequence_length(model, spec, dims, longest_row, local=local)
    seq, batch = length.peak, spec.per_device_train_batch_size

    why_dtype = ""
    if dtype == "fp16":
        old = sorted({g.name for g in target.gpus if (compute_capability(g.name) or 8) < 8})
        why_dtype = f"; {', '.join(old)} has no bf16 (compute capability < 8), so training runs in fp16"
    reasons = [f"weights {size(est.weights_bytes)} in {dtype} ({count(n_params)} parameters){why_dtype}"]
    if spec.apply_lora:
        how = f"LoRA r={spec.lora_r} on {', '.join(lora_targets(spec, dims))}"
        if spec.lora_modules_to_save:
            how += f", full copies of {', '.join(spec.lora_modules_to_save)}"
    else:
        how = "full fine-tune"
    reasons.append(f"trainable parameters {count(est.trainable_parameters)} ({how})")
    reasons.append(f"gradients {size(est.gradients_bytes)} and AdamW state {size(est.optimizer_bytes)} in fp32")
    checkpointed = " with gradient checkpointing" if gradient_checkpointing else ""
    reasons.append(f"activations {size(est.activations_bytes)} at batch {batch} × {seq} tokens{checkpointed}")
    reasons.append(
        f"sequence length {length.max_length}: {length.why}"
        + (f"; the longest row is {length.longest_row} tokens" if length.longest_row else "")
    )
    if spec.apply_deepspeed and gpus > 1:
        split = {1: "optimizer state", 2: "optimizer state and gradients", 3: "weights, gradients and optimizer state"}
        reasons.append(f"DeepSpeed ZeRO-{spec.deepspeed_stage} splits the {split[spec.deepspeed_stage]} over {gpus} GPUs")
    elif spec.apply_deepspeed and target.gpus:
        reasons.append(f"DeepSpeed ZeRO-{spec.deepspeed_stage} has nothing to split over on 1 GPU")
    reasons.append(f"overhead {size(est.overhead_bytes)} ({'CUDA context' if kind == 'cuda' else 'framework'})")
    decided_by = _deciding(verdict, f"needs {size(est.total_bytes)}, {_where(target, available)}", est)
    reasons.append(decided_by)
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
        decided_by=decided_by,
        precision=dtype,
        **gpu_fields(target),
    )


def gpu_fields(target: ComputeTarget) -> dict[str, Any]:
    """GPUs per node, the GPU model and memory per GPU, as the FitReport carries them."""
    gpu = min(target.gpus, key=lambda g: g.memory_bytes) if target.gpus else None
    return {
        "gpus_per_node": target.gpus_per_node if target.gpus_per_node is not None else len(target.gpus) or None,
        "gpu_model": gpu.name if gpu else None,
        "gpu_memory_bytes": gpu.memory_bytes if gpu else None,
    }


def gpu_line(report: FitReport) -> str | None:
    """ "1 GPU per node: V100, 16.0 GB each; trains in fp16", as the tutorial's gpus_per_node reads it."""
    if report.gpus_per_node is None and report.gpu_model is None:
        return None
    n = report.gpus_per_node or 0
    line = f"{n} GPU{'s' if n != 1 else ''} per node"
    if report.gpu_model:
        line += f": {report.gpu_model}"
        if report.gpu_memory_bytes:
            line += f", {size(report.gpu_memory_bytes)} each"
    if report.precision:
        line += f"; trains in {report.precision}"
    return line


def _deciding(verdict: Verdict, total_line: str, est: MemoryEstimate) -> str:
    """The total against the limit, and what weighs most in it."""
    if verdict is Verdict.OK:
        return total_line
    parts = {
        "weights": est.weights_bytes,
        "activations": est.activations_bytes,
        "gradients and AdamW state": est.gradients_bytes + est.optimizer_bytes,
    }
    largest = max(parts, key=lambda k: parts[k])
    return f"{total_line}; the largest part is {largest}, {size(parts[largest])}"


def _cpu_notes(target: ComputeTarget, spec: FineTuneSpec, est: MemoryEstimate, n_params: int, seq: int) -> list[str]:
    notes = []
    from .local.hardware import available_memory_bytes

    free = available_memory_bytes()
    if free is not None and est.total_bytes > free and est.total_bytes <= (target.memory_bytes or 0):
        notes.append(f"only {size(free)} of RAM is free now; other programs would have to give memory back")
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
                return f"{' and '.join(changes)}: needs {size(need)}"
        if cur.per_device_train_batch_size > 1:
            steps = cur.per_device_train_batch_size * cur.gradient_accumulation_steps
            cur = dataclasses.replace(cur, per_device_train_batch_size=1, gradient_accumulation_steps=steps)
            changes.append(f"per_device_train_batch_size 1 with gradient_accumulation_steps {steps}")
            need = estimate(cur).total_bytes
            if need <= limit:
                return f"{' and '.join(changes)}: needs {size(need)}"
        length = 1 << (max(seq - 1, 1)).bit_length() - 1  # the largest power of two below seq
        while length >= 128:
            need = estimate(dataclasses.replace(cur, max_seq_length=length)).total_bytes
            if need <= limit:
                changes.append(f"max_seq_length {length} fits (needs {size(need)})")
                return " and ".join(changes)
            length //= 2
        if verdict is Verdict.TIGHT:
            return None  # already fits; nothing short of new hardware makes it roomy
    need = estimate(spec, "cuda").total_bytes
    return f"needs a GPU with at least {math.ceil(need / OK_FRACTION / GIB)} GiB, or --backend azure with a larger VM"


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
