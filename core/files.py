"""Files a user names: regular files only, read with a size cap, one-line errors.

A FIFO, ``/dev/zero``, a folder or a symlink loop given as ``--spec``,
``--request-file``, ``--train`` or a dataset must fail at once with a line
naming the path and what is wrong, not hang (a FIFO blocks ``open`` until a
writer comes), grow memory without bound, or raise a traceback. Opening with
``O_NONBLOCK`` keeps a FIFO from blocking; ``fstat`` on the open descriptor
then says what the path really is, with no race between check and read.
YAML from such files is parsed without aliases (``load_yaml``).
"""

from __future__ import annotations

import errno
import json
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import InvalidInput, json_problem, quote

if TYPE_CHECKING:
    import yaml

MiB = 1 << 20
CONFIG_MAX_BYTES = 16 * MiB  # config.json, MLmodel and the like: small files, whatever folder holds them
# a dataset opened in the app is indexed by offsets, never read whole; past this it is a wrong path, not data
DATASET_MAX_BYTES = 64 * 1024 * MiB

_REASONS: dict[int | None, str] = {
    errno.ENOENT: "file not found",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EISDIR: "is a folder, not a file",
    errno.ELOOP: "too many levels of symbolic links (a symlink loop?)",
    errno.ENOTDIR: "a part of the path is not a folder",
    errno.ENAMETOOLONG: "the path is too long",
}


def os_reason(exc: OSError) -> str:
    """What an OSError on a path means, in a few words."""
    return _REASONS.get(exc.errno, exc.strerror or type(exc).__name__)


def shown(path: str | os.PathLike[str]) -> str:
    """A path as an error message shows it: as is, or quoted (and cut) when it holds control characters."""
    text = os.fspath(path)
    return text if text.isprintable() and len(text) <= 400 else quote(text, 400)


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "is a folder, not a file"
    if stat.S_ISFIFO(mode):
        return "is a named pipe (FIFO), not a regular file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "is a device, not a regular file"
    if stat.S_ISSOCK(mode):
        return "is a socket, not a regular file"
    return "is not a regular file"


def _fail(path: str | os.PathLike[str], what: str | None, problem: str) -> InvalidInput:
    label = f"{what} {shown(path)}" if what else shown(path)
    return InvalidInput(f"{label}: {problem}")


def open_regular(path: str | os.PathLike[str], what: str | None = None) -> int:
    """A read-only descriptor on ``path`` if it is a regular file; InvalidInput otherwise. The caller closes it."""
    try:
        fd = os.open(Path(path).expanduser(), os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise _fail(path, what, os_reason(exc)) from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        raise _fail(path, what, _kind(mode))
    return fd


def check_regular_file(path: str | os.PathLike[str], what: str | None = None, max_bytes: int | None = None) -> Path:
    """``path`` resolved, if it names a readable regular file (of at most ``max_bytes``); InvalidInput naming it otherwise."""
    fd = open_regular(path, what)
    try:
        size = os.fstat(fd).st_size
    finally:
        os.close(fd)
    if max_bytes is not None and size > max_bytes:
        from .units import size as human_size

        raise _fail(path, what, f"{human_size(size)} is over the {human_size(max_bytes)} limit")
    return Path(path).expanduser().resolve()


def read_user_file(path: str | os.PathLike[str], what: str | None = None, max_bytes: int = MiB) -> bytes:
    """The bytes of a regular file of at most ``max_bytes``; InvalidInput naming the path otherwise."""
    fd = open_regular(path, what)
    try:
        if os.fstat(fd).st_size > max_bytes:
            raise _fail(path, what, f"is {os.fstat(fd).st_size / MiB:.1f} MiB, over the {max_bytes / MiB:g} MiB limit")
        chunks, total = [], 0
        while total <= max_bytes:  # the file may grow while we read: stop one byte past the cap
            chunk = os.read(fd, max_bytes + 1 - total)
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > max_bytes:
            raise _fail(path, what, f"is over the {max_bytes / MiB:g} MiB limit")
        return b"".join(chunks)
    except OSError as exc:
        raise _fail(path, what, os_reason(exc)) from None
    finally:
        os.close(fd)


def read_user_text(path: str | os.PathLike[str], what: str | None = None, max_bytes: int = MiB) -> str:
    """Like ``read_user_file``, decoded as UTF-8 (a BOM is dropped); InvalidInput when it is not UTF-8."""
    data = read_user_file(path, what, max_bytes)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _fail(path, what, f"not UTF-8 text (byte {exc.start})") from None


def _yaml_loader() -> type[yaml.SafeLoader]:
    """PyYAML's SafeLoader without aliases: ``*name`` is how a 344-byte spec grows to gigabytes."""
    import yaml

    class NoAliasLoader(yaml.SafeLoader):
        def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node | None:
            if self.check_event(yaml.AliasEvent):
                event = self.peek_event()
                raise yaml.composer.ComposerError(
                    None, None, f"aliases (*{event.anchor[:40]}) are not allowed; write the value out", event.start_mark
                )
            return super().compose_node(parent, index)

    return NoAliasLoader


def load_yaml(text: str) -> Any:  # whatever the document holds: callers check its shape
    """One YAML document of a user's file, safely and without aliases (yaml.YAMLError on bad input)."""
    import yaml

    return yaml.load(text, Loader=_yaml_loader())  # noqa: S506 (a SafeLoader subclass)


def load_json(text: str, path: str | os.PathLike[str]) -> Any:  # whatever the document holds: callers check its shape
    """One JSON document of the user's file ``path``; InvalidInput naming the file and line when it is not JSON."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{shown(path)}: line {exc.lineno}: invalid JSON: {json_problem(exc)}") from None
    except RecursionError:
        raise InvalidInput(f"{shown(path)}: JSON nested too deeply") from None
