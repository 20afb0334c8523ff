"""`finetui down` on the local backend: a real server, one confirmation, nothing left running."""

from __future__ import annotations

import time

import pytest

from cli_helpers import finetui, finetui_json
from serve_model import cli_endpoint

from finetui.core import procs


@pytest.mark.slow
def test_down_stops_local_endpoints_after_one_confirmation(tmp_path, monkeypatch):
    with cli_endpoint(tmp_path, monkeypatch, "ep-down") as (backend, _):
        ws = backend.paths.root
        rec = backend.store.get_endpoint("ep-down")
        listed = finetui_json(ws, "endpoint", "list")
        assert (listed[0]["per_hour"], listed[0]["currency"]) == (0.0, "USD")  # this machine bills nothing per hour

        both = finetui(ws, "down", "--all", "--older-than", "1h", check=False)
        assert both.returncode == 2 and "not both" in both.stderr
        young = finetui(ws, "down", "--older-than", "1h", "--yes")
        assert young.stdout.strip() == "nothing to stop: no endpoints older than 1h"
        asked = finetui(ws, "down", check=False)  # no terminal to confirm on
        assert asked.returncode == 2 and "pass --yes" in asked.stderr
        assert "ep-down" in asked.stdout and "saves 0.00 USD/h" in asked.stdout
        assert procs.is_alive(rec.pid, rec.pid_start_time)

        out = finetui_json(ws, "down", "--yes")
        assert out["deleted"] == ["ep-down"] and out["failed"] == []
        deadline = time.monotonic() + 60
        while procs.is_alive(rec.pid, rec.pid_start_time):
            assert time.monotonic() < deadline, "the server is still running"
            time.sleep(0.1)
        assert finetui_json(ws, "endpoint", "list") == []
