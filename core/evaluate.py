"""Held-out evaluation: did fine-tuning help? The records every backend returns.

An evaluation scores a model, and the base it was fine-tuned from, on the rows
of a test file: the loss on the assistant tokens (masked as training masks
them) and the replies generated from each row's prompt against the row's last
assistant message. ``gate`` turns the latest evaluation of a model into the
verdict ``endpoint create`` shows before deploying it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .models import JobStatus


@dataclass(frozen=True)
class EvalRequest:
    model: str  # NAME or NAME:VERSION (registered or catalog)
    test_file: str
    base: str | None = None  # default: the registered model's base
    max_rows: int | None = None
    max_new_tokens: int = 64
    judge: str | None = None  # an endpoint that says, row by row, which answer is closer to the reference


@dataclass(frozen=True)
class EvalScores:
    """One side's scores. Fractions are 0..1; loss is the mean over assistant tokens."""

    model: str
    rows: int
    tokens: int
    loss: float | None
    perplexity: float | None
    exact_match: float
    exact_matches: int
    contains: float
    contains_matches: int
    rouge_l: float
    chrf: float


# what an LLM judge can say of a row, in the order they are counted and shown
VERDICTS = ("model", "base", "tie", "unclear", "error")


@dataclass(frozen=True)
class EvalJudge:
    """An evaluation's judge: the endpoint asked, the prompt template it was sent, and its verdicts counted."""

    endpoint: str
    prompt: str
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def line(self) -> str:
        """``judge ep-x: model 12, base 5, tie 3, unclear 0, error 0``."""
        if not self.counts:  # the runner counts once every row is judged
            return f"judge {self.endpoint}: not asked yet"
        return f"judge {self.endpoint}: " + ", ".join(f"{v} {self.counts.get(v, 0)}" for v in VERDICTS)


@dataclass(frozen=True)
class EvalRun:
    name: str
    status: JobStatus
    model: str
    base: str | None
    test_file: str
    created_at: float
    max_rows: int | None = None
    started_at: float | None = None
    ended_at: float | None = None
    error: str | None = None
    phase: str = ""
    done: int = 0
    total: int = 0
    scores: dict[str, EvalScores] = field(default_factory=dict)
    rows_path: str | None = None
    pid: int | None = None
    judge: EvalJudge | None = None

    @property
    def improved(self) -> bool | None:
        """True when the model beat its base (lower assistant-token loss); None when that is unknown."""
        mine, base = self.scores.get("model"), self.scores.get("base")
        if mine is None or base is None or mine.loss is None or base.loss is None:
            return None
        return mine.loss < base.loss


@dataclass(frozen=True)
class DeployGate:
    """What ``endpoint create`` says about a model before deploying it."""

    model: str
    evaluation: str | None  # the evaluation's name
    improved: bool | None
    message: str
    warn: bool
    scores: dict[str, EvalScores] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)  # a service's own evaluation (Azure's pipeline step)


@dataclass(frozen=True)
class JobEvaluation:
    """A job's evaluation step: its run, status and metrics, and the last value of each training metric."""

    job: str
    model: str  # the foundation model the job fine-tuned
    status: JobStatus  # the job's
    step: str  # the evaluation step's run id
    step_status: JobStatus
    metrics: dict[str, float] = field(default_factory=dict)
    training: dict[str, float] = field(default_factory=dict)
    training_step: int | None = None  # the step the training values are from


def gate(model: str, run: EvalRun | None) -> DeployGate:
    if run is None:
        return DeployGate(model, None, None, f"{model} was never evaluated: `finetui eval {model} --test FILE`", True)
    mine, base = run.scores.get("model"), run.scores.get("base")
    if mine is None or base is None or mine.loss is None or base.loss is None:
        return DeployGate(model, run.name, None, f"{model}: evaluation {run.name} has no base to compare with", True, run.scores)
    line = (
        f"evaluation {run.name}: loss {mine.loss:.4f} vs base {base.loss:.4f} ({base.model}), "
        f"exact match {mine.exact_matches}/{mine.rows} vs {base.exact_matches}/{base.rows}"
    )
    if run.improved:
        return DeployGate(model, run.name, True, line, False, run.scores)
    return DeployGate(model, run.name, False, f"{model} did not beat its base: {line}", True, run.scores)


# -- comparing a reply with the reference ---------------------------------------------------
_SPACE = re.compile(r"\s+")


def normalize(text: str) -> str:
    """Case-folded, whitespace collapsed, ends trimmed: what counts as the same reply."""
    return _SPACE.sub(" ", text).strip().casefold()


def exact_match(reply: str, reference: str) -> bool:
    return normalize(reply) == normalize(reference)


def contains_reference(reply: str, reference: str) -> bool:
    ref = normalize(reference)
    return bool(ref) and ref in normalize(reply)


def split_row(messages: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], str] | None:
    """(prompt messages, reference reply) of a row ending with an assistant turn; None for other rows."""
    if len(messages) < 2 or messages[-1].get("role") != "assistant":
        return None
    return messages[:-1], str(messages[-1].get("content", ""))
