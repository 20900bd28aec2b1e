"""What a mock node is doing and what it has seen: its health state, its ports, its counters."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from ..node_contract import HealthState

__all__ = ["HealthState", "HttpPortCounters", "NodeState", "StompCounters"]

HEALTH_LINES_KEPT = 20


@dataclass
class HttpPortCounters:
    """What one HTTP port (web or server) has received since the last reset."""

    requests: int = 0
    connections: int = 0
    health_checks: int = 0
    health_check_lines: deque[str] = field(default_factory=lambda: deque(maxlen=HEALTH_LINES_KEPT))
    methods: dict[str, int] = field(default_factory=dict)
    """Requests per HTTP method: how a test sees that a read-only run sent no write."""
    logins: int = 0
    """Logins the sessions endpoint accepted."""
    logins_refused: int = 0
    """Logins it refused (wrong user or password, a malformed body)."""
    unauthorized: int = 0
    """Requests answered 401 for want of a session."""

    def reset(self) -> None:
        """Zeroes every counter in place, so holders of this object keep counting into it."""
        self.requests = self.connections = self.health_checks = 0
        self.logins = self.logins_refused = self.unauthorized = 0
        self.health_check_lines.clear()
        self.methods.clear()

    def count_method(self, method: str) -> None:
        """Counts one request by its method."""
        self.methods[method] = self.methods.get(method, 0) + 1

    def count_health_check(self, request_line: str) -> None:
        """Counts one request for the health URL and remembers its request line."""
        self.health_checks += 1
        self.health_check_lines.append(request_line)

    def to_json(self) -> dict[str, Any]:
        """The counters as the control API reports them."""
        return {
            "requests": self.requests,
            "connections": self.connections,
            "health_checks": self.health_checks,
            "health_check_lines": list(self.health_check_lines),
            "methods": dict(self.methods),
            "logins": self.logins,
            "logins_refused": self.logins_refused,
            "unauthorized": self.unauthorized,
        }


@dataclass
class StompCounters:
    """What the STOMP port has seen since the last reset."""

    connections: int = 0
    sessions_open: int = 0
    sessions_total: int = 0
    frames_received: dict[str, int] = field(default_factory=dict)
    frames_sent: int = 0
    errors: int = 0

    def reset(self) -> None:
        """Zeroes every counter in place except ``sessions_open``, which counts live sessions."""
        self.connections = self.sessions_total = self.frames_sent = self.errors = 0
        self.frames_received.clear()

    def count_received(self, command: str) -> None:
        """Counts one frame received from a client."""
        self.frames_received[command] = self.frames_received.get(command, 0) + 1

    def to_json(self) -> dict[str, Any]:
        """The counters as the control API reports them."""
        return {
            "connections": self.connections,
            "sessions_open": self.sessions_open,
            "sessions_total": self.sessions_total,
            "frames_received": dict(self.frames_received),
            "frames_sent": self.frames_sent,
            "errors": self.errors,
        }


@dataclass
class NodeState:
    """Everything about one node that the control API reads or changes.

    Example::

        state = NodeState(name="node1")
        state.health = HealthState.SLOW
        state.delay_ms = 2000
    """

    name: str
    health: HealthState = HealthState.HEALTHY
    delay_ms: int = 0
    ports: dict[str, int] = field(default_factory=dict)
    web: HttpPortCounters = field(default_factory=HttpPortCounters)
    server: HttpPortCounters = field(default_factory=HttpPortCounters)
    stomp: StompCounters = field(default_factory=StompCounters)

    def reset_counters(self) -> None:
        """Zeroes every counter. Sessions still open stay counted as open."""
        self.web.reset()
        self.server.reset()
        self.stomp.reset()

    def state_json(self) -> dict[str, Any]:
        """The node's state as ``GET /state`` reports it."""
        return {
            "name": self.name,
            "health": self.health.value,
            "delay_ms": self.delay_ms,
            "ports": dict(self.ports),
        }

    def counters_json(self) -> dict[str, Any]:
        """The node's counters as ``GET /counters`` reports them."""
        return {
            "name": self.name,
            "web": self.web.to_json(),
            "server": self.server.to_json(),
            "stomp": self.stomp.to_json(),
        }
