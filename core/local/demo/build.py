"""Build the offline demo: data, tokenizer and base model, registered in the catalog.

Everything is made here, from seeded code, with no download: a workspace on a
machine with no network can still run the whole tutorial. The build writes
into temporary folders and renames them into place, and the model folder's
``demo.json`` stamp is written last, so an interrupted build leaves nothing
that looks finished; the next call starts over.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from ...backend import ProgressCallback
from ...errors import BackendUnavailable, Conflict, FinetuiError, OperationFailed
from ...models import DemoResult
from ...workspace import WorkspacePaths
from ..store import Store

DEMO_MODEL_NAME = "finetui-demo-base"
DEMO_MODEL_VERSION = "1"
# Bump when the data, tokenizer or model recipe changes: an older build is then rebuilt.
RECIPE = 1
STAMP = "demo.json"

# Measured on 2 busy CPU cores, one thread: LoRA with trainable embeddings and
# lm_head answers 25-26 of the 26 held-out questions after about 20 s of
# training, whatever the seed (base model: 0/26).
# A model this small needs a learning rate far above the tutorial's 5e-6, and
# LoRA alone cannot teach it new names without embeddings and lm_head.
DEMO_DEFAULTS: dict[str, Any] = {
    "apply_lora": True,
    "lora_r": 16,
    "lora_alpha": 32,
    "lora_dropout": 0.05,
    "lora_target_modules": ["qkv_proj", "o_proj", "gate_up_proj", "down_proj"],
    "lora_modules_to_save": ["embed_tokens", "lm_head"],
    "learning_rate": 0.005,
    "lr_scheduler_type": "cosine",
    "num_train_epochs": 20,
    "per_device_train_batch_size": 8,
    "per_device_eval_batch_size": 8,
    "max_seq_length": 128,
    "apply_deepspeed": False,
    "logging_steps": 5,
    # 20 epochs would otherwise keep 20 checkpoints per demo job.
    "save_total_limit": 1,
}

DATA_FILES = ("chat.jsonl", "train_sft.jsonl", "test_sft.jsonl", "heldout.jsonl", "sample_score.json")
MODEL_FILES = ("config.json", "model.safetensors", "generation_config.json", "tokenizer.json", "tokenizer_config.json")


def demo_dirs(paths: WorkspacePaths) -> tuple[Path, Path]:
    """(model folder, data folder) of the demo in this workspace."""
    return paths.models / DEMO_MODEL_NAME, paths.data / "demo"


def build_demo(paths: WorkspacePaths, store: Store, progress: ProgressCallback | None = None, force: bool = False) -> DemoResult:
    """Make the demo model and data once; later calls return at once with ``built=False``."""
    say = progress or (lambda message, fraction: None)
    paths.ensure()
    model_dir, data_dir = demo_dirs(paths)
    with _build_lock(paths):
        if not force and _is_complete(model_dir, data_dir):
            if not _is_registered(store, model_dir):
                store.put_model(_catalog_record(model_dir))
            return _result(model_dir, data_dir, built=False)
        started = time.monotonic()
        _remove_leftovers(paths)
        tmp_model = paths.models / f".{DEMO_MODEL_NAME}.tmp-{os.getpid()}"
        tmp_data = paths.data / f".demo.tmp-{os.getpid()}"
        try:
            params = _build_into(tmp_model, tmp_data, say)
            # the stamp marks a finished model folder; the data goes in place first
            _replace_dir(tmp_data, data_dir)
            _replace_dir(tmp_model, model_dir)
        except FinetuiError:
            raise
        except ImportError as exc:  # torch and transformers are the optional local engine (finetui[local])
            raise BackendUnavailable(
                f"the demo needs {exc.name or 'the local training stack'}; install it with: pip install 'finetui[local]'"
            ) from None
        except OSError as exc:
            raise OperationFailed(f"could not write the demo into {paths.root}: {exc}") from None
        except Exception as exc:  # anything torch or transformers raise: one line, not a traceback
            first = (str(exc).strip().splitlines() or [""])[0][:300]
            raise OperationFailed(f"building the demo failed: {type(exc).__name__}: {first}") from exc
        finally:
            for tmp in (tmp_model, tmp_data):
                shutil.rmtree(tmp, ignore_errors=True)
        store.put_model(_catalog_record(model_dir, params))
        say(f"demo built in {time.monotonic() - started:.0f} s", 1.0)
        return _result(model_dir, data_dir, built=True)


def _build_into(model_dir: Path, data_dir: Path, say: ProgressCallback) -> int:
    from . import data
    from .model import pretrain, save_model
    from .tokenizer import train_tokenizer

    say("writing the demo chat data", 0.0)
    files = data.write_dataset(data_dir)
    chat = data.read_jsonl(files["chat"])
    say("training the tokenizer", 0.02)
    tokenizer = train_tokenizer(data.corpus_texts(chat + data.read_jsonl(files["train"])))

    def pretraining(message: str, fraction: float | None) -> None:
        say(message, None if fraction is None else 0.05 + 0.9 * fraction)

    model = pretrain(tokenizer, [r["messages"] for r in chat], progress=pretraining)  # on one thread, see model.py
    say("saving the base model", 0.97)
    model_dir.mkdir(parents=True)
    save_model(model, tokenizer, model_dir)
    params: int = sum(p.numel() for p in model.parameters())
    stamp = {
        "recipe": RECIPE,
        "name": DEMO_MODEL_NAME,
        "version": DEMO_MODEL_VERSION,
        "parameters": params,
        "built_at": time.time(),
    }
    (model_dir / STAMP).write_text(json.dumps(stamp, indent=2) + "\n", encoding="utf-8")
    return params


def _remove_leftovers(paths: WorkspacePaths) -> None:
    """Temporary folders of a build that was killed; safe to remove while we hold the lock."""
    for parent, name in ((paths.models, DEMO_MODEL_NAME), (paths.data, "demo")):
        for pattern in (f".{name}.tmp-*", f".{name}.old-*"):
            for leftover in parent.glob(pattern):
                shutil.rmtree(leftover, ignore_errors=True)


def _replace_dir(new: Path, target: Path) -> None:
    old = target.with_name(f".{target.name}.old-{os.getpid()}")
    if target.exists():
        target.rename(old)
    new.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def _is_complete(model_dir: Path, data_dir: Path) -> bool:
    try:
        stamp = json.loads((model_dir / STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(stamp, dict) or stamp.get("recipe") != RECIPE:
        return False
    wanted = [model_dir / f for f in MODEL_FILES] + [data_dir / f for f in DATA_FILES]
    return all(p.is_file() and p.stat().st_size > 0 for p in wanted)


def _is_registered(store: Store, model_dir: Path) -> bool:
    """A record for this folder with today's defaults; a moved workspace or new defaults re-register."""
    return any(
        r.get("name") == DEMO_MODEL_NAME
        and str(r.get("version")) == DEMO_MODEL_VERSION
        and r.get("source") == "demo"
        and r.get("path") == str(model_dir.resolve())
        and r.get("model_specific_defaults") == DEMO_DEFAULTS
        for r in store.list_models()
    )


def _catalog_record(model_dir: Path, params: int | None = None) -> dict[str, Any]:
    from .model import CONTEXT

    if params is None:
        try:
            params = int(json.loads((model_dir / STAMP).read_text(encoding="utf-8"))["parameters"])
        except (OSError, ValueError, KeyError, TypeError):
            params = None
    size = sum(p.stat().st_size for p in model_dir.iterdir() if p.is_file())
    return {
        "name": DEMO_MODEL_NAME,
        "version": DEMO_MODEL_VERSION,
        "source": "demo",
        "id": f"local://models/{DEMO_MODEL_NAME}/versions/{DEMO_MODEL_VERSION}",
        "path": str(model_dir.resolve()),
        "architecture": "Phi3ForCausalLM",
        "parameter_count": params,
        "context_length": CONTEXT,
        "size_bytes": size,
        "dtype": "float32",
        "description": (
            "A tiny Phi-3 (4 layers, hidden size 128) pre-trained for seconds on the demo's general chat. "
            "Fine-tune it on the demo's train_sft.jsonl to teach it the capitals of 26 invented countries."
        ),
        "tags": {
            "task": "chat-completion",
            "finetune_compute_allow_list": "['cpu']",
            "inference_compute_allow_list": "['cpu']",
            "model_type": "phi3",
            "demo": "true",
        },
        "model_specific_defaults": dict(DEMO_DEFAULTS),
        "lineage": {"built_by": "finetui demo", "recipe": RECIPE},
        "created_at": time.time(),
    }


def _result(model_dir: Path, data_dir: Path, *, built: bool) -> DemoResult:
    return DemoResult(
        model_name=DEMO_MODEL_NAME,
        model_version=DEMO_MODEL_VERSION,
        model_path=str(model_dir.resolve()),
        train_file=str((data_dir / "train_sft.jsonl").resolve()),
        test_file=str((data_dir / "test_sft.jsonl").resolve()),
        heldout_file=str((data_dir / "heldout.jsonl").resolve()),
        sample_score_file=str((data_dir / "sample_score.json").resolve()),
        built=built,
    )


@contextmanager
def _build_lock(paths: WorkspacePaths) -> Iterator[None]:
    """One build per workspace at a time; a second caller waits, then finds it built."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; concurrent builds are the user's to avoid
        yield
        return
    lock_path = paths.root / ".demo-build.lock"
    with open(lock_path, "a+") as fh:
        deadline = time.monotonic() + 600
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise Conflict(f"another `finetui demo` has held {lock_path} for 10 minutes; is it stuck?") from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
