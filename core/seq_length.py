"""The sequence length a job uses: one answer for the trainer, the fit estimate, the validator and the form.

The spec's ``max_seq_length`` wins when it is set. ``-1`` means the model's
context, but the local trainer caps it at ``DEFAULT_MAX_LENGTH``: an 8k
context would otherwise size every batch for 8k tokens when chat rows are a
few hundred. Rows longer than the length are truncated (their start kept), and
a batch is padded only to its longest row, so when the data's longest row is
known, memory is sized for that.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_MAX_LENGTH = 1024


@dataclass(frozen=True)
class SequenceLength:
    max_length: int  # rows are truncated here (the trainer's max_length)
    why: str  # how it was decided, for a reader
    longest_row: int | None = None  # the data's longest row in tokens, when it was measured

    @property
    def peak(self) -> int:
        """The longest sequence a batch holds: the longest row, truncated."""
        return min(self.max_length, self.longest_row) if self.longest_row else self.max_length


def job_sequence_length(
    max_seq_length: int, context: int | None, longest_row: int | None = None, *, cap: int | None = DEFAULT_MAX_LENGTH
) -> SequenceLength:
    """``cap``: where ``-1`` stops; None for Azure ML's pipeline, which takes the model's whole context."""
    if max_seq_length != -1:
        return SequenceLength(max_seq_length, f"max_seq_length {max_seq_length}", longest_row)
    if context and (cap is None or context <= cap):
        return SequenceLength(context, f"max_seq_length -1: the model's context, {context} tokens", longest_row)
    known = f"the model's context ({context} tokens)" if context else "the model's context (unknown)"
    cap = cap or DEFAULT_MAX_LENGTH
    return SequenceLength(cap, f"max_seq_length -1: {known} capped at {cap} tokens", longest_row)
