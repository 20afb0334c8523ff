"""The LLM judge of `finetui eval`: its prompt, its verdict rules, and asking a real (stdlib) OpenAI-style server."""

from __future__ import annotations

import re
import sys
import threading
from pathlib import Path

import pytest

from finetui.core.chat import ChatClient
from finetui.core.errors import InvalidInput, NotFound
from finetui.core.eval_judge import (
    JUDGE_PARAMS,
    JUDGE_PROMPT,
    RAW_LIMIT,
    build_prompt,
    count,
    judge_rows,
    parse_verdict,
    verdict_text,
)
from finetui.core.evaluate import EvalJudge

sys.path.insert(0, str(Path(__file__).parent / "tui"))
from chat_server import ChatServer  # noqa: E402

KEY = "judge-key-0123456789"


def test_the_prompt_holds_the_row_and_swaps_sides_by_row():
    prompt = [{"role": "user", "content": "Capital of {Ardovia}?"}]
    even, a_even = build_prompt(prompt, "Kelmarsh.", "MODEL SAYS", "BASE SAYS", 0)
    odd, a_odd = build_prompt(prompt, "Kelmarsh.", "MODEL SAYS", "BASE SAYS", 1)
    assert (a_even, a_odd) == ("model", "base")
    assert even.index("Answer A:\nMODEL SAYS") < even.index("Answer B:\nBASE SAYS")
    assert odd.index("Answer A:\nBASE SAYS") < odd.index("Answer B:\nMODEL SAYS")
    for text in (even, odd):  # braces in someone's text are kept as they are, not read as a template
        assert "Question:\nCapital of {Ardovia}?" in text and "Reference answer:\nKelmarsh." in text
        assert text.endswith("Reply with exactly one word: A, B or tie.")
    assert even == JUDGE_PROMPT.format(
        question="Capital of {Ardovia}?", reference="Kelmarsh.", answer_a="MODEL SAYS", answer_b="BASE SAYS"
    )
    turns = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi?"}]
    assert "Question:\nsystem: Be brief.\nuser: Hi?\n" in build_prompt(turns, "r", "m", "b", 2)[0]
    assert JUDGE_PARAMS.greedy and JUDGE_PARAMS.openai_parameters()["temperature"] == 0.0
    assert JUDGE_PARAMS.max_new_tokens <= 16


@pytest.mark.parametrize(
    "reply, a_model, a_base",
    [
        ("A", "model", "base"),
        ("a", "model", "base"),
        (" A.", "model", "base"),
        ("**A**", "model", "base"),
        ("(a) is closer", "model", "base"),
        ("A's answer", "model", "base"),
        ("B", "base", "model"),
        ("b!", "base", "model"),
        ('"B"\n', "base", "model"),
        ("tie", "tie", "tie"),
        ("TIE.", "tie", "tie"),
        ("Tie - both match", "tie", "tie"),
        ("", "unclear", "unclear"),
        ("Answer: A", "unclear", "unclear"),
        ("AB", "unclear", "unclear"),
        ("1. A", "unclear", "unclear"),
        ("Both are fine", "unclear", "unclear"),
        ("_A_", "model", "base"),  # markdown emphasis, as bold is
    ],
)
def test_verdicts_read_the_first_word_and_follow_the_swap(reply, a_model, a_base):
    assert parse_verdict(reply, "model") == a_model
    assert parse_verdict(reply, "base") == a_base


def test_verdict_text_and_counts():
    assert verdict_text({"verdict": "model", "a": "base", "reply": "B"}) == "model (A was base)"
    assert verdict_text({"verdict": "error", "a": "model", "error": "refused"}) == "error: refused"
    assert (
        verdict_text({"verdict": "unclear", "a": "model", "reply": "I\nthink \x1b[2J"}) == 'unclear (A was model): "I think ␛[2J"'
    )
    judge = EvalJudge("ep-x", JUDGE_PROMPT, {"model": 12, "base": 5, "tie": 3, "unclear": 0, "error": 0})
    assert judge.line == "judge ep-x: model 12, base 5, tie 3, unclear 0, error 0"
    assert EvalJudge("ep-x", "", {"unclear": 2}).line == "judge ep-x: model 0, base 0, tie 0, unclear 2, error 0"
    assert EvalJudge("ep-x", "").line == "judge ep-x: not asked yet"  # still generating the answers


def _answers(text: str) -> tuple[str, str, str]:
    found = re.search(r"Reference answer:\n(.*)\n\nAnswer A:\n(.*)\n\nAnswer B:\n(.*)\n\nWhich", text, re.S)
    assert found, text
    return found.group(1), found.group(2), found.group(3)


ROWS = [
    ([{"role": "user", "content": "Capital of Ardovia?"}], "Kelmarsh"),
    ([{"role": "user", "content": "Capital of Brelland?"}], "Oskaven"),
    ([{"role": "user", "content": "Capital of Corvia?"}], "Tamsby"),
    ([{"role": "user", "content": "mumble"}], "x"),
    ([{"role": "user", "content": "boom"}], "y"),
    ([{"role": "user", "content": "Capital of Dunmere?"}], "Lorn"),
]
MODEL = ["Kelmarsh it is.", "It is Oskaven.", "No idea.", "?", "?", "Lorn"]
BASE = ["Paris.", "Madrid.", "Tamsby, surely.", "?", "?", "Lorn"]


def _judge(body: dict) -> str | int:
    """Deterministic: A when answer A holds the reference, B when B does, tie when both; odd cases by question."""
    text = body["messages"][-1]["content"]
    assert body["temperature"] == 0.0 and body["max_tokens"] == JUDGE_PARAMS.max_new_tokens
    if "Question:\nboom" in text:
        return 500
    if "Question:\nmumble" in text:
        return "Hard to say. " * 40  # unclear, and longer than what is kept
    reference, a, b = _answers(text)
    if reference in a and reference in b:
        return "Tie."
    return "A" if reference in a else "B"


def test_judge_rows_against_a_real_server_swaps_sides_and_survives_failures():
    with ChatServer(KEY, answer=_judge) as server:
        client = ChatClient(server.url + "/v1", KEY, timeout=30)
        steps = []
        verdicts = judge_rows(client, ROWS, MODEL, BASE, step=lambda: steps.append(1))
    assert len(steps) == len(ROWS) == server.requests
    assert [v.a for v in verdicts] == ["model", "base"] * 3  # row parity decides which side is A
    # row 2 (base is A) and row 3 (model is A): the verdict is about the side, not the letter
    assert [v.verdict for v in verdicts] == ["model", "model", "base", "unclear", "error", "tie"]
    assert verdicts[0].reply == "A" and verdicts[1].reply == "B" and verdicts[5].reply == "Tie."
    assert len(verdicts[3].reply) == RAW_LIMIT and verdicts[3].reply.startswith("Hard to say.")
    assert verdicts[4].error and "500" in verdicts[4].error and "\n" not in verdicts[4].error
    assert count(verdicts) == {"model": 2, "base": 1, "tie": 1, "unclear": 1, "error": 1}


def test_a_judge_that_refuses_rejects_the_key_or_hangs_gives_error_rows():
    with ChatServer("another-key") as server:  # 401 for every row: errors, no exception
        verdicts = judge_rows(ChatClient(server.url, KEY, timeout=30), ROWS[:2], MODEL[:2], BASE[:2])
    assert [v.verdict for v in verdicts] == ["error", "error"] and "endpoint rejected the key" in verdicts[0].error
    assert all(KEY not in (v.error or "") for v in verdicts)

    port = server.httpd.server_address[1]  # closed now: connection refused
    verdicts = judge_rows(ChatClient(f"http://127.0.0.1:{port}", KEY, timeout=30), ROWS[:3], MODEL[:3], BASE[:3])
    assert count(verdicts)["error"] == 3 and "could not connect" in verdicts[0].error

    release = threading.Event()

    def hang(body: dict) -> str:
        release.wait(30)  # answers only once the test is done with it
        return "A"

    with ChatServer(KEY, answer=hang) as server:
        try:
            verdicts = judge_rows(ChatClient(server.url, KEY, timeout=0.5), ROWS[:1], MODEL[:1], BASE[:1])
        finally:
            release.set()
    assert verdicts[0].verdict == "error" and "did not answer within 0.5 s" in verdicts[0].error


def test_the_judge_must_be_a_ready_endpoint_of_the_workspace(tmp_path):
    from finetui.core.local.backend import LocalBackend
    from finetui.core.local.evals import ready_judge
    from finetui.core.local.records import EndpointRecord
    from finetui.core.models import EndpointState

    backend = LocalBackend(tmp_path / "ws")
    with pytest.raises(InvalidInput, match=r"^--judge: endpoint name '\.\./x'"):
        ready_judge(backend.endpoints, "../x")
    with pytest.raises(NotFound, match="no endpoint named 'ep-none'"):
        ready_judge(backend.endpoints, "ep-none")
    backend.store.add_endpoint(
        EndpointRecord(
            name="ep-down",
            model="m:1",
            state=EndpointState.FAILED,
            host="127.0.0.1",
            port=9,
            base_url="http://127.0.0.1:9/v1",
            error="the server exited\nTraceback ...",
        )
    )
    with pytest.raises(InvalidInput) as refused:
        ready_judge(backend.endpoints, "ep-down")
    assert str(refused.value) == "--judge ep-down is Failed: the server exited (`finetui endpoint restart ep-down`)"
