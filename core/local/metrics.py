"""What a training run writes while it runs: the human log and metrics.jsonl.

Both are append-only files that the app and ``finetui job logs --follow`` read
while the runner writes them, so every line is written whole and flushed at
once. The Trainer callback that feeds them is built by ``make_callback`` so
that importing this module costs nothing (no transformers at import time).
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, TextIO

from ..models import THROUGHPUT_METRIC

if TYPE_CHECKING:
    from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

# Where a job's log lives in its folder: Azure ML's place for the user's stdout and stderr.
LOG_RELPATH = Path("user_logs") / "std_log.txt"
# Trainer log keys that go to metrics.jsonl under the same name.
_METRIC_KEYS = ("loss", "grad_norm", "learning_rate", "eval_loss", "train_loss")


class JobLog:
    """``2026-11-24 11:20:03 | text`` lines, flushed one by one.

    Opened in append mode: the spawner also points the runner's stdout and
    stderr at this file, and O_APPEND keeps both writers' lines whole.
    """

    def __init__(self, path: Path | None = None, stream: TextIO | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self._own = False
        if stream is None and self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            stream = open(self.path, "a", encoding="utf-8", buffering=1)
            self._own = True
        self._stream = stream

    def __call__(self, text: str) -> None:
        if self._stream is None:
            return
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        for line in str(text).splitlines() or [""]:
            self._stream.write(f"{stamp} | {line}\n")
        self._stream.flush()

    def raw(self, text: str) -> None:
        """Write text as is (a traceback), still flushed."""
        if self._stream is None:
            return
        self._stream.write(text if text.endswith("\n") else text + "\n")
        self._stream.flush()

    def close(self) -> None:
        if self._own and self._stream is not None:
            self._stream.close()
            self._stream = None


class MetricsFile:
    """metrics.jsonl: one ``{"name", "value", "step", "epoch", "timestamp"}`` object per line."""

    def __init__(self, path: Path | None) -> None:
        self.path = Path(path) if path is not None else None
        self.points: list[dict[str, Any]] = []
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, name: str, value: float, step: int, epoch: float | None = None) -> None:
        if value is None or not math.isfinite(float(value)):
            return
        point = {
            "name": name,
            "value": float(value),
            "step": int(step),
            "epoch": None if epoch is None else round(float(epoch), 4),
            "timestamp": time.time(),
        }
        self.points.append(point)
        if self.path is None:
            return
        # one write() of one whole line on an O_APPEND descriptor: a reader never sees half a line
        # except while it is being written, and jobs.metrics skips such a line
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, (json.dumps(point) + "\n").encode("utf-8"))
        finally:
            os.close(fd)

    def last(self, name: str) -> float | None:
        for point in reversed(self.points):
            if point["name"] == name:
                value: float = point["value"]
                return value
        return None


class Throughput:
    """Non-padding tokens per second of training, not counting evaluation and checkpoint time."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.started = time.perf_counter()
        self.paused_s = 0.0  # evaluation and saving, added by the trainer subclass
        self._mark_time = self.started
        self._mark_paused = 0.0
        self._mark_tokens = 0
        self.total_tokens = 0

    def rate_since_mark(self, tokens_seen: int) -> float | None:
        """Tokens/s since the previous call; moves the mark."""
        now = time.perf_counter()
        busy = (now - self._mark_time) - (self.paused_s - self._mark_paused)
        tokens = tokens_seen - self._mark_tokens
        self._mark_time, self._mark_paused, self._mark_tokens = now, self.paused_s, tokens_seen
        self.total_tokens = tokens_seen
        if busy <= 0 or tokens <= 0:
            return None
        return tokens / busy

    def overall(self) -> float | None:
        busy = time.perf_counter() - self.started - self.paused_s
        return self.total_tokens / busy if busy > 0 and self.total_tokens else None


def _fmt_lr(value: float) -> str:
    return f"{value:.2e}".replace("e-0", "e-").replace("e+0", "e+")


def _lr_text(rate: float, step: int, warmup_steps: int) -> str:
    """The rate the step used (transformers logs it before the scheduler moves on). A linear warmup
    starts at 0, so the first step's rate is 0 by design; say so rather than leave a reader puzzled."""
    text = f"lr {_fmt_lr(rate) if rate else 0}"
    return f"{text} (warmup {step}/{warmup_steps})" if 0 < step <= warmup_steps else text


def make_callback(log: Callable[[str], None], metrics: MetricsFile, throughput: Throughput) -> TrainerCallback:
    """A transformers ``TrainerCallback`` writing each Trainer log to the human log and metrics.jsonl."""
    from transformers import TrainerCallback

    class _Reporter(TrainerCallback):
        def on_train_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any) -> None:
            throughput.reset()

        def on_log(
            self,
            args: TrainingArguments,
            state: TrainerState,
            control: TrainerControl,
            logs: dict[str, float] | None = None,
            **kwargs: Any,
        ) -> None:
            logs = logs or {}
            step, epoch = state.global_step, state.epoch
            where = f"step {step}/{state.max_steps} | epoch {epoch or 0:.2f}"
            if "eval_loss" in logs:
                metrics.write("eval_loss", logs["eval_loss"], step, epoch)
                log(f"{where} | eval_loss {logs['eval_loss']:.4f}")
                return
            if "train_loss" in logs:  # the Trainer's summary at the end
                metrics.write("train_loss", logs["train_loss"], step, epoch)
                return
            if "loss" not in logs:
                return
            parts = [where, f"loss {logs['loss']:.4f}"]
            for key in _METRIC_KEYS:
                if key in logs and key not in ("eval_loss", "train_loss"):
                    metrics.write(key, logs[key], step, epoch)
            if epoch is not None:
                metrics.write("epoch", epoch, step, epoch)
            if "learning_rate" in logs:
                parts.append(_lr_text(float(logs["learning_rate"]), step, args.get_warmup_steps(state.max_steps)))
            if logs.get("grad_norm") is not None:
                parts.append(f"grad_norm {float(logs['grad_norm']):.3f}")
            rate = throughput.rate_since_mark(int(getattr(state, "num_input_tokens_seen", 0) or 0))
            if rate is not None:
                metrics.write(THROUGHPUT_METRIC, rate, step, epoch)
                parts.append(f"{rate:.0f} tok/s")
            log(" | ".join(parts))

    return _Reporter()
