"""Reading a log that another process is still writing: chunks of whole lines, and following to the end.

One set of rules for every log a user reads (local jobs, local endpoint
servers, Azure run-history files, the app's mirror of a remote log):

- A chunk ends on a line end while more may come, so a reader never shows
  half a line now and the rest later; once the writer has ended and the file
  is read to its end, the partial last line comes too.
- A chunk never splits a UTF-8 character: the cut is made on bytes, at a
  newline or (for a line longer than a whole chunk, so a reader never stalls
  on it) before the character the chunk would split.
- ``next_offset`` is a byte offset; reading from it later neither repeats
  nor loses a byte. An offset past the end reads nothing and is kept.

``follow_chunks`` is the one polling loop: it takes a read function and a "done"
check and polls at an interval only while nothing new came.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Callable, Iterator

from .errors import InvalidInput
from .models import LogChunk

if TYPE_CHECKING:
    from .backend import Backend

DEFAULT_MAX_BYTES = 1 << 20


def check_offset(offset: int) -> None:
    if offset < 0:
        raise InvalidInput(f"log offset must be 0 or more, got {offset}")


def _char_start(data: bytes, cut: int) -> int:
    """``cut`` moved back to the start of the UTF-8 character it would split (unchanged if it splits none)."""
    back = cut
    while back > 0 and cut - back < 4 and (data[back - 1] & 0xC0) == 0x80:
        back -= 1  # continuation bytes
    if back > 0 and data[back - 1] >= 0xC0:  # the lead byte of a character that continues past ``cut``
        lead = data[back - 1]
        needed = 2 if lead < 0xE0 else 3 if lead < 0xF0 else 4
        if cut - (back - 1) < needed:
            return back - 1
    return cut


def whole_lines(data: bytes, *, final: bool, full: bool = False) -> bytes:
    """The part of ``data`` a reader may show now.

    ``final``: ``data`` runs to the end of a log that will not grow, so all of
    it is shown, partial last line too. Otherwise it is cut after its last
    newline; with no newline at all and ``full`` (the read was capped at the
    chunk size: one line longer than a chunk), it is cut before a split
    character instead, so a reader still moves on.
    """
    if final or not data or data.endswith(b"\n"):
        return data
    cut = data.rfind(b"\n")
    if cut >= 0:
        return data[: cut + 1]
    return data[: _char_start(data, len(data))] if full else b""


def chunk_of(data: bytes, offset: int, *, final: bool, full: bool = False, done: bool = False) -> LogChunk:
    """``data`` read at ``offset``, cut by ``whole_lines``, as a LogChunk (``complete`` when ``done``
    and nothing was cut off)."""
    kept = whole_lines(data, final=final, full=full)
    return LogChunk(kept.decode("utf-8", "replace"), offset, offset + len(kept), done and len(kept) == len(data))


def read_chunk(path: str | os.PathLike[str], offset: int = 0, max_bytes: int = DEFAULT_MAX_BYTES, *, ended: bool) -> LogChunk:
    """Whole lines of the file at ``path`` from byte ``offset``, at most ``max_bytes``.

    ``ended``: the writer has stopped (check it before calling, so nothing is
    written after the size is taken); the chunk is then ``complete`` once it
    reaches the end. A file not written yet reads as empty.
    """
    check_offset(offset)
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            f.seek(offset)
            data = f.read(max(0, min(max_bytes, size - offset)))
    except FileNotFoundError:
        data, size = b"", 0
    at_end = offset + len(data) >= size
    return chunk_of(data, offset, final=ended and at_end, full=len(data) >= max_bytes, done=ended and at_end)


def follow_chunks(
    read: Callable[[int], LogChunk],
    offset: int = 0,
    *,
    keep_going: bool = True,
    poll_s: float = 0.25,
    done: Callable[[LogChunk], bool] = lambda chunk: chunk.complete,
    cancelled: Callable[[], bool] = lambda: False,
    sleep: Callable[[float], object] = time.sleep,
) -> Iterator[LogChunk]:
    """Chunks from ``read(offset)`` on, each with text, and the last one.

    Ends when ``done(chunk)`` (by default: the job ended and its log is read),
    when ``cancelled()``, or, without ``keep_going``, at the first read that
    brings nothing new (what has been written so far). Sleeps ``poll_s`` only
    after a read that brought nothing, so a log that grows quickly is read at
    disk speed. The last chunk's ``next_offset`` is where a later call resumes.
    """
    while True:
        chunk = read(offset)
        offset = chunk.next_offset
        last = done(chunk) or (not keep_going and not chunk.text) or cancelled()
        if chunk.text or last:
            yield chunk
        if last:
            return
        if not chunk.text:
            sleep(poll_s)
            if cancelled():
                return


def follow_log(backend: Backend, name: str, offset: int = 0, poll: float = 0.25, *, keep_going: bool = True) -> Iterator[str]:
    """A job's log text from ``offset`` until the job ends and the log is read to the end
    (without ``keep_going``: what has been written so far)."""
    for chunk in follow_chunks(lambda at: backend.read_log(name, at), offset, keep_going=keep_going, poll_s=poll):
        if chunk.text:
            yield chunk.text
