"""The local catalog: folders added in place, registered models, the Hugging Face cache, pull."""

from __future__ import annotations

import json
import time

import pytest

from finetui.core.errors import InvalidInput, NetworkUnavailable, NotFound
from finetui.core.local.catalog import LocalCatalog
from finetui.core.local.model_folder import inspect, safetensors_parameters
from finetui.core.local.store import Store, insert_registered
from finetui.core.workspace import WorkspacePaths

from model_folders import TINY_PARAMS, make_hf_cache, make_tiny_model


@pytest.fixture
def catalog(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    paths = WorkspacePaths(tmp_path / "ws").ensure()
    return LocalCatalog(paths, Store(paths.db))


def test_inspect_reads_headers_not_weights(tmp_path):
    folder = make_tiny_model(tmp_path / "m")
    assert safetensors_parameters(folder / "model.safetensors") == TINY_PARAMS
    info = inspect(folder)
    assert info["parameter_count"] == TINY_PARAMS
    assert info["architecture"] == "LlamaForCausalLM"
    assert info["context_length"] == 128
    assert info["dtype"] == "float32"
    assert info["size_bytes"] >= (folder / "model.safetensors").stat().st_size
    sharded = inspect(make_tiny_model(tmp_path / "s", shards=2))
    assert sharded["parameter_count"] == TINY_PARAMS


def test_inspect_without_weights_estimates_from_config(tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "config.json").write_text(
        json.dumps({"model_type": "llama", "hidden_size": 16, "num_hidden_layers": 2, "num_attention_heads": 2, "vocab_size": 64})
    )
    info = inspect(folder)
    assert info["parameter_count"] > 0 and info["tags"]["parameter_count_from"] == "config"


def test_add_list_show_and_latest(catalog, tmp_path):
    folder = make_tiny_model(tmp_path / "tiny-llama")
    first = catalog.add_path(folder)
    assert (first.name, first.version, first.source) == ("tiny-llama", "1", "local-path")
    assert first.path == str(folder.resolve())  # referenced in place
    second = catalog.add_path(folder)
    assert second.version == "2"
    other = catalog.add_path(folder, name="renamed")
    assert other.ref == "renamed:1"

    assert {m.ref for m in catalog.list()} == {"tiny-llama:1", "tiny-llama:2", "renamed:1"}
    assert catalog.get("tiny-llama").version == "2"
    assert catalog.get("tiny-llama:1").version == "1"
    assert catalog.get(first.id) == first
    assert [m.ref for m in catalog.list("RENAMED")] == ["renamed:1"]
    assert len(catalog.list("llamaforcausal")) == 3  # architecture
    assert len(catalog.list("model_type=llama")) == 3  # tags
    assert catalog.list("nothing-like-this") == []


def test_get_unknown_names_close_matches(catalog, tmp_path):
    catalog.add_path(make_tiny_model(tmp_path / "tiny-llama"))
    with pytest.raises(NotFound, match="did you mean tiny-llama"):
        catalog.get("tiny-lama")
    with pytest.raises(NotFound, match="no version 9; versions: 1"):
        catalog.get("tiny-llama:9")


def test_add_bad_folder_says_what_is_missing(catalog, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InvalidInput, match=r"empty.*no config\.json"):
        catalog.add_path(empty)
    with pytest.raises(InvalidInput, match="not a folder"):
        catalog.add_path(tmp_path / "missing")
    (empty / "config.json").write_text("{not json")
    with pytest.raises(InvalidInput, match="config.json: not valid JSON"):
        catalog.add_path(empty)


def test_registered_models_appear_with_lineage(catalog, tmp_path):
    base = catalog.add_path(make_tiny_model(tmp_path / "base"), model_specific_defaults={"learning_rate": 2e-5})
    out = make_tiny_model(tmp_path / "registry" / "ft" / "1")
    for version in (1, 2):
        with catalog.store.transaction() as db:
            insert_registered(
                db,
                {
                    "name": "ft",
                    "path": str(out),
                    "job": "job-1",
                    "base_model": base.ref,
                    "created_at": time.time(),
                    "description": "fine-tuned",
                    "format": "mlflow",
                    "lineage": {"job": "job-1", "base_model": base.ref},
                },
                version,
            )
    latest = catalog.get("ft")
    assert (latest.version, latest.source) == ("2", "registry")
    assert latest.id == "local://registry/ft/versions/2"
    assert latest.lineage["job"] == "job-1"
    assert latest.parameter_count == TINY_PARAMS
    assert latest.model_specific_defaults == {"learning_rate": 2e-5}  # inherited from the base model
    assert catalog.get("ft:1").version == "1"


def test_hf_cache_scan(catalog, tmp_path, monkeypatch):
    cache = tmp_path / "hub"
    snapshot = make_hf_cache(cache, "org/tiny-chat")
    (cache / "models--org--no-config" / "snapshots" / "r1").mkdir(parents=True)
    (cache / "models--org--no-config" / "snapshots" / "r1" / "README.md").write_text("hi")
    (cache / "models--org--no-config" / "refs").mkdir()
    (cache / "models--org--no-config" / "refs" / "main").write_text("r1")
    make_hf_cache(cache, "org/some-data")
    (cache / "models--org--some-data").rename(cache / "datasets--org--some-data")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))

    found = [m for m in catalog.list() if m.source == "hf-cache"]
    assert [m.name for m in found] == ["org/tiny-chat"]
    model = found[0]
    assert model.path == str(snapshot.resolve())
    assert model.parameter_count == TINY_PARAMS and model.version == "01234567"
    assert catalog.get("org/tiny-chat") == model
    assert catalog.list("tiny-chat") == [model]


def test_missing_or_broken_cache_is_empty(catalog, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "nowhere"))
    assert catalog.list() == []
    broken = tmp_path / "broken"
    (broken / "models--x--y").mkdir(parents=True)  # no snapshots, no refs
    monkeypatch.setenv("HF_HUB_CACHE", str(broken))
    assert catalog.list() == []


def test_pull_offline_fails_fast_and_names_the_repo(catalog, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.perf_counter()
    with pytest.raises(NetworkUnavailable, match="cannot pull org/not-here: HF_HUB_OFFLINE"):
        catalog.pull("org/not-here")
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # the discard port: nothing listens
    with pytest.raises(NetworkUnavailable, match=r"cannot pull org/not-here: http://127\.0\.0\.1:9 is unreachable"):
        catalog.pull("org/not-here")
    assert time.perf_counter() - start < 5
    with pytest.raises(InvalidInput):
        catalog.pull("not a repo")


def test_pull_of_a_cached_repo_needs_no_network(catalog, tmp_path, monkeypatch):
    cache = tmp_path / "hub"
    make_hf_cache(cache, "org/tiny-chat")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model = catalog.pull("org/tiny-chat")
    assert (model.ref, model.source) == ("org/tiny-chat:1", "hf-cache")
    assert catalog.pull("org/tiny-chat") == model  # pulling again changes nothing
    # the cache entry is now the catalog entry, not listed twice
    assert [m.ref for m in catalog.list() if m.name == "org/tiny-chat"] == ["org/tiny-chat:1"]


def test_listing_loads_no_heavy_library(tmp_path):
    import subprocess
    import sys

    make_hf_cache(tmp_path / "hub")
    code = (
        "import sys\n"
        "from finetui.core.local.backend import LocalBackend\n"
        f"b = LocalBackend({str(tmp_path / 'ws')!r})\n"
        "assert b.list_models() and b.list_compute()\n"
        "b.check_compute('org/tiny-chat', target='cpu')\n"
        "print(','.join(m for m in ('torch', 'transformers', 'textual', 'peft', 'safetensors.torch') if m in sys.modules))\n"
    )
    env = {**__import__("os").environ, "HF_HUB_CACHE": str(tmp_path / "hub")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == ""
