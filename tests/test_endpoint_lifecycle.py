"""One endpoint through its life: /ready before load, request timeout, a killed server, restart, idle stop, delete."""

from __future__ import annotations

import os
import signal

import httpx
import pytest

from cli_helpers import finetui, finetui_json
from serve_model import build_tiny_phi3
from waiting import status, wait_for

from finetui.core.errors import NotFound
from finetui.core import procs
from finetui.core.local.address import port_open
from finetui.core.models import EndpointState

NAME = "ep-life"
USER = [{"role": "user", "content": "hello"}]


@pytest.mark.slow
def test_endpoint_lifecycle(tmp_path, monkeypatch):
    from finetui.core.local.backend import LocalBackend

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    model = build_tiny_phi3(tmp_path / "tiny")
    backend = LocalBackend(tmp_path / "ws")
    backend.catalog.add_path(model, name="tiny-chat")
    ws = backend.paths.root
    try:
        created = finetui_json(
            ws,
            "endpoint",
            "create",
            NAME,
            "--model",
            "tiny-chat",
            "--no-wait",
            "--request-timeout-ms",
            "250",
            "--idle-timeout",
            "6s",
            env={"OMP_NUM_THREADS": "1"},
        )
        assert created["state"] == "Creating" and created["idle_timeout_s"] == 6
        root = created["base_url"].rsplit("/", 1)[0]

        # the socket is up before the model: /health answers while /ready says 503
        wait_for(lambda: status(f"{root}/health") == 200, 60, "/health")
        assert status(f"{root}/ready") == 503
        ep = backend.endpoints.wait_ready(NAME)
        assert ep.state is EndpointState.SUCCEEDED
        key = backend.endpoints.keys(NAME).primary
        headers = {"Authorization": f"Bearer {key}"}

        # past request_timeout_ms a request ends with 408 and its generation stops; the server goes on
        long = {"messages": USER, "max_tokens": 1000, "temperature": 0}
        r = httpx.post(f"{root}/v1/chat/completions", json=long, headers=headers, timeout=30)
        assert r.status_code == 408 and "timed out after 250 ms" in r.json()["error"]["message"]
        with httpx.stream("POST", f"{root}/v1/chat/completions", json={**long, "stream": True}, headers=headers, timeout=30) as s:
            events = [line for line in s.iter_lines() if line.startswith("data:")]
        assert '"error"' in events[-2] and "timed out" in events[-2] and events[-1] == "data: [DONE]"
        ok = httpx.post(f"{root}/v1/chat/completions", json={"messages": USER, "max_tokens": 3}, headers=headers, timeout=30)
        assert ok.status_code == 200
        metrics = httpx.get(f"{root}/metrics", headers=headers).text
        assert 'finetui_request_timeouts_total{endpoint="ep-life"} 2' in metrics

        # a killed server shows as Unhealthy with its log; restart brings it back with the same keys
        rec = backend.store.get_endpoint(NAME)
        os.kill(rec.pid, signal.SIGKILL)
        wait_for(lambda: not procs.is_alive(rec.pid, rec.pid_start_time), 10, "the server to die")
        sick = backend.get_endpoint(NAME)
        assert sick.state is EndpointState.UNHEALTHY and "not running" in sick.error and "model loaded" in sick.error
        assert finetui_json(ws, "endpoint", "list")[0]["state"] == "Unhealthy"
        back = finetui_json(ws, "endpoint", "restart", NAME, env={"OMP_NUM_THREADS": "1"})
        assert back["state"] == "Succeeded" and back["pid"] != rec.pid
        root = back["base_url"].rsplit("/", 1)[0]
        ok = httpx.post(f"{root}/v1/chat/completions", json={"messages": USER, "max_tokens": 3}, headers=headers, timeout=30)
        assert ok.status_code == 200
        wait_for(lambda: backend.get_endpoint(NAME).last_request_at, 10, "last_request_at in state.json")

        # no requests for idle_timeout_s: the server stops itself and records Stopped
        stopped = wait_for(lambda: (e := backend.get_endpoint(NAME)).state is EndpointState.STOPPED and e, 30, "idle stop")
        assert "idle" in stopped.error
        port = int(root.rsplit(":", 1)[1])
        wait_for(lambda: not port_open("127.0.0.1", port), 10, "the port to close")
        logs = finetui(ws, "endpoint", "logs", NAME).stdout
        assert "idle timeout" in logs and "--- restart at" in logs and key not in logs

        finetui(ws, "endpoint", "delete", NAME, "--yes")
        assert not backend.paths.endpoint_dir(NAME).exists()
        with pytest.raises(NotFound):
            backend.get_endpoint(NAME)
    finally:
        for ep in backend.endpoints.list():
            backend.endpoints.delete(ep.name)
