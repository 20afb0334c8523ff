"""Item 3 of issue 12: models registered in the workspace are shown and listed, with their source."""

from __future__ import annotations

import pytest


@pytest.fixture
def cli(azure_cli):
    for version in ("1", "2", "10"):
        azure_cli.fake.add_workspace_model(
            "phi3-ft", version, {"finetui.base_model": "Phi-3-mini-4k-instruct:7", "finetui.job": f"job-{version}"}
        )
    return azure_cli


def test_show_finds_workspace_models(cli):
    latest = cli.json("model", "show", "phi3-ft")
    assert (latest["name"], latest["version"], latest["source"]) == ("phi3-ft", "10", "workspace")
    assert latest["lineage"]["job"] == "job-10" and latest["lineage"]["base_model"] == "Phi-3-mini-4k-instruct:7"
    two = cli.json("model", "show", "phi3-ft:2")
    assert (two["version"], two["source"]) == ("2", "workspace")
    foundation = cli.json("model", "show", "Phi-3-mini-4k-instruct")
    assert (foundation["version"], foundation["source"]) == ("7", "azureml")


def test_missing_everywhere_names_both_places(cli):
    proc = cli.run("model", "show", "no-such-model")
    assert proc.returncode == 2  # an unknown name is bad input
    line = proc.stderr.strip()
    assert line.startswith("error: model no-such-model not found in registry azureml") and "nor in workspace ws1" in line
    assert len(proc.stderr.splitlines()) == 1


def test_list_shows_both_sources_at_their_newest_version(cli):
    listed = cli.json("model", "list")
    assert [(m["name"], m["version"], m["source"]) for m in listed] == [
        ("Phi-3-mini-4k-instruct", "7", "azureml"),
        ("phi3-ft", "10", "workspace"),
    ]
    text = cli.run("model", "list")
    rows = [line.split()[:3] for line in text.stdout.splitlines()[1:]]
    assert rows == [["Phi-3-mini-4k-instruct", "7", "azureml"], ["phi3-ft", "10", "workspace"]]
