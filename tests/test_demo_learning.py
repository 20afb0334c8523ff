"""The point of the demo: fine-tuning with the model's own defaults teaches facts the base gets wrong.

Trains with TRL's SFTTrainer directly (as the local job runner does) on the
session's demo workspace, so it checks the data, the tokenizer's assistant
mask and the catalog defaults together, independent of the job machinery.
"""

from __future__ import annotations

import time

import pytest


@pytest.mark.slow
def test_demo_defaults_teach_the_heldout_capitals(demo_ws, tmp_path):
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from finetui.core.local.catalog import LocalCatalog
    from finetui.core.local.demo.data import read_jsonl
    from finetui.core.local.demo.evaluate import score
    from finetui.core.local.store import Store
    from finetui.core.spec import FineTuneSpec
    from finetui.core.workspace import WorkspacePaths

    ws, demo = demo_ws
    paths = WorkspacePaths(ws)
    entry = LocalCatalog(paths, Store(paths.db)).get(demo["model"])
    spec = FineTuneSpec().replace(entry.model_specific_defaults)
    assert spec.apply_lora and spec.lora_modules_to_save

    tok = AutoTokenizer.from_pretrained(demo["model_path"])
    model = AutoModelForCausalLM.from_pretrained(demo["model_path"])
    heldout = read_jsonl(demo["heldout_file"])
    base_correct, total = score(model, tok, heldout)

    train = Dataset.from_list([{"messages": r["messages"]} for r in read_jsonl(demo["train_file"])])
    # the spec's values under the names SFTConfig shares with it, then what this direct run fixes for itself
    same_names = ("learning_rate", "num_train_epochs", "per_device_train_batch_size", "lr_scheduler_type", "seed")
    args = SFTConfig(
        **{name: getattr(spec, name) for name in same_names},
        max_length=spec.max_seq_length,
        output_dir=str(tmp_path / "out"),
        assistant_only_loss=True,
        save_strategy="no",
        report_to=[],
        bf16=False,
        gradient_checkpointing=False,
        use_cpu=True,
        disable_tqdm=True,
    )
    lora = LoraConfig(
        r=spec.lora_r,
        lora_alpha=spec.lora_alpha,
        lora_dropout=spec.lora_dropout,
        target_modules=list(spec.lora_target_modules),
        modules_to_save=list(spec.lora_modules_to_save),
        task_type="CAUSAL_LM",
    )
    torch.manual_seed(spec.seed)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a model this small trains fastest on one thread, and far faster on a busy machine
    try:
        started = time.monotonic()
        trainer = SFTTrainer(model=model, args=args, train_dataset=train, processing_class=tok, peft_config=lora)
        trainer.train()
        seconds = time.monotonic() - started
    finally:
        torch.set_num_threads(threads)
    tuned_correct, _ = score(trainer.model, tok, heldout)
    print(f"held-out capitals: base {base_correct}/{total}, fine-tuned {tuned_correct}/{total} after {seconds:.0f} s")
    assert total == 26 and base_correct <= 2
    assert tuned_correct >= 18
    # the general chat in train_sft keeps the conversation: a greeting is still answered as one
    from finetui.core.local.demo.evaluate import answers

    [hello] = answers(trainer.model, tok, [[{"role": "user", "content": "Hello!"}]])
    print(f"Hello! -> {hello}")
    assert "capital" not in hello and hello

    # evaluate_heldout reads a saved PEFT adapter as well as a full model folder
    from finetui.core.local.demo.evaluate import evaluate_heldout

    trainer.save_model(str(tmp_path / "adapter"))
    assert evaluate_heldout(tmp_path / "adapter", demo["model_path"], demo["heldout_file"], limit=6) == (6, 6)
