"""What the benches share: tests/ on the import path (the model and app builders the tests use), the
model-size and thread options, and a small random Phi-3 served by a local endpoint.

Benches run as scripts (``python bench/x.py``), so this folder is on the path and ``import _common`` works.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from finetui.core.local.backend import LocalBackend
    from finetui.core.models import Endpoint

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

PROMPT = [{"role": "user", "content": "Explain in a few sentences why the sky is blue, for a curious child."}]


def add_model_args(parser: argparse.ArgumentParser, threads_help: str) -> None:
    parser.add_argument("--threads", type=int, default=1, help=threads_help)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--layers", type=int, default=4)


def offline_with_threads(threads: int) -> None:
    """Before torch is imported: its thread count (inherited by the servers started), and no hub calls."""
    os.environ["OMP_NUM_THREADS"] = str(threads)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")


@contextlib.contextmanager
def tiny_model(args: argparse.Namespace) -> Iterator[Path]:
    """A random Phi-3 of ``--hidden``/``--layers`` in a temporary folder, removed afterwards."""
    from serve_model import build_tiny_phi3

    with tempfile.TemporaryDirectory(prefix="finetui-bench-") as tmp:
        yield build_tiny_phi3(Path(tmp) / "model", hidden=args.hidden, layers=args.layers, heads=8)


@contextlib.contextmanager
def serving(model_dir: Path, name: str, **create: int) -> Iterator[tuple[LocalBackend, Endpoint, str]]:
    """``model_dir`` behind a local endpoint ``name`` (in a workspace beside it): (backend, endpoint, key); deleted after."""
    from finetui.core.endpoint_options import LocalEndpointOptions
    from finetui.core.local.backend import LocalBackend

    backend = LocalBackend(model_dir.parent / "ws")
    backend.catalog.add_path(model_dir, name="bench-model")
    ep = backend.endpoints.create(name, "bench-model", LocalEndpointOptions(**create))
    try:
        yield backend, ep, backend.endpoints.keys(ep.name).primary
    finally:
        backend.endpoints.delete(ep.name)
