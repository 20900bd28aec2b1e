"""The neutral low layer every part may use: where a client connects, a free port, a bounded wait.

Nothing here imports another flowlb module or touches the environment::

    endpoint = Endpoint("127.0.0.1", free_port())
    wait_until(lambda: port_accepts(endpoint), timeout=5, what="the port")
"""

from __future__ import annotations

import random
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Endpoint:
    """Where a client reaches one LB role: a loopback host and port."""

    host: str
    port: int

    def url(self, scheme: str, path: str = "/") -> str:
        return f"{scheme}://{self.host}:{self.port}{path}"


def free_port() -> int:
    """A port nothing listens on right now on 127.0.0.1, for a server started a moment later.

    Picked at random outside the kernel's ephemeral range: a port the kernel picked (``bind`` to 0) is
    the kind it hands to every outgoing connection and to the next ``bind`` to 0 as well, so under load
    another process took it before the server bound it (RabbitMQ: ``eaddrinuse``, once in CI). Outside
    that range only an explicit bind competes. Where the range leaves no room, the kernel picks.
    """
    low, high = _ephemeral_range()
    spans = [span for span in ((10_000, low - 1), (high + 1, 65_535)) if span[1] - span[0] >= 1_000]
    for _ in range(50):
        if not spans:
            break
        start, end = _random.choice(spans)
        port = _random.randint(start, end)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


_random = random.SystemRandom()


def _ephemeral_range() -> tuple[int, int]:
    """The kernel's range for ports it picks itself (Linux: ``ip_local_port_range``)."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range", encoding="ascii") as source:
            low, high = (int(word) for word in source.read().split()[:2])
            return low, high
    except (OSError, ValueError):
        return 32_768, 60_999  # Linux's default


def wait_until(
    condition: Callable[[], bool],
    timeout: float,
    what: str,
    consecutive: int = 1,
    interval: float = 0.05,
    seen: Callable[[], object] | None = None,
) -> float:
    """Poll ``condition`` until it holds ``consecutive`` times in a row; return the seconds it took.

    Raises ``TimeoutError`` naming ``what`` when ``timeout`` seconds pass first, and what ``seen``
    describes at that moment (the state that was there instead). Polling at a short interval is
    observation, not a sleep that hopes: the deadline bounds it.
    """
    start = time.monotonic()
    deadline = start + timeout
    streak = 0
    while True:
        streak = streak + 1 if condition() else 0
        if streak >= consecutive:
            return time.monotonic() - start
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what}: not seen within {timeout:.1f} s{_last_seen(seen)}")
        time.sleep(interval)


def _last_seen(seen: Callable[[], object] | None) -> str:
    if seen is None:
        return ""
    try:
        return f"; seen instead: {seen()}"
    except Exception as exc:  # noqa: BLE001 - the description must not hide the timeout it explains
        return f"; what was there could not be read ({exc})"
