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
