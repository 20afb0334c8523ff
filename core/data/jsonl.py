"""Random access to the rows of a large JSONL file without loading it.

``JsonlIndex`` records where each row starts (an ``array('Q')``, 8 bytes a
row) by scanning the file in large binary chunks, and reads a row back with
one ``os.pread`` of just that line. The index is usable while it is still
being built: a scanning thread calls ``scan()`` slice by slice while a reader
calls ``row()`` for rows below ``line_count``. A 200,000-row, 1 GB file costs
about 2 MB of index.

Rows are the non-blank lines, as in the validator; ``line_number(i)`` gives
the 1-based line in the file (they differ only when blank lines are present).
"""

from __future__ import annotations

import bisect
import json
import os
import threading
from array import array
from pathlib import Path
from typing import Any

from ..errors import InvalidInput, json_problem
from ..files import open_regular
from ..units import size

CHUNK = 8 << 20
MAX_ROW_BYTES = 8 << 20


class JsonlIndex:
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._fd = -1
        fd = open_regular(self.path)  # a FIFO or a device fails here instead of blocking or never ending
        self._fd, self.size = fd, os.fstat(fd).st_size
        self._starts = array("Q")
        self._count = 0  # rows published to readers; _starts may hold more while a batch is added
        self._pos = 0  # bytes scanned; a row starting before _pos whose newline is not yet found is pending
        self._pending: int | None = None  # start of a line whose newline is not yet found
        self._pending_blank = False  # that line is whitespace so far
        self._gaps: list[tuple[int, int]] = []  # (first row after blank lines, blank lines before it in total)
        self._blank = 0
        self._lock = threading.Lock()

    # -- building ---------------------------------------------------------------------------
    @property
    def done(self) -> bool:
        return self._pos >= self.size and self._pending is None

    @property
    def line_count(self) -> int:
        return self._count

    def __len__(self) -> int:
        return self._count

    @property
    def progress(self) -> float:
        return 1.0 if self.size == 0 else min(1.0, self._pos / self.size)

    def scan(self, max_bytes: int = 64 << 20) -> bool:
        """Index up to ``max_bytes`` more of the file; True once the whole file is indexed."""
        budget = max(1, max_bytes)
        while budget > 0 and self._pos < self.size:
            want = min(CHUNK, budget, self.size - self._pos)
            data = os.pread(self._fd, want, self._pos)
            if not data:  # the file shrank under us
                self.size = self._pos
                break
            self._index_chunk(data, self._pos)
            self._pos += len(data)
            budget -= len(data)
        if self._pos >= self.size and self._pending is not None:  # a last line without a newline
            start, self._pending = self._pending, None
            if self._pending_blank:
                self._note_blank(self._count)
            else:
                with self._lock:
                    self._starts.append(start)
                    self._count = len(self._starts)
        return self.done

    def _index_chunk(self, data: bytes, base: int) -> None:
        found = array("Q")
        find = data.find
        pending, pending_blank = self._pending, self._pending_blank
        i = 0
        while True:
            nl = find(b"\n", i)
            if nl < 0:
                break
            if pending is not None:
                start, pending = pending, None
                blank = pending_blank and not data[i:nl].strip()
            else:
                start = base + i
                # only lines that start with whitespace are copied to be checked
                blank = nl == i or (data[i] in b" \t\r" and not data[i:nl].strip())
            if blank:
                self._note_blank(self._count + len(found))
            else:
                found.append(start)
            i = nl + 1
        if i < len(data):
            if pending is None:
                pending, pending_blank = base + i, not data[i:].strip()
            elif pending_blank:
                pending_blank = not data[i:].strip()
        self._pending, self._pending_blank = pending, pending_blank
        if found:
            with self._lock:
                self._starts.extend(found)
                self._count = len(self._starts)

    def _note_blank(self, next_row: int) -> None:
        self._blank += 1
        if self._gaps and self._gaps[-1][0] == next_row:
            self._gaps[-1] = (next_row, self._blank)
        else:
            self._gaps.append((next_row, self._blank))

    # -- reading -----------------------------------------------------------------------------
    def _span(self, i: int) -> tuple[int, int | None]:
        """(start, end) of row ``i``'s bytes; end None for the last row known (read up to its newline)."""
        with self._lock:
            count = self._count
            if i < 0:
                i += count
            if not 0 <= i < count:
                raise IndexError(f"row {i} out of range (0..{count - 1})")
            return self._starts[i], (self._starts[i + 1] if i + 1 < count else None)

    def line_number(self, i: int) -> int:
        """The 1-based line in the file of row ``i``."""
        k = bisect.bisect_right(self._gaps, (i, float("inf"))) - 1
        return i + 1 + (self._gaps[k][1] if k >= 0 else 0)

    def row_bytes(self, i: int, max_bytes: int | None = None) -> bytes:
        start, end = self._span(i)
        limit = max_bytes if max_bytes is not None else (1 << 62)
        if end is not None:
            data = os.pread(self._fd, min(end - start, limit), start)
        else:  # the last row so far: read in growing steps up to its newline or the end of the file
            data, step = b"", 64 << 10
            while len(data) < limit:
                more = os.pread(self._fd, min(step, limit - len(data)), start + len(data))
                data += more
                if not more or b"\n" in more:
                    break
                step *= 2
        nl = data.find(b"\n")
        return (data if nl < 0 else data[:nl]).rstrip(b"\r")

    def row(self, i: int) -> Any:
        """Row ``i`` parsed; InvalidInput naming the line when it is not JSON or too big."""
        if i < 0:
            i += self._count
        data = self.row_bytes(i, MAX_ROW_BYTES + 1)
        if len(data) > MAX_ROW_BYTES:
            raise InvalidInput(f"line {self.line_number(i)}: row is over {size(MAX_ROW_BYTES)}; not parsed")
        if i == 0 and data.startswith(b"\xef\xbb\xbf"):
            data = data[3:]
        try:
            return json.loads(data.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise InvalidInput(f"line {self.line_number(i)}: invalid UTF-8 at byte {exc.start + 1}") from None
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"line {self.line_number(i)}: malformed JSON: {json_problem(exc)}") from None

    def rows(self, start: int, count: int) -> list[Any]:
        """Up to ``count`` parsed rows from ``start``; a bad row raises (see ``row``)."""
        stop = min(self._count, start + count)
        return [self.row(i) for i in range(max(0, start), stop)]

    # -- lifetime ----------------------------------------------------------------------------
    def close(self) -> None:
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)

    def __enter__(self) -> "JsonlIndex":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass
