"""The fake Azure service behind a real HTTP server, for ``finetui`` run in a subprocess.

The test process keeps the stateful fake (so a test can look at the bodies the
SDK sent and move jobs along); the child process runs the real CLI, whose
``requests`` calls a ``sitecustomize`` (forward/sitecustomize.py) forwards here:
each request as JSON (method, url, headers, base64 body) to one POST on
127.0.0.1, the answer back the same way. Nothing in finetui is patched.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from azure_replay import FakeRequest

FORWARD = Path(__file__).resolve().parent / "forward"
REPO = Path(__file__).resolve().parents[2]


def decode_request(msg: dict) -> FakeRequest:
    parts = urlsplit(msg["url"])
    query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
    return FakeRequest(
        msg["method"], msg["url"], parts.hostname or "", unquote(parts.path), query, msg["headers"], base64.b64decode(msg["body"])
    )


class FakeServer:
    """Serves ``handler`` (FakeAzure plus the login fake) on an ephemeral 127.0.0.1 port."""

    def __init__(self, handler) -> None:
        self.handler = handler
        self.lock = threading.Lock()  # the fake's state is not thread-safe; one request at a time
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                msg = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with outer.lock:
                    status, headers, body = outer.handler(decode_request(msg))
                if body is None:
                    body = b""
                elif isinstance(body, str):
                    body = body.encode()
                elif not isinstance(body, bytes):
                    body = json.dumps(body).encode()
                    headers = {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
                out = json.dumps(
                    {"status": status, "headers": dict(headers or {}), "body": base64.b64encode(body).decode()}
                ).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def azure_env(server: FakeServer, tmp_path: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The child's environment: forwarding on, a service principal's variables, no `az` on PATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FINETUI_", "AZURE_", "MSI_", "IDENTITY_"))}
    env.update(
        {
            "PYTHONPATH": os.pathsep.join([str(FORWARD), str(REPO)]),
            "FINETUI_FAKE_AZURE_URL": server.url,
            "FINETUI_WORKSPACE": str(tmp_path / "local-ws"),
            "AZUREML_RUN_POLLING_INTERVAL_MIN": "0",
            "AZUREML_RUN_POLLING_INTERVAL_MAX": "0",
            "AZURE_TENANT_ID": "11111111-2222-3333-4444-555555555555",
            "AZURE_CLIENT_ID": "22222222-0000-0000-0000-000000000000",
            "AZURE_CLIENT_SECRET": "not-a-real-secret",
            "PATH": os.path.dirname(sys.executable),  # the venv's python, and no `az`
            "HOME": str(tmp_path),
            "COLUMNS": "200",
        }
    )
    env.update(extra or {})
    return env


def finetui_azure(
    cwd: Path, env: dict[str, str], *args: str, timeout: float = 300, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``finetui --backend azure ARGS`` in its own process, in ``cwd`` (where .azureml/config.json is)."""
    return subprocess.run(
        [sys.executable, "-m", "finetui.tui.cli.main", "--backend", "azure", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=cwd,
        input=stdin if stdin is not None else "",
    )
