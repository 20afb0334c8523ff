"""The command log on Azure: the az ml and SDK lines of each action, and an exported script run against the fake.

The ``az ml`` lines are compared with tests/golden/az_*.txt, reviewed by hand
against the Azure CLI reference (ml extension v2: command, flags, values).
Set FINETUI_UPDATE_GOLDEN=1 to rewrite them after such a review.
"""

from __future__ import annotations

import json
import os
import runpy
from pathlib import Path

import pytest

from azure_fake import RG, SUB, WS
from test_azure_cli import run, world  # noqa: F401  (the fixture: the CLI's Azure world, fake service and login)

GOLDEN = Path(__file__).resolve().parents[1] / "golden"


def _golden_text(entry: dict) -> str:
    return "\n".join([*entry["az"], "---", *entry["sdk"], "---", *entry["notes"]]) + "\n"


def _register_ft(world) -> None:  # noqa: F811
    world.models[("ft", "1")] = {
        "id": f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.MachineLearningServices/"
        f"workspaces/{WS}/models/ft/versions/1",
        "name": "1",
        "properties": {"modelType": "mlflow_model", "tags": {}, "flavors": {"python_function": {"data": {}}}},
    }


def _flow(world, tmp_path, monkeypatch) -> list[dict]:  # noqa: F811
    from azure.core.pipeline.transport import RequestsTransport

    monkeypatch.setattr(RequestsTransport, "sleep", lambda self, duration: None)  # LRO polls, at once
    _register_ft(world)
    (tmp_path / "sample_score.json").write_text(json.dumps({"input_data": {"input_string": [{"role": "user", "content": "hi"}]}}))
    steps = [
        ("model", "show", "Phi-3-mini-4k-instruct:7", "--json"),
        ("compute", "list", "--json"),
        ("job", "list", "--json"),
        ("endpoint", "create", "ep1", "--model", "ft:1", "--json"),
        ("endpoint", "invoke", "ep1", "--request-file", "sample_score.json", "--json"),
        ("endpoint", "keys", "ep1", "--json"),
        ("endpoint", "regenerate-keys", "ep1", "--key", "secondary"),
        ("endpoint", "logs", "ep1"),
        ("endpoint", "list", "--json"),
        ("endpoint", "delete", "ep1", "--yes"),
    ]
    for args in steps:
        result = run(*args)
        assert result.exit_code == 0, (args, result.output)
    history = run("history", "--json")
    assert history.exit_code == 0, history.output
    return json.loads(history.stdout)


def test_az_ml_lines_match_the_golden_files(world, tmp_path, monkeypatch):  # noqa: F811
    entries = _flow(world, tmp_path, monkeypatch)
    log_text = (Path(os.environ["FINETUI_WORKSPACE"]) / "history.jsonl").read_text()
    assert "fake-key-1" not in log_text and "fake-key-2" not in log_text
    assert [e["action"] for e in entries][::-1] == [
        "model show",
        "compute list",
        "job list",
        "endpoint create",
        "endpoint invoke",
        "endpoint keys",
        "endpoint regenerate-keys",
        "endpoint logs",
        "endpoint list",
        "endpoint delete",
    ]
    for entry in entries:
        assert entry["backend"] == "azure" and entry["outcome"] == "ok"
        assert entry["finetui"].startswith("finetui --workspace ")
        assert " --backend azure " in entry["finetui"]
        golden = GOLDEN / f"az_{entry['action'].replace(' ', '_')}.txt"
        text = _golden_text(entry).replace(str(tmp_path), "$TMP")
        if os.environ.get("FINETUI_UPDATE_GOLDEN"):
            golden.write_text(text)
        assert text == golden.read_text(), golden.name


def test_exported_python_script_runs_against_the_fake(world, tmp_path, monkeypatch):  # noqa: F811
    _flow(world, tmp_path, monkeypatch)
    assert "ep1" not in world.endpoints
    script = tmp_path / "session.py"
    exported = run("history", "--export", str(script))
    assert exported.exit_code == 0, exported.output
    before = len(world.requests)
    runpy.run_path(str(script), run_name="__main__")  # the SDK, signed in from the environment, against the fake
    calls = [(r.method, r.path.rsplit("/", 2)[-2:]) for r in world.requests[before:]]
    assert ("PUT", ["onlineEndpoints", "ep1"]) in calls
    assert ("PUT", ["deployments", "demo"]) in calls
    assert ("DELETE", ["onlineEndpoints", "ep1"]) in calls
    assert "ep1" not in world.endpoints  # created, used and deleted again, as the session did
    assert world.scored, "the script invoked the endpoint"
    assert not world.unhandled


# Actions the flow above does not take (they need a finished job or a cluster), straight from their parameters.
OTHER_ACTIONS = {
    "model list": {"query": None},
    "model register": {"job": "ft-job-1", "name": "ft", "version": None},
    "azure compute-create": {"name": "gpu-a100", "size": "Standard_NC24ads_A100_v4", "min_nodes": 0, "max_nodes": 2},
    "job submit": {"model": "Phi-3-mini-4k-instruct", "train_file": "/data/train.jsonl"},
    "job show": {"name": "ft-job-1"},
    "job logs": {"name": "ft-job-1", "follow": True},
    "job cancel": {"name": "ft-job-1"},
    "endpoint show": {"name": "ep1"},
}


def test_other_actions_match_the_golden_files():
    from finetui.core.equivalents import AzureTarget, azure_equivalents

    target = AzureTarget(SUB, RG, WS)
    for action, params in OTHER_ACTIONS.items():
        eq = azure_equivalents(action, params, target)
        assert eq.az and eq.sdk, action
        text = _golden_text({"az": eq.az, "sdk": eq.sdk, "notes": eq.notes})
        golden = GOLDEN / f"az_{action.replace(' ', '_')}.txt"
        if os.environ.get("FINETUI_UPDATE_GOLDEN"):
            golden.write_text(text)
        assert text == golden.read_text(), golden.name


def test_ttl_watcher_deletes_the_endpoint_when_its_time_is_over(world, tmp_path, monkeypatch):  # noqa: F811
    import time

    from azure.core.pipeline.transport import RequestsTransport

    from finetui.core.azure.ttl_watch import status_path

    monkeypatch.setattr(RequestsTransport, "sleep", lambda self, duration: None)
    _register_ft(world)
    here = Path(__file__).resolve().parent
    config, out = tmp_path / "fake.json", tmp_path / "served.json"
    config.write_text(json.dumps({"endpoints": ["ep1"], "out": str(out)}))
    # the watcher is its own detached process: it gets its own fake (holding ep1) through sitecustomize
    monkeypatch.setenv("FINETUI_FAKE_AZURE", str(config))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(here / "watch_site"), str(here), str(here.parent)]))

    created = run("endpoint", "create", "ep1", "--model", "ft:1", "--ttl", "3s", "--json")
    assert created.exit_code == 0, created.output
    assert json.loads(created.stdout)["ttl_s"] == 3
    shown = run("endpoint", "show", "ep1", "--json")
    watcher = json.loads(shown.stdout)["ttl_watcher"]
    assert watcher["state"] == "watching" and watcher["alive"] and watcher["ttl_s"] == 3

    local_ws = Path(os.environ["FINETUI_WORKSPACE"])
    status_file = status_path(local_ws, "ep1")
    deadline = time.monotonic() + 180
    while json.loads(status_file.read_text())["state"] == "watching" or not out.exists():
        assert time.monotonic() < deadline, (
            status_file.with_suffix(".log").read_text() if status_file.with_suffix(".log").exists() else "no watcher log"
        )
        time.sleep(0.2)
    status = json.loads(status_file.read_text())
    assert (status["state"], status["reason"]) == ("deleted", "deleted: expired (ttl 3s)")
    assert status["finished_at"] >= status["expires_at"]
    served = json.loads(out.read_text())
    assert [
        "DELETE",
        f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.MachineLearningServices/workspaces/"
        f"{WS}/onlineEndpoints/ep1",
    ] in served["requests"]
    assert served["endpoints"] == [] and served["unhandled"] == []
    text = run("endpoint", "show", "ep1").stdout
    assert "ttl watcher:  deleted" in text and "expired (ttl 3s)" in text
    history = json.loads(run("history", "--json").stdout)
    by_watcher = [e for e in history if e["source"] == "ttl-watcher"]
    assert [(e["action"], e["outcome"]) for e in by_watcher] == [("endpoint delete", "ok")]
    assert by_watcher[0]["az"][0].startswith("az ml online-endpoint delete --name ep1 --yes")


def test_compute_check_shows_price_and_estimated_job_cost(world, tmp_path):  # noqa: F811
    from finetui.core.prices import shipped

    train = tmp_path / "train.jsonl"
    train.write_text(json.dumps({"messages": [{"role": "user", "content": "hi " * 2000}]}) + "\n")
    result = run("compute", "check", "Phi-3-mini-4k-instruct", "--train", str(train), "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    table = shipped()
    per_hour = table["prices"]["azure"]["Standard_NC24ads_A100_v4"]
    # the SKU's figure is for a 3.8B model, scaled to the size the memory estimate took
    params = out["estimate"]["parameters"]
    assert 3.7e9 < params < 3.9e9
    rate = table["throughput_tokens_per_s"]["azure"]["Standard_NC24ads_A100_v4"] * 3.8e9 / params
    assert (out["price"]["sku"], out["price"]["per_hour"], out["price"]["currency"]) == (
        "Standard_NC24ads_A100_v4",
        per_hour,
        "USD",
    )
    est = out["job_estimate"]
    tokens = train.stat().st_size // 4
    epochs = out["spec"]["num_train_epochs"]
    assert est["tokens"] == tokens and est["epochs"] == epochs
    assert est["cost"] == pytest.approx(tokens * epochs / rate / 3600 * per_hour)
    assert est["cost_low"] < est["cost"] < est["cost_high"] and est["uncertainty"] == pytest.approx(0.75)
    text = run("compute", "check", "Phi-3-mini-4k-instruct", "--train", str(train)).stdout
    assert f"price: {per_hour:.3f} USD/h per node (Standard_NC24ads_A100_v4; shipped" in text
    assert "planning figure per SKU for a 3.8B-parameter model (not measured here)" in text and "+-75%" in text


def test_endpoint_create_with_ttl_notes_what_az_ml_lacks():
    from finetui.core.equivalents import AzureTarget, azure_equivalents

    eq = azure_equivalents("endpoint create", {"name": "ep1", "model": "ft:1", "ttl": "2h"}, AzureTarget(SUB, RG, WS))
    assert eq.az == azure_equivalents("endpoint create", {"name": "ep1", "model": "ft:1"}, AzureTarget(SUB, RG, WS)).az
    assert eq.notes[-1].startswith("--ttl 2h: az ml has no time to live; finetui's watcher process deletes the endpoint")


def test_registering_a_checkpoint_names_no_az_ml_line_for_the_final_model():
    from finetui.core.equivalents import AzureTarget, azure_equivalents

    eq = azure_equivalents("model register", {"job": "j1", "name": "ft", "checkpoint": "30"}, AzureTarget(SUB, RG, WS))
    assert (eq.az, eq.sdk) == ([], [])
    assert eq.notes == ["--checkpoint 30: az ml registers only a job's final output (trained_model)"]
    assert azure_equivalents("model register", {"job": "j1", "name": "ft", "checkpoint": None}, AzureTarget(SUB, RG, WS)).az
