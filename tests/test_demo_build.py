"""build_demo's promises beyond the happy path: it adopts a finished build, and an
interrupted build or rebuild leaves nothing half-written (the old demo stays usable)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from finetui.core.local.demo import DEMO_MODEL_NAME, build_demo, demo_dirs
from finetui.core.local.store import Store
from finetui.core.spec import FineTuneSpec
from finetui.core.workspace import WorkspacePaths


class Stop(KeyboardInterrupt):
    """Raised from the progress callback: a Ctrl-C at that point of the build."""


def _copy_demo(demo: dict, root: Path) -> WorkspacePaths:
    """A fresh workspace holding the session demo's files but no catalog record."""
    paths = WorkspacePaths(root).ensure()
    model_dir, data_dir = demo_dirs(paths)
    shutil.copytree(demo["model_path"], model_dir)
    shutil.copytree(Path(demo["train_file"]).parent, data_dir)
    return paths


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _interrupt_at_first_progress(message: str, fraction: float | None) -> None:
    raise Stop(message)


def test_finished_files_are_adopted_and_registered(demo_ws, tmp_path):
    _, demo = demo_ws
    paths = _copy_demo(demo, tmp_path / "ws")
    store = Store(paths.db)
    assert store.list_models() == []

    calls: list[str] = []
    result = build_demo(paths, store, progress=lambda m, f: calls.append(m))
    assert result.built is False and calls == []
    assert result.model_path == str(demo_dirs(paths)[0].resolve())

    [record] = store.list_models()
    assert record["name"] == DEMO_MODEL_NAME and record["version"] == "1" and record["source"] == "demo"
    assert record["id"] == "local://models/finetui-demo-base/versions/1"
    assert record["path"] == result.model_path
    assert record["architecture"] == "Phi3ForCausalLM" and record["dtype"] == "float32"
    assert record["context_length"] == 512 and 500_000 < record["parameter_count"] < 2_000_000
    assert record["size_bytes"] > record["parameter_count"] * 4  # fp32 weights plus tokenizer files
    assert record["tags"]["finetune_compute_allow_list"] == "['cpu']"
    spec = FineTuneSpec().replace(record["model_specific_defaults"])
    assert spec.apply_lora and not spec.apply_deepspeed and "lm_head" in spec.lora_modules_to_save

    build_demo(paths, store)
    assert store.list_models() == [record]  # adopting twice neither adds nor rewrites the record

    moved = _copy_demo(demo, tmp_path / "moved")  # a copied workspace: its record names the old folder
    moved_store = Store(moved.db)
    moved_store.put_model(record)
    build_demo(moved, moved_store)
    [again] = moved_store.list_models()
    assert again["path"] == str(demo_dirs(moved)[0].resolve()) != record["path"]


def test_interrupted_first_build_leaves_nothing(tmp_path):
    paths = WorkspacePaths(tmp_path / "ws").ensure()
    stale = paths.models / f".{DEMO_MODEL_NAME}.tmp-999999"  # from a build that was killed
    (stale / "config.json").parent.mkdir(parents=True)
    (stale / "config.json").write_text("{}")
    store = Store(paths.db)

    seen: list[str] = []

    def stop_in_pretraining(message: str, fraction: float | None) -> None:
        seen.append(message)
        if message.startswith("pre-training"):
            raise Stop(message)

    with pytest.raises(Stop):
        build_demo(paths, store, progress=stop_in_pretraining)
    assert seen[:2] == ["writing the demo chat data", "training the tokenizer"]
    assert list(paths.models.iterdir()) == [] and list(paths.data.iterdir()) == []
    assert store.list_models() == []


@pytest.mark.parametrize("how", ["force", "old recipe"])
def test_interrupted_rebuild_keeps_the_old_demo(demo_ws, tmp_path, how):
    _, demo = demo_ws
    paths = _copy_demo(demo, tmp_path / "ws")
    model_dir, data_dir = demo_dirs(paths)
    if how == "old recipe":
        stamp = model_dir / "demo.json"
        stamp.write_text(json.dumps({**json.loads(stamp.read_text()), "recipe": 0}))
    before = _snapshot(paths.root / "models"), _snapshot(paths.data)

    with pytest.raises(Stop):  # an outdated or forced demo is rebuilt: the first progress call proves it started
        build_demo(paths, Store(paths.db), progress=_interrupt_at_first_progress, force=how == "force")
    assert (_snapshot(paths.root / "models"), _snapshot(paths.data)) == before
