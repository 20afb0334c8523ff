"""What training will see of a chat row: its tokens, which of them train, where truncation cuts, what looks wrong.

``preview_row`` is one row for ``data preview`` and the Data pane;
``check_rows`` is the one-line summary ``job submit`` prints over a whole
file. Both mask with ``masking.mask_rows`` and cut at the job's
``SequenceLength``, the same calls the trainer makes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from ..seq_length import SequenceLength
from .masking import WHOLE, MaskedRow, Masking, mask_rows

# how trained text is marked where there is no colour (NO_COLOR, a pipe)
TRAINED_OPEN, TRAINED_CLOSE = "[[", "]]"


@dataclass(frozen=True)
class TrainedSpan:
    start: int  # token index, inclusive
    end: int  # token index, exclusive
    text: str
    truncated: bool = False  # truncation cuts into or past this span


@dataclass(frozen=True)
class RowPreview:
    row: int
    method: str
    reason: str
    tokens: tuple[str, ...]  # each token's text, in order
    mask: tuple[int, ...]
    max_length: int
    length_why: str
    spans: tuple[TrainedSpan, ...]
    warnings: tuple[str, ...] = ()

    @property
    def token_count(self) -> int:
        return len(self.tokens)

    @property
    def trained_tokens(self) -> int:
        return sum(self.mask[: self.max_length])

    def segments(self) -> list[tuple[str, str]]:
        """(text, kind) runs in order; kind is "trained", "context" (kept, not trained), "cut" (the marker)
        or "dropped" (past max_length: truncated away)."""
        out: list[tuple[str, str]] = []
        i, n = 0, self.token_count
        while i < n:
            if i == self.max_length:
                out.append((f"\n✂── max_length {self.max_length}: the rest is cut off ──\n", "cut"))
            kept = i < self.max_length
            j, limit = i, (min(n, self.max_length) if kept else n)
            while j < limit and (not kept or self.mask[j] == self.mask[i]):
                j += 1
            kind = ("trained" if self.mask[i] else "context") if kept else "dropped"
            out.append(("".join(self.tokens[i:j]), kind))
            i = j
        return out


@dataclass(frozen=True)
class DataCheck:
    """A file's rows as the trainer will mask and cut them."""

    method: str
    reason: str
    rows: int
    trained_share: float
    longest_row: int
    truncated_rows: int
    max_length: int
    warnings: tuple[str, ...] = field(default=())
    sampled: bool = False  # only the first rows were checked

    def summary(self) -> str:
        rows = f"the first {self.rows}" if self.sampled else f"{self.rows}"
        text = (
            f"loss mask: {self.method}, {100 * self.trained_share:.0f}% of tokens trained; "
            f"longest row {self.longest_row} tokens, {self.truncated_rows} of {rows} row(s) over max_length {self.max_length}"
        )
        extra = [self.reason] if self.reason else []
        if self.warnings:
            extra.append(f"{len(self.warnings)} warning(s), first: {self.warnings[0]}")
        return text + (f" ({'; '.join(extra)})" if extra else "")


def _spans(row: MaskedRow) -> list[tuple[int, int]]:
    spans, start = [], None
    for i, bit in enumerate([*row.mask, 0]):
        if bit and start is None:
            start = i
        elif not bit and start is not None:
            spans.append((start, i))
            start = None
    return spans


def _row_warnings(tokenizer: Any, masking: Masking, row: MaskedRow, max_length: int, where: str) -> list[str]:
    if masking.method == WHOLE:
        return [f"{where}: whole-sequence loss: {masking.reason}"]
    stops = set(getattr(tokenizer, "all_special_ids", ()) or ())
    out = []
    for n, (start, end) in enumerate(_spans(row), 1):
        if not stops.intersection(row.input_ids[start:end]):
            out.append(
                f"{where}: assistant turn {n} ends without an end-of-turn or EOS token, so the model may not learn to stop"
            )
        if start >= max_length:
            out.append(f"{where}: assistant turn {n} starts at token {start}, past max_length {max_length}: fully truncated")
    return out


def preview_row(tokenizer: Any, messages: list[dict[str, Any]], length: SequenceLength, row: int = 0) -> RowPreview:
    masking = mask_rows(tokenizer, [messages])
    masked = masking.rows[0]
    cut = length.max_length
    spans = tuple(TrainedSpan(s, e, tokenizer.decode(masked.input_ids[s:e]), truncated=e > cut) for s, e in _spans(masked))
    tokens = tuple(tokenizer.decode([t]) for t in masked.input_ids)
    return RowPreview(
        row=row,
        method=masking.method,
        reason=masking.reason,
        tokens=tokens,
        mask=tuple(masked.mask),
        max_length=cut,
        length_why=length.why,
        spans=spans,
        warnings=tuple(_row_warnings(tokenizer, masking, masked, cut, f"row {row}")),
    )


def check_rows(
    tokenizer: Any, conversations: Sequence[list[dict[str, Any]]], length: SequenceLength, *, sampled: bool = False
) -> DataCheck:
    masking = mask_rows(tokenizer, conversations)
    cut = length.max_length
    warnings: list[str] = []
    if masking.method != WHOLE:  # a fallback is said once, in the summary's reason
        for i, row in enumerate(masking.rows):
            warnings.extend(_row_warnings(tokenizer, masking, row, cut, f"row {i}"))
    lengths = [len(r.input_ids) for r in masking.rows]
    return DataCheck(
        method=masking.method,
        reason=masking.reason,
        rows=len(lengths),
        trained_share=masking.trained_share(cut),
        longest_row=max(lengths, default=0),
        truncated_rows=sum(1 for n in lengths if n > cut),
        max_length=cut,
        warnings=tuple(warnings),
        sampled=sampled,
    )


def job_length_for(
    backend: Any, model_ref: str, user_spec: dict[str, Any] | None = None, source: str | None = None
) -> tuple[Any, SequenceLength]:
    """The model (it must have local files) and the sequence length a job with it and ``user_spec`` uses."""
    from ..errors import InvalidInput
    from ..seq_length import job_sequence_length

    model = backend.get_model(model_ref)
    if not model.path:
        raise InvalidInput(f"model {model.ref} has no local files to read a tokenizer from; download it or omit --model")
    spec = backend.resolve_spec(model_ref, user_spec or {}, source).spec
    return model, job_sequence_length(spec.max_seq_length, model.context_length)


def validate_for(backend: Any, model_ref: str, path: Any, user_spec: dict[str, Any] | None = None) -> Any:
    """``validate_file`` with the model's tokenizer, measuring rows against the job's length (the Data pane's
    tokenizer picker; ``data validate --model`` does the same from the command line)."""
    from .tokens import load_tokenizer
    from .validate import validate_file

    model, length = job_length_for(backend, model_ref, user_spec, "launch form")
    return validate_file(path, tokenizer=load_tokenizer(model.path), max_seq_length=length.max_length)


def preview_for(
    backend: Any, model_ref: str, messages: list[dict[str, Any]], user_spec: dict[str, Any] | None = None, row: int = 0
) -> RowPreview:
    """``preview_row`` with the model's tokenizer and the job's length (the Data pane's call)."""
    from .tokens import load_tokenizer

    model, length = job_length_for(backend, model_ref, user_spec, "launch form")
    return preview_row(load_tokenizer(model.path), messages, length, row)
