"""Drive the real azure-ai-ml SDK against canned HTTP answers.

Two kinds of server sit behind one ``requests`` adapter:

* ``Recording``: a test-proxy session file served back by (method, path),
  in order, re-serving the last answer once a path's queue runs dry.
* any callable ``handler(FakeRequest) -> (status, headers, body)``, such as
  the stateful ``FakeAzure`` in azure_fake.py.

The adapter is mounted into the ``requests.Session`` behind the SDK's
``RequestsTransport`` and, because blob uploads build their own sessions,
``requests.adapters.HTTPAdapter.send`` is routed to it as well.
"""

from __future__ import annotations

import base64
import json
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs, unquote, urlsplit

import requests
from requests.adapters import BaseAdapter, HTTPAdapter
from requests.structures import CaseInsensitiveDict

RECORDINGS = Path(__file__).resolve().parents[2] / ".." / "shared" / "azure-recordings"


@dataclass
class FakeRequest:
    method: str
    url: str
    host: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")


Reply = tuple  # (status, headers, body): body is bytes, str, or JSON-able
Handler = Callable[[FakeRequest], Reply]


def to_fake_request(prepared: requests.PreparedRequest) -> FakeRequest:
    parts = urlsplit(prepared.url)
    body = prepared.body
    if body is None:
        data = b""
    elif isinstance(body, str):
        data = body.encode()
    elif isinstance(body, (bytes, bytearray)):
        data = bytes(body)
    else:  # a stream (blob uploads send file objects)
        data = body.read() if hasattr(body, "read") else b"".join(body)
    query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
    return FakeRequest(
        prepared.method.upper(), prepared.url, parts.hostname or "", unquote(parts.path), query, dict(prepared.headers), data
    )


class DispatchAdapter(BaseAdapter):
    """A requests adapter answering every request from ``handler``."""

    def __init__(self, handler: Handler) -> None:
        super().__init__()
        self.handler = handler

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        status, headers, body = self.handler(to_fake_request(request))
        if body is None:
            raw = b""
        elif isinstance(body, bytes):
            raw = body
        elif isinstance(body, str):
            raw = body.encode()
        else:
            raw = json.dumps(body).encode()
            headers = {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
        response = requests.Response()
        response.status_code = status
        response.headers = CaseInsensitiveDict(headers or {})
        response.headers["Content-Length"] = str(len(raw))
        response._content = raw
        response._content_consumed = True
        response.url = request.url
        response.request = request
        response.reason = "OK" if status < 400 else "Error"
        response.encoding = "utf-8"
        import io

        response.raw = io.BytesIO(raw)
        return response

    def close(self) -> None:
        pass


def install(monkeypatch, handler: Handler, passthrough_hosts: tuple[str, ...] = ()):
    """Route every ``requests`` call in the process to ``handler``; return a transport for the SDK.

    Hosts in ``passthrough_hosts`` (e.g. 127.0.0.1) still reach real sockets.
    """
    from azure.core.pipeline.transport import RequestsTransport

    adapter = DispatchAdapter(handler)
    real_send = HTTPAdapter.send

    def routed(self, request, *args, **kwargs):
        host = urlsplit(request.url).hostname or ""
        if host in passthrough_hosts:
            return real_send(self, request, *args, **kwargs)
        return adapter.send(request, *args, **kwargs)

    monkeypatch.setattr(HTTPAdapter, "send", routed)
    session = requests.Session()
    session.mount("https://", adapter)
    session.mount("http://", adapter)

    class NoSleepTransport(RequestsTransport):
        """Polls and retries happen at once; the delays asked for are kept for assertions."""

        slept: list[float] = []

        def sleep(self, duration):
            self.slept.append(duration)

    transport = NoSleepTransport(session=session, session_owner=False)
    transport.slept = []
    return transport


# -- recordings ---------------------------------------------------------------
@dataclass
class Recording:
    """Recorded answers keyed by (method, path); host and query are ignored."""

    queues: dict[tuple[str, str], deque] = field(default_factory=lambda: defaultdict(deque))
    last: dict[tuple[str, str], dict] = field(default_factory=dict)
    served: list[tuple[str, str, int]] = field(default_factory=list)
    requests: list[FakeRequest] = field(default_factory=list)
    fallback: Handler | None = None  # answers what no recording covers (the README's coverage gaps)

    @staticmethod
    def entries(name: str) -> list[dict]:
        return json.loads((RECORDINGS / name).read_text(encoding="utf-8"))["Entries"]

    @classmethod
    def load(cls, *names: str, fallback: Handler | None = None) -> "Recording":
        rec = cls(fallback=fallback)
        for name in names:
            for entry in json.loads((RECORDINGS / name).read_text(encoding="utf-8"))["Entries"]:
                path = unquote(urlsplit(entry["RequestUri"]).path)
                rec.queues[(entry["RequestMethod"].upper(), path)].append(entry)
        return rec

    def __call__(self, req: FakeRequest) -> Reply:
        self.requests.append(req)
        key = (req.method, req.path)
        queue = self.queues.get(key)
        if queue:
            entry = queue.popleft()
            self.last[key] = entry
        elif key in self.last:
            entry = self.last[key]
        elif self.fallback is not None:
            return self.fallback(req)
        else:
            return 599, {"Content-Type": "text/plain"}, f"no recorded answer for {req.method} {req.path}"
        self.served.append((req.method, req.path, entry["StatusCode"]))
        return entry_reply(entry)


def entry_reply(entry: dict) -> Reply:
    """A recorded entry as (status, headers, body)."""
    status = entry["StatusCode"]
    headers = {k: v for k, v in entry.get("ResponseHeaders", {}).items() if k.lower() != "content-length"}
    # The recordings carry no Retry-After; an integer one keeps LRO polls from sleeping 5 s each.
    if "Azure-AsyncOperation" in headers or "Location" in headers:
        headers.setdefault("Retry-After", "1")
    body = entry.get("ResponseBody")
    if body is None:
        return status, headers, b"null" if status == 202 else b""
    if isinstance(body, str):
        return status, headers, body.encode()
    return status, headers, json.dumps(body).encode()


# -- credentials -------------------------------------------------------------------
def make_jwt(claims: dict[str, Any]) -> str:
    def part(obj: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}.c2ln"


TENANT = "11111111-2222-3333-4444-555555555555"
OID = "99999999-8888-7777-6666-555555555555"


class FakeCredential:
    """A TokenCredential handing out JWT-shaped tokens whose ``aud`` is the scope asked for."""

    def __init__(self, upn: str = "ana@contoso.example") -> None:
        self.upn = upn
        self.scopes: list[str] = []

    def get_token(self, *scopes: str, **kwargs: Any):
        from azure.core.credentials import AccessToken

        scope = scopes[0] if scopes else ""
        self.scopes.append(scope)
        aud = scope[: -len("/.default")] if scope.endswith("/.default") else scope
        now = int(time.time())
        token = make_jwt({"aud": aud, "tid": TENANT, "oid": OID, "upn": self.upn, "iat": now, "exp": now + 3600})
        return AccessToken(token, now + 3600)
