"""Turning generated token ids into text pieces that are safe to send.

Two things make this more than ``decode``: a character can span several
tokens (byte-level BPE splits UTF-8), so a trailing replacement character
is held back until its bytes arrive; and a stop string can span several
pieces, so any tail that could still become a stop string is held back too.
Pure Python, no torch, so it is tested on its own.
"""

from __future__ import annotations

from typing import Callable, Sequence

_REPLACEMENT = "\ufffd"


class TextStream:
    def __init__(self, decode: Callable[[Sequence[int]], str], stop: Sequence[str] = ()) -> None:
        self._decode = decode
        self._stop = [s for s in stop if s]
        self._ids: list[int] = []
        self._text = ""
        self.sent = ""  # what has been handed out so far
        self.stopped = False

    @property
    def tokens(self) -> int:
        return len(self._ids)

    def push(self, token_id: int) -> str:
        """Add one token; return the new text that is safe to send (maybe "")."""
        self._ids.append(token_id)
        self._text = self._decode(self._ids)
        return self._release(final=False)

    def finish(self) -> str:
        """Everything still held back (an incomplete character stays a replacement mark)."""
        return self._release(final=True)

    def _release(self, *, final: bool) -> str:
        text = self._text
        if self._stop:
            start = max(0, len(self.sent) - max(len(s) for s in self._stop))
            hits = [i for i in (text.find(s, start) for s in self._stop) if i >= 0]
            if hits:
                self.stopped = True
                text = text[: min(hits)]
                final = True
        if not final:
            # bytes of a character still to come decode as U+FFFD; at most 3 of them
            cut = len(text)
            while cut > 0 and len(text) - cut < 3 and text[cut - 1] == _REPLACEMENT:
                cut -= 1
            text = text[:cut]
            text = text[: len(text) - self._stop_prefix_len(text)]
        # a decoder may rewrite earlier text (space clean-up); what was sent stays sent
        piece = text[len(self.sent) :] if text.startswith(self.sent) else ""
        self.sent += piece
        return piece

    def _stop_prefix_len(self, text: str) -> int:
        """Length of the longest tail of ``text`` that is a proper prefix of a stop string."""
        best = 0
        for s in self._stop:
            for n in range(min(len(s) - 1, len(text)), best, -1):
                if text.endswith(s[:n]):
                    best = n
                    break
        return best
