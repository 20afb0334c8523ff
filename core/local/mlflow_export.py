"""Saving a trained model as an MLflow transformers model folder.

The folder is what Azure ML registers after its fine-tuning pipeline: an
``MLmodel`` file with ``transformers`` and ``python_function`` flavours,
weights under ``model/`` and the tokenizer under ``components/tokenizer/``.
``artifacts.resolve_hf_dirs`` reads it back.

The folder is written beside its destination and renamed into place, so a
reader never sees a half-written model.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Callable

# Pinned loosely to the versions that wrote the model; without an explicit list
# mlflow infers requirements by importing the model in a subprocess (slow, and
# it wants the network for some packages).
_REQUIREMENTS = ("mlflow", "torch", "transformers", "accelerate", "safetensors", "tokenizers")


def offline_env() -> None:
    """Keep transformers and mlflow off the network; call before importing either."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("MLFLOW_TRACKING_URI", "file:///dev/null")
    os.environ.setdefault("DISABLE_MLFLOW_INTEGRATION", "TRUE")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def pip_requirements() -> list[str]:
    from importlib.metadata import PackageNotFoundError, version

    out = []
    for name in _REQUIREMENTS:
        try:
            out.append(f"{name}=={version(name)}")
        except PackageNotFoundError:
            if name == "mlflow":
                try:
                    out.append(f"mlflow=={version('mlflow-skinny')}")
                    continue
                except PackageNotFoundError:
                    pass
            out.append(name)
    return out


def save_mlflow_model(
    model: Any,
    tokenizer: Any,
    dest: str | Path,
    *,
    base_model: str | None = None,
    job: str | None = None,
    log: Callable[[str], None] | None = None,
) -> Path:
    """Write ``model`` and ``tokenizer`` as an MLflow transformers model at ``dest`` (replaced if present).

    ``base_model`` and ``job`` go into the MLmodel ``metadata`` so the lineage travels with the folder.
    """
    metadata = {k: v for k, v in (("base_model", base_model), ("finetui_job", job)) if v}
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        try:
            _save_with_mlflow(model, tokenizer, tmp, metadata)
        except Exception as exc:  # mlflow missing or unable to work offline: write the layout ourselves
            if log:
                log(
                    f"mlflow.transformers.save_model failed ({type(exc).__name__}: {str(exc)[:200]}); writing the MLflow layout directly"
                )
            shutil.rmtree(tmp, ignore_errors=True)
            _save_layout(model, tokenizer, tmp, metadata)
        _check_layout(tmp)
    except BaseException:  # a cancel (SIGTERM) or a failure mid-save leaves no half-written folder behind
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if dest.exists():
        shutil.rmtree(dest)
    os.replace(tmp, dest)
    return dest


def _save_with_mlflow(model: Any, tokenizer: Any, path: Path, metadata: dict[str, str]) -> None:
    offline_env()
    import logging

    import mlflow.transformers

    # offline, its model-card and license look-ups can only fail; their warnings would only alarm the reader
    logging.getLogger("mlflow.transformers").setLevel(logging.ERROR)
    mlflow.transformers.save_model(
        transformers_model={"model": model, "tokenizer": tokenizer},
        path=str(path),
        task="llm/v1/chat",  # text-generation plus the chat signature; works offline
        pip_requirements=pip_requirements(),
        metadata=metadata or None,
    )


def _save_layout(model: Any, tokenizer: Any, path: Path, metadata: dict[str, str]) -> None:
    """The folder mlflow.transformers writes, for when mlflow cannot."""
    import time
    import uuid

    import yaml

    model_dir = path / "model"
    tok_dir = path / "components" / "tokenizer"
    model.save_pretrained(model_dir)
    tokenizer.save_pretrained(tok_dir)
    import transformers

    meta = {
        "artifact_path": None,
        "flavors": {
            "python_function": {
                "loader_module": "mlflow.transformers",
                "python_version": ".".join(map(str, __import__("sys").version_info[:3])),
                "env": {"virtualenv": "python_env.yaml", "conda": "conda.yaml"},
            },
            "transformers": {
                "code": None,
                "components": ["tokenizer"],
                "framework": "pt",
                "instance_type": "TextGenerationPipeline",
                "model_binary": "model",
                "pipeline_model_type": type(model).__name__,
                "source_model_name": str(getattr(model.config, "_name_or_path", "") or ""),
                "task": "text-generation",
                "tokenizer_type": type(tokenizer).__name__,
                "transformers_version": transformers.__version__,
            },
        },
        "metadata": metadata or None,
        "model_uuid": uuid.uuid4().hex,
        "utc_time_created": time.strftime("%Y-%m-%d %H:%M:%S.000000", time.gmtime()),
    }
    (path / "MLmodel").write_text(yaml.safe_dump(meta, sort_keys=False), encoding="utf-8")
    (path / "requirements.txt").write_text("\n".join(pip_requirements()) + "\n", encoding="utf-8")


def _check_layout(path: Path) -> None:
    from .artifacts import resolve_hf_dirs

    model_dir, tok_dir = resolve_hf_dirs(path)
    if not (model_dir / "config.json").is_file():
        raise RuntimeError(f"{path}: the saved MLflow model has no {model_dir.name}/config.json")
    if not any(tok_dir.glob("tokenizer*")):
        raise RuntimeError(f"{path}: the saved MLflow model has no tokenizer files")
