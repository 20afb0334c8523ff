"""Download a slice of a chat dataset from the Hugging Face hub as JSONL files.

The tutorial's download-dataset.py: for each split, ``load_dataset(repo,
split="train_sft[:5%]")`` and write ``{out_dir}/{split}.jsonl``. Without a
network ``datasets`` retries for a long time, so the hub is probed first with
a short TCP connect, and the offline switches fail at once. A ``repo_id`` that
is an existing local folder (a copy of the repo) is loaded without the probe.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from ..errors import InvalidInput, NetworkUnavailable, NotFound
from ..hub import hub_endpoint, offline_switch, unreachable
from ..names import check_name
from .prepare import atomic_writer

DEFAULT_SPLITS = ("train_sft", "test_sft", "train_gen", "test_gen")


def check_hub_reachable(repo_id: str) -> None:
    """Raise NetworkUnavailable at once when offline mode is on or the hub does not answer a TCP connect."""
    switch = offline_switch("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")
    if switch:
        raise NetworkUnavailable(
            f"cannot fetch dataset {repo_id}: {switch} is set (offline mode); unset it or copy the dataset here and pass its folder"
        )
    endpoint = hub_endpoint()
    why = unreachable(endpoint)
    if why:
        raise NetworkUnavailable(
            f"cannot fetch dataset {repo_id}: the hub {endpoint} is unreachable ({why}); check the network, or pass a local copy of the dataset folder"
        )


def _pc_text(split_pc: float) -> str | None:
    """The percent as datasets' split syntax takes it (integers only), or None for a fraction."""
    return str(int(split_pc)) if float(split_pc).is_integer() else None


def fetch_dataset(
    repo_id: str,
    out_dir: str | os.PathLike[str],
    *,
    split_pc: float = 5,
    splits: Iterable[str] = DEFAULT_SPLITS,
    progress: Callable[[str, float | None], None] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
) -> dict[str, str]:
    """Write the first ``split_pc`` percent of each split as ``{out_dir}/{split}.jsonl``; return split -> path."""
    if not repo_id or not str(repo_id).strip():
        raise InvalidInput("dataset: a hub repo id (owner/name) or a local folder is required")
    try:
        pc = float(split_pc)
    except (TypeError, ValueError):
        raise InvalidInput(f"split_pc: must be a number in (0, 100], got {split_pc!r}") from None
    if not (0 < pc <= 100) or math.isnan(pc):
        raise InvalidInput(f"split_pc: must be in (0, 100], got {split_pc!r}")
    names = list(dict.fromkeys(splits))
    if not names:
        raise InvalidInput("splits: name at least one split")
    for name in names:
        check_name("split", name)
    local = Path(repo_id).expanduser()
    is_local = local.exists()
    if not is_local:
        check_hub_reachable(repo_id)
    source = str(local) if is_local else repo_id
    out = Path(out_dir).expanduser()
    import datasets  # about a second to import: only when a fetch runs

    written: dict[str, str] = {}
    with _quiet_datasets(datasets):
        for k, name in enumerate(names):
            if progress:
                progress(f"downloading {repo_id} {name} ({split_pc:g}%)", k / len(names))
            ds = _load_split(datasets, source, repo_id, name, pc, cache_dir)
            if progress:
                progress(f"writing {name}.jsonl ({len(ds)} rows)", (k + 0.5) / len(names))
            written[name] = str(_write_jsonl(out / f"{name}.jsonl", _records(ds)))
    if progress:
        progress(f"fetched {len(written)} split(s) of {repo_id}", 1.0)
    return written


def _load_split(datasets: Any, source: str, repo_id: str, split: str, pc: float, cache_dir: Any) -> Any:
    text = _pc_text(pc)
    spec = f"{split}[:{text}%]" if text is not None else split
    kwargs: dict[str, Any] = {"cache_dir": str(cache_dir)} if cache_dir else {}
    builder, files = _local_split_files(source, split)
    try:
        if builder:
            ds = datasets.load_dataset(builder, data_files={split: files}, split=spec, **kwargs)
        else:
            ds = datasets.load_dataset(source, split=spec, **kwargs)
    except ValueError as exc:
        msg = str(exc)
        if "corresponds to no data" in msg:
            raise InvalidInput(
                f"dataset {repo_id}: the first {pc:g}% of split {split} holds no rows; take a larger percentage"
            ) from None
        if "Unknown split" in msg or "Bad split" in msg:
            raise InvalidInput(f"dataset {repo_id}: no split {split!r}{_known_splits(msg)}") from None
        raise InvalidInput(f"dataset {repo_id}, split {split}: {msg.splitlines()[0] if msg else type(exc).__name__}") from None
    except ConnectionError as exc:
        raise NetworkUnavailable(f"cannot fetch dataset {repo_id}: {str(exc).splitlines()[0]}") from None
    except FileNotFoundError as exc:  # includes datasets' DatasetNotFoundError / DataFilesNotFoundError
        reason = str(exc).splitlines()[0] if str(exc) else "not found"
        raise NotFound(
            f"dataset {repo_id} not found ({reason})", hint="check the repo id, or log in for a gated dataset"
        ) from None
    except Exception as exc:
        name = type(exc).__name__
        if "NotFound" in name or "RepositoryNotFound" in name:
            raise NotFound(f"dataset {repo_id} not found") from None
        if "Gated" in name or "Unauthorized" in name or "Auth" in name:
            from ..errors import AuthError

            raise AuthError(f"dataset {repo_id} needs a Hugging Face login or access approval") from None
        raise
    if text is None:
        ds = ds.select(range(int(round(len(ds) * pc / 100))))
    return ds


_LOCAL_PATTERNS = (
    "{s}.jsonl",
    "{s}.json",
    "{s}.parquet",
    "{s}-*.parquet",
    "{s}-*.jsonl",
    "data/{s}.jsonl",
    "data/{s}.parquet",
    "data/{s}-*.parquet",
)


def _local_split_files(source: str, split: str) -> tuple[str | None, list[str]]:
    """(builder, files) for a split kept as files named after it in a local folder.

    datasets maps ``train_sft.jsonl`` to its ``train`` split when a folder has
    no README configs, so a folder of ``{split}.jsonl`` files (what this module
    writes) would lose its split names; reading the named files keeps them.
    """
    root = Path(source)
    if not root.is_dir():
        return None, []
    for pattern in _LOCAL_PATTERNS:
        files = sorted(str(f) for f in root.glob(pattern.format(s=split)) if f.is_file())
        if files:
            return ("parquet" if files[0].endswith(".parquet") else "json"), files
    return None, []


def _known_splits(message: str) -> str:
    start = message.find("[")
    return f"; it has {message[start:].rstrip('.')}" if start >= 0 else ""


def _records(ds: Any) -> Iterator[dict[str, Any]]:
    # batches keep memory flat and are far faster than row-by-row access
    for start in range(0, len(ds), 1000):
        batch = ds[start : start + 1000]
        keys = list(batch)
        for values in zip(*(batch[k] for k in keys)):
            yield dict(zip(keys, values))


def _write_jsonl(dst: Path, records: Iterable[dict[str, Any]]) -> Path:
    tmp, f = atomic_writer(dst)
    try:
        with f:
            for record in records:
                f.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
        os.replace(tmp, dst)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return dst


@contextlib.contextmanager
def _quiet_datasets(datasets: Any) -> Iterator[None]:
    """core never prints: silence datasets' progress bars for the call, then restore them."""
    from datasets.utils import logging as ds_logging

    was_enabled = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    verbosity = ds_logging.get_verbosity()
    ds_logging.set_verbosity_error()
    try:
        yield
    finally:
        ds_logging.set_verbosity(verbosity)
        if was_enabled:
            datasets.enable_progress_bars()
