"""Shared fixtures. Tests never reach a network: hubs are forced offline here."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def demo_ws(tmp_path_factory):
    """A workspace with the demo built once per session through the real CLI: (path, `finetui demo --json`)."""
    from cli_helpers import finetui_json

    ws = tmp_path_factory.mktemp("demo-ws")
    demo = finetui_json(ws, "demo", timeout=600)
    return ws, demo


@pytest.fixture(scope="session")
def trained_ws(demo_ws):
    """The demo workspace with a job trained on the demo's own defaults and registered as demo-ft:1."""
    from cli_helpers import finetui, finetui_json

    ws, demo = demo_ws
    name = finetui(
        ws, "job", "submit", "--model", demo["model"], "--train", demo["train_file"], "--test", demo["test_file"]
    ).stdout.strip()
    finetui(ws, "job", "logs", name, "--follow", timeout=900)
    registered = finetui_json(ws, "model", "register", "--job", name, "--name", "demo-chat")
    return ws, demo, name, registered
