"""What the app and the CLI show of a job's checkpoints (no click, no Textual): one wording for both."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from finetui.core.models import Checkpoint

BEST_MARK = "* "
COLUMNS = ("  STEP", "EPOCH", "TRAIN LOSS", "EVAL LOSS")


def loss(value: float | None) -> str:
    return f"{value:.4f}" if value is not None else "-"


def cells(c: Checkpoint) -> tuple[str, str, str, str]:
    """Step (the best marked), epoch, train and eval loss, as ``job checkpoints`` prints them."""
    epoch = f"{c.epoch:.2f}" if c.epoch is not None else "-"
    return (BEST_MARK if c.best else "  ") + str(c.step), epoch, loss(c.train_loss), loss(c.eval_loss)


def none_yet(job: str) -> str:
    return f"job {job} has no complete checkpoints yet"


def register_command(job: str) -> str:
    return f"finetui model register --job {job} --checkpoint STEP|best --name NAME"
