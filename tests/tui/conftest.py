"""Fixtures for the app's tests: a real local workspace, and a fixed backend for snapshots."""

from __future__ import annotations

import time

import pytest

from tui_fixtures import FixedBackend, make_local_workspace


@pytest.fixture
def local_ws(tmp_path, monkeypatch):
    """A LocalBackend over a tmp workspace holding a tiny model, a dataset and a finished job."""
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # no models from this machine's HF cache
    return make_local_workspace(tmp_path / "ws")


@pytest.fixture
def fixed_backend(tmp_path):
    return FixedBackend(tmp_path / "fixed")


@pytest.fixture(autouse=True)
def utc(monkeypatch):
    """Times on screen in UTC: snapshots must not depend on this machine's time zone."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def demo_backend(tmp_path, monkeypatch):
    """The offline demo workspace (model and data) behind a LocalBackend; endpoints deleted afterwards."""
    from finetui.core.local import demo
    from finetui.core.local.backend import LocalBackend

    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    backend = LocalBackend(tmp_path / "ws")
    demo.build_demo(backend.paths, backend.store, lambda *_: None)
    yield backend
    for endpoint in backend.list_endpoints():  # never leave a server behind
        backend.delete_endpoint(endpoint.name)
