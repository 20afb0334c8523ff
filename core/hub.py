"""The Hugging Face Hub as finetui reaches it: where it is, whether it is switched off, whether it answers.

Without a network huggingface_hub and datasets retry for minutes. Both paths
that download (``model pull``, ``data fetch``) ask here first, so a machine
with no network gets one clear line at once instead of a long hang.
"""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlparse

PROBE_TIMEOUT_S = 3.0
DEFAULT_ENDPOINT = "https://huggingface.co"


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def hub_endpoint() -> str:
    return os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT


def offline_switch(*names: str) -> str | None:
    """The first of these environment switches (HF_HUB_OFFLINE, ...) that is on, else None."""
    return next((name for name in names if _truthy(os.environ.get(name))), None)


def unreachable(endpoint: str | None = None, timeout: float = PROBE_TIMEOUT_S) -> str | None:
    """None when the hub's host accepts a TCP connection, else why not.

    The connect runs in a daemon thread so that a DNS lookup, which
    ``create_connection``'s timeout does not cover, is bounded too.
    """
    url = urlparse(endpoint or hub_endpoint())
    host = url.hostname or "huggingface.co"
    port = url.port or (80 if url.scheme == "http" else 443)
    result: list[str | None] = ["timed out"]

    def attempt() -> None:
        try:
            socket.create_connection((host, port), timeout=timeout).close()
            result[0] = None
        except OSError as exc:
            result[0] = "timed out" if isinstance(exc, TimeoutError) else (exc.strerror or type(exc).__name__)

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(timeout + 0.5)
    return result[0]


def hf_cache_dir() -> Path:
    """Read at call time: huggingface_hub fixes its constant when first imported."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "huggingface" / "hub"


def reporting_tqdm(say: Callable[[str, float | None], None]) -> type:
    """A tqdm that prints nothing (the app owns the screen) and reports to ``say`` instead."""
    import io

    from tqdm import tqdm

    class Reporting(tqdm):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs.pop("name", None)
            kwargs.update(file=io.StringIO(), disable=False)
            super().__init__(*args, **kwargs)

        def update(self, n: float | None = 1) -> bool | None:
            shown: bool | None = super().update(n)
            if self.total and self.desc:
                say(self.desc, min(1.0, self.n / self.total))
            return shown

    return Reporting
