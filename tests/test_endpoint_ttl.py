"""Time to live of a local endpoint: the server stops itself when its time is over, with no finetui running."""

from __future__ import annotations

import pytest

from cli_helpers import finetui, finetui_json
from serve_model import cli_endpoint
from test_endpoint_lifecycle import wait_for

from finetui.core import procs
from finetui.core.local.address import port_open

NAME = "ep-ttl"


@pytest.mark.slow
def test_local_endpoint_stops_when_its_ttl_is_over(tmp_path, monkeypatch):
    # the CLI process returns at once and is gone: only the server is left to keep the time
    with cli_endpoint(tmp_path, monkeypatch, NAME, "--ttl", "5s") as (backend, created):
        ws = backend.paths.root
        assert created["ttl_s"] == 5 and created["expires_at"] == pytest.approx(created["created_at"] + 5)
        rec = backend.store.get_endpoint(NAME)
        assert procs.is_alive(rec.pid, rec.pid_start_time)

        stopped = wait_for(
            lambda: (r := backend.store.get_endpoint(NAME)).state == "Stopped" and r, 180, "the endpoint to stop itself"
        )
        assert stopped.error == "expired (ttl 5s)"
        assert stopped.stopped_at >= created["created_at"] + 5
        wait_for(lambda: not procs.is_alive(rec.pid, rec.pid_start_time), 60, "the server process to exit")
        assert not port_open(rec.host, rec.port, timeout=0.5)

        shown = finetui_json(ws, "endpoint", "show", NAME)
        assert (shown["state"], shown["error"]) == ("Stopped", "expired (ttl 5s)")
        assert "ttl:          5s, over" in finetui(ws, "endpoint", "show", NAME).stdout
        again = finetui(ws, "endpoint", "restart", NAME, check=False)  # no more time: a restart would stop at once
        assert again.returncode == 1 and "time to live is over" in again.stderr


def test_bad_ttl_is_one_line_and_nothing_is_created(tmp_path):
    ws = tmp_path / "ws"
    for bad in ("soon", "-5s", "5x", "1e309s", "2h\n"):
        proc = finetui(ws, "endpoint", "create", "ep1", "--model", "m", "--ttl", bad, check=False)
        assert proc.returncode == 2, (bad, proc.stderr)
        assert proc.stderr.startswith("error: --ttl ") and len(proc.stderr.strip().splitlines()) == 1
    assert not (ws / "endpoints" / "ep1").exists()
