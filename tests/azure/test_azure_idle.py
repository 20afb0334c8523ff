"""The idle timeout of an Azure endpoint: the ttl watcher reads Azure Monitor's RequestsPerMinute and deletes it.

The watcher runs as the detached process finetui starts, with its own fake of the service (tests/azure/
watch_site/sitecustomize.py); the fake's metrics route answers in the shape of Azure Monitor's Metrics - List.
"""

from __future__ import annotations

import json
import os
import signal
import time
from datetime import datetime, timezone
from pathlib import Path

from azure_fake import RG, SUB, WS
from test_azure_cli import run, world  # noqa: F401  (the fixture: the CLI's Azure world, fake service and login)
from test_azure_command_log import _register_ft
from test_azure_down import _endpoint

METRICS_PATH = (
    f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.MachineLearningServices/workspaces/{WS}"
    "/onlineEndpoints/ep1/providers/Microsoft.Insights/metrics"
)
REASON = "idle for 4s: no requests (Azure Monitor RequestsPerMinute)"


def _create(world, tmp_path, monkeypatch, *args: str, **config) -> tuple[Path, Path]:  # noqa: F811
    """``endpoint create ep1 ... args``; the status file of its watcher and where that process writes what it served."""
    from azure.core.pipeline.transport import RequestsTransport

    from finetui.core.azure.ttl_watch import status_path

    monkeypatch.setattr(RequestsTransport, "sleep", lambda self, duration: None)
    _register_ft(world)
    here = Path(__file__).resolve().parent
    conf, out = tmp_path / "fake.json", tmp_path / "served.json"
    conf.write_text(json.dumps({"endpoints": ["ep1"], "out": str(out), **config}))
    monkeypatch.setenv("FINETUI_FAKE_AZURE", str(conf))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(here / "watch_site"), str(here), str(here.parent)]))
    created = run("endpoint", "create", "ep1", "--model", "ft:1", *args)
    assert created.exit_code == 0, created.output
    assert "ttl watcher started" in created.stderr
    return status_path(Path(os.environ["FINETUI_WORKSPACE"]), "ep1"), out


def _until(status_file: Path, done, timeout: float = 180) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        status = json.loads(status_file.read_text())
        if done(status):
            return status
        log = status_file.with_suffix(".log")
        assert time.monotonic() < deadline, (status, log.read_text() if log.exists() else "no watcher log")
        time.sleep(0.2)


def _stop(status_file: Path, out: Path) -> dict:
    """SIGTERM the watcher: it records that it stopped and exits (its fake then writes what it served)."""
    os.kill(json.loads(status_file.read_text())["pid"], signal.SIGTERM)
    status = _until(status_file, lambda s: s["state"] == "stopped")
    assert "stopped (SIGTERM)" in status["reason"]
    deadline = time.monotonic() + 60
    while not out.exists():
        assert time.monotonic() < deadline, "the watcher did not exit after SIGTERM"
        time.sleep(0.2)
    return json.loads(out.read_text())


def test_an_idle_endpoint_is_deleted_by_the_watcher_with_the_reason_shown(world, tmp_path, monkeypatch):  # noqa: F811
    status_file, out = _create(world, tmp_path, monkeypatch, "--idle-timeout", "4s")
    shown = json.loads(run("endpoint", "show", "ep1", "--json").stdout)
    assert shown["idle_timeout_s"] == 4 and shown["ttl_s"] is None
    watcher = shown["ttl_watcher"]
    assert (watcher["state"], watcher["alive"], watcher["idle_state"]) == ("watching", True, "watching")

    status = _until(status_file, lambda s: s["state"] != "watching" and out.exists())
    assert (status["state"], status["reason"]) == ("deleted", f"deleted: {REASON}")
    assert status["finished_at"] >= status["ready_at"] + 4 and status["idle_requests"] == 0
    served = json.loads(out.read_text())
    assert ["GET", METRICS_PATH] in served["requests"]
    assert ["DELETE", METRICS_PATH.split("/providers/Microsoft.Insights")[0]] in served["requests"]
    assert served["endpoints"] == [] and served["unhandled"] == []
    text = run("endpoint", "show", "ep1").stdout
    assert f"ttl watcher:  deleted (process {status['pid']}): deleted: {REASON}" in text
    history = json.loads(run("history", "--json").stdout)
    assert [(e["action"], e["notes"]) for e in history if e["source"] == "ttl-watcher"] == [
        ("endpoint delete", [f"deleted: {REASON}"])
    ]


def test_an_endpoint_with_requests_is_kept(world, tmp_path, monkeypatch):  # noqa: F811
    status_file, out = _create(world, tmp_path, monkeypatch, "--idle-timeout", "4s", requests={"ep1": 3})
    # three looks at the metrics: past the time the idle endpoint above was deleted at
    status = _until(status_file, lambda s: s.get("idle_checks", 0) >= 3)
    assert (status["state"], status["idle_state"], status["idle_requests"]) == ("watching", "watching", 3)
    assert "3 request(s) in the last check" in run("endpoint", "show", "ep1").stdout
    served = _stop(status_file, out)
    assert served["endpoints"] == ["ep1"] and not [r for r in served["requests"] if r[0] == "DELETE"]


def test_metrics_the_service_does_not_expose_leave_the_idle_timeout_unenforced(world, tmp_path, monkeypatch):  # noqa: F811
    missing = ["GET", r"/providers/Microsoft\.Insights/metrics$", 404, "ResourceNotFound", "no metrics here", 1000]
    status_file, out = _create(world, tmp_path, monkeypatch, "--idle-timeout", "4s", "--ttl", "1h", faults=[missing])
    status = _until(status_file, lambda s: s["idle_state"] != "watching")
    assert status["idle_state"] == "not enforced" and "no metrics here" in status["idle_note"]
    assert status["state"] == "watching" and status["ttl_s"] == 3600  # the time to live still holds
    text = run("endpoint", "show", "ep1").stdout
    assert "idle watch:   4s, not enforced" in text and "idle timeout not enforced" in text
    served = _stop(status_file, out)
    assert served["endpoints"] == ["ep1"] and not [r for r in served["requests"] if r[0] == "DELETE"]


def test_without_a_ttl_missing_metrics_end_the_watch_and_never_delete(fake, backend, tmp_path):
    """In process, with a clock of its own: an empty series is missing data, not zero requests."""
    from finetui.core.azure.ttl_watch import watch

    now = time.time()
    _endpoint(fake, "ep1", "Standard_NC6s_v3", datetime.fromtimestamp(now, timezone.utc))
    status_file = tmp_path / "ep1.json"
    status = {"endpoint": "ep1", "created_at": now, "ttl_s": None, "expires_at": None, "state": "watching", "pid": None}
    status.update(idle_timeout_s=60.0, ready_at=now - 120, idle_state="watching")
    status_file.write_text(json.dumps(status))
    fake.serve("GET", r"/providers/Microsoft\.Insights/metrics$", (200, {}, json.dumps({"value": [{"timeseries": []}]})))
    slept: list[float] = []
    out = watch(status_file, tmp_path, backend=backend, sleep=slept.append, clock=lambda: now)
    assert out["state"] == "not enforced" and out["reason"] == (
        "idle timeout not enforced: Azure Monitor returned no RequestsPerMinute series for endpoint ep1; the endpoint stays"
    )
    assert "ep1" in fake.endpoints and slept == [] and json.loads(status_file.read_text())["state"] == "not enforced"


def test_poll_interval_is_a_quarter_of_the_timeout_at_most_five_minutes():
    from finetui.core.azure.ttl_watch import poll_interval

    assert (poll_interval(4), poll_interval(600), poll_interval(7200)) == (1, 150, 300)


def test_a_bad_idle_timeout_is_refused_in_one_line(world):  # noqa: F811
    result = run("endpoint", "create", "ep1", "--model", "ft:1", "--idle-timeout", "soon")
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: --idle-timeout 'soon': use a number with s, m, h or d, e.g. 30m"
    assert not [r for r in world.requests if r.method == "PUT"]


def test_endpoint_create_with_an_idle_timeout_notes_what_az_ml_lacks():
    from finetui.core.equivalents import AzureTarget, azure_equivalents

    eq = azure_equivalents("endpoint create", {"name": "ep1", "model": "ft:1", "idle_timeout": "30m"}, AzureTarget(SUB, RG, WS))
    assert eq.notes[-1].startswith("--idle-timeout 30m: az ml has no idle timeout; finetui's watcher process deletes")


async def test_the_app_create_form_takes_an_idle_timeout_and_starts_the_watcher(backend, fake, tmp_path):
    """The form's idle timeout field, read by the CLI's parser, reaches the watcher through core.ttl.create_endpoint."""
    from test_azure_app import create_form, submit_create_form
    from textual.widgets import Input, Static

    from finetui.core import procs
    from finetui.core.azure.ttl_watch import read_status

    local = (tmp_path / "local-ws").resolve()
    try:
        async with create_form(backend, fake, local) as (pilot, seen):
            form = pilot.app.screen
            form.query_one("#prompt-input", Input).value = "ep-idle"
            form.query_one("#prompt-idle_timeout", Input).value = "soon"
            await pilot.press("enter")
            await pilot.pause()
            error = str(form.query_one("#prompt-error", Static).content)
            assert error == "idle timeout 'soon': use a number with s, m, h or d, e.g. 30m"
            assert pilot.app.screen is form  # the form stays, to fix the value
            form.query_one("#prompt-idle_timeout", Input).value = "30m"
            await submit_create_form(pilot, seen, "ep-idle")
        status = read_status(local, "ep-idle")
        assert status is not None and (status["state"], status["alive"]) == ("watching", True)
        assert (status["idle_timeout_s"], status["ttl_s"], status["expires_at"]) == (1800.0, None, None)
        assert status["ready_at"] >= status["created_at"] and "ep-idle" in fake.endpoints
    finally:
        status = read_status(local, "ep-idle")
        if status and status.get("pid"):
            procs.terminate(status["pid"], status.get("pid_start_time"), grace=5.0)
