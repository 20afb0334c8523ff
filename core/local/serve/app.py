"""The endpoint's HTTP routes (FastAPI): Azure's /score and OpenAI's chat completions.

Open: ``GET /health`` (liveness: the process answers) and ``GET /ready``
(readiness: 503 until the model has loaded), like Azure's probes. Everything
else, /metrics and /openapi.json included, needs ``Authorization: Bearer
<key>``; a missing or wrong key is a 401 whose body says nothing more.
Errors are ``{"error": {"message", "type", "code"}}``, the shape the
``openai`` client reads. A request still generating after
``request_timeout_ms`` ends with a 408 (or an error event in a stream) and
its generation stops; so does a stream whose client went away.

Stopping (SIGTERM) drains: new requests get 503, running answers get a
grace period, and the rest end with an error event (then ``[DONE]``) in a
stream or a 503 otherwise. Request lines go to ``requests.log`` (rotated,
set up by the server process), not the server log.
"""

# No `from __future__ import annotations` here: FastAPI reads the handlers' annotations
# (``request: Request``, imported inside build_app) as objects, not as strings.
import asyncio
import logging
import secrets
import threading
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any, AsyncIterator, Awaitable, Callable, Mapping

from .auth import OPEN_PATHS, KeyRing
from .engine import Engine, Event, GenRequest
from .limits import DISCARD_BYTES, MAX_BODY_BYTES, RETRY_AFTER_S, Admission, ClientGone, read_body
from .prom import Metrics
from .schemas import BadRequest, ChatRequest, parse_json, parse_openai, parse_score

if TYPE_CHECKING:
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("finetui.serve")
request_log = logging.getLogger("finetui.serve.requests")
DEFAULT_READ_TIMEOUT_S = 20.0
DEFAULT_MAX_QUEUE = 32
ACTIVE_PATHS = frozenset({"/score", "/v1/chat/completions", "/v1/models"})
ROUTES = frozenset({"/score", "/v1/chat/completions", "/v1/models", "/metrics", "/openapi.json", "/swagger", "/health", "/ready"})


class Activity:
    """In-flight count and time of the last request, for idle shutdown, draining and `endpoint list`."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.last_request_at: float | None = None
        self.started_at = time.time()
        self.ready_at: float | None = None  # idle time counts from here: loading is not idleness
        self.draining = False

    @property
    def idle_since(self) -> float | None:
        return self.last_request_at or self.ready_at


SCORE_EXAMPLE = {
    "input_data": {
        "input_string": [[{"role": "user", "content": "What is the capital of Croatia?"}]],
        "parameters": {"temperature": 0.6, "top_p": 0.9, "do_sample": True, "max_new_tokens": 200},
    },
    "params": {},
}
CHAT_EXAMPLE = {
    "model": "any",
    "messages": [{"role": "user", "content": "What is the capital of Croatia?"}],
    "temperature": 0.6,
    "top_p": 0.9,
    "max_tokens": 200,
    "stream": True,
}


def _body_doc(example: dict) -> dict:
    """A request body for the OpenAPI document (the routes check bodies by hand, see schemas)."""
    return {
        "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}, "example": example}}}
    }


class Relay:
    """Hands events from the generation thread to the event loop, one wake-up per batch.

    A decode step of a batch of 8 yields 8 events; waking the loop once for all
    of them (instead of once each) leaves more of the GIL to generation.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[tuple[asyncio.Queue, tuple]] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind(self) -> None:
        self._loop = asyncio.get_running_loop()

    def put(self, queue: asyncio.Queue, event: tuple) -> None:
        with self._lock:
            self._items.append((queue, event))
            if len(self._items) > 1:
                return  # a flush is already scheduled
        try:
            assert self._loop is not None
            self._loop.call_soon_threadsafe(self._flush)
        except RuntimeError:  # the loop is gone (shutting down)
            pass

    def _flush(self) -> None:
        with self._lock:
            items, self._items = self._items, []
        for queue, event in items:
            queue.put_nowait(event)


def _error(
    status: int,
    message: str,
    kind: str = "invalid_request_error",
    code: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> "JSONResponse":
    from fastapi.responses import JSONResponse

    return JSONResponse({"error": {"message": message, "type": kind, "code": code}}, status_code=status, headers=headers)


def _bad_request_response(exc: BadRequest) -> "JSONResponse":
    kind = "invalid_request_error" if exc.status < 500 and exc.status != 408 else "server_error"
    headers = {"Retry-After": str(RETRY_AFTER_S)} if exc.status in (429, 503) else None
    if exc.status in (408, 413):  # the rest of the body may still be on its way: do not reuse the connection
        headers = {"Connection": "close"}
    return _error(exc.status, exc.message, kind, exc.code, headers)


class Guard:
    """Pure ASGI middleware: key check, body-size check, metrics and the access log."""

    def __init__(self, app: "ASGIApp", keyring: KeyRing, metrics: Metrics, activity: Activity, read_timeout_s: float) -> None:
        self.app = app
        self.keyring = keyring
        self.metrics = metrics
        self.activity = activity
        self.read_timeout_s = read_timeout_s

    async def __call__(self, scope: "Scope", receive: "Receive", send: "Send") -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        route = path if path in ROUTES else "other"
        status = {"code": 500}

        async def send_and_note(message: "Message") -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        started = time.monotonic()
        self.metrics.request_started()
        keyed = path not in OPEN_PATHS
        # only use of the model counts as activity: a metrics scraper must not keep an idle endpoint up
        active = path in ACTIVE_PATHS and not self.activity.draining
        if path in ACTIVE_PATHS and self.activity.draining:
            response = _error(
                503,
                "the endpoint is stopping; retry shortly",
                "server_error",
                "stopping",
                {"Retry-After": str(RETRY_AFTER_S), "Connection": "close"},
            )
            try:
                await response(scope, receive, send_and_note)
                return
            finally:
                self._note(scope, path, route, status["code"], started)
        if active:
            self.activity.in_flight += 1
            self.activity.last_request_at = time.time()
        try:
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
            if keyed and not self.keyring.authorized(headers.get("authorization")):
                response = _error(401, "Unauthorized", "authentication_error")
                response.headers["WWW-Authenticate"] = "Bearer"
                await response(scope, receive, send_and_note)
                return
            length = headers.get("content-length")
            if length and length.isdigit() and int(length) > MAX_BODY_BYTES:
                too_big = BadRequest(f"request body is {int(length)} bytes; the limit is {MAX_BODY_BYTES}", 413, "too_large")
                if int(length) <= DISCARD_BYTES:
                    try:  # read it and drop it, so a client that writes everything before reading sees the 413
                        await read_body(receive, self.read_timeout_s)
                    except ClientGone:
                        status["code"] = 499
                        return
                    except BadRequest as exc:
                        too_big = exc if exc.status != 413 else too_big
                await _bad_request_response(too_big)(scope, receive, send_and_note)
                return
            await self.app(scope, receive, send_and_note)
        finally:
            if active:
                self.activity.in_flight -= 1
                self.activity.last_request_at = time.time()
            self._note(scope, path, route, status["code"], started)

    def _note(self, scope: "Scope", path: str, route: str, code: int, started: float) -> None:
        self.metrics.request_finished(route, code)
        # never the query string: a key put there by mistake must not reach the log
        ms = (time.monotonic() - started) * 1000
        request_log.info("%s %s %s %.0fms", scope.get("method"), path, code, ms)
        if code >= 500:
            log.warning("%s %s answered %s after %.0fms", scope.get("method"), path, code, ms)


def build_app(
    engine: Engine,
    keyring: KeyRing,
    *,
    name: str,
    model: str,
    request_timeout_ms: int,
    metrics: Metrics,
    activity: Activity,
    max_queue: int = DEFAULT_MAX_QUEUE,
    read_timeout_s: float = DEFAULT_READ_TIMEOUT_S,
) -> "FastAPI":
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse
    from starlette.exceptions import HTTPException

    app = FastAPI(title=f"finetui endpoint {name}", version="1", docs_url="/swagger", redoc_url=None)
    app.add_middleware(Guard, keyring=keyring, metrics=metrics, activity=activity, read_timeout_s=read_timeout_s)
    timeout_s = request_timeout_ms / 1000
    relay = Relay()
    admission = Admission(engine, max_queue)
    metrics.queue = admission

    async def start(conversation: list[dict[str, str]], chat: ChatRequest) -> tuple[GenRequest, asyncio.Queue]:
        relay.bind()
        queue: asyncio.Queue = asyncio.Queue()

        def emit(event: tuple) -> None:
            relay.put(queue, event)

        admission.preparing += 1
        try:
            # templating and tokenizing a long prompt takes a while: off the event loop, so probes keep answering
            prompt = await asyncio.to_thread(engine.encode_chat, conversation)
        except Exception as exc:  # templates may refuse shapes (e.g. roles that must alternate)
            raise BadRequest(f"the model's chat template refused these messages: {exc}") from None
        finally:
            admission.preparing -= 1
        room = engine.context_length - len(prompt)
        if room < 1:
            raise BadRequest(f"the prompt is {len(prompt)} tokens; the model's context is {engine.context_length}")
        params = chat.params
        if params.max_new_tokens > room:
            params = replace(params, max_new_tokens=room)
        req = GenRequest(prompt, params, emit, deadline=time.monotonic() + timeout_s, timeout_ms=request_timeout_ms)
        engine.submit(req)
        return req, queue

    async def next_event(req: GenRequest, queue: asyncio.Queue) -> Event:
        # the engine enforces the deadline between steps; this only guards a stuck step
        remaining = (req.deadline or 0) - time.monotonic() + 1.0
        try:
            return await asyncio.wait_for(queue.get(), timeout=max(remaining, 0.1))
        except asyncio.TimeoutError:
            req.cancel()
            return ("error", 408, f"request timed out after {request_timeout_ms} ms (request_timeout_ms)")

    async def collect(req: GenRequest, queue: asyncio.Queue) -> tuple[str, str, dict]:
        pieces = []
        try:
            while True:
                event = await next_event(req, queue)
                if event[0] == "text":
                    pieces.append(event[1])
                elif event[0] == "done":
                    return "".join(pieces), event[1], event[2]
                else:
                    raise BadRequest(event[2], event[1], "timeout" if event[1] == 408 else "server_error")
        finally:
            req.cancel()

    async def parsed(request: Request, parser: Callable[[Any, int], ChatRequest]) -> ChatRequest:
        if engine.state != "ready":
            detail = f": {engine.error}" if engine.error else "; retry when GET /ready answers 200"
            raise BadRequest(f"the model is {engine.state}{detail}", 503, "not_ready")
        try:
            body = await read_body(request.receive, read_timeout_s)
        except ClientGone:
            raise BadRequest("the client closed the connection before sending the whole body", 499, "client_closed") from None
        chat = parser(parse_json(body), engine.context_length)
        if not admission.admit(len(chat.conversations)):
            raise BadRequest(
                f"the endpoint is busy ({admission.queue_depth()} requests waiting, the queue holds "
                f"{admission.max_queue}); retry after {RETRY_AFTER_S} s",
                429,
                "queue_full",
            )
        return chat

    @app.exception_handler(BadRequest)
    async def bad_request(_request: Request, exc: BadRequest) -> JSONResponse:
        return _bad_request_response(exc)

    @app.exception_handler(HTTPException)
    async def no_route(request: Request, exc: HTTPException) -> JSONResponse:
        # unknown paths and methods answer in the same shape as every other error
        known = {
            404: ("not_found", f"no route {request.url.path}"),
            405: ("method_not_allowed", f"{request.method} is not allowed on {request.url.path}"),
        }
        code, message = known.get(exc.status_code, (None, str(exc.detail)))
        return _error(exc.status_code, message, code=code, headers=exc.headers)

    # response_model=None: FastAPI would otherwise take a return annotation as the response's schema
    @app.get("/health", include_in_schema=False, response_model=None)
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready", include_in_schema=False, response_model=None)
    async def ready() -> dict[str, str] | JSONResponse:
        if activity.draining:
            return JSONResponse({"status": "stopping", "error": None}, status_code=503)
        if engine.state == "ready":
            return {"status": "ready", "model": model}
        return JSONResponse({"status": engine.state, "error": engine.error}, status_code=503)

    @app.get("/metrics", response_class=PlainTextResponse)
    async def prometheus() -> PlainTextResponse:
        return PlainTextResponse(metrics.render(name), media_type="text/plain; version=0.0.4")

    @app.get("/v1/models", response_model=None)
    async def models() -> dict[str, Any]:
        return {
            "object": "list",
            "data": [{"id": model, "object": "model", "created": int(activity.started_at), "owned_by": "finetui"}],
        }

    @app.post("/score", openapi_extra=_body_doc(SCORE_EXAMPLE), response_model=None)
    async def score(request: Request) -> dict[str, Any]:
        chat = await parsed(request, parse_score)
        started: list[tuple[GenRequest, asyncio.Queue]] = []
        try:
            for conversation in chat.conversations:
                started.append(await start(conversation, chat))
            results = await asyncio.gather(*(collect(r, q) for r, q in started))
        finally:
            for r, _q in started:
                r.cancel()
        outputs = [text for text, _reason, _usage in results]
        if len(outputs) == 1:
            return {"output": outputs[0]}
        return {"output": outputs[0], "outputs": outputs}

    @app.post("/v1/chat/completions", openapi_extra=_body_doc(CHAT_EXAMPLE), response_model=None)
    async def chat_completions(request: Request) -> dict[str, Any] | StreamingResponse:
        chat = await parsed(request, parse_openai)
        ident = f"chatcmpl-{secrets.token_hex(12)}"
        created = int(time.time())
        req, queue = await start(chat.conversations[0], chat)
        if not chat.stream:
            text, reason, usage = await collect(req, queue)
            return {
                "id": ident,
                "object": "chat.completion",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": reason}],
                "usage": usage,
            }
        return StreamingResponse(
            _sse(req, queue, ident, created, model, chat.include_usage, next_event),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    return app


async def _sse(
    req: GenRequest,
    queue: asyncio.Queue,
    ident: str,
    created: int,
    model: str,
    include_usage: bool,
    next_event: Callable[[GenRequest, asyncio.Queue], Awaitable[Event]],
) -> AsyncIterator[str]:
    import json

    def chunk(delta: dict, reason: str | None = None, **extra: Any) -> str:
        body = {
            "id": ident,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": reason}],
            **extra,
        }
        if include_usage and "usage" not in extra:
            body["usage"] = None
        return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"

    try:
        yield chunk({"role": "assistant", "content": ""})
        event = None
        while True:
            event = event or await next_event(req, queue)
            if event[0] == "text":
                # tokens that queued up while we were writing go out as one chunk
                text, event = event[1], None
                while not queue.empty():
                    event = queue.get_nowait()
                    if event[0] != "text":
                        break
                    text, event = text + event[1], None
                yield chunk({"content": text})
                continue
            if event[0] == "done":
                yield chunk({}, event[1])
                if include_usage:
                    usage = {
                        "id": ident,
                        "object": "chat.completion.chunk",
                        "created": created,
                        "model": model,
                        "choices": [],
                        "usage": event[2],
                    }
                    yield f"data: {json.dumps(usage)}\n\n"
                yield "data: [DONE]\n\n"
                return
            else:
                kind = "timeout" if event[1] == 408 else "server_error"
                error = {"error": {"message": event[2], "type": kind, "code": event[1]}}
                yield f"data: {json.dumps(error)}\n\n"
                yield "data: [DONE]\n\n"  # the stream ends cleanly even when the answer did not
                return
    finally:
        req.cancel()  # finished, failed, or the client went away: stop generating
