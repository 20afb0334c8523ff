"""Line offsets of a (possibly huge, possibly growing) log file, read on demand.

The file is never loaded: we keep where each line starts, as unsigned 64-bit
integers in ``array('Q')`` (8 bytes a line, not a Python int each), and read a
line with ``os.pread`` only when it is on screen.

The index is built from the end backwards so the tail is known first: the
backward scan appends to ``_rev`` (starts in descending order) while lines
appended later by a growing file go to ``_fwd`` (ascending). Line ``i`` of the
view is ``_rev[len(_rev)-1-i]`` for the older part and ``_fwd[...]`` after it.
This module has no Textual import; the widget owns threads and messages.
"""

from __future__ import annotations

import os
from array import array
from pathlib import Path

CHUNK = 4 << 20
TAIL_CHUNK = 64 << 10
_CONTROL = dict.fromkeys(range(32), None) | {9: "    "}


def _newlines(buf: bytes, base: int) -> "object":
    """Absolute positions of b'\\n' in ``buf`` (numpy: ~1 GB/s instead of a Python loop)."""
    import numpy as np

    return np.flatnonzero(np.frombuffer(buf, dtype=np.uint8) == 10).astype(np.uint64) + np.uint64(base)


class LogFile:
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.fd: int | None = None
        self._rev = array("Q")  # line starts found scanning backwards, descending
        self._fwd = array("Q")  # line starts appended by follow, ascending
        self.end = 0  # offset just past the last indexed line
        self.scan_pos = 0  # the backward scan has indexed everything at or after this
        self.complete = False  # the backward scan reached the start of the file

    # -- opening -------------------------------------------------------------
    def open(self) -> int:
        """Open the file and fix the end of what the backward scan will index."""
        if self.fd is None:
            self.fd = os.open(self.path, os.O_RDONLY)
        size = os.fstat(self.fd).st_size
        self.end = self._complete_end(size)
        self.scan_pos = self.end
        self.complete = self.end == 0
        return size

    def _complete_end(self, size: int) -> int:
        """The offset after the last b'\\n' at or before ``size`` (partial last lines wait)."""
        if size == 0:
            return 0
        pos = size
        while pos > 0:
            lo = max(0, pos - TAIL_CHUNK)
            buf = os.pread(self.fd, pos - lo, lo)
            cut = buf.rfind(b"\n")
            if cut >= 0:
                return lo + cut + 1
            pos = lo
        return 0

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    # -- scanning (called from a worker thread; returns data, mutates nothing) --
    def scan_back(self, pos: int, chunk: int = CHUNK) -> tuple[bytes, int]:
        """Line starts in [pos-chunk, pos), descending, as raw 'Q' bytes; and the new pos."""
        import numpy as np

        lo = max(0, pos - chunk)
        buf = os.pread(self.fd, pos - lo, lo)
        nl = _newlines(buf, lo)
        # the newline ending the file's last indexed line starts no indexed line
        nl = nl[nl < np.uint64(self.end - 1)] if self.end else nl[:0]
        starts = (nl[::-1] + np.uint64(1)).astype("<u8")
        out = starts.tobytes()
        if lo == 0 and self.end:
            out += array("Q", [0]).tobytes()
        return out, lo

    def read_new(self, end: int, max_bytes: int = 32 << 20) -> tuple[bytes, int]:
        """Starts of complete lines appended after ``end`` (ascending bytes) and the new end."""
        import numpy as np

        size = os.fstat(self.fd).st_size
        if size <= end:
            return b"", end
        buf = os.pread(self.fd, min(size - end, max_bytes), end)
        nl = _newlines(buf, end)
        if not len(nl):
            return b"", end
        new_end = int(nl[-1]) + 1
        # each complete line starts at ``end`` or just after a newline, but not after the last one
        starts = np.concatenate(([np.uint64(end)], nl[:-1] + np.uint64(1))).astype("<u8")
        return starts.tobytes(), new_end

    # -- applying results (main thread) ----------------------------------------
    def add_back(self, data: bytes, pos: int) -> int:
        before = len(self._rev)
        self._rev.frombytes(data)
        self.scan_pos = pos
        self.complete = pos == 0
        return len(self._rev) - before

    def add_new(self, data: bytes, end: int) -> int:
        before = len(self._fwd)
        self._fwd.frombytes(data)
        self.end = end
        return len(self._fwd) - before

    # -- reading -----------------------------------------------------------------
    @property
    def line_count(self) -> int:
        return len(self._rev) + len(self._fwd)

    def start(self, i: int) -> int:
        n = len(self._rev)
        return self._rev[n - 1 - i] if i < n else self._fwd[i - n]

    def span(self, i: int) -> tuple[int, int]:
        start = self.start(i)
        stop = self.start(i + 1) if i + 1 < self.line_count else self.end
        return start, stop

    def line(self, i: int, max_bytes: int = 4096) -> str:
        """Line ``i`` without its newline, control characters removed, tabs expanded."""
        if self.fd is None or not 0 <= i < self.line_count:
            return ""
        start, stop = self.span(i)
        data = os.pread(self.fd, min(stop - start, max_bytes), start)
        return data.rstrip(b"\r\n").decode("utf-8", "replace").translate(_CONTROL)

    # -- search --------------------------------------------------------------------
    def matching_lines(self, needle: str, first: int, end: int, base: int = 0, chunk: int = CHUNK) -> array:
        """Indices of the lines in [first, end) that contain ``needle`` (ASCII case-insensitive).

        ``first`` is the offset of line ``base``. Chunks end on a line end, a
        lowered chunk is searched with ``bytes.find`` (one step per matching
        line), and hits become line numbers by counting newlines with numpy, so
        a 1 GB log is searched near disk speed with memory bounded by a chunk.
        """
        import numpy as np

        out = array("Q")
        if not needle or self.fd is None:
            return out
        target = needle.lower().encode("utf-8")
        pos, line0 = first, base
        while pos < end:
            buf = os.pread(self.fd, min(chunk, end - pos), pos)
            if not buf:
                break
            if pos + len(buf) < end:
                cut = buf.rfind(b"\n")
                buf = buf[: cut + 1] if cut >= 0 else buf
            low = buf.lower()
            hits, at = [], low.find(target)
            while at >= 0:
                hits.append(at)
                line_end = low.find(b"\n", at)
                if line_end < 0:
                    break
                at = low.find(target, line_end + 1)
            if hits:
                newlines = np.flatnonzero(np.frombuffer(buf, dtype=np.uint8) == 10)
                lines = np.searchsorted(newlines, np.array(hits), side="left") + line0
                out.frombytes(lines.astype("<u8").tobytes())
            line0 += buf.count(b"\n")
            pos += len(buf)
        return out
