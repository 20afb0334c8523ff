"""Training throughput: finetui's engine vs TRL's SFTTrainer defaults vs a hand-tuned TRL config.

All three train the same small random Phi-3 (chat template with
``{% generation %}`` markers) with the same LoRA adapter, on the same chat
rows, for the same number of optimizer steps at the same batch size, with no
evaluation. finetui and tuned save a checkpoint at each epoch's end, as a job
does; the defaults save none in so few steps. Throughput is non-padding tokens seen / the wall time of
``trainer.train()``, counted the same way for all three.

  (a) finetui    ``finetui.core.local.train.train`` (what a local job runs)
  (b) defaults   ``SFTConfig`` with only what is needed to run: output dir,
                 steps, batch size, no reporting (TRL then turns on bf16
                 autocast and gradient checkpointing, also on a CPU)
  (c) tuned      what one would set by hand on this device: fp32, no
                 gradient checkpointing, in-process data loading, all cores,
                 assistant-only loss, a checkpoint per epoch

Target on a CPU: finetui >= 10x defaults and >= 0.95x tuned. How far the
defaults fall behind depends on the CPU's bf16 kernels, so the bench runs
each contender under two CPU profiles, each in its own process (the kernels
are chosen when torch loads):

  native   this CPU as it is. With native bf16 (avx512_bf16 or AMX, as on
           recent Xeons) TRL's autocast costs little; only gradient
           checkpointing and the casts remain (about 2x).
  avx2     the same CPU limited to the kernels of a CPU without AVX-512 and
           without bf16 instructions (AMD Zen 2/3, Intel Alder/Raptor Lake
           laptops): ATEN_CPU_CAPABILITY=avx2, ONEDNN_MAX_CPU_ISA=AVX2,
           MKL_ENABLE_INSTRUCTIONS=AVX2. torch then reports no bf16 support
           and runs the autocast through its slow fallback, as such a CPU
           does. The JSON records what torch reported in each profile.

On a GPU the profiles do not apply and one run is made. The last line
printed is one JSON object.

    .venv/bin/python bench/train_throughput.py [--steps 24] [--batch 8] [--hidden 384] [--layers 4] [--rounds 5] [--cpu-profile both]
    .venv/bin/python bench/train_throughput.py --model llama-135m --steps 6 --batch 4 --rounds 1 --cpu-profile native
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # the tiny-model builder the training tests use

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _rows(path: Path) -> list[dict]:
    return [{"messages": json.loads(line)["messages"]} for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _lora(spec, model_type: str) -> object:
    from peft import LoraConfig

    from finetui.core.local.train_setup import lora_targets

    return LoraConfig(
        r=spec.lora_r,
        lora_alpha=spec.lora_alpha,
        lora_dropout=spec.lora_dropout,
        target_modules=lora_targets(spec, model_type),
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
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(_rows(train_file)),
        processing_class=tok,
        peft_config=_lora(spec, model.config.model_type),
    )
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


# What a CPU without AVX-512 and without bf16 instructions gets; read by torch, oneDNN and MKL at load time.
CPU_PROFILES: dict[str, dict[str, str]] = {
    "native": {},
    "avx2": {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "MKL_ENABLE_INSTRUCTIONS": "AVX2"},
}
TARGET_VS_DEFAULTS = 10.0
TARGET_VS_TUNED = 0.95


def measure(args: argparse.Namespace) -> dict:
    """All three contenders in this process; prints a line per run and returns the figures."""
    import datasets
    import torch
    import transformers

    from finetui.core.local.train_setup import available_cores, cpu_kernels
    from finetui.core.spec import FineTuneSpec
    from tiny_model import build_llama_setup, build_tiny_setup

    transformers.logging.set_verbosity_error()
    # transformers warns of a deprecated name on every step of a checkpointed run; the bench prints its own lines
    warnings.filterwarnings("ignore", category=FutureWarning)
    transformers.utils.logging.disable_progress_bar()
    datasets.disable_progress_bars()
    threads = args.threads or available_cores()
    torch.set_num_threads(threads)
    spec = FineTuneSpec(
        max_steps=args.steps,
        per_device_train_batch_size=args.batch,
        learning_rate=1e-4,
        apply_deepspeed=False,
        logging_steps=max(1, args.steps // 4),
    )
    cuda = torch.cuda.is_available()
    tuned = {
        "bf16": cuda and torch.cuda.is_bf16_supported(),
        "gradient_checkpointing": False,
        "dataloader_num_workers": 0,
        "dataloader_pin_memory": cuda,
        "use_cpu": not cuda,
        "assistant_only_loss": True,
        "logging_steps": spec.logging_steps,
        "save_strategy": "epoch",
    }
    runs: dict[str, list[dict]] = {"finetui": [], "tuned": [], "defaults": []}
    with tempfile.TemporaryDirectory(prefix="finetui-train-bench-") as tmp:
        root = Path(tmp)
        if args.model == "llama-135m":
            setup = build_llama_setup(root / "fixture")
        else:
            setup = build_tiny_setup(root / "fixture", hidden=args.hidden, layers=args.layers, heads=4)
        # one short untimed run first, so one-off start-up costs (kernels, allocator) land on no contender
        run_trl(setup.model_dir, setup.train_file, spec.replace({"max_steps": 2}), root / "warm", tuned)
        contenders = {
            "finetui": lambda: run_finetui(setup.model_dir, setup.train_file, spec, root / "job"),
            "tuned": lambda: run_trl(setup.model_dir, setup.train_file, spec, root / "tuned", tuned),
            # use_cpu is the one thing the defaults need on a CPU: without it bf16 refuses to start
            "defaults": lambda: run_trl(
                setup.model_dir, setup.train_file, spec, root / "defaults", {} if cuda else {"use_cpu": True}
            ),
        }
        # finetui and tuned alternate so that load from other processes hits both alike; the
        # defaults are the slow ones and run once, between the rounds
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
    rates = {k: statistics.median(r["tokens_per_s"] for r in v) for k, v in runs.items()}
    fin, dflt, tuned_r = rates["finetui"], rates["defaults"], rates["tuned"]
    return {
        "model": args.model,
        "device": torch.cuda.get_device_name(0) if cuda else "cpu",
        **({} if cuda else dict(zip(("cpu_capability", "bf16_kernels"), cpu_kernels() or (None, None)))),
        "threads": threads,
        "finetui_tokens_per_s": round(fin, 1),
        "trl_defaults_tokens_per_s": round(dflt, 1),
        "trl_tuned_tokens_per_s": round(tuned_r, 1),
        "finetui_vs_defaults": round(fin / dflt, 2) if dflt else None,
        "finetui_vs_tuned": round(fin / tuned_r, 3) if tuned_r else None,
        "spread_tokens_per_s": {
            k: round(max(r["tokens_per_s"] for r in v) - min(r["tokens_per_s"] for r in v), 1) for k, v in runs.items()
        },
    }


def run_profile(name: str, argv: list[str]) -> dict:
    """This script again in a child process with the profile's environment; its output streams through."""
    import subprocess

    env = {**os.environ, **CPU_PROFILES[name]}
    cmd = [sys.executable, str(Path(__file__).resolve()), *argv, "--cpu-profile", name, "--in-process"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)
    last = ""
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.strip():
            last = line
            if not line.startswith("{"):
                print(f"[{name}] {line}", end="", flush=True)
    if proc.wait() != 0:
        raise SystemExit(f"the {name} profile failed (exit {proc.returncode})")
    result = json.loads(last)
    if name == "avx2" and (result.get("cpu_capability") != "AVX2" or result.get("bf16_kernels")):
        raise SystemExit(
            f"the avx2 profile did not take: torch reported {result.get('cpu_capability')}, "
            f"bf16 kernels {result.get('bf16_kernels')}"
        )
    return result


def verdict(figures: dict) -> str:
    d, t = figures["finetui_vs_defaults"], figures["finetui_vs_tuned"]
    return (
        f"finetui / TRL defaults {d:.1f}x ({'met' if d and d >= TARGET_VS_DEFAULTS else 'NOT met'}: >= {TARGET_VS_DEFAULTS:g}x), "
        f"finetui / hand-tuned {t:.2f}x ({'met' if t and t >= TARGET_VS_TUNED else 'NOT met'}: >= {TARGET_VS_TUNED}x)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=24)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--hidden", type=int, default=384)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument(
        "--model",
        choices=["phi3-tiny", "llama-135m"],
        default="phi3-tiny",
        help="phi3-tiny: a random Phi-3 of --hidden and --layers; llama-135m: SmolLM-135M's shape "
        "(Llama, 49,152-token vocabulary, 135M parameters), --hidden and --layers ignored",
    )
    parser.add_argument("--rounds", type=int, default=5, help="timed runs of finetui and of tuned (median reported)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: all available cores)")
    parser.add_argument("--cpu-profile", choices=[*CPU_PROFILES, "both"], default="both")
    parser.add_argument("--in-process", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    summary = {
        "bench": "train_throughput",
        "model": args.model,
        "steps": args.steps,
        "batch": args.batch,
        "hidden": args.hidden,
        "layers": args.layers,
        "rounds": args.rounds,
    }

    import torch

    if args.in_process or torch.cuda.is_available():
        figures = measure(args)
        print(verdict(figures))
        print(json.dumps({**summary, "cpu_profile": None if torch.cuda.is_available() else args.cpu_profile, **figures}))
        return
    argv = [
        f"--steps={args.steps}",
        f"--batch={args.batch}",
        f"--hidden={args.hidden}",
        f"--layers={args.layers}",
        f"--model={args.model}",
        f"--rounds={args.rounds}",
        f"--threads={args.threads}",
    ]
    names = list(CPU_PROFILES) if args.cpu_profile == "both" else [args.cpu_profile]
    profiles = {name: run_profile(name, argv) for name in names}
    for name, figures in profiles.items():
        print(
            f"{name:6s} ({figures['cpu_capability']}, bf16 kernels {'yes' if figures['bf16_kernels'] else 'no'}): {verdict(figures)}"
        )
    summary.update(
        {
            "device": "cpu",
            "finetui_vs_defaults": {k: v["finetui_vs_defaults"] for k, v in profiles.items()},
            "finetui_vs_tuned": {k: v["finetui_vs_tuned"] for k, v in profiles.items()},
            "profiles": profiles,
        }
    )
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
