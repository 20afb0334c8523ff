"""Endpoints that cannot start: a model that fails to load, a port in use, a bad name or timeout."""

from __future__ import annotations

import json
import socket

import pytest

from serve_model import StandInRegistry, build_tokenizer

from finetui.core.endpoint_options import LocalEndpointOptions
from finetui.core.errors import Conflict, InvalidInput, NotFound, OperationFailed
from finetui.core.local.endpoints import LocalEndpoints
from finetui.core.local.store import Store
from finetui.core.models import EndpointState
from finetui.core.workspace import WorkspacePaths


@pytest.fixture()
def broken(tmp_path):
    """A folder that looks like a model (config.json, tokenizer) but has no weights."""
    folder = tmp_path / "broken"
    folder.mkdir()
    build_tokenizer(folder)
    (folder / "config.json").write_text(json.dumps({"model_type": "phi3", "architectures": ["Phi3ForCausalLM"]}))
    return folder


@pytest.fixture()
def manager(tmp_path, broken):
    paths = WorkspacePaths(tmp_path / "ws").ensure()
    return LocalEndpoints(paths, Store(paths.db), StandInRegistry({"broken": broken, "missing": tmp_path / "nowhere"}))


@pytest.mark.slow
def test_a_model_that_fails_to_load_leaves_a_failed_endpoint_with_the_reason(manager, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    with pytest.raises(OperationFailed, match="failed") as exc:
        manager.create("ep-broken", "broken")
    assert "finetui endpoint logs ep-broken" in str(exc.value)
    ep = manager.get("ep-broken")
    assert ep.state is EndpointState.FAILED and ep.error
    assert manager.logs("ep-broken").complete
    manager.delete("ep-broken")
    with pytest.raises(NotFound):
        manager.get("ep-broken")


def test_inputs_are_checked_before_anything_starts(manager):
    for name in ("ab", "9lives", "has_underscore", "ends-", "x" * 33):
        with pytest.raises(InvalidInput, match="3-32 letters"):
            manager.create(name, "broken")
    with pytest.raises(InvalidInput, match="request timeout"):
        manager.create("ep-ok", "broken", LocalEndpointOptions(request_timeout_ms=0))
    with pytest.raises(InvalidInput, match="idle timeout"):
        manager.create("ep-ok", "broken", LocalEndpointOptions(idle_timeout_s=-1))
    with pytest.raises(InvalidInput, match="max queue -1: use 0..100000"):
        manager.create("ep-ok", "broken", LocalEndpointOptions(max_queue=-1))
    with pytest.raises(InvalidInput, match="read timeout 0 s is out of range"):
        manager.create("ep-ok", "broken", LocalEndpointOptions(read_timeout_s=0))
    with pytest.raises(NotFound, match="does not exist"):
        manager.create("ep-ok", "missing")
    with pytest.raises(NotFound, match="no model named 'nothing' in .*: neither registered nor in the catalog"):
        manager.create("ep-ok", "nothing")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        with pytest.raises(Conflict, match="is in use"):
            manager.create("ep-ok", "broken", LocalEndpointOptions(port=busy.getsockname()[1]))
    assert manager.list() == []
    with pytest.raises(InvalidInput, match="primary or secondary"):
        manager.regenerate_keys("ep-ok", "tertiary")


def test_cli_refuses_a_bad_queue_size_before_anything_starts(tmp_path):
    from cli_helpers import finetui

    proc = finetui(tmp_path / "ws", "endpoint", "create", "ep-q", "--model", "nothing", "--max-queue", "-3", check=False)
    assert proc.returncode == 2 and "--max-queue" in proc.stderr
