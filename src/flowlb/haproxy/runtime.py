"""HAProxy's own evidence, read over its runtime API: server states and session counters.

The harness adds a ``stats socket`` to every config it runs, so the same reader works for the
generated profiles and for an operator's config::

    api = RuntimeAPI(Path(run_dir, "admin.sock"))
    api.server("commander-server-backend", "node2").status    # "UP", "DOWN", "MAINT", ...
    wait_until(lambda: api.server(b, "node2").status == "DOWN", timeout=10, what="node2 marked down")
"""

from __future__ import annotations

import csv
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from flowlb.errors import TargetError


@dataclass(frozen=True)
class ServerStat:
    """One row of ``show stat`` for a server: what HAProxy thinks of it and what it sent it."""

    backend: str
    server: str
    status: str
    current_sessions: int
    total_sessions: int
    check_status: str
    check_code: str
    last_change_s: int
    check_rise: int = 0
    check_fall: int = 0

    @property
    def is_up(self) -> bool:
        """UP, including "UP 1/3" (up, but failing checks)."""
        return self.status.startswith("UP")

    @property
    def is_down(self) -> bool:
        """DOWN, including "DOWN 1/2" (down, passing checks again); MAINT counts as down too."""
        return self.status.startswith(("DOWN", "MAINT"))


class RuntimeAPI:
    """A client for HAProxy's runtime API on a UNIX socket (one connection per command)."""

    def __init__(self, socket_path: Path, timeout: float = 5.0) -> None:
        self.socket_path = socket_path
        self.timeout = timeout

    def command(self, command: str) -> str:
        """Send one command and return HAProxy's whole answer."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(self.timeout)
            try:
                sock.connect(str(self.socket_path))
            except OSError as exc:
                raise TargetError(f"HAProxy's runtime API at {self.socket_path} does not answer: {exc}") from None
            sock.sendall(command.encode() + b"\n")
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode(errors="replace")

    def answers(self) -> bool:
        """True once HAProxy serves the runtime API."""
        try:
            return "Name: HAProxy" in self.command("show info")
        except (TargetError, OSError):
            return False

    def stats(self) -> list[ServerStat]:
        """Every server row of ``show stat`` (frontend and backend summary rows left out)."""
        text = self.command("show stat").lstrip("# ")
        rows = csv.DictReader(text.splitlines())
        return [
            ServerStat(
                backend=row["pxname"],
                server=row["svname"],
                status=row["status"],
                current_sessions=int(row["scur"] or 0),
                total_sessions=int(row["stot"] or 0),
                check_status=row.get("check_status", ""),
                check_code=row.get("check_code", ""),
                last_change_s=int(row.get("lastchg") or 0),
                check_rise=int(row.get("check_rise") or 0),
                check_fall=int(row.get("check_fall") or 0),
            )
            for row in rows
            if row.get("svname") not in (None, "FRONTEND", "BACKEND")
        ]

    def servers(self, backend: str) -> dict[str, ServerStat]:
        """The servers of one backend, by name."""
        return {stat.server: stat for stat in self.stats() if stat.backend == backend}

    def server(self, backend: str, server: str) -> ServerStat:
        """One server's row; a missing server is a :class:`TargetError`."""
        found = self.servers(backend).get(server)
        if found is None:
            raise TargetError(f"HAProxy has no server {backend}/{server}")
        return found

    def set_state(self, backend: str, server: str, state: str) -> None:
        """``set server <backend>/<server> state ready|drain|maint``."""
        answer = self.command(f"set server {backend}/{server} state {state}").strip()
        if answer:
            raise TargetError(f"HAProxy refused to set {backend}/{server} to {state}: {answer}")


def wait_until(
    condition: Callable[[], bool],
    timeout: float,
    what: str,
    consecutive: int = 1,
    interval: float = 0.05,
) -> float:
    """Poll ``condition`` until it holds ``consecutive`` times in a row; return the seconds it took.

    Raises ``TimeoutError`` naming ``what`` when ``timeout`` seconds pass first. Polling at a short
    interval is observation, not a sleep that hopes: the deadline bounds it.
    """
    start = time.monotonic()
    deadline = start + timeout
    streak = 0
    while True:
        streak = streak + 1 if condition() else 0
        if streak >= consecutive:
            return time.monotonic() - start
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what}: not seen within {timeout:.1f} s")
        time.sleep(interval)
