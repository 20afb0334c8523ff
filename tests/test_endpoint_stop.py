"""How a real endpoint server stops: draining open streams on SIGTERM, and an idle timeout that counts from ready."""

from __future__ import annotations

import json
import os
import signal
import threading
import time

import httpx
import pytest

from serve_model import build_tiny_phi3, serving_backend
from waiting import status, wait_for

from finetui.core.endpoint_options import LocalEndpointOptions
from finetui.core import procs
from finetui.core.local.serve.__main__ import HOLD_LOAD_ENV
from finetui.core.models import EndpointState

pytestmark = pytest.mark.slow  # starts server processes

USER = [{"role": "user", "content": "hello"}]
STREAMS = 16


@pytest.fixture()
def backend(tmp_path):
    # big enough that 16 answers of 1000 tokens outlast the drain's grace period on a fast machine too
    model = build_tiny_phi3(tmp_path / "tiny", hidden=512, layers=8)
    with serving_backend(tmp_path / "ws", model) as b:
        yield b


def stream_until_end(url: str, key: str, body: dict, first: threading.Event, out: dict) -> None:
    """One client: every data line it receives, and how its connection ended."""
    lines: list[str] = []
    out["lines"] = lines
    try:
        with httpx.stream("POST", url, json=body, headers={"Authorization": f"Bearer {key}"}, timeout=120) as s:
            out["status"] = s.status_code
            for line in s.iter_lines():
                if line.startswith("data:"):
                    lines.append(line[5:].strip())
                    if len(lines) >= 2:
                        first.set()
        out["ended"] = "closed"
    except httpx.HTTPError as exc:  # an incomplete chunked body, a reset
        out["ended"] = f"{type(exc).__name__}: {exc}"
    finally:
        first.set()


def test_sigterm_drains_open_streams_and_runs_the_cleanup(backend):
    ep = backend.endpoints.create("ep-drain", "tiny-chat")
    key = backend.endpoints.keys("ep-drain").primary
    rec = backend.store.get_endpoint("ep-drain")
    url = f"{ep.base_url}/chat/completions"
    # half can finish within the grace period, half cannot: both ways must end cleanly
    bodies = [{"messages": USER, "temperature": 0, "stream": True, "max_tokens": 4 if i % 2 else 1000} for i in range(STREAMS)]
    firsts = [threading.Event() for _ in bodies]
    results: list[dict] = [{} for _ in bodies]
    threads = [threading.Thread(target=stream_until_end, args=(url, key, b, f, r)) for b, f, r in zip(bodies, firsts, results)]
    for t in threads:
        t.start()
    for f in firsts:
        assert f.wait(120)
    os.kill(rec.pid, signal.SIGTERM)

    ready_url = f"{ep.base_url.rsplit('/', 1)[0]}/ready"
    wait_for(lambda: status(ready_url) == 503, 30, "/ready to say stopping")
    assert httpx.get(ready_url, timeout=10).json()["status"] == "stopping"
    late = httpx.post(url, json={"messages": USER, "max_tokens": 2}, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    assert late.status_code == 503 and late.headers["Retry-After"] == "1"

    for t in threads:
        t.join(120)
    ends = {"complete": 0, "error": 0}
    for r in results:
        assert r["status"] == 200 and r["ended"] == "closed", r.get("ended")
        assert r["lines"][-1] == "[DONE]", r["lines"][-3:]
        last = json.loads(r["lines"][-2])
        if "error" in last:
            assert "stopping" in last["error"]["message"]
            ends["error"] += 1
        else:
            assert last["choices"][0]["finish_reason"] in ("stop", "length")
            ends["complete"] += 1
    assert ends["complete"] >= STREAMS // 2 and ends["complete"] + ends["error"] == STREAMS

    wait_for(lambda: not procs.is_alive(rec.pid, rec.pid_start_time), 60, "the server to exit")
    folder = backend.paths.endpoint_dir("ep-drain")
    state = json.loads((folder / "state.json").read_text())
    assert state["engine"] == "stopped"
    log = (folder / "server.log").read_text()
    assert "SIGTERM: stopping" in log and log.rstrip().endswith("server stopped") and "Traceback" not in log
    stopped = backend.get_endpoint("ep-drain")
    assert stopped.state is EndpointState.STOPPED and "signal" in stopped.error


def test_idle_time_counts_from_ready_not_from_start(backend, tmp_path, monkeypatch):
    go = tmp_path / "load-now"
    monkeypatch.setenv(HOLD_LOAD_ENV, str(go))  # the server inherits it: its model load waits for this file
    ep = backend.endpoints.create("ep-slow", "tiny-chat", LocalEndpointOptions(idle_timeout_s=1, wait=False))
    root = ep.base_url.rsplit("/", 1)[0]
    wait_for(lambda: status(f"{root}/health") == 200, 120, "/health")
    rec = backend.store.get_endpoint("ep-slow")
    # loading for four idle timeouts is not idleness: the server keeps loading
    until = time.monotonic() + 4
    while time.monotonic() < until:
        assert procs.is_alive(rec.pid, rec.pid_start_time), (backend.paths.endpoint_dir("ep-slow") / "server.log").read_text()
        time.sleep(0.1)
    assert backend.get_endpoint("ep-slow").state is EndpointState.CREATING
    go.touch()
    assert backend.endpoints.wait_ready("ep-slow").state is EndpointState.SUCCEEDED
    stopped = wait_for(lambda: (e := backend.get_endpoint("ep-slow")).state is EndpointState.STOPPED and e, 60, "the idle stop")
    assert "idle timeout" in stopped.error
