"""Training throughput: finetui's engine vs TRL's SFTTrainer defaults vs a hand-tuned TRL config.

All three train the same small random Phi-3 (chat template with
``{% generation %}`` markers) with the same LoRA adapter, on the same chat
rows, for the same number of optimizer steps at the same batch size, and no
evaluation. Throughput is non-padding tokens seen / the wall time of
``trainer.train()``, counted the same way for all three.

  (a) finetui    ``finetui.core.local.train.train`` (what a local job runs)
  (b) defaults   ``SFTConfig`` with only what is needed to run: output dir,
                 steps, batch size, no reporting (TRL then turns on bf16
                 autocast and gradient checkpointing, also on a CPU)
  (c) tuned      what one would set by hand on this device: fp32, no
                 gradient checkpointing, in-process data loading, all cores

Targets on a CPU: finetui >= 10x defaults and >= 0.95x tuned. How far the
defaults fall behind depends on the CPU: without native bf16 (avx512_bf16 or
AMX) the autocast is emulated and costs an order of magnitude; with it, only
gradient checkpointing and the casts remain (about 2x). The JSON says which
kind of CPU ran. The last line printed is one JSON object.

    .venv/bin/python bench/train_throughput.py [--steps 24] [--batch 8] [--hidden 384] [--layers 4] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # the tiny-model builder the training tests use

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _rows(path: Path) -> list[dict]:
    return [{"messages": json.loads(line)["messages"]} for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _lora(spec) -> object:
    from peft import LoraConfig

    from finetui.core.local.train import lora_targets

    return LoraConfig(
        r=spec.lora_r,
        lora_alpha=spec.lora_alpha,
        lora_dropout=spec.lora_dropout,
        target_modules=lora_targets(spec, "phi3"),
        task_type="CAUSAL_LM",
    )


def run_trl(model_dir: Path, train_file: Path, spec, out: Path, extra: dict) -> dict:
    """Plain SFTTrainer with ``extra`` config on top of the bare minimum; returns tokens, seconds."""
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    torch.manual_seed(spec.seed)
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    args = SFTConfig(
        output_dir=str(out),
        max_steps=spec.max_steps,
        per_device_train_batch_size=spec.per_device_train_batch_size,
        report_to="none",
        # measurement only: counts non-padding tokens, costs one sum per step
        include_num_input_tokens_seen="non_padding",
        disable_tqdm=True,
        **extra,
    )
    trainer = SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(_rows(train_file)),
                         processing_class=tok, peft_config=_lora(spec))
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)  # the harness prints its own summary
    started = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - started
    return {"tokens": int(trainer.state.num_input_tokens_seen), "seconds": seconds}


def run_finetui(model_dir: Path, train_file: Path, spec, job_dir: Path) -> dict:
    from finetui.core.local.train import train

    result = train(job_dir, model_dir, train_file, None, spec, save=False)
    return {"tokens": int(result.tokens), "seconds": float(result.train_seconds)}


def cpu_bf16_native() -> bool:
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return any(f in flags for f in ("avx512_bf16", "amx_bf16"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=24)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--hidden", type=int, default=384)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3, help="timed runs of finetui and of tuned (median reported)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: all available cores)")
    args = parser.parse_args()

    import torch
    import transformers

    from finetui.core.local.train import available_cores
    from finetui.core.spec import FineTuneSpec
    from tiny_model import build_tiny_setup

    transformers.logging.set_verbosity_error()
    threads = args.threads or available_cores()
    torch.set_num_threads(threads)
    spec = FineTuneSpec(max_steps=args.steps, per_device_train_batch_size=args.batch, learning_rate=1e-4,
                        apply_deepspeed=False, logging_steps=max(1, args.steps // 4))
    cuda = torch.cuda.is_available()
    tuned = {
        "bf16": cuda and torch.cuda.is_bf16_supported(),
        "gradient_checkpointing": False,
        "dataloader_num_workers": 0,
        "dataloader_pin_memory": cuda,
        "use_cpu": not cuda,
        "assistant_only_loss": True,
        "logging_steps": spec.logging_steps,
        "save_strategy": "no",
    }
    runs: dict[str, list[dict]] = {"finetui": [], "tuned": [], "defaults": []}
    with tempfile.TemporaryDirectory(prefix="finetui-train-bench-") as tmp:
        root = Path(tmp)
        setup = build_tiny_setup(root / "fixture", hidden=args.hidden, layers=args.layers, heads=4)
        # one short untimed run first, so one-off start-up costs (kernels, allocator) land on no contender
        run_trl(setup.model_dir, setup.train_file, spec.replace({"max_steps": 2}), root / "warm", tuned)
        contenders = {
            "finetui": lambda: run_finetui(setup.model_dir, setup.train_file, spec, root / "job"),
            "tuned": lambda: run_trl(setup.model_dir, setup.train_file, spec, root / "tuned", tuned),
            # use_cpu is the one thing the defaults need on a CPU: without it bf16 refuses to start
            "defaults": lambda: run_trl(setup.model_dir, setup.train_file, spec, root / "defaults", {} if cuda else {"use_cpu": True}),
        }
        # finetui and tuned alternate so that load from other processes hits both alike; the
        # defaults are an order of magnitude slower and run once, between the rounds
        order = []
        for i in range(args.rounds):
            order += ["finetui", "tuned"] if i % 2 == 0 else ["tuned", "finetui"]
            if i == (args.rounds - 1) // 2:
                order.append("defaults")
        for label in order:
            torch.set_num_threads(threads)
            r = contenders[label]()
            r["tokens_per_s"] = r["tokens"] / r["seconds"] if r["seconds"] > 0 else 0.0
            runs[label].append(r)
            print(f"{label:9s} {r['tokens']:6d} tokens in {r['seconds']:6.2f} s: {r['tokens_per_s']:8.0f} tokens/s", flush=True)
    results = {k: {"tokens_per_s": statistics.median(r["tokens_per_s"] for r in v),
                   "spread": (max(r["tokens_per_s"] for r in v) - min(r["tokens_per_s"] for r in v))} for k, v in runs.items()}
    fin, dflt, tuned_r = (results[k]["tokens_per_s"] for k in ("finetui", "defaults", "tuned"))
    vs_defaults = fin / dflt if dflt else None
    vs_tuned = fin / tuned_r if tuned_r else None
    native = "" if cuda else (" (this CPU has native bf16, so the defaults lose less)" if cpu_bf16_native() else " (this CPU emulates bf16)")
    print(f"finetui / TRL defaults: {vs_defaults:.1f}x (target >= 10x on a CPU){native}")
    print(f"finetui / hand-tuned:   {vs_tuned:.2f}x (target >= 0.95x)")
    summary = {
        "bench": "train_throughput",
        "device": torch.cuda.get_device_name(0) if cuda else "cpu",
        "cpu_native_bf16": None if cuda else cpu_bf16_native(),
        "threads": threads,
        "steps": args.steps,
        "batch": args.batch,
        "hidden": args.hidden,
        "layers": args.layers,
        "finetui_tokens_per_s": round(fin, 1),
        "trl_defaults_tokens_per_s": round(dflt, 1),
        "trl_tuned_tokens_per_s": round(tuned_r, 1),
        "finetui_vs_defaults": round(vs_defaults, 2) if vs_defaults else None,
        "finetui_vs_tuned": round(vs_tuned, 3) if vs_tuned else None,
        "rounds": args.rounds,
        "spread_tokens_per_s": {k: round(v["spread"], 1) for k, v in results.items()},
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
