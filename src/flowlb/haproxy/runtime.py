"""HAProxy's own evidence, read over its runtime API: server states and session counters.

The harness adds a ``stats socket`` to every config it runs, so the same reader works for the
generated profiles and for an operator's config::

    api = RuntimeAPI(Path(run_dir, "admin.sock"))
    api.server("commander-server-backend", "node2").status    # "UP", "DOWN", "MAINT", ...
"""

from __future__ import annotations

import csv
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flowlb.errors import FlowlbError, TargetError


def stat_rows(text: str) -> list[dict[str, str]]:
    """The rows of ``show stat``'s CSV (its header starts with ``# ``), as dicts by column name."""
    return list(csv.DictReader(text.lstrip("# ").splitlines()))


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
    backup: bool = False

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

    def __init__(self, socket_path: Path | str, timeout: float = 5.0) -> None:
        """``socket_path``: a UNIX socket path, or ``tcp:HOST:PORT`` for a runtime API bound to TCP."""
        self.socket_path = socket_path
        self.timeout = timeout

    def _address(self) -> tuple[int, Any]:
        text = str(self.socket_path)
        if text.startswith("tcp:"):
            host, _, port = text.removeprefix("tcp:").rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise FlowlbError(f"{text!r} is not tcp:HOST:PORT (a port 1-65535) nor a UNIX socket path")
            return socket.AF_INET, (host, int(port))
        return socket.AF_UNIX, text

    def validate(self) -> None:
        """Raise ``FlowlbError`` now for an address that cannot be one (``tcp:HOST:abc``), before any check runs."""
        self._address()

    def command(self, command: str) -> str:
        """Send one command and return HAProxy's whole answer."""
        family, address = self._address()
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.settimeout(self.timeout)
            try:
                sock.connect(address)
            except OSError as exc:
                raise TargetError(f"HAProxy's runtime API at {self.socket_path} does not answer: {exc}") from None
            sock.sendall(command.encode() + b"\n")
            sock.shutdown(socket.SHUT_WR)  # one command: the master CLI waits for more until it sees the end
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode(errors="replace")

    def accepts(self) -> bool:
        """True when a connection to the socket succeeds (the master CLI, which has no ``show info``, included)."""
        family, address = self._address()
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.settimeout(self.timeout)
            try:
                sock.connect(address)
            except OSError:
                return False
        return True

    def answers(self) -> bool:
        """True once HAProxy serves the runtime API."""
        try:
            return "Name: HAProxy" in self.command("show info")
        except (TargetError, OSError):
            return False

    def stats(self) -> list[ServerStat]:
        """Every server row of ``show stat`` (frontend and backend summary rows left out)."""
        rows = stat_rows(self.command("show stat"))
        return [
            ServerStat(
                backend=row["pxname"],
                server=row["svname"],
                status=row["status"],
                current_sessions=int(row["scur"] or 0),
                total_sessions=int(row["stot"] or 0),
                # "* L7OK": HAProxy marks the last result so while the next check runs; the result is the same
                check_status=row.get("check_status", "").removeprefix("* "),
                check_code=row.get("check_code", ""),
                last_change_s=int(row.get("lastchg") or 0),
                check_rise=int(row.get("check_rise") or 0),
                check_fall=int(row.get("check_fall") or 0),
                backup=row.get("bck") == "1",
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

    def server_addresses(self, backend: str) -> dict[str, tuple[str, int]]:
        """``show servers state``: the address and port HAProxy sends each server of ``backend`` to."""
        lines = self.command(f"show servers state {backend}").splitlines()
        header = next((line.lstrip("# ").split() for line in lines if line.startswith("# be_id")), [])
        found: dict[str, tuple[str, int]] = {}
        for line in lines:
            fields = line.split()
            if not header or line.startswith("#") or len(fields) < len(header) - 2:
                continue
            row = dict(zip(header, fields, strict=False))
            if row.get("be_name") == backend and row.get("srv_port", "").isdigit():
                found[row["srv_name"]] = (row["srv_addr"], int(row["srv_port"]))
        return found

    def set_state(self, backend: str, server: str, state: str) -> None:
        """``set server <backend>/<server> state ready|drain|maint``."""
        answer = self.command(f"set server {backend}/{server} state {state}").strip()
        if answer:
            raise TargetError(f"HAProxy refused to set {backend}/{server} to {state}: {answer}")


class StatsPage(RuntimeAPI):
    """HAProxy's evidence from its stats page (``URL;csv``, basic auth) where no runtime API is reachable.

    Answers ``show stat`` only; anything that changes state needs the runtime API.
    """

    def __init__(self, url: str, auth: str | None = None, timeout: float = 5.0) -> None:
        super().__init__(url, timeout)
        self.url = url
        self.auth = auth

    def validate(self) -> None:
        """Raise ``FlowlbError`` now for a URL that cannot be a stats page, before any check runs."""
        csv_url(self.url)

    def command(self, command: str) -> str:
        import base64
        import urllib.error
        import urllib.request

        if command.strip() != "show stat":
            raise TargetError(f"`{command}` needs HAProxy's runtime API (--runtime-api); a stats page only reads")
        try:
            request = urllib.request.Request(csv_url(self.url))  # noqa: S310 - csv_url allows http(s) only
        except FlowlbError as exc:
            raise TargetError(str(exc)) from None
        if self.auth:
            request.add_header("Authorization", "Basic " + base64.b64encode(self.auth.encode()).decode())
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:  # noqa: S310 - http(s) checked above
                return str(answer.read().decode(errors="replace"))
        except (urllib.error.URLError, OSError) as exc:
            raise TargetError(f"HAProxy's stats page at {self.url} does not answer: {exc}") from None

    def answers(self) -> bool:
        try:
            return "pxname" in self.command("show stat")
        except TargetError:
            return False

    def server_addresses(self, backend: str) -> dict[str, tuple[str, int]]:
        """The ``addr`` column of the stats CSV, which HAProxy fills on a stats page with ``stats show-legends``;
        a :class:`TargetError` where it is empty (the page does not say where its servers are)."""
        rows = [row for row in stat_rows(self.command("show stat"))
                if row.get("pxname") == backend and row.get("svname") not in (None, "FRONTEND", "BACKEND")]
        found: dict[str, tuple[str, int]] = {}
        for row in rows:
            host, _, port = (row.get("addr") or "").rpartition(":")
            if host and port.isdigit():
                found[row["svname"]] = (host.strip("[]"), int(port))
        if rows and not found:
            raise TargetError("HAProxy's stats page gives no server addresses: add `stats show-legends` to its "
                              "listener, or give --runtime-api")
        return found


def csv_url(url: str) -> str:
    """The CSV export of the stats page at ``url``: its path (``/`` when it has none) with ``;csv``.

    HAProxy serves the stats page on every URI that starts with its ``stats uri`` (query included, as in
    ``/haproxy?stats``) and reads options such as ``;csv`` after it, so ``http://lb:8404/`` and
    ``http://lb:8404`` (``stats uri /``) become ``http://lb:8404/;csv``.
    """
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url.split(";", maxsplit=1)[0])
        parts.port  # noqa: B018 - raises ValueError for a port that is not one
    except ValueError as exc:
        raise FlowlbError(f"--stats-url {url}: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FlowlbError(f"--stats-url {url} is not an http(s) URL: give the stats page as http(s)://HOST[:PORT]/PATH")
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", parts.query, "")) + ";csv"
