"""An LLM judge for an evaluation: one prompt template, the verdict rules, and asking an endpoint row by row.

Per row the judge sees the question, the reference reply and the two answers
as A and B, and is asked for one word. Which side is A alternates by row
(the model on even rows, counted from 0, the base on odd ones) so a judge
that prefers the first answer it reads does not favour one side; each row
records which was A. The call is greedy and short. A failed call is that
row's ``error`` and the evaluation goes on; a reply that is not A, B or tie
is ``unclear``, its raw text kept.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Any, Callable

from .chat import ChatClient, ChatParams
from .errors import FinetuiError
from .evaluate import VERDICTS
from .printable import printable

JUDGE_PROMPT = """You compare two answers to the same question with a reference answer.

Question:
{question}

Reference answer:
{reference}

Answer A:
{answer_a}

Answer B:
{answer_b}

Which answer is closer to the reference answer in meaning and correctness?
Reply with exactly one word: A, B or tie."""

# greedy, so the same rows get the same verdicts; one word needs few tokens
JUDGE_PARAMS = ChatParams(temperature=0.0, do_sample=False, max_new_tokens=8)
JUDGE_TIMEOUT_S = 60.0
RAW_LIMIT = 200

_FIRST_WORD = re.compile(r"[\W_]*([A-Za-z]+)")


def model_is_a(index: int) -> bool:
    """Whether the model's answer is A in row ``index`` (from 0): alternating counters a judge's position bias."""
    return index % 2 == 0


def question_text(prompt: list[dict[str, Any]]) -> str:
    """The row's prompt as the judge reads it: a lone message's text, or each turn as ``role: text``."""
    if len(prompt) == 1:
        return str(prompt[0].get("content", ""))
    return "\n".join(f"{m.get('role', '?')}: {m.get('content', '')}" for m in prompt)


def build_prompt(prompt: list[dict[str, Any]], reference: str, model_reply: str, base_reply: str, index: int) -> tuple[str, str]:
    """(the judge's message, which side is A: ``model`` or ``base``) for row ``index``."""
    a_side = "model" if model_is_a(index) else "base"
    answer_a, answer_b = (model_reply, base_reply) if a_side == "model" else (base_reply, model_reply)
    text = JUDGE_PROMPT.format(question=question_text(prompt), reference=reference, answer_a=answer_a, answer_b=answer_b)
    return text, a_side


def parse_verdict(reply: str, a_side: str) -> str:
    """The judge's reply as ``model``, ``base``, ``tie`` or ``unclear``: its first word, in any case, past punctuation."""
    found = _FIRST_WORD.match(reply)
    word = found.group(1).casefold() if found else ""
    b_side = "base" if a_side == "model" else "model"
    return {"a": a_side, "b": b_side, "tie": "tie"}.get(word, "unclear")


@dataclass(frozen=True)
class RowVerdict:
    """What the judge said of one row; ``reply`` is its raw text cut to RAW_LIMIT, ``error`` a failed call's line."""

    verdict: str
    a: str  # which side was answer A
    reply: str = ""
    error: str | None = None


def verdict_text(judged: dict[str, Any]) -> str:
    """A row's stored verdict as people read it: ``model (A was base)``; a failed call's line, an unclear reply's text."""
    verdict, side_a = judged.get("verdict", "?"), judged.get("a", "?")
    if verdict == "error":
        return f"error: {printable(str(judged.get('error') or ''))}"
    if verdict == "unclear":
        said = " ".join(printable(str(judged.get("reply") or "")).split())
        return f'unclear (A was {side_a}): "{said}"'
    return f"{verdict} (A was {side_a})"


def count(verdicts: list[RowVerdict]) -> dict[str, int]:
    return {v: sum(1 for r in verdicts if r.verdict == v) for v in VERDICTS}


async def judge_row(
    client: ChatClient, prompt: list[dict[str, Any]], reference: str, model_reply: str, base_reply: str, index: int
) -> RowVerdict:
    text, a_side = build_prompt(prompt, reference, model_reply, base_reply, index)
    try:
        reply = await client.complete([{"role": "user", "content": text}], JUDGE_PARAMS)
    except FinetuiError as exc:  # refused, 5xx, timed out: this row has no verdict, the others still may
        return RowVerdict("error", a_side, error=(str(exc).splitlines() or [type(exc).__name__])[0])
    return RowVerdict(parse_verdict(reply, a_side), a_side, reply[:RAW_LIMIT])


def judge_rows(
    client: ChatClient,
    rows: list[tuple[list[dict[str, Any]], str]],
    model_replies: list[str],
    base_replies: list[str],
    step: Callable[[], None] = lambda: None,
) -> list[RowVerdict]:
    """Ask the judge about each ``(prompt, reference)`` row in turn; ``step`` is called after each."""

    async def all_rows() -> list[RowVerdict]:
        out = []
        try:
            for i, ((prompt, reference), mine, base) in enumerate(zip(rows, model_replies, base_replies)):
                out.append(await judge_row(client, prompt, reference, mine, base, i))
                step()
        finally:
            await client.aclose()
        return out

    return asyncio.run(all_rows())
