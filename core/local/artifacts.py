"""Where the weights and tokenizer of a model folder are.

A model folder is either a plain Hugging Face folder (config.json beside the
weights) or an MLflow model folder written by ``mlflow.transformers`` (an
``MLmodel`` file, weights under ``model/``, tokenizer under
``components/tokenizer/``). Training output and registered models are the
latter, the same artifact Azure ML registers as an MLflow model.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import InvalidInput, NotFound


def is_mlflow_model(path: str | Path) -> bool:
    return (Path(path) / "MLmodel").is_file()


def resolve_hf_dirs(path: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Return (model_dir, tokenizer_dir) for an HF or MLflow transformers folder."""
    root = Path(path)
    if not root.exists():
        raise NotFound(f"model folder {root} does not exist")
    if is_mlflow_model(root):
        import yaml

        from ..files import CONFIG_MAX_BYTES, load_yaml, read_user_text

        try:
            meta = load_yaml(read_user_text(root / "MLmodel", None, CONFIG_MAX_BYTES)) or {}
        except (yaml.YAMLError, RecursionError) as exc:
            raise InvalidInput(
                f"{root / 'MLmodel'}: invalid YAML: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
            ) from None
        if not isinstance(meta, dict):
            raise InvalidInput(f"{root / 'MLmodel'}: expected a YAML mapping")
        flavor = (meta.get("flavors") or {}).get("transformers")
        if not isinstance(flavor, dict):
            raise InvalidInput(f"{root / 'MLmodel'}: no transformers flavour; finetui serves transformers models")
        model_dir = root / str(flavor.get("model_binary", "model"))
        tokenizer_dir = root / "components" / "tokenizer"
        if not tokenizer_dir.is_dir():
            tokenizer_dir = model_dir
        return model_dir, tokenizer_dir
    if (root / "config.json").is_file():
        return root, root
    raise InvalidInput(f"{root}: not a model folder (no config.json and no MLmodel file)")
