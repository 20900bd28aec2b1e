"""The neutral low layer every part may use: where a client connects, a free port, a bounded wait.

Nothing here imports another flowlb module or touches the environment::

    endpoint = Endpoint("127.0.0.1", free_port())
    wait_until(lambda: port_accepts(endpoint), timeout=5, what="the port")
"""

from __future__ import annotations

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
    """A port nothing listens on right now on 127.0.0.1 (the kernel's pick)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
