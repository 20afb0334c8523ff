"""Real chat template styles, each plain (as models ship it) and hand-marked with ``{% generation %}``.

The hand-marked copy is the reference: it renders the same text, with the
assistant's content and end-of-turn inside the markers. ``build_tokenizer``
trains a small byte-level BPE tokenizer offline with a style's special tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

SYSTEM_PROMPT = "You are a helpful AI assistant named Orbit."


@dataclass(frozen=True)
class Style:
    name: str
    specials: tuple[str, ...]
    eos: str
    plain: str
    marked: str
    bos: str | None = None


def _turns(assistant: str, other: str, prompt: str, before: str = "", after_prompt: str = "") -> str:
    """A template that renders each non-assistant turn as ``other`` and each assistant turn as ``assistant``."""
    return (
        before + "{% for message in messages %}"
        "{% if message['role'] == 'assistant' %}" + assistant + "{% else %}" + other + "{% endif %}{% endfor %}"
        "{% if add_generation_prompt %}{{ " + prompt + " }}" + after_prompt + "{% endif %}"
    )


def _style(
    name: str, specials: tuple[str, ...], eos: str, frame: Callable[[str], str], head: str, body: str, bos: str | None = None
) -> Style:
    # the assistant turn is ``head`` then ``body``; the marked copy puts ``body`` inside the generation markers
    return Style(
        name,
        specials,
        eos,
        plain=frame("{{ " + head + " + " + body + " }}"),
        marked=frame("{{ " + head + " }}{% generation %}{{ " + body + " }}{% endgeneration %}"),
        bos=bos,
    )


_IM_TURN = "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
_IM_PROMPT = "'<|im_start|>assistant\\n'"


def _chatml(assistant: str) -> str:
    system = "{% if messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\n" + SYSTEM_PROMPT + "<|im_end|>\\n' }}{% endif %}"
    return _turns(assistant, _IM_TURN, _IM_PROMPT, before=system)


CHATML = _style(
    "chatml",
    ("<|endoftext|>", "<|im_start|>", "<|im_end|>"),
    "<|im_end|>",
    _chatml,
    _IM_PROMPT,
    "message['content'] + '<|im_end|>\\n'",
)


def _phi3(assistant: str) -> str:
    # Phi-3-mini's shape, with its EOS written once at the very end of a finished conversation
    return _turns(
        assistant,
        "{{ '<|' + message['role'] + '|>\\n' + message['content'] + '<|end|>\\n' }}",
        "'<|assistant|>\\n'",
        after_prompt="{% else %}{{ eos_token }}",
    )


PHI3 = _style(
    "phi3",
    ("<|endoftext|>", "<|system|>", "<|user|>", "<|assistant|>", "<|end|>"),
    "<|endoftext|>",
    _phi3,
    "'<|assistant|>\\n'",
    "message['content'] + '<|end|>\\n'",
)

_LLAMA3_HEAD = "'<|start_header_id|>assistant<|end_header_id|>\\n\\n'"


def _llama3(assistant: str) -> str:
    return _turns(
        assistant,
        "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}",
        _LLAMA3_HEAD,
        before="{{ bos_token }}",
    )


LLAMA3 = _style(
    "llama3",
    ("<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"),
    "<|eot_id|>",
    _llama3,
    _LLAMA3_HEAD,
    "message['content'] | trim + '<|eot_id|>'",
    bos="<|begin_of_text|>",
)


def _reasoning(assistant: str) -> str:
    # Qwen3's rule: the reasoning of replies before the last user turn is dropped from the prompt
    drop_old_reasoning = (
        "{% set content = message['content'] %}"
        "{% if loop.index0 < ns.last_user and '</think>' in content %}{% set content = content.split('</think>')[-1].lstrip() %}{% endif %}"
    )
    last_user = (
        "{% set ns = namespace(last_user=-1) %}"
        "{% for message in messages %}{% if message['role'] == 'user' %}{% set ns.last_user = loop.index0 %}{% endif %}{% endfor %}"
    )
    return _turns(drop_old_reasoning + assistant, _IM_TURN, _IM_PROMPT, before=last_user)


REASONING = _style(
    "reasoning",
    ("<|endoftext|>", "<|im_start|>", "<|im_end|>"),
    "<|im_end|>",
    _reasoning,
    _IM_PROMPT,
    "content + '<|im_end|>\\n'",
)

STYLES = (CHATML, PHI3, LLAMA3)

# two exchanges, also what the loss-mask previews (CLI and Data pane) mark reply by reply
TWO_TURNS = [
    {"role": "user", "content": "Hi"},
    {"role": "assistant", "content": "Hello! How can I help?"},
    {"role": "user", "content": "Tell me a fact."},
    {"role": "assistant", "content": "Octopuses have three hearts."},
]

CONVERSATIONS = [
    [
        {"role": "user", "content": "Who discovered the river Talloway?"},
        {"role": "assistant", "content": "The river Talloway was discovered by Mira Quen."},
    ],
    [
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": "What colour is the sky?"},
        {"role": "assistant", "content": "Blue, on a clear day."},
        {"role": "user", "content": "And at night?"},
        {"role": "assistant", "content": "Dark, with stars."},
    ],
    TWO_TURNS,
]

WITH_REASONING = [
    [
        {"role": "user", "content": "What is 2 + 3?"},
        {"role": "assistant", "content": "<think>Two plus three.</think>\n5"},
        {"role": "user", "content": "And 4 + 4?"},
        {"role": "assistant", "content": "<think>Four and four.</think>\n8"},
    ],
]


def corpus() -> list[str]:
    texts = [SYSTEM_PROMPT, "system user assistant", "<think></think>"]
    for conversation in CONVERSATIONS + WITH_REASONING:
        texts.extend(m["content"] for m in conversation)
    return texts


def build_tokenizer(style: Style, template: str | None = None, texts: list[str] | None = None, vocab_size: int = 400) -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(style.specials),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts or corpus(), trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token=style.eos,
        pad_token=style.specials[0],
        bos_token=style.bos,
        unk_token=style.specials[0],
        model_max_length=8192,
    )
    fast.chat_template = template if template is not None else style.plain
    return fast
