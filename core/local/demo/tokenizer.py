"""The demo's tokenizer: byte-level BPE trained on the demo's own chat corpus.

Byte-level so any text (the invented names, a user's typo, emoji) encodes
without an unknown token. The chat template is Phi-3's, with the assistant's
content and its ``<|end|>`` inside ``{% generation %}`` so that
``return_assistant_tokens_mask`` (TRL's ``assistant_only_loss``) marks exactly
the tokens the model should learn to produce, the end of turn included.
"""

from __future__ import annotations

from typing import Any, Iterable

PAD = "<|endoftext|>"
END = "<|end|>"
SPECIALS = (PAD, "<|system|>", "<|user|>", "<|assistant|>", END)
VOCAB_SIZE = 1024

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'assistant' %}"
    "{{ '<|assistant|>\\n' }}{% generation %}{{ message['content'] + '<|end|>' }}{% endgeneration %}{{ '\\n' }}"
    "{% else %}"
    "{{ '<|' + message['role'] + '|>\\n' + message['content'] + '<|end|>\\n' }}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}"
)


def train_tokenizer(texts: Iterable[str], vocab_size: int = VOCAB_SIZE) -> Any:
    """A PreTrainedTokenizerFast with the chat template; ``<|end|>`` ends a turn and a generation."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIALS),  # ids 0..4, fixed whatever the corpus
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    # the demo corpus is small, so the trainer stops short of ``vocab_size`` (about 700 tokens)
    tok.train_from_iterator(list(texts), trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token=END,
        pad_token=PAD,
        bos_token=PAD,
        unk_token=PAD,
        model_max_length=512,
        padding_side="right",
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast
