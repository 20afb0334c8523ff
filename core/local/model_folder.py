"""What a model folder holds, read without loading it: config.json and the safetensors headers only.

A Hugging Face folder or an MLflow transformers folder; the catalog records
what this reads when a folder is added, and lists cached models with it.
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path
from typing import Any

from ..errors import InvalidInput, NotFound

_MAX_HEADER = 100 * 1024 * 1024  # a safetensors header larger than this is not one


def safetensors_parameters(path: str | Path) -> int:
    """Parameters in one .safetensors file, from its JSON header alone."""
    from ..files import open_regular

    try:
        fd = open_regular(path)
    except InvalidInput as exc:  # a FIFO named *.safetensors must not block the catalog
        raise ValueError(str(exc)) from None
    with os.fdopen(fd, "rb") as fh:
        raw = fh.read(8)
        if len(raw) != 8:
            raise ValueError("file shorter than a safetensors header")
        (length,) = struct.unpack("<Q", raw)
        if length > _MAX_HEADER:
            raise ValueError("header length out of range")
        header = json.loads(fh.read(length))
    total = 0
    for name, info in header.items():
        if name == "__metadata__":
            continue
        n = 1
        for dim in info["shape"]:
            n *= int(dim)
        total += n
    return total


def _weight_files(folder: Path) -> list[Path]:
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        try:
            shards = sorted(set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values()))
            return [folder / s for s in shards]
        except (OSError, ValueError, KeyError, TypeError):
            pass
    return sorted(folder.glob("*.safetensors"))


def _size_on_disk(folder: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(folder, followlinks=False):
        for f in files:
            try:
                total += os.stat(os.path.join(dirpath, f)).st_size  # follows HF cache symlinks to blobs
            except OSError:
                pass
    return total


def inspect(path: str | Path) -> dict[str, Any]:
    """CatalogModel fields read from a Hugging Face (or MLflow transformers) folder."""
    from ..model_dims import normalize_dims, params_from_dims
    from .artifacts import resolve_hf_dirs

    root = Path(path).expanduser()
    if not root.is_dir():
        raise InvalidInput(f"{root}: not a folder; give a Hugging Face model folder with config.json")
    try:
        model_dir = resolve_hf_dirs(root)[0]
    except NotFound:
        raise InvalidInput(f"{root}: folder does not exist") from None
    config_file = model_dir / "config.json"
    if not config_file.is_file():
        raise InvalidInput(f"{root}: no config.json in {model_dir}; a model folder needs one")
    from ..files import CONFIG_MAX_BYTES, read_user_text

    try:
        config = json.loads(read_user_text(config_file, None, CONFIG_MAX_BYTES))
    except ValueError as exc:
        raise InvalidInput(f"{config_file}: not valid JSON ({exc})") from None
    if not isinstance(config, dict):
        raise InvalidInput(f"{config_file}: expected a JSON object")
    dims = normalize_dims(config)

    params: int | None = None
    counted = "safetensors"
    files = _weight_files(model_dir)
    if files:
        try:
            params = sum(safetensors_parameters(f) for f in files)
        except (OSError, ValueError, KeyError, TypeError):
            params = None
    if params is None:
        counted = "config"
        try:
            params = params_from_dims(dims)
        except (KeyError, TypeError):
            counted = "unknown"

    architectures = config.get("architectures") or []
    text_config = config.get("text_config")
    text = text_config if isinstance(text_config, dict) else {}
    dtype = config.get("torch_dtype") or config.get("dtype") or text.get("torch_dtype") or text.get("dtype")
    tags = {"task": "chat-completion", "parameter_count_from": counted}
    if dims.get("model_type"):
        tags["model_type"] = str(dims["model_type"])
    return {
        "path": str(root.resolve()),
        "architecture": architectures[0] if architectures else dims.get("model_type"),
        "parameter_count": params,
        "context_length": dims.get("max_position_embeddings"),
        "size_bytes": _size_on_disk(root),
        "dtype": str(dtype) if dtype else None,
        "tags": tags,
    }
