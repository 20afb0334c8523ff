"""Scoring one model on test rows: assistant-token loss and generated replies against the references.

The loss goes through the same tokenization, chat template and collation as
training (TRL's SFTTrainer built with the training config from
``train_setup``), so its masking is the training masking by construction and
the number is comparable with a job's ``eval_loss``. It is summed per row and
divided by the number of assistant tokens, so long and short rows weigh by
their tokens. Replies are greedy (``demo.evaluate.answers``) and compared
with ``core.evaluate``'s rules; ROUGE-L and chrF come from torchmetrics.
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, cast

from ..evaluate import EvalScores, contains_reference, exact_match
from ..spec import FineTuneSpec

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class RowScore:
    loss_sum: float
    tokens: int
    reply: str
    exact: bool
    contains: bool
    rouge_l: float
    chrf: float


def load_model(path: str | Path) -> tuple[Any, Any]:
    """(model, tokenizer) of an HF or MLflow model folder, in eval mode."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from .artifacts import resolve_hf_dirs
    from .demo.model import quiet_progress

    model_dir, tokenizer_dir = resolve_hf_dirs(path)
    with quiet_progress():
        tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir))
        model = AutoModelForCausalLM.from_pretrained(str(model_dir))
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.eval()
    return model, tokenizer


def assistant_losses(
    model: Any,
    tokenizer: Any,
    conversations: list[list[dict[str, Any]]],
    spec: FineTuneSpec,
    log: Callable[[str], None],
    step: Callable[[], None],
) -> list[tuple[float, int]]:
    """(summed loss, assistant tokens) per conversation, through the training collation."""
    import torch

    from ..data.masking import mask_rows
    from .metrics import Throughput
    from .train import _dataset, _trainer_class
    from .train_setup import build_config, plan_device, resolve_max_length

    tokenizer.padding_side = "right"
    spec = spec.replace({"per_device_eval_batch_size": 1}, source="evaluation")  # one row per batch: a loss per row
    max_length = resolve_max_length(spec, model.config)
    masking = mask_rows(tokenizer, conversations)  # the same loss mask training uses
    log(masking.describe(max_length))
    with tempfile.TemporaryDirectory(prefix="finetui-eval-") as scratch:
        config = build_config(
            spec, plan_device(), output_dir=Path(scratch), max_length=max_length, train_rows=len(conversations), has_eval=True
        )
        rows = _dataset(masking)
        # SFTTrainer insists on a training set; the rows stand in for it and are never trained on
        trainer = _trainer_class(Throughput())(
            model=model,
            args=config,
            train_dataset=rows,
            eval_dataset=rows,
            processing_class=tokenizer,
        )
        loader = trainer.get_eval_dataloader()
        out: list[tuple[float, int]] = []
        with torch.no_grad():
            for batch in loader:
                labels = batch["labels"][:, 1:]
                inputs = {k: batch[k] for k in ("input_ids", "attention_mask") if k in batch}
                logits = model(**inputs).logits[:, :-1]
                loss = torch.nn.functional.cross_entropy(
                    logits.reshape(-1, logits.shape[-1]).float(), labels.reshape(-1), ignore_index=-100, reduction="sum"
                )
                out.append((float(loss), int((labels != -100).sum())))
                step()
    if len(out) != len(conversations):  # TRL drops rows whose reply was cut off entirely
        raise ValueError(
            f"{len(conversations) - len(out)} of {len(conversations)} rows have no reply tokens within "
            f"max_length {config.max_length}; shorten their prompts or raise max_seq_length"
        )
    return out


def text_scores(replies: list[str], references: list[str]) -> list[tuple[float, float]]:
    """(ROUGE-L F1, chrF) per reply, each 0..1."""
    from torchmetrics.functional.text import chrf_score
    from torchmetrics.functional.text.rouge import rouge_score

    out = []
    for reply, ref in zip(replies, references):
        rouge = float(rouge_score([reply], [ref], rouge_keys=("rougeL",))["rougeL_fmeasure"])
        # one Tensor unless return_sentence_level_score=True asks for a (corpus, sentences) pair
        chrf = cast("torch.Tensor", chrf_score([reply], [[ref]]))
        out.append((rouge, float(chrf)))
    return out


def score_model(
    ref: str,
    path: str | Path,
    rows: list[tuple[list[dict[str, Any]], str]],
    spec: FineTuneSpec,
    *,
    max_new_tokens: int,
    log: Callable[[str], None],
    step: Callable[[], None],
) -> tuple[EvalScores, list[RowScore]]:
    """Score ``path`` on ``(prompt messages, reference)`` rows; ``step`` is called once per row and pass."""
    from .demo.evaluate import answers

    model, tokenizer = load_model(path)
    prompts = [p for p, _ in rows]
    references = [r for _, r in rows]
    replies = []
    for prompt in prompts:  # one at a time so progress moves and a cancel lands between rows
        replies += answers(model, tokenizer, [prompt], max_new_tokens)
        step()
    losses = assistant_losses(model, tokenizer, [p + [{"role": "assistant", "content": r}] for p, r in rows], spec, log, step)
    texts = text_scores(replies, references)
    per_row = [
        RowScore(
            loss_sum=ls,
            tokens=n,
            reply=reply,
            exact=exact_match(reply, ref),
            contains=contains_reference(reply, ref),
            rouge_l=rouge,
            chrf=chrf,
        )
        for (ls, n), reply, ref, (rouge, chrf) in zip(losses, replies, references, texts)
    ]
    tokens = sum(r.tokens for r in per_row)
    loss = sum(r.loss_sum for r in per_row) / tokens if tokens else None
    count = max(1, len(per_row))
    exact = sum(r.exact for r in per_row)
    contains = sum(r.contains for r in per_row)
    scores = EvalScores(
        model=ref,
        rows=len(per_row),
        tokens=tokens,
        loss=loss,
        perplexity=math.exp(min(loss, 700.0)) if loss is not None else None,
        exact_match=exact / count,
        exact_matches=exact,
        contains=contains / count,
        contains_matches=contains,
        rouge_l=sum(r.rouge_l for r in per_row) / count,
        chrf=sum(r.chrf for r in per_row) / count,
    )
    return scores, per_row
