"""The hub checks both download paths (model pull, data fetch) share."""

from __future__ import annotations

import socket
import time

from finetui.core.hub import hf_cache_dir, hub_endpoint, offline_switch, unreachable


def test_offline_switch_names_the_first_switch_that_is_on(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "True")
    assert offline_switch("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE") == "HF_DATASETS_OFFLINE"
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "")
    assert offline_switch("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE") is None


def test_unreachable_says_why_quickly_and_none_when_something_listens(monkeypatch):
    start = time.monotonic()
    assert unreachable("http://127.0.0.1:9", timeout=1.0)  # the discard port: nothing listens
    assert time.monotonic() - start < 3
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
        assert hub_endpoint() == f"http://127.0.0.1:{port}"
        assert unreachable() is None


def test_cache_dir_follows_the_environment_at_call_time(monkeypatch, tmp_path):
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "home"))
    assert hf_cache_dir() == tmp_path / "home" / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    assert hf_cache_dir() == tmp_path / "cache"
