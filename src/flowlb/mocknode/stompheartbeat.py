"""STOMP heart-beating: negotiating intervals, sending EOLs, and noticing a silent client.

The server offers ``sx,sy`` (it can send every sx ms, wants to receive every sy ms) and the client
``cx,cy``. The server sends every ``max(sx, cy)`` ms when both are non-zero, and expects data
every ``max(cx, sy)`` ms when both are non-zero, giving up after twice that.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

SILENCE_TOLERANCE = 2.0
"""A client counts as gone after this many expected intervals without data."""


def parse_heartbeat(text: str) -> tuple[int, int]:
    """``"10000,10000"`` as ``(10000, 10000)``; raises ValueError for anything else."""
    parts = text.split(",")
    if len(parts) != 2 or not all(part.strip().isascii() and part.strip().isdigit() for part in parts):
        raise ValueError(f"heart-beat must be two whole numbers of milliseconds such as 10000,10000, not {text!r}")
    return int(parts[0]), int(parts[1])


def negotiate(server: tuple[int, int], client: tuple[int, int]) -> tuple[int, int]:
    """The intervals in ms at which the server sends and expects data; 0 means not at all."""
    sx, sy = server
    cx, cy = client
    send_ms = max(sx, cy) if sx > 0 and cy > 0 else 0
    expect_ms = max(cx, sy) if cx > 0 and sy > 0 else 0
    return send_ms, expect_ms


class HeartbeatTimers:
    """Sends an EOL when the session has written nothing for a send interval, and gives up on a
    client that sent nothing for twice the expected interval.

    Example::

        timers = HeartbeatTimers(loop, 10000, 10000, send_eol=lambda: transport.write(b"\\n"),
                                 on_silence=transport.close)
        timers.received()   # from data_received
        timers.wrote()      # after every write
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        send_ms: int,
        expect_ms: int,
        send_eol: Callable[[], None],
        on_silence: Callable[[], None],
    ) -> None:
        self._loop = loop
        self._send_s = send_ms / 1000.0
        self._silence_s = expect_ms / 1000.0 * SILENCE_TOLERANCE
        self._send_eol = send_eol
        self._on_silence = on_silence
        now = loop.time()
        self.last_write = now
        self.last_received = now
        self._send_timer: asyncio.TimerHandle | None = None
        self._expect_timer: asyncio.TimerHandle | None = None
        if self._send_s > 0:
            self._send_timer = loop.call_at(now + self._send_s, self._send_tick)
        if self._silence_s > 0:
            self._expect_timer = loop.call_at(now + self._silence_s, self._expect_tick)

    @property
    def sending(self) -> bool:
        """Whether the server sends heart-beats at all."""
        return self._send_timer is not None

    def received(self) -> None:
        """Notes that the client sent something."""
        self.last_received = self._loop.time()

    def wrote(self) -> None:
        """Notes that the server sent something."""
        self.last_write = self._loop.time()

    def cancel(self) -> None:
        """Stops both timers."""
        for timer in (self._send_timer, self._expect_timer):
            if timer is not None:
                timer.cancel()
        self._send_timer = self._expect_timer = None

    def _send_tick(self) -> None:
        due = self.last_write + self._send_s
        if self._loop.time() >= due - 0.001:
            self._send_eol()
            self.last_write = self._loop.time()
            due = self.last_write + self._send_s
        self._send_timer = self._loop.call_at(due, self._send_tick)

    def _expect_tick(self) -> None:
        deadline = self.last_received + self._silence_s
        if self._loop.time() >= deadline - 0.001:
            self.cancel()
            self._on_silence()
            return
        self._expect_timer = self._loop.call_at(deadline, self._expect_tick)
