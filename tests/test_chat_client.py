"""The chat client against canned HTTP answers (httpx's MockTransport: the edge, not our code)."""

from __future__ import annotations

import json

import httpx
import pytest

from finetui.core.chat import ChatClient, ChatParams, ChatStats, stats_line
from finetui.core.errors import AuthError, InvalidInput, OperationFailed

USER = [{"role": "user", "content": "hi"}]


def client_for(url, handler, **kw):
    return ChatClient(url, "sekrit-key", transport=httpx.MockTransport(handler), **kw)


def test_params_parse_assignments_and_reject_unknown_keys():
    p = ChatParams().updated("temperature=0.2 max_new_tokens=64 do_sample=false stop=###,END seed=3")
    assert (p.temperature, p.max_new_tokens, p.do_sample, p.stop, p.seed) == (0.2, 64, False, ("###", "END"), 3)
    assert p.openai_parameters()["temperature"] == 0.0  # greedy over the OpenAI protocol
    assert ChatParams().score_parameters() == {"temperature": 0.6, "top_p": 0.9, "do_sample": True, "max_new_tokens": 200}
    with pytest.raises(InvalidInput, match="KEY=VALUE"):
        ChatParams().updated("beams=3")
    with pytest.raises(InvalidInput, match="max_new_tokens"):
        ChatParams().updated(["max_new_tokens=lots"])


def test_urls_pick_the_protocol():
    assert ChatClient("http://h:1/v1", "k").url == "http://h:1/v1/chat/completions"
    assert ChatClient("http://h:1", "k").url == "http://h:1/v1/chat/completions"
    score = ChatClient("https://x.inference.ml.azure.com/score", "k")
    assert score.protocol == "score" and score.url.endswith("/score")
    with pytest.raises(InvalidInput):
        ChatClient("ftp://h/score", "k")


async def test_score_answers_arrive_whole_and_the_key_is_masked():
    seen = {}

    def handler(request):
        seen["auth"] = request.headers["authorization"]
        seen["body"] = json.loads(request.content)
        return httpx.Response(200, json={"output": "Zagreb."})

    async with client_for("http://h/score", handler) as c:
        assert [p async for p in c.stream(USER, ChatParams(max_new_tokens=5))] == ["Zagreb."]
    assert seen["auth"] == "Bearer sekrit-key"
    assert seen["body"]["input_data"]["input_string"] == [USER] and seen["body"]["params"] == {}
    assert "sekrit-key" not in json.dumps([c.last_request, c.last_response])


async def test_sse_pieces_usage_and_error_events():
    def events(*objs):
        return "".join(f"data: {json.dumps(o)}\n\n" for o in objs) + "data: [DONE]\n\n"

    body = events(
        {"choices": [{"delta": {"role": "assistant", "content": ""}}]},
        {"choices": [{"delta": {"content": "Za"}}]},
        {"choices": [{"delta": {"content": "greb"}, "finish_reason": "stop"}]},
        {"choices": [], "usage": {"completion_tokens": 3}},
    )
    async with client_for("http://h/v1", lambda r: httpx.Response(200, text=body)) as c:
        assert [p async for p in c.stream(USER)] == ["Za", "greb"]
        assert c.last_stats.tokens == 3 and c.last_stats.finish_reason == "stop"
    failing = events({"choices": [{"delta": {"content": "x"}}]}, {"error": {"message": "request timed out after 5 ms"}})
    async with client_for("http://h/v1", lambda r: httpx.Response(200, text=failing)) as c:
        with pytest.raises(OperationFailed, match="timed out after 5 ms"):
            await c.complete(USER)


@pytest.mark.parametrize(
    "status, error, needle",
    [
        (401, AuthError, "finetui endpoint keys ep"),
        (403, AuthError, "rejected the key"),
        (400, InvalidInput, "top_p: 2 is out of range"),
        (408, OperationFailed, "timed out"),
        (503, OperationFailed, "answered 503"),
    ],
)
async def test_http_errors_become_typed_errors(status, error, needle):
    def handler(request):
        return httpx.Response(status, json={"error": {"message": "top_p: 2 is out of range"}})

    async with client_for("http://h/v1", handler, endpoint="ep") as c:
        with pytest.raises(error, match=needle) as exc:
            await c.complete(USER)
    assert "sekrit-key" not in str(exc.value)


def test_stats_line_and_rate():
    stats = ChatStats("openai", ttft_s=0.05, elapsed_s=1.05, tokens=21)
    assert stats.tokens_per_s == pytest.approx(20.0)
    assert stats_line(stats) == "first token 50 ms · 21 tokens · 20.0 tokens/s · 1.05 s"
