"""Which tokens of a chat row training learns from: the assistant's replies, for any chat template.

Four ways to get the mask, tried in this order:

* ``template markers``: the template has ``{% generation %}`` blocks, so
  transformers' ``return_assistant_tokens_mask`` marks the replies.
* ``TRL training template``: TRL ships a marked copy of a few dozen known
  templates (matched by their exact text).
* ``derived``: any other template, rendered incrementally. For each assistant
  turn the conversation up to it is rendered with the generation prompt, then
  with the turn; the tokens the turn adds (its content and end-of-turn) are
  trained. This is only sound when the template is prefix-preserving: earlier
  text and tokens must not change once later turns follow (templates that drop
  earlier reasoning are not), which is checked on every row.
* ``whole sequence``: where none of those applies, every token is trained and
  ``reason`` says why.

The trainer, ``data preview`` and the Data pane all call ``mask_rows``, so what
is previewed is what is trained.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from ..errors import InvalidInput

MARKERS = "template markers"
TRL_TEMPLATE = "TRL training template"
DERIVED = "derived"
WHOLE = "whole sequence"


@dataclass(frozen=True)
class MaskedRow:
    input_ids: list[int]
    mask: list[int]  # 1 where the token is trained


@dataclass(frozen=True)
class Masking:
    """How a data set's rows are masked, and the rows tokenized that way."""

    method: str
    rows: list[MaskedRow] = field(repr=False)
    reason: str = ""  # why whole sequence

    def trained_share(self, max_length: int | None = None) -> float:
        """Share of the tokens that train, counting only what truncation at ``max_length`` keeps."""
        total = trained = 0
        for row in self.rows:
            mask = row.mask[:max_length] if max_length else row.mask
            total += len(mask)
            trained += sum(mask)
        return trained / total if total else 0.0

    def describe(self, max_length: int | None = None) -> str:
        text = f"loss mask: {self.method}, {100 * self.trained_share(max_length):.0f}% of tokens trained"
        return text + (f" ({self.reason})" if self.reason else "")


class _NotPrefixPreserving(Exception):
    pass


_PROBE = {"role": "user", "content": "And then?"}


def mask_rows(tokenizer: Any, conversations: Sequence[list[dict[str, Any]]]) -> Masking:
    """Tokenize ``conversations`` with the tokenizer's chat template and mark the tokens to train."""
    template = getattr(tokenizer, "chat_template", None)
    if not template or not isinstance(template, str):
        raise InvalidInput("the model's tokenizer has no chat template; finetui needs one to format chat rows")
    if "{% generation %}" in template.replace("{%-", "{%").replace("-%}", "%}"):
        return Masking(MARKERS, [_marked(tokenizer, template, m) for m in conversations])
    trl_template = _trl_training_template(tokenizer)
    if trl_template:
        return Masking(TRL_TEMPLATE, [_marked(tokenizer, trl_template, m) for m in conversations])
    try:
        return Masking(DERIVED, [_derived(tokenizer, template, m, i) for i, m in enumerate(conversations)])
    except _NotPrefixPreserving as exc:
        rows = [
            MaskedRow(ids, [1] * len(ids)) for ids in (_encode(tokenizer, _render(tokenizer, template, m)) for m in conversations)
        ]
        return Masking(WHOLE, rows, reason=f"the chat template is not prefix-preserving: {exc}")


def _trl_training_template(tokenizer: Any) -> str | None:
    try:
        from trl.chat_template_utils import get_training_chat_template
    except ImportError:  # an install without the local engine: no TRL templates to borrow
        return None
    try:
        return get_training_chat_template(tokenizer)
    except ValueError:  # not one of the templates TRL knows
        return None


def _render(tokenizer: Any, template: str, messages: list[dict[str, Any]], prompt: bool = False) -> str:
    try:
        text: str = tokenizer.apply_chat_template(messages, chat_template=template, tokenize=False, add_generation_prompt=prompt)
        return text
    except Exception as exc:
        raise _template_failed(exc) from None


def _template_failed(exc: Exception) -> InvalidInput:
    """A template that rejects a conversation is a data or model problem: one line, no traceback."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return InvalidInput(f"the chat template failed on a conversation: {first}")


def _encode(tokenizer: Any, text: str) -> list[int]:
    # the template writes any BOS itself, as transformers' apply_chat_template(tokenize=True) assumes
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def _marked(tokenizer: Any, template: str, messages: list[dict[str, Any]]) -> MaskedRow:
    try:
        out = tokenizer.apply_chat_template(
            messages, chat_template=template, tokenize=True, return_dict=True, return_assistant_tokens_mask=True
        )
    except Exception as exc:
        raise _template_failed(exc) from None
    return MaskedRow(list(out["input_ids"]), [int(bool(x)) for x in out["assistant_masks"]])


def _derived(tokenizer: Any, template: str, messages: list[dict[str, Any]], index: int) -> MaskedRow:
    full_text = _render(tokenizer, template, messages)
    full = _encode(tokenizer, full_text)
    mask = [0] * len(full)
    special = set(getattr(tokenizer, "all_special_ids", ()) or ())
    for turn, message in enumerate(messages):
        if message.get("role") != "assistant":
            continue
        where = f"row {index}, message {turn}"
        before_text = _render(tokenizer, template, messages[:turn], prompt=True) if turn else ""
        if not full_text.startswith(before_text):
            raise _NotPrefixPreserving(f"{where}: the text before this reply changes once later turns follow")
        before = _encode(tokenizer, before_text)
        if full[: len(before)] != before:
            raise _NotPrefixPreserving(f"{where}: the tokens before this reply change once later turns follow")
        # The reply's own tokens are what the conversation ending here shares with it going on to a next
        # user turn; whatever follows them when it ends here must be a closing of special tokens only (an EOS).
        upto = _encode(tokenizer, _render(tokenizer, template, messages[: turn + 1]))
        going_on = _encode(tokenizer, _render(tokenizer, template, [*messages[: turn + 1], _PROBE]))
        end = _common_prefix(upto, going_on)
        if not set(upto[end:]) <= special:
            raise _NotPrefixPreserving(f"{where}: this reply renders differently once a next turn follows")
        if full[:end] != upto[:end]:
            raise _NotPrefixPreserving(f"{where}: this reply renders differently in the whole conversation")
        if end <= len(before):
            raise _NotPrefixPreserving(f"{where}: this reply adds no tokens of its own")
        mask[len(before) : end] = [1] * (end - len(before))
    return MaskedRow(full, mask)


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n
