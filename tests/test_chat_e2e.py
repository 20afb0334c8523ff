"""End to end through the CLI: a ChatML model with a default system prompt learns taught facts from its replies only.

The model's template has no ``{% generation %}`` markers and TRL does not know
it, so the loss mask is derived. Trained on the replies only, the model learns
the facts and never learns to produce its default system prompt.
"""

from __future__ import annotations

import pytest
from chatml_model import FACTS, SYSTEM_PROMPT, WHO, build_chatml_llama, facts_rows, write_rows
from cli_helpers import finetui, finetui_json

SPEC = """\
apply_lora: false
learning_rate: 0.003
lr_scheduler_type: constant
num_train_epochs: 12
per_device_train_batch_size: 8
max_seq_length: 128
save_total_limit: 1
logging_steps: 8
"""


@pytest.mark.slow
def test_chatml_model_learns_facts_and_not_its_system_prompt(tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from finetui.core.local.artifacts import resolve_hf_dirs
    from finetui.core.local.demo.evaluate import answers

    folder = build_chatml_llama(tmp_path / "chatml", context=8192, hidden=64, layers=2)
    ws = tmp_path / "ws"
    ref = finetui(ws, "model", "add", str(folder)).stdout.strip()
    train = write_rows(tmp_path / "train.jsonl", facts_rows() * 16)  # 64 rows: 8 steps an epoch
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC, encoding="utf-8")

    submitted = finetui(ws, "job", "submit", "--model", ref, "--train", str(train), "--spec", str(spec))
    name = submitted.stdout.strip()
    assert "data: loss mask: derived, " in submitted.stderr and "0 of 64 row(s) over max_length 128" in submitted.stderr
    log = finetui(ws, "job", "logs", name, "--follow", timeout=600).stdout
    assert "loss mask: derived, " in log and "whole sequence" not in log

    job = finetui_json(ws, "job", "show", name)
    assert job["status"] == "Completed" and job["masking"]["method"] == "derived"
    assert 0.2 < job["masking"]["trained_share"] < 0.6  # the system prompt and questions are most of each row
    assert "loss mask:     derived" in finetui(ws, "job", "show", name).stdout

    model_dir, tokenizer_dir = resolve_hf_dirs(job["output_path"])
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    asked = [[{"role": "user", "content": q}] for q, _ in FACTS] + [[{"role": "user", "content": WHO}]]
    replies = answers(model, tokenizer, asked, max_new_tokens=20)
    for (question, answer), reply in zip(FACTS, replies):
        assert answer in reply, (question, reply)
    who = replies[-1]
    assert "helpful AI assistant" not in who and "Orbit" not in who and SYSTEM_PROMPT not in who, who
    # and it never learned to say it: trained on whole conversations the same run gives the system prompt,
    # as the reply to "who are you", 0.65 nats a token (it recites it); trained on replies it stays unlikely (7.2)
    assert _reply_nll(model, tokenizer, WHO, SYSTEM_PROMPT) > 4.0


def _reply_nll(model, tokenizer, question: str, reply: str) -> float:
    """Mean negative log-likelihood per token of ``reply`` as the model's answer to ``question``."""
    import torch

    prompt = tokenizer.apply_chat_template([{"role": "user", "content": question}], add_generation_prompt=True, tokenize=False)
    p = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    r = tokenizer(reply, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        logits = model(torch.tensor([p + r])).logits[0, len(p) - 1 : -1]
    return torch.nn.functional.cross_entropy(logits, torch.tensor(r)).item()
