"""What keeps one endpoint answering under load and abuse: admission, read deadlines, body caps.

* Admission: the engine generates ``max_batch`` requests at once; at most
  ``max_queue`` more may wait. Past that a request is refused at once with
  429 and ``Retry-After`` instead of waiting without bound.
* Read deadlines: a request's headers, and then its body, must arrive within
  ``read_timeout_s``; a connection that trickles bytes (or sends none) is
  closed, so idle slow clients cannot hold sockets and tasks forever.
* Bodies over the size cap are read and thrown away (up to a bound) before
  the 413 goes out: a client that sends its whole body before reading the
  answer then sees the 413, not a connection reset.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from .schemas import BadRequest

if TYPE_CHECKING:
    from starlette.types import Receive

    from .engine import Engine

MAX_BODY_BYTES = 1 << 20
DISCARD_BYTES = 16 << 20  # read and drop this much of an oversized body so the 413 reaches the client
RETRY_AFTER_S = 1


class ClientGone(Exception):
    """The client closed the connection before its request body was complete."""


class Admission:
    """Counts requests being prepared; with the engine's counts, decides whether one more may wait."""

    def __init__(self, engine: Engine, max_queue: int) -> None:
        self.engine = engine
        self.max_queue = max_queue
        self.preparing = 0
        self.rejected = 0

    def load(self) -> int:
        return self.preparing + self.engine.pending_count + self.engine.running

    def queue_depth(self) -> int:
        return max(0, self.load() - self.engine.max_batch)

    def admit(self, n: int) -> bool:
        """Room for ``n`` more generations? (Called on the event loop: no lock needed.)"""
        if self.load() + n > self.engine.max_batch + self.max_queue:
            self.rejected += 1
            return False
        return True


async def read_body(receive: Receive, timeout_s: float, limit: int = MAX_BODY_BYTES) -> bytes:
    """The whole request body within ``timeout_s``; BadRequest for too big or too slow, ClientGone for a hang-up."""
    chunks: list[bytes] = []
    size = 0

    async def read() -> None:
        nonlocal size
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientGone()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size <= limit:
                chunks.append(chunk)
            elif size > DISCARD_BYTES:
                raise BadRequest(f"request body is over the {limit} byte limit", 413, "too_large")
            if not message.get("more_body", False):
                return

    try:
        await asyncio.wait_for(read(), timeout_s)
    except asyncio.TimeoutError:
        raise BadRequest(f"the request body did not arrive within {timeout_s:g} s (read timeout)", 408, "timeout") from None
    if size > limit:
        raise BadRequest(f"request body is {size} bytes; the limit is {limit}", 413, "too_large")
    return b"".join(chunks)


def timed_h11(header_timeout_s: float) -> type:
    """uvicorn's h11 protocol with a deadline for each request's headers.

    uvicorn closes a connection left idle *after* a response (keep-alive
    timeout) but waits forever for the first request's headers, and for
    headers that trickle in; this closes such a connection after
    ``header_timeout_s``.
    """
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class TimedH11(H11Protocol):
        _header_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: Any) -> None:  # Any: uvicorn narrows asyncio's BaseTransport
            super().connection_made(transport)
            self._arm()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _between_requests(self) -> bool:
            return self.cycle is None or self.cycle.response_complete

        def _arm(self) -> None:
            if not self._between_requests():
                self._disarm()
            elif self._header_timer is None and not self.transport.is_closing():
                self._header_timer = self.loop.call_later(header_timeout_s, self._headers_late)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _headers_late(self) -> None:
            self._header_timer = None
            if self._between_requests() and not self.transport.is_closing():
                self.transport.close()

    return TimedH11
