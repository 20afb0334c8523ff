"""`finetui down` and the spend meter on Azure, against the fake service: one confirmation, what it saves per hour."""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone

import pytest

from azure_fake import LOC, MGMT, WS_ID
from azure_replay import FakeRequest
from test_azure_cli import run, world  # noqa: F401  (the fixture)

from finetui.core.prices import shipped


def _endpoint(world, name: str, instance_type: str, created: datetime) -> None:  # noqa: F811
    path = f"{WS_ID}/onlineEndpoints/{name}"
    body = json.dumps(
        {
            "location": LOC,
            "tags": {"finetui.model": "ft:1", "finetui.instance_type": instance_type},
            "properties": {"authMode": "Key", "traffic": {}, "mirrorTraffic": {}, "properties": {}},
        }
    ).encode()
    world.endpoint_put(FakeRequest("PUT", MGMT + path, "management.azure.com", path, {}, {}, body), name)
    world.endpoints[name]["systemData"] = dict(world.endpoints[name]["systemData"], createdAt=created.isoformat())


def test_down_older_than_asks_once_and_says_what_it_saves(world):  # noqa: F811
    table = shipped()["prices"]["azure"]
    now = datetime.now(timezone.utc)
    _endpoint(world, "old-ep", "Standard_NC6s_v3", datetime(2026, 1, 1, tzinfo=timezone.utc))
    _endpoint(world, "new-ep", "Standard_NC24ads_A100_v4", now)

    listed = {e["name"]: e for e in json.loads(run("endpoint", "list", "--json").stdout)}
    assert listed["old-ep"]["per_hour"] == table["Standard_NC6s_v3"]
    assert listed["old-ep"]["spent"] == pytest.approx(listed["old-ep"]["uptime_s"] / 3600 * table["Standard_NC6s_v3"], rel=1e-3)
    assert listed["new-ep"]["uptime_s"] < 600 and listed["new-ep"]["currency"] == "USD"
    shown = run("endpoint", "show", "new-ep").stdout
    assert f"at {table['Standard_NC24ads_A100_v4']:.2f} USD/h (Standard_NC24ads_A100_v4)" in shown

    unconfirmed = run("down", "--older-than", "1h")  # no terminal to ask on: nothing is deleted
    assert unconfirmed.exit_code == 2 and "pass --yes" in unconfirmed.stderr
    assert "old-ep" in unconfirmed.stdout and "new-ep" not in unconfirmed.stdout
    assert f"saves {table['Standard_NC6s_v3']:.2f} USD/h" in unconfirmed.stdout
    assert set(world.endpoints) == {"old-ep", "new-ep"}

    done = run("down", "--older-than", "1h", "--yes", "--json")
    assert done.exit_code == 0, done.output
    out = json.loads(done.stdout)
    assert out["deleted"] == ["old-ep"] and out["saves_per_hour"] == table["Standard_NC6s_v3"]
    assert set(world.endpoints) == {"new-ep"}

    confirmed = run("down", "--all", "--yes")
    assert confirmed.exit_code == 0, confirmed.output
    assert "deleted new-ep" in confirmed.stdout and world.endpoints == {}
    assert run("down", "--yes").stdout.strip() == "nothing to stop: no endpoints"


def test_down_unknown_price_is_said_not_guessed(world):  # noqa: F811
    _endpoint(world, "odd-ep", "Standard_Z99", datetime(2026, 1, 1, tzinfo=timezone.utc))
    result = run("down", "--yes")
    assert "(and the unknown price of odd-ep)" in result.stdout and "?" in result.stdout
    assert result.exit_code == 0 and world.endpoints == {}


def test_ttl_watcher_leaves_an_endpoint_created_again_alone(fake, backend, tmp_path):
    """Deleted by hand and created again under the same name: the old watcher must not delete the new one."""
    from finetui.core.azure.ttl_watch import watch

    now = time.time()
    _endpoint(fake, "ep1", "Standard_NC6s_v3", datetime.fromtimestamp(now, timezone.utc))
    status_file = tmp_path / "ep1.json"
    status = {
        "endpoint": "ep1",
        "subscription_id": "s",
        "resource_group": "r",
        "workspace_name": "w",
        "created_at": now - 7200,
        "ttl_s": 3600.0,
        "expires_at": now - 3600,
        "state": "watching",
        "pid": None,
    }
    status_file.write_text(json.dumps(status))
    out = watch(status_file, tmp_path, backend=backend)
    assert out["state"] == "gone" and "created again" in out["reason"]
    assert "ep1" in fake.endpoints

    status["created_at"] = now - 60  # the endpoint it was started for: deleted
    status_file.write_text(json.dumps(status))
    assert watch(status_file, tmp_path, backend=backend)["state"] == "deleted"
    assert "ep1" not in fake.endpoints


def test_down_scales_clusters_that_bill_while_idle_to_zero(world):  # noqa: F811
    per_hour = shipped()["prices"]["azure"]["Standard_NC24ads_A100_v4"]
    world.computes["gpu-a100"]["properties"]["properties"]["scaleSettings"]["minNodeCount"] = 2
    asked = run("down")
    assert asked.exit_code == 2 and "pass --yes" in asked.stderr
    assert "gpu-a100" in asked.stdout and "2 -> 0" in asked.stdout
    assert f"scaling 1 cluster(s) down to 0 nodes saves {2 * per_hour:.2f} USD/h" in asked.stdout
    before = len(world.requests)
    done = run("down", "--yes", "--json")
    assert done.exit_code == 0, done.output
    out = json.loads(done.stdout)
    assert out["scaled_to_zero"] == ["gpu-a100"] and out["saves_per_hour"] == pytest.approx(2 * per_hour)
    puts = [r.json() for r in world.requests[before:] if r.method == "PUT" and r.path.endswith("/computes/gpu-a100")]
    assert puts and puts[-1]["properties"]["properties"]["scaleSettings"]["minNodeCount"] == 0
    assert run("down", "--yes").stdout.strip() == "nothing to stop: no endpoints"


async def test_an_app_action_on_azure_is_logged_with_its_az_ml_line(fake, backend, tmp_path):
    from finetui.core.command_log import CommandLog
    from finetui.tui.app import FinetuiApp

    _endpoint(fake, "ep1", "Standard_NC6s_v3", datetime(2026, 1, 1, tzinfo=timezone.utc))
    log_root = tmp_path / "local-ws"
    log_root.mkdir()
    app = FinetuiApp(lambda: backend, poll_interval=None, log_root=str(log_root))
    async with app.run_test(size=(120, 40)) as pilot:
        while not (app.mounted and app.backend is not None):
            await pilot.pause(0.05)
        endpoints = app.pane("endpoints")
        endpoints.backend_call(
            backend.delete_endpoint, "ep1", then=endpoints.loaded_deleted
        )  # what typing the name to confirm does
        deadline = time.monotonic() + 60
        while not CommandLog(log_root).read():
            assert time.monotonic() < deadline, "nothing logged"
            await pilot.pause(0.05)
    entry = CommandLog(log_root).read()[0]
    assert (entry.source, entry.backend, entry.action, entry.outcome) == ("app", "azure", "endpoint delete", "ok")
    assert entry.az == (
        "az ml online-endpoint delete --name ep1 --yes --resource-group rg1 --workspace-name ws1 "
        "--subscription 00000000-0000-0000-0000-000000000000",
    )
    assert "ep1" not in fake.endpoints
