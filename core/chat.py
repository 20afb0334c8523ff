"""Talking to a deployed chat model: streaming over OpenAI's protocol, or Azure's /score.

``ChatClient`` takes either a base URL (``http://host:port/v1``: OpenAI chat
completions, streamed as server-sent events) or a scoring URI (``.../score``:
Azure ML's MLflow chat deployments, which only answer whole, so the answer
arrives as one piece). It keeps the last raw request and response with the
key masked, and the last answer's time to first token and tokens/s.
HTTP failures become the project's typed errors: 401 is AuthError, other
4xx InvalidInput with the server's message, no connection OperationFailed.
"""

from __future__ import annotations

import difflib
import json
import time
from dataclasses import asdict, dataclass, fields, replace
from typing import TYPE_CHECKING, Any, AsyncIterator
from urllib.parse import urlsplit

from .errors import AuthError, InvalidInput, OperationFailed, quote

if TYPE_CHECKING:
    import httpx

KEY_ENV = "FINETUI_ENDPOINT_KEY"
_RAW_LIMIT = 64 * 1024


# OpenAI's names for the same settings, accepted where a user types parameters
_ALIASES = {"max_tokens": "max_new_tokens", "max_completion_tokens": "max_new_tokens"}


def _parse_value(key: str, value: str) -> Any:
    if key == "do_sample":
        if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise ValueError("use true or false")
        return value.lower() in ("true", "1", "yes")
    if key == "stop":
        return tuple(s for s in value.split(",") if s)
    try:
        number = int(value) if key in ("max_new_tokens", "seed") else float(value)
    except ValueError:
        raise ValueError("") from None  # Python's own wording ("invalid literal for int()") says nothing more
    if key == "max_new_tokens" and number < 1:
        raise ValueError("at least 1")
    if key == "temperature" and number < 0:
        raise ValueError("0 or more; 0 is greedy")
    if key == "top_p" and not 0 < number <= 1:
        raise ValueError("above 0, at most 1")
    return number


@dataclass(frozen=True)
class ChatParams:
    temperature: float = 0.6
    top_p: float = 0.9
    do_sample: bool = True
    max_new_tokens: int = 200
    stop: tuple[str, ...] = ()
    seed: int | None = None

    @property
    def greedy(self) -> bool:
        """Temperature 0 means greedy decoding, whatever do_sample says (as OpenAI's API has it)."""
        return not self.do_sample or self.temperature == 0

    def apply(self, assignments: str | list[str]) -> tuple["ChatParams", list[str]]:
        """``"temperature=0.2 max_tokens=64"`` (or a list of ``k=v``) applied to a copy, and one error per bad item.

        The good items on a line count even when another is wrong, so a typo
        does not silently undo the rest of what the user typed.
        """
        items = assignments.split() if isinstance(assignments, str) else list(assignments)
        names = [f.name for f in fields(self)]
        changes: dict[str, Any] = {}
        errors: list[str] = []
        for item in items:
            key, sep, value = item.partition("=")
            key = _ALIASES.get(key, key)
            if not sep or key not in names:
                close = difflib.get_close_matches(key, names + list(_ALIASES), n=1, cutoff=0.6)
                hint = f"did you mean {_ALIASES.get(close[0], close[0])}? " if close and sep else ""
                errors.append(f"parameter {quote(item)}: {hint}use KEY=VALUE with KEY one of {', '.join(names)}")
                continue
            try:
                changes[key] = _parse_value(key, value)
            except ValueError as exc:
                errors.append(f"parameter {quote(key)}: {quote(value)} is not a valid value{f' ({exc})' if str(exc) else ''}")
        if changes.get("temperature") == 0 and "do_sample" not in changes:
            changes["do_sample"] = False  # say what temperature 0 means, in /params and in the request
        return replace(self, **changes), errors

    def updated(self, assignments: str | list[str]) -> "ChatParams":
        """Like ``apply``, all or nothing: the first bad item raises InvalidInput."""
        params, errors = self.apply(assignments)
        if errors:
            raise InvalidInput(errors[0])
        return params

    def score_parameters(self) -> dict[str, Any]:
        return {
            "temperature": self.temperature,
            "top_p": self.top_p,
            "do_sample": not self.greedy,
            "max_new_tokens": self.max_new_tokens,
            **self._stop_and_seed(),
        }

    def openai_parameters(self) -> dict[str, Any]:
        return {
            "temperature": 0.0 if self.greedy else self.temperature,
            "top_p": self.top_p,
            "max_tokens": self.max_new_tokens,
            **self._stop_and_seed(),
        }

    def _stop_and_seed(self) -> dict[str, Any]:
        """Both protocols name these alike, and leave them out when unset."""
        out: dict[str, Any] = {}
        if self.stop:
            out["stop"] = list(self.stop)
        if self.seed is not None:
            out["seed"] = self.seed
        return out


@dataclass(frozen=True)
class ChatStats:
    protocol: str
    ttft_s: float | None
    elapsed_s: float
    tokens: int | None
    finish_reason: str | None = None

    @property
    def tokens_per_s(self) -> float | None:
        if not self.tokens or self.ttft_s is None:
            return None
        decode = self.elapsed_s - self.ttft_s
        # the first token came with the prefill; the rate is over the ones after it
        return (self.tokens - 1) / decode if self.tokens > 1 and decode > 0 else None


def mask(text: str, key: str) -> str:
    return text.replace(key, "***") if key else text


def _server_message(resp: Any) -> str:
    try:
        body = resp.json()
    except ValueError:
        return (resp.text or resp.reason_phrase or "").strip()[:300]
    if isinstance(body, dict):
        err = body.get("error", body.get("detail", body.get("message")))
        if isinstance(err, dict):
            err = err.get("message")
        if err:
            return str(err)[:300]
    return json.dumps(body)[:300]


def raise_for_response(resp: Any, url: str, endpoint: str | None = None) -> None:
    """Map an HTTP error answer to the project's typed errors (the key is never in the message)."""
    status = resp.status_code
    if status < 400:
        return
    if status in (401, 403):
        raise AuthError(f"the endpoint rejected the key; run `finetui endpoint keys {endpoint or 'NAME'}`")
    message = _server_message(resp)
    if status in (408, 504):
        raise OperationFailed(f"{url}: the request timed out ({status}): {message}")
    if 400 <= status < 500:
        raise InvalidInput(f"{url}: {message} ({status})")
    raise OperationFailed(f"{url} answered {status}: {message}")


class ChatClient:
    def __init__(
        self,
        url: str,
        key: str,
        protocol: str = "auto",
        timeout: float = 120.0,
        *,
        endpoint: str | None = None,
        transport: Any = None,
    ) -> None:
        if protocol not in ("auto", "openai", "score"):
            raise InvalidInput(f"protocol {quote(protocol)}: use openai, score or auto")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise InvalidInput(f"endpoint URL {quote(url)}: expected http(s)://host[:port]/...")
        path = parts.path.rstrip("/")
        if protocol == "auto":
            protocol = "score" if path.endswith("/score") else "openai"
        if protocol == "openai":
            if path.endswith("/chat/completions"):
                path = path[: -len("/chat/completions")]
            elif not path.endswith("/v1"):
                path += "/v1"
            self.url = f"{parts.scheme}://{parts.netloc}{path}/chat/completions"
        else:
            self.url = f"{parts.scheme}://{parts.netloc}{path}"
        self.protocol = protocol
        self.endpoint = endpoint
        self._key = key
        self._timeout = timeout
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self.last_request: dict[str, Any] | None = None
        self.last_response: dict[str, Any] | None = None
        self.last_stats: ChatStats | None = None

    def __repr__(self) -> str:
        return f"ChatClient(url={self.url!r}, protocol={self.protocol!r}, key='***')"

    async def __aenter__(self) -> "ChatClient":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def _http(self) -> httpx.AsyncClient:
        import httpx

        if self._client is None:
            self._client = httpx.AsyncClient(timeout=httpx.Timeout(self._timeout, connect=10.0), transport=self._transport)
        return self._client

    def _body(self, messages: list[dict[str, str]], params: ChatParams) -> dict[str, Any]:
        if self.protocol == "score":
            return {"input_data": {"input_string": [messages], "parameters": params.score_parameters()}, "params": {}}
        return {"messages": messages, "stream": True, "stream_options": {"include_usage": True}, **params.openai_parameters()}

    def _remember_request(self, body: dict[str, Any]) -> None:
        self.last_request = {
            "method": "POST",
            "url": self.url,
            "headers": {"Authorization": "Bearer ***", "Content-Type": "application/json"},
            "json": json.loads(mask(json.dumps(body), self._key)),
        }

    async def complete(self, messages: list[dict[str, str]], params: ChatParams | None = None) -> str:
        return "".join([piece async for piece in self.stream(messages, params)])

    async def stream(self, messages: list[dict[str, str]], params: ChatParams | None = None) -> AsyncIterator[str]:
        """Yield the answer's text as it arrives (one piece for /score)."""
        import httpx

        params = params or ChatParams()
        body = self._body(messages, params)
        self._remember_request(body)
        self.last_response = None
        headers = {"Authorization": f"Bearer {self._key}"}
        started = time.monotonic()
        try:
            async with self._http().stream("POST", self.url, json=body, headers=headers) as resp:
                if resp.status_code >= 400:
                    await resp.aread()
                    self._remember_response(resp.status_code, resp.text)
                    raise_for_response(resp, self.url, self.endpoint)
                if self.protocol == "score":
                    raw = (await resp.aread()).decode("utf-8", "replace")
                    self._remember_response(resp.status_code, raw)
                    text = self._score_output(raw)
                    self.last_stats = ChatStats("score", time.monotonic() - started, time.monotonic() - started, None)
                    if text:
                        yield text
                    return
                async for piece in self._sse(resp, started):
                    yield piece
        except httpx.ConnectError:
            raise OperationFailed(
                f"could not connect to {self.url}; is the endpoint running? (`finetui endpoint list`)"
            ) from None
        except httpx.TimeoutException:
            raise OperationFailed(f"{self.url} did not answer within {self._timeout:g} s") from None
        except httpx.HTTPError as exc:
            raise OperationFailed(f"{self.url}: {type(exc).__name__}: {mask(str(exc), self._key)}") from None

    def _remember_response(self, status: int, text: str) -> None:
        self.last_response = {"status": status, "body": mask(text[:_RAW_LIMIT], self._key)}

    def _score_output(self, raw: str) -> str:
        try:
            data = json.loads(raw)
        except ValueError:
            raise OperationFailed(f"{self.url} answered something that is not JSON: {raw[:200]!r}") from None
        if isinstance(data, dict) and isinstance(output := data.get("output"), str):
            return output
        if isinstance(data, list) and data and isinstance(data[0], dict) and "0" in data[0]:
            return str(data[0]["0"])  # pandas-orient answers of some MLflow deployments
        if isinstance(data, str):
            return data
        raise OperationFailed(f"{self.url} answered without an 'output' field: {raw[:200]!r}")

    async def _sse(self, resp: Any, started: float) -> AsyncIterator[str]:
        raw: list[str] = []
        first: float | None = None
        pieces = 0
        usage_tokens: int | None = None
        reason: str | None = None
        try:
            async for line in resp.aiter_lines():
                if sum(map(len, raw)) < _RAW_LIMIT:
                    raw.append(line)
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    continue  # read on to the end of the body so the connection is released cleanly
                try:
                    event = json.loads(data)
                except ValueError:
                    raise OperationFailed(f"{self.url} sent an event that is not JSON: {data[:200]!r}") from None
                if event.get("error"):
                    err = event["error"]
                    raise OperationFailed(f"{self.url}: {err.get('message') if isinstance(err, dict) else err}")
                if event.get("usage"):
                    usage_tokens = event["usage"].get("completion_tokens")
                for choice in event.get("choices") or []:
                    reason = choice.get("finish_reason") or reason
                    content = (choice.get("delta") or {}).get("content")
                    if content:
                        if first is None:
                            first = time.monotonic() - started
                        pieces += 1
                        yield content
        finally:
            self._remember_response(resp.status_code, "\n".join(raw))
            self.last_stats = ChatStats(
                "openai", first, time.monotonic() - started, usage_tokens if usage_tokens is not None else pieces, reason
            )


def stats_line(stats: ChatStats | None) -> str:
    if stats is None:
        return ""
    parts = []
    if stats.ttft_s is not None:
        parts.append(f"first token {stats.ttft_s * 1000:.0f} ms")
    if stats.tokens is not None:
        parts.append(f"{stats.tokens} tokens")
    if stats.tokens_per_s is not None:
        parts.append(f"{stats.tokens_per_s:.1f} tokens/s")
    parts.append(f"{stats.elapsed_s:.2f} s")
    if stats.finish_reason == "length":
        parts.append("cut off at the token limit (max_new_tokens)")
    return " · ".join(parts)


def to_dict(stats: ChatStats | None) -> dict[str, Any] | None:
    if stats is None:
        return None
    return {**asdict(stats), "tokens_per_s": stats.tokens_per_s}


__all__ = ["ChatClient", "ChatParams", "ChatStats", "KEY_ENV", "raise_for_response", "stats_line", "to_dict"]
