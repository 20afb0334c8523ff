"""Telling the user a job or an evaluation ended while the app was open: a toast, the bell, a desktop notice.

``EndWatcher`` is the bookkeeping (what ended since the app started and was
not announced yet), kept apart from the app so it is plain logic. The desktop
notice is OSC 9 (iTerm2, Windows Terminal, kitty, WezTerm) followed by OSC 777
(rxvt-unicode, foot, VTE terminals); a terminal that knows neither ignores
both. Their text is made printable first, so a name can never end the
sequence early or start another.
"""

from __future__ import annotations

from dataclasses import dataclass

from finetui.core.printable import printable


@dataclass(frozen=True)
class Ended:
    what: str  # "job NAME" or "evaluation NAME"
    status: str
    error: str | None = None


class EndWatcher:
    def __init__(self, since: float) -> None:
        self.since = since
        self.announced: set[str] = set()

    def ended(self, items: list[tuple[str, str, float | None, str | None]]) -> list[Ended]:
        """``(what, status, ended_at, error)`` rows -> those that ended since the app started, each once."""
        out = []
        for what, status, ended_at, error in items:
            if ended_at is None or ended_at < self.since or what in self.announced:
                continue
            self.announced.add(what)
            out.append(Ended(what, status, error))
        return out


def desktop_notice(title: str, body: str) -> str:
    """OSC 9 and OSC 777 notifications of ``body``; ``;`` is kept out of OSC 777's fields."""
    title, body = (printable(t).replace(";", ",") for t in (title, body))
    return f"\x1b]9;{title}: {body}\x07\x1b]777;notify;{title};{body}\x07"
