"""The loss mask for templates without {% generation %} markers equals the hand-marked template's mask."""

from __future__ import annotations

import pytest
from chat_templates import CONVERSATIONS, REASONING, STYLES, SYSTEM_PROMPT, WITH_REASONING, build_tokenizer

from finetui.core.data import masking


def _trained_text(tokenizer, row) -> str:
    return tokenizer.decode([t for t, m in zip(row.input_ids, row.mask) if m])


@pytest.mark.parametrize("style", STYLES, ids=lambda s: s.name)
def test_derived_mask_equals_the_hand_marked_template(style):
    tokenizer = build_tokenizer(style)
    derived = masking.mask_rows(tokenizer, CONVERSATIONS)
    assert derived.method == masking.DERIVED and derived.reason == ""

    tokenizer.chat_template = style.marked
    reference = masking.mask_rows(tokenizer, CONVERSATIONS)
    assert reference.method == masking.MARKERS
    for got, want in zip(derived.rows, reference.rows):
        assert got.input_ids == want.input_ids
        assert got.mask == want.mask
    # the replies and their end-of-turn train; the default system prompt and the user turns do not
    trained = _trained_text(tokenizer, derived.rows[0])
    assert "Mira Quen" in trained and style.specials[-1] in trained  # the end-of-turn token
    assert SYSTEM_PROMPT not in trained and "Talloway?" not in trained
    assert 0 < derived.trained_share() < 0.6


def test_template_dropping_earlier_reasoning_falls_back_to_whole_sequence_and_says_why():
    tokenizer = build_tokenizer(REASONING)
    result = masking.mask_rows(tokenizer, WITH_REASONING)
    assert result.method == masking.WHOLE
    assert "not prefix-preserving" in result.reason and "row 0, message 1" in result.reason
    assert all(all(row.mask) for row in result.rows) and result.trained_share() == 1.0
    assert "whole sequence" in result.describe() and "not prefix-preserving" in result.describe()

    # on rows without reasoning the same template is prefix-preserving, and derived equals hand-marked
    derived = masking.mask_rows(tokenizer, CONVERSATIONS)
    tokenizer.chat_template = REASONING.marked
    reference = masking.mask_rows(tokenizer, CONVERSATIONS)
    assert derived.method == masking.DERIVED
    assert [r.mask for r in derived.rows] == [r.mask for r in reference.rows]


def test_a_template_trl_knows_uses_trls_training_template():
    import trl.chat_template_utils as ctu
    from chat_templates import LLAMA3

    # TRL matches known templates by their exact text: Llama 3's as Meta ships it
    tokenizer = build_tokenizer(LLAMA3, template=ctu.llama3_chat_template)
    result = masking.mask_rows(tokenizer, CONVERSATIONS[:1])
    assert result.method == masking.TRL_TEMPLATE
    assert "Mira Quen" in _trained_text(tokenizer, result.rows[0]) and 0 < result.trained_share() < 1


def test_share_counts_only_what_truncation_keeps():
    tokenizer = build_tokenizer(STYLES[0])
    result = masking.mask_rows(tokenizer, CONVERSATIONS[:1])
    prompt_tokens = result.rows[0].mask.index(1)
    assert result.trained_share(prompt_tokens) == 0.0
    assert result.trained_share(None) > 0
