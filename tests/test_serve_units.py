"""Pieces of the endpoint server that need no process: text streaming, request checking, keys, metrics."""

from __future__ import annotations

import json
import os
import stat

import pytest

from finetui.core.local.serve.auth import KeyRing, read_keys, write_keys
from finetui.core.local.serve.prom import Metrics
from finetui.core.local.serve.schemas import BadRequest, parse_json, parse_openai, parse_score
from finetui.core.local.serve.textstream import TextStream


def byte_stream(stop=()):
    """Each token is one UTF-8 byte, as with a byte-level tokenizer without merges."""
    return TextStream(lambda ids: bytes(ids).decode("utf-8", "replace"), stop)


def feed(stream, text):
    return [stream.push(b) for b in text.encode()]


def test_multibyte_characters_are_never_split():
    s = byte_stream()
    pieces = feed(s, "čaj 🍵!")
    assert "".join(pieces) + s.finish() == "čaj 🍵!"
    assert all("\ufffd" not in p for p in pieces)
    assert pieces[0] == ""  # first byte of "č" is held until the second arrives


def test_stop_string_spanning_pieces_is_cut_and_never_sent():
    s = byte_stream(stop=("<END>",))
    sent = "".join(feed(s, "hello <EN"))
    assert sent == "hello "  # "<EN" might become the stop string: held back
    sent += "".join(feed(s, "D> ignored"))
    assert s.stopped and sent + s.finish() == "hello "


def test_held_back_prefix_is_released_when_it_is_not_a_stop():
    s = byte_stream(stop=("<END>",))
    assert "".join(feed(s, "a <E")) == "a "
    assert "".join(feed(s, "x")) == "<Ex"
    assert not s.stopped


SAMPLE = {
    "input_data": {
        "input_string": [
            [
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Hello"},
                {"role": "user", "content": "Tell me more"},
            ]
        ],
        "parameters": {"temperature": 0.6, "top_p": 0.9, "do_sample": True, "max_new_tokens": 200},
    },
    "params": {},
}


def test_score_sample_shape_and_flat_list():
    req = parse_score(SAMPLE, 1024)
    assert len(req.conversations) == 1 and req.params.max_new_tokens == 200 and req.params.do_sample
    flat = parse_score({"input_data": {"input_string": [{"role": "user", "content": "x"}]}}, 1024)
    assert flat.conversations == [[{"role": "user", "content": "x"}]]
    greedy = parse_score(
        {"input_data": {"input_string": [{"role": "user", "content": "x"}], "parameters": {"do_sample": False}}}, 64
    )
    assert greedy.params.greedy


@pytest.mark.parametrize(
    "body, needle",
    [
        ({}, "input_data: missing"),
        ({"input_data": []}, "input_data: expected a JSON object"),
        ({"input_data": {}}, "input_string: missing"),
        ({"input_data": {"input_string": "hi"}}, "non-empty list of conversations"),
        ({"input_data": {"input_string": [[{"role": "bot", "content": "x"}]]}}, "input_string[0][0].role: unknown role 'bot'"),
        ({"input_data": {"input_string": [[{"role": "user", "content": 3}]]}}, "content: expected a string"),
        ({"input_data": {"input_string": [["hi"]]}}, "input_string[0][0]: expected a {role, content} object"),
        (
            {"input_data": {"input_string": [{"role": "user", "content": "x"}], "parameters": {"max_new_tokens": 0}}},
            "max_new_tokens: 0 is out of range",
        ),
        (
            {"input_data": {"input_string": [{"role": "user", "content": "x"}], "parameters": {"max_new_tokens": 5000}}},
            "out of range; use 1..1024",
        ),
        (
            {"input_data": {"input_string": [{"role": "user", "content": "x"}], "parameters": {"temperature": -1}}},
            "temperature: -1.0 is out of range",
        ),
        (
            {"input_data": {"input_string": [{"role": "user", "content": "x"}], "parameters": {"top_p": 0}}},
            "top_p: 0.0 is out of range",
        ),
        (
            {"input_data": {"input_string": [{"role": "user", "content": "x"}], "parameters": {"top_p": 1.5}}},
            "top_p: 1.5 is out of range",
        ),
        (
            {"input_data": {"input_string": [{"role": "user", "content": "x"}], "parameters": {"beams": 3}}},
            "parameters.beams: unknown parameter",
        ),
        (
            {"input_data": {"input_string": [{"role": "user", "content": "x"}], "parameters": {"do_sample": "yes"}}},
            "do_sample: expected true or false",
        ),
    ],
)
def test_score_errors_name_the_field(body, needle):
    with pytest.raises(BadRequest) as exc:
        parse_score(body, 1024)
    assert needle in exc.value.message and exc.value.status == 400


@pytest.mark.parametrize(
    "body, needle",
    [
        ({}, "messages: missing"),
        ({"messages": []}, "messages: expected a non-empty list"),
        ({"messages": [{"role": "user", "content": "x"}], "n": 2}, "only n=1"),
        ({"messages": [{"role": "user", "content": "x"}], "max_tokens": -5}, "max_tokens: -5 is out of range"),
        ({"messages": [{"role": "user", "content": "x"}], "temperature": 3}, "temperature: 3.0 is out of range; use 0..2"),
        ({"messages": [{"role": "user", "content": "x"}], "stop": [""]}, "stop: expected a string or a list"),
        ({"messages": [{"role": "user", "content": "x"}], "stream": "yes"}, "stream: expected true or false"),
        ({"messages": [{"role": "assistant", "content": "x"}]}, "end with a user message"),
    ],
)
def test_openai_errors_name_the_field(body, needle):
    with pytest.raises(BadRequest) as exc:
        parse_openai(body, 1024)
    assert needle in exc.value.message


def test_openai_accepts_content_parts_and_temperature_zero_is_greedy():
    req = parse_openai(
        {
            "messages": [{"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}],
            "temperature": 0,
            "stop": "x",
            "stream": True,
            "stream_options": {"include_usage": True},
        },
        1024,
    )
    assert req.conversations[0][0]["content"] == "ab" and req.params.greedy and req.params.stop == ("x",)
    assert req.stream and req.include_usage


def test_invalid_json_is_a_bad_request():
    with pytest.raises(BadRequest, match="not valid JSON"):
        parse_json(b"{nope")
    with pytest.raises(BadRequest, match="empty"):
        parse_json(b"  ")


def test_keys_file_is_private_and_reloaded_on_change(tmp_path):
    path = tmp_path / "keys.json"
    write_keys(path, "k1", "k2")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    ring = KeyRing(path)
    assert ring.authorized("Bearer k1") and ring.authorized("bearer k2")
    for bad in (None, "", "Bearer", "Bearer ", "k1", "Basic k1", "Bearer k3"):
        assert not ring.authorized(bad)
    write_keys(path, "k9", "k2")
    assert not ring.authorized("Bearer k1") and ring.authorized("Bearer k9")
    assert read_keys(path) == ("k9", "k2") and json.loads(path.read_text())["primary"] == "k9"
    assert [p.name for p in tmp_path.iterdir()] == ["keys.json"]  # no temporary files left
    path.unlink()
    assert not ring.authorized("Bearer k9")


def test_metrics_render_prometheus_text():
    m = Metrics()
    m.request_started()
    m.request_finished("/score", 200)
    m.observe_ttft(0.02)
    m.add_tokens(5)
    text = m.render("ep")
    assert 'finetui_requests_total{endpoint="ep",route="/score",status="200"} 1' in text
    assert 'finetui_time_to_first_token_seconds_bucket{endpoint="ep",le="0.025"} 1' in text
    assert 'finetui_generated_tokens_total{endpoint="ep"} 5' in text
    assert "finetui_requests_in_flight" in text and "finetui_tokens_per_second" in text
