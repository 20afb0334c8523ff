"""A real HTTP server on 127.0.0.1 answering OpenAI-style chat with SSE (stdlib only).

The app's endpoints pane needs something that streams; a model server would
take minutes to start on two cores. This one answers every question with the
same words, checks the key, and counts requests. ``answer``, when given, decides
instead from the request's body: a text to stream back whole, or an HTTP status
to fail with.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

WORDS = ["Fine", "-tuning", " is", " **done**", "."]


class ChatServer:
    def __init__(self, key: str, words: list[str] | None = None, answer: Callable[[dict], str | int] | None = None) -> None:
        self.key, self.words, self.requests = key, words or WORDS, 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep pytest's output clean
                pass

            def do_GET(self) -> None:
                self._send(200, "application/json", b'{"status": "ok"}')

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)) or b"{}")
                if self.headers.get("authorization") != f"Bearer {server.key}":
                    self._send(401, "application/json", b'{"error": {"message": "bad key"}}')
                    return
                server.requests += 1
                turn = sum(1 for m in body.get("messages", []) if m.get("role") == "user")
                pieces = [f"[{turn}] ", *server.words]
                if answer is not None:
                    decided = answer(body)
                    if isinstance(decided, int):
                        self._send(decided, "application/json", b'{"error": {"message": "the server failed"}}')
                        return
                    pieces = [decided]
                events = [{"choices": [{"delta": {"content": w}}]} for w in pieces]
                events.append({"choices": [{"delta": {}, "finish_reason": "stop"}], "usage": {"completion_tokens": len(pieces)}})
                text = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
                self._send(200, "text/event-stream", text.encode())

            def _send(self, status: int, kind: str, data: bytes) -> None:
                self.send_response(status)
                self.send_header("content-type", kind)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "ChatServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
