"""Key authentication for an endpoint, the way Azure's key-auth endpoints do it.

Every request except the probes (/health, /ready) needs
``Authorization: Bearer <key>`` with the primary or the secondary key.
Keys live in the endpoint's ``keys.json`` (0600). The file is re-read when
it changes (its inode, size or mtime), so ``regenerate-keys`` takes effect
on the next request without a restart. Keys are never logged.
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
import threading
from pathlib import Path

OPEN_PATHS = frozenset({"/health", "/ready"})


def write_keys(path: Path, primary: str, secondary: str) -> None:
    """Write keys.json atomically; the file is 0600 from the moment it exists."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({"primary": primary, "secondary": secondary}, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def read_keys(path: Path) -> tuple[str, str]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return str(data["primary"]), str(data["secondary"])


class KeyRing:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._keys: tuple[bytes, ...] = ()

    def _current(self) -> tuple[bytes, ...]:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return ()  # keys gone (endpoint being deleted): nothing is accepted
        stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
        with self._lock:
            if stamp != self._stamp:
                try:
                    self._keys = tuple(k.encode() for k in read_keys(self.path) if k)
                except (OSError, ValueError, KeyError):
                    self._keys = ()
                self._stamp = stamp
            return self._keys

    def authorized(self, header: str | None) -> bool:
        if not header:
            return False
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return False
        given = token.encode()
        ok = False
        for key in self._current():
            ok |= hmac.compare_digest(given, key)  # no early exit: time does not tell which key matched
        return ok
