"""Time to live: an endpoint that is stopped (local) or deleted (Azure) when its time runs out.

The deadline is wall-clock time from creation (``expires_at``), kept in the
endpoint's record: restarting a local endpoint does not give it more time.
The reason is recorded in the same words everywhere: ``expired (ttl 2h)``.
"""

from __future__ import annotations

import math
import re
import time
from pathlib import Path
from typing import Any, overload

from .errors import InvalidInput, quote
from .units import duration_as_typed

MAX_TTL_S = 366 * 86400.0
_DURATION = re.compile(r" *(\d+(?:\.\d+)?) *([smhd]?) *")  # spaces, never a newline or a tab
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str | None, option: str = "--idle-timeout") -> float | None:
    """``30m``, ``90s``, ``2h``, ``45`` (seconds) -> seconds; ``0``/``off``/``none`` -> no limit."""
    if text is None or text.strip(" ").lower() in ("", "0", "off", "none"):
        return None
    m = _DURATION.fullmatch(text.lower())
    if not m:
        raise InvalidInput(f"{option} {quote(text)}: use a number with s, m, h or d, e.g. 30m")
    return float(m.group(1)) * _UNIT[m.group(2)]


# a time given is checked, never dropped: only None gives None back
@overload
def check_ttl(ttl_s: float, option: str = ...) -> float: ...


@overload
def check_ttl(ttl_s: float | None, option: str = ...) -> float | None: ...


def check_ttl(ttl_s: float | None, option: str = "--ttl") -> float | None:
    if ttl_s is None:
        return None
    if not isinstance(ttl_s, (int, float)) or not math.isfinite(ttl_s) or ttl_s <= 0 or ttl_s > MAX_TTL_S:
        raise InvalidInput(f"{option} {ttl_s!r}: use a positive time of at most 366 days, e.g. 2h")
    return float(ttl_s)


def parse_ttl(text: str | None, option: str = "--ttl") -> float | None:
    """What the user typed as a time to live (the CLI's --ttl, the app's create form) -> seconds, or None for none."""
    return check_ttl(parse_duration(text, option), option)


def create_endpoint(
    backend: Any, local_root: Path, name: str, model: str, options: Any, ttl_s: float | None
) -> tuple[Any, dict[str, Any] | None]:
    """Create the endpoint and make its time to live hold: (endpoint, the Azure watcher's status or None).

    A local server keeps its own time (``options.ttl_s``) and idle timeout; an
    Azure endpoint gets a detached watcher process that deletes it when the time
    is over or, with ``options.idle_timeout_s``, when Azure Monitor shows no
    requests for that long.
    """
    from dataclasses import replace

    started = time.time()
    endpoint = backend.create_endpoint(name, model, options)
    idle_s = getattr(options, "idle_timeout_s", None)
    if (ttl_s is None and idle_s is None) or getattr(backend, "name", "") != "azure":
        return endpoint, None
    from .azure.ttl_watch import start_watcher

    # idle time counts from ready, as a local server's does: when the create call waited for the deployment
    ready_at = time.time() if getattr(options, "wait", True) else None
    watcher = start_watcher(
        local_root,
        backend.workspace,
        name,
        ttl_s,
        started,
        getattr(backend, "registry_name", None),
        idle_timeout_s=idle_s,
        ready_at=ready_at,
    )
    return replace(endpoint, ttl_s=watcher["ttl_s"], expires_at=watcher["expires_at"]), watcher


def expired_reason(ttl_s: float) -> str:
    return f"expired (ttl {duration_as_typed(ttl_s)})"


def idle_reason(idle_s: float, source: str) -> str:
    return f"idle for {duration_as_typed(idle_s)}: no requests ({source})"
