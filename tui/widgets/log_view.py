"""LogView: a Line-API view of a log file of any size, following it as it grows.

Threads only read the file and post offsets (``Scanned``, ``Appended``,
``Filtered``); the widget applies them on the main thread and reads the lines
on screen with ``pread``. Search (``/``, ``n``, ``N``) highlights matches;
filter (``f``) shows only matching lines. Long lines scroll sideways (left,
right) or wrap (``w``); wrapping lays out only the lines on screen
(``log_wrap.py``), so it reads no more of the file than scrolling does.
"""

from __future__ import annotations

import time
from array import array
from pathlib import Path

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual import on, work
from textual.binding import Binding
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.worker import get_current_worker

from .log_file import CHUNK, TAIL_CHUNK, LogFile
from .log_wrap import Row, wrapped_rows

FOLLOW_POLL_S = 0.02


class LogView(ScrollView, can_focus=True):
    """Shows ``path``; with ``follow`` on, stays pinned to the newest line."""

    COMPONENT_CLASSES = {"log-view--match", "log-view--current"}
    DEFAULT_CSS = """
    LogView { background: $surface; }
    LogView > .log-view--match { background: $warning 40%; }
    LogView > .log-view--current { background: $accent 30%; }
    """
    BINDINGS = [
        Binding("end,G", "tail", "follow the end", show=False),
        Binding("home,g", "head", "first line", show=False),
        Binding("n", "next_match", "next match", show=False),
        Binding("N", "previous_match", "previous match", show=False),
        Binding("w", "toggle_wrap", "Wrap", tooltip="wrap long lines, or scroll them sideways"),
        Binding("right", "scroll_right", "Scroll", key_display="←→", tooltip="scroll long lines sideways"),
        Binding("left", "scroll_left", "scroll long lines left", show=False),
    ]

    class Scanned(Message):
        def __init__(self, log: LogFile, starts: bytes, pos: int) -> None:
            super().__init__()
            self.log, self.starts, self.pos = log, starts, pos

    class Appended(Message):
        def __init__(self, log: LogFile, starts: bytes, end: int) -> None:
            super().__init__()
            self.log, self.starts, self.end = log, starts, end

    class Filtered(Message):
        def __init__(self, log: LogFile, needle: str, lines: array) -> None:
            super().__init__()
            self.log, self.needle, self.lines = log, needle, lines

    class Changed(Message):
        """Line count, scan state, search or filter changed (for a status line)."""

    def __init__(self, path: str | Path | None = None, *, follow: bool = True, **kw) -> None:
        super().__init__(**kw)
        self.log_file: LogFile | None = None
        self.follow = follow
        self.needle = ""
        self.filter_on = False
        self.matches: array | None = None  # log line indices containing ``needle``
        self.current_match: int | None = None  # a log line index
        self._cache: LRUCache[tuple[int, int], str] = LRUCache(1024)
        self._initial = Path(path) if path else None
        self._watching: LogFile | None = None
        self._watch_growth = follow
        self.wrap = False
        self._widest = 0  # cells of the widest line read so far: the sideways scroll's extent
        self._layout: tuple[tuple, list[Row]] = ((), [])

    def on_mount(self) -> None:
        if self._initial is not None:
            self.load(self._initial, follow=self.follow)

    # -- public API ---------------------------------------------------------------
    def load(self, path: str | Path, *, follow: bool = True) -> None:
        if self.log_file is not None:
            self.log_file.close()
        self.log_file = LogFile(path)
        self.follow = self._watch_growth = follow
        self._watching = None
        self.workers.cancel_group(self, "log-follow")
        # another file: a search or filter typed for the last one does not carry over
        self.needle, self.matches, self.current_match, self.filter_on = "", None, None, False
        self._cache.clear()
        self._widest = 0
        self.virtual_size = Size(0, 0)
        self.scroll_to(0, 0, animate=False)
        self._scan(self.log_file, follow)

    def clear(self) -> None:
        self.workers.cancel_group(self, "log-scan")
        self.workers.cancel_group(self, "log-follow")
        if self.log_file is not None:
            self.log_file.close()
        self.log_file = None
        self.matches = None
        self.virtual_size = Size(0, 0)
        self.refresh()

    @property
    def line_count(self) -> int:
        """Lines in view: all indexed lines, or the matching ones with the filter on."""
        if self.filter_on and self.matches is not None:
            return len(self.matches)
        return self.log_file.line_count if self.log_file else 0

    def log_line_at(self, view_index: int) -> int:
        if self.filter_on and self.matches is not None:
            return self.matches[view_index]
        return view_index

    def visible_lines(self) -> list[str]:
        """The text of the lines on screen (tests and the bench read this)."""
        top = int(self.scroll_y)
        n = min(self.scrollable_content_region.height, self.line_count - top)
        return [self._text(self.log_line_at(top + y)) for y in range(max(0, n))]

    def search(self, needle: str, *, filter_on: bool | None = None) -> None:
        self.needle = needle
        if filter_on is not None:
            self.filter_on = filter_on and bool(needle)
        self.matches = None
        self.current_match = None
        if needle and self.log_file is not None:
            self._find(self.log_file, needle)
        else:
            self.filter_on = False
            self._after_change(keep_bottom=self.follow)

    # -- workers (threads: they read the file and post messages, nothing else) ---------
    @work(thread=True, exclusive=True, group="log-scan")
    def _scan(self, log: LogFile, follow: bool) -> None:
        worker = get_current_worker()
        while not worker.is_cancelled:
            try:
                log.open()
                break
            except FileNotFoundError:  # a job that has not written its log yet
                time.sleep(0.2)
        if worker.is_cancelled:
            return
        pos, chunk = log.scan_pos, TAIL_CHUNK
        self.post_message(self.Scanned(log, b"", pos))  # opened: ``end`` is known, follow may start
        while pos > 0 and not worker.is_cancelled:
            starts, pos = log.scan_back(pos, chunk)
            self.post_message(self.Scanned(log, starts, pos))
            chunk = CHUNK
        if pos == 0:
            self.post_message(self.Scanned(log, b"", 0))

    @work(thread=True, exclusive=True, group="log-follow")
    def _follow(self, log: LogFile, end: int) -> None:
        worker = get_current_worker()
        idle = 0
        while not worker.is_cancelled and log.fd is not None:
            try:
                starts, end = log.read_new(end)
            except (OSError, TypeError):
                return
            if starts:
                idle = 0
                self.post_message(self.Appended(log, starts, end))
            else:
                # poll fast while the file grows, back off (to 0.1 s) when it is quiet
                idle = min(idle + 1, 5)
                time.sleep(FOLLOW_POLL_S * idle)

    @work(thread=True, exclusive=True, group="log-find")
    def _find(self, log: LogFile, needle: str) -> None:
        try:
            lines = log.matching_lines(needle, log.start(0), log.end) if log.line_count else array("Q")
        except OSError:
            lines = array("Q")
        self.post_message(self.Filtered(log, needle, lines))

    # -- applying results ---------------------------------------------------------------
    def _at_bottom(self) -> bool:
        return self.scroll_y >= self.max_scroll_y - 0.5

    @on(Scanned)
    def _on_scanned(self, event: Scanned) -> None:
        if event.log is not self.log_file:
            return
        if self._watching is not event.log and self._watch_growth:
            self._watching = event.log
            self._follow(event.log, event.log.end)
        pinned = self.follow or self._at_bottom()
        added = event.log.add_back(event.starts, event.pos)
        if added and self.matches is not None:
            # older lines arrived in front: every known index moves down
            self.matches = array("Q", (m + added for m in self.matches))
        self._cache.clear()
        if not pinned and not self.filter_on:
            self._set_size()
            self.scroll_to(y=self.scroll_y + added, animate=False, immediate=True, force=True)
        else:
            self._after_change(keep_bottom=pinned)
        if event.pos == 0 and self.needle:
            self._find(event.log, self.needle)

    @on(Appended)
    def _on_appended(self, event: Appended) -> None:
        log = event.log
        if log is not self.log_file:
            return
        pinned = self.follow or self._at_bottom()
        first_new = log.line_count
        old_end = log.end
        log.add_new(event.starts, event.end)
        if self.needle and self.matches is not None and old_end < event.end:
            self.matches.extend(log.matching_lines(self.needle, old_end, event.end, base=first_new))
        self._after_change(keep_bottom=pinned)

    @on(Filtered)
    def _on_filtered(self, event: Filtered) -> None:
        if event.log is not self.log_file or event.needle != self.needle:
            return
        self.matches = event.lines
        self._after_change(keep_bottom=self.follow)
        if not self.filter_on and not self.follow:
            self.action_next_match()

    def _set_size(self) -> None:
        # one row per line; as wide as the widest line seen, unless lines wrap
        self.virtual_size = Size(0 if self.wrap else self._widest, self.line_count)

    def _after_change(self, *, keep_bottom: bool) -> None:
        self._set_size()
        if keep_bottom:
            self.scroll_to(y=self.max_scroll_y, animate=False, immediate=True, force=True)
        self.refresh()
        self.post_message(self.Changed())

    def on_resize(self) -> None:
        self.call_after_refresh(self._pin_bottom)

    def _pin_bottom(self) -> None:
        if self.follow:
            self.scroll_to(y=self.max_scroll_y, animate=False, immediate=True, force=True)

    # -- actions ----------------------------------------------------------------------------
    def action_tail(self) -> None:
        self.follow = True
        self.scroll_to(y=self.max_scroll_y, animate=False, immediate=True, force=True)

    def action_head(self) -> None:
        self.follow = False
        self.scroll_to(y=0, animate=False, immediate=True, force=True)

    def on_mouse_scroll_up(self) -> None:
        self.follow = False

    def action_scroll_up(self) -> None:
        self.follow = False
        super().action_scroll_up()

    def action_page_up(self) -> None:
        self.follow = False
        super().action_page_up()

    def action_next_match(self, step: int = 1) -> None:
        if not self.matches:
            return
        import bisect

        here = self.current_match if self.current_match is not None else self.log_line_at(int(self.scroll_y)) - (step > 0)
        if step > 0:
            k = bisect.bisect_right(self.matches, here)
            k = k if k < len(self.matches) else 0
        else:
            k = bisect.bisect_left(self.matches, here) - 1
            k = k if k >= 0 else len(self.matches) - 1
        self.current_match = self.matches[k]
        self.follow = False
        view_index = k if self.filter_on else self.current_match
        self.scroll_to(
            y=max(0, view_index - self.scrollable_content_region.height // 2), animate=False, immediate=True, force=True
        )
        self.refresh()
        self.post_message(self.Changed())

    def action_previous_match(self) -> None:
        self.action_next_match(-1)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("scroll_right", "scroll_left"):
            return not self.wrap  # wrapped lines have nothing beside them: the footer drops the key
        return True

    def action_toggle_wrap(self) -> None:
        self.wrap = not self.wrap
        self.refresh_bindings()
        self.scroll_to(x=0, animate=False, immediate=True, force=True)
        self._after_change(keep_bottom=self.follow)

    def action_scroll_right(self) -> None:
        if not self.wrap:  # a quarter of the width a key: a 4 KiB line is a few presses away
            self.scroll_to(x=self.scroll_x + max(1, self.size.width // 4), animate=False, immediate=True)

    def action_scroll_left(self) -> None:
        if not self.wrap:
            self.scroll_to(x=max(0, self.scroll_x - max(1, self.size.width // 4)), animate=False, immediate=True)

    # -- rendering ----------------------------------------------------------------------------
    def _text(self, index: int) -> str:
        key = (id(self.log_file), index)
        text = self._cache.get(key)
        if text is None and self.log_file is not None:
            text = self.log_file.line(index)
            self._cache[key] = text
            if not self.wrap and cell_len(text) > self._widest:  # sideways scroll reaches the new widest
                self._widest = cell_len(text)
                self.call_after_refresh(self._widened)
        return text or ""

    def _widened(self) -> None:
        """The sideways scrollbar may have just taken a row: a followed log stays pinned to its end."""
        self._set_size()
        if self.follow:
            self.call_after_refresh(self._pin_bottom)

    def _screen_rows(self) -> list[Row]:
        """With wrap on: the (line, first cell) of each row on screen, laid out once per change."""
        region = self.scrollable_content_region
        top, count = int(self.scroll_y), self.line_count
        at_bottom = self.follow or (top > 0 and self._at_bottom())
        key = (
            id(self.log_file),
            top,
            count,
            region.width,
            region.height,
            at_bottom,
            self.filter_on,
            None if self.matches is None else len(self.matches),
        )
        if self._layout[0] != key:
            rows = wrapped_rows(
                top, count, region.width, region.height, at_bottom, lambda v: cell_len(self._text(self.log_line_at(v)))
            )
            self._layout = (key, rows)
        return self._layout[1]

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self.rich_style
        view_index, x = int(self.scroll_y) + y, int(self.scroll_x)
        if self.wrap and self.log_file is not None:
            rows = self._screen_rows()
            view_index, x = rows[y] if y < len(rows) else (self.line_count, 0)
        if self.log_file is None or view_index >= self.line_count:
            return Strip.blank(width, base)
        index = self.log_line_at(view_index)
        text = self._text(index)
        style = base
        if index == self.current_match:
            style = base + self.get_component_rich_style("log-view--current")
        segments = self._highlight(text, style)
        return Strip(segments).crop_extend(x, x + width, style)

    def _highlight(self, text: str, style: Style) -> list[Segment]:
        if not self.needle or not text:
            return [Segment(text, style)]
        match_style = style + self.get_component_rich_style("log-view--match")
        out, lower, needle, pos = [], text.lower(), self.needle.lower(), 0
        while (hit := lower.find(needle, pos)) >= 0:
            out += [Segment(text[pos:hit], style), Segment(text[hit : hit + len(needle)], match_style)]
            pos = hit + len(needle)
        out.append(Segment(text[pos:], style))
        return out

    def on_unmount(self) -> None:
        if self.log_file is not None:
            self.log_file.close()
