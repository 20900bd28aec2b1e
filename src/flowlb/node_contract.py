"""The mock Flow node's contract: what its health URL can do, the line it prints when ready, and the
shapes its control API and echo answer with. The node, its clients, both targets, the tests and the
benchmarks all read them here::

    line = ready_line("node1", {"web": 8080, "server": 8000, "stomp": 61613, "control": 9000})
    parse_ready_line(line)        # ReadyLine(name="node1", ports={...})
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TypedDict

READY_PREFIX = "flowlb-mocknode ready"
PORT_ROLES = ("web", "server", "stomp", "control")

NODE_HEARTBEAT = "1000,1000"
"""The nodes' STOMP heart-beat capability (sx,sy ms): short, so "several heart-beat periods" is seconds."""


class HealthState(enum.StrEnum):
    """How the node answers Flow's health URL, ``/commanderRequest/health``."""

    HEALTHY = "healthy"
    """200 ``{"status": "ok"}``."""
    BOOTSTRAP = "bootstrap"
    """503 ``{"status": "bootstrap"}``: the server lost its cluster membership, as a Flow server in bootstrap mode."""
    HANG = "hang"
    """The request is read and never answered."""
    SLOW = "slow"
    """200, but only after ``delay_ms``."""
    REFUSE = "refuse"
    """The server port stops listening, so connects to it are refused."""


@dataclass(frozen=True)
class ReadyLine:
    """What a node's ready line says: its name and the port it bound for each role."""

    name: str
    ports: dict[str, int]


def ready_line(name: str, ports: dict[str, int]) -> str:
    """The one line a node prints once every listener is bound."""
    return f"{READY_PREFIX} name={name} " + " ".join(f"{role}={ports[role]}" for role in PORT_ROLES)


def parse_ready_line(line: str) -> ReadyLine | None:
    """The node's name and ports from its ready line; ``None`` for any other line."""
    if not line.startswith(READY_PREFIX + " "):
        return None
    fields = dict(item.split("=", 1) for item in line[len(READY_PREFIX) :].split() if "=" in item)
    try:
        return ReadyLine(fields["name"], {role: int(fields[role]) for role in PORT_ROLES})
    except (KeyError, ValueError):
        return None


class HttpPortCounters(TypedDict):
    """``GET /counters`` for one HTTP port (web or server)."""

    requests: int
    connections: int
    health_checks: int
    health_check_lines: list[str]
    methods: dict[str, int]  # requests per HTTP method
    logins: int  # accepted by POST /rest/v1.0/sessions
    logins_refused: int
    unauthorized: int  # answered 401 for want of a session


class StompCounters(TypedDict):
    """``GET /counters`` for the STOMP port."""

    connections: int
    sessions_open: int
    sessions_total: int
    frames_received: dict[str, int]
    frames_sent: int
    errors: int


class Counters(TypedDict):
    """``GET /counters``: what the node received since the last reset."""

    name: str
    web: HttpPortCounters
    server: HttpPortCounters
    stomp: StompCounters


class Echo(TypedDict):
    """What a node answers to any request that is not its health URL: everything that reached it."""

    node: str
    port: str
    method: str
    path: str
    query: str
    headers: list[list[str]]
    body_length: int
    body_sha256: str | None  # for an upload to /flowlb/upload, digested as it arrived
    http_version: str
    client: str
    connection_request: int
