"""Request bodies of /score and /v1/chat/completions, checked by hand.

Checking by hand (not pydantic models) lets every error name the exact
field, e.g. ``input_data.input_string[0][1].role: unknown role 'bot'``, in
the same JSON error shape on both routes.

/score takes Azure ML's chat-completion shape::

    {"input_data": {"input_string": [[{"role": "user", "content": "..."}]],
                    "parameters": {"temperature": 0.6, "top_p": 0.9, "do_sample": true, "max_new_tokens": 200}},
     "params": {}}

``input_string`` is a list of conversations, or one conversation given as a
flat list of messages. One conversation answers ``{"output": "..."}``;
several answer ``{"output": <first>, "outputs": [<each, in order>]}``.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from .engine import GenParams

ROLES = ("system", "user", "assistant")
SCORE_PARAMETERS = ("temperature", "top_p", "do_sample", "max_new_tokens", "stop", "seed", "return_full_text")
MAX_CONVERSATIONS = 16
MAX_STOP = 4
_SURROGATE = re.compile("[\ud800-\udfff]")


class BadRequest(Exception):
    def __init__(self, message: str, status: int = 400, code: str = "invalid_request") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code


@dataclass(frozen=True)
class ChatRequest:
    conversations: list[list[dict[str, str]]]
    params: GenParams
    stream: bool = False
    include_usage: bool = False
    model: str | None = None


def parse_json(body: bytes) -> Any:
    if not body.strip():
        raise BadRequest("request body is empty; send a JSON object")
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"request body is not valid JSON: {exc}") from None
    except RecursionError:
        raise BadRequest("request body is nested too deeply; send messages as a flat list of objects") from None


def _text(value: str, where: str) -> str:
    """A string that can be encoded: JSON's \\ud800 escapes give lone surrogates, which no tokenizer takes."""
    bad = _SURROGATE.search(value)
    if bad:
        raise BadRequest(
            f"{where}: invalid text: lone surrogate U+{ord(bad.group()):04X} at character {bad.start()}; "
            "send UTF-8 text (escape pairs only as a full surrogate pair)"
        )
    return value


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadRequest(f"{where}: expected a JSON object, got {_kind(value)}")
    return value


def _kind(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise BadRequest(f"{where}: expected a number, got {_kind(value)}")
    return float(value)


def _integer(value: object, where: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise BadRequest(f"{where}: expected a whole number, got {_kind(value)}")
    if not low <= value <= high:
        raise BadRequest(f"{where}: {value} is out of range; use {low}..{high}")
    return value


def messages(value: Any, where: str) -> list[dict[str, str]]:
    if not isinstance(value, list) or not value:
        raise BadRequest(f"{where}: expected a non-empty list of {{role, content}} messages")
    out = []
    for i, m in enumerate(value):
        at = f"{where}[{i}]"
        if not isinstance(m, dict):
            raise BadRequest(f"{at}: expected a {{role, content}} object, got {_kind(m)}")
        role, content = m.get("role"), m.get("content")
        if role == "developer":  # OpenAI's newer name for the system role
            role = "system"
        if role not in ROLES:
            raise BadRequest(f"{at}.role: unknown role {role!r}; use one of {', '.join(ROLES)}")
        if isinstance(content, list):  # OpenAI content parts: keep the text ones
            texts = [
                p["text"] for p in content if isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str)
            ]
            if len(texts) != len(content):
                raise BadRequest(f"{at}.content: only text content parts are supported")
            content = "".join(texts)
        if not isinstance(content, str):
            raise BadRequest(f"{at}.content: expected a string, got {_kind(content)}")
        out.append({"role": role, "content": _text(content, f"{at}.content")})
    if out[-1]["role"] == "assistant":
        raise BadRequest(f"{where}: the last message is from the assistant; end with a user message")
    return out


def _stop(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(s, str) and s for s in value) or len(value) > MAX_STOP:
        raise BadRequest(f"{where}: expected a string or a list of at most {MAX_STOP} non-empty strings")
    return tuple(_text(s, where) for s in value)


def _gen_params(p: dict[str, Any], where: str, context: int, *, max_key: str, temp_max: float) -> GenParams:
    kw: dict[str, Any] = {}
    if p.get("temperature") is not None:
        t = _number(p["temperature"], f"{where}temperature")
        if not 0 <= t <= temp_max:
            raise BadRequest(f"{where}temperature: {t} is out of range; use 0..{temp_max:g}")
        kw["temperature"] = t
    if p.get("top_p") is not None:
        tp = _number(p["top_p"], f"{where}top_p")
        if not 0 < tp <= 1:
            raise BadRequest(f"{where}top_p: {tp} is out of range; use a value in (0, 1]")
        kw["top_p"] = tp
    if p.get(max_key) is not None:
        kw["max_new_tokens"] = _integer(p[max_key], f"{where}{max_key}", 1, context)
    if p.get("seed") is not None:
        kw["seed"] = _integer(p["seed"], f"{where}seed", -(2**63), 2**63 - 1)
    kw["stop"] = _stop(p.get("stop"), f"{where}stop")
    return GenParams(**kw)


def parse_score(obj: Any, context: int) -> ChatRequest:
    body = _object(obj, "request body")
    if "input_data" not in body:
        raise BadRequest('input_data: missing; send {"input_data": {"input_string": [[messages]], "parameters": {}}}')
    data = _object(body["input_data"], "input_data")
    if "input_string" not in data:
        raise BadRequest("input_data.input_string: missing; give a list of conversations (lists of messages)")
    raw = data["input_string"]
    if not isinstance(raw, list) or not raw:
        raise BadRequest("input_data.input_string: expected a non-empty list of conversations")
    if all(isinstance(m, dict) for m in raw):
        conversations = [messages(raw, "input_data.input_string")]
    else:
        if len(raw) > MAX_CONVERSATIONS:
            raise BadRequest(f"input_data.input_string: {len(raw)} conversations; at most {MAX_CONVERSATIONS} per request")
        conversations = [messages(c, f"input_data.input_string[{i}]") for i, c in enumerate(raw)]
    params: dict[str, Any] = {}
    for key in ("params", None):
        source = body.get("params") if key else data.get("parameters")
        where = "params" if key else "input_data.parameters"
        if source is None:
            continue
        source = _object(source, where)
        unknown = sorted(set(source) - set(SCORE_PARAMETERS))
        if unknown:
            raise BadRequest(f"{where}.{unknown[0]}: unknown parameter; use {', '.join(SCORE_PARAMETERS)}")
        params.update(source)  # input_data.parameters (read last) wins
    gen = _gen_params(params, "input_data.parameters.", context, max_key="max_new_tokens", temp_max=100.0)
    if "do_sample" in params:
        if not isinstance(params["do_sample"], bool):
            raise BadRequest("input_data.parameters.do_sample: expected true or false")
        gen = GenParams(**{**gen.__dict__, "do_sample": params["do_sample"]})
    return ChatRequest(conversations, gen)


def parse_openai(obj: Any, context: int) -> ChatRequest:
    body = _object(obj, "request body")
    if "messages" not in body:
        raise BadRequest("messages: missing; give a list of {role, content} messages")
    conv = messages(body["messages"], "messages")
    n = body.get("n")
    if n is not None and n != 1:
        raise BadRequest("n: only n=1 is supported")
    max_key = "max_completion_tokens" if body.get("max_completion_tokens") is not None else "max_tokens"
    gen = _gen_params(body, "", context, max_key=max_key, temp_max=2.0)
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise BadRequest("stream: expected true or false")
    options = body.get("stream_options") or {}
    options = _object(options, "stream_options")
    model = body.get("model")
    if model is not None and not isinstance(model, str):
        raise BadRequest("model: expected a string")
    return ChatRequest([conv], gen, stream=stream, include_usage=bool(options.get("include_usage")), model=model)
