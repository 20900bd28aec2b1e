"""The control API: how tests read a node's counters and switch its health at run time.

Served on its own port, which the load balancer never routes to, and not counted in the web or
server counters. Endpoints: ``GET /ready``, ``GET /state``, ``PUT /health``, ``GET /counters``,
``POST /reset``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from .httpparse import HttpRequest
from .httpproto import HttpConnection, HttpResponse, Reply
from .state import HealthState, NodeState


class HealthSwitch(Protocol):
    """What changes a node's health, including closing and reopening its server port."""

    async def set_health(self, health: HealthState, delay_ms: int) -> None:
        """Puts the node in ``health``; raises OSError when the server port cannot be reopened."""
        ...

    async def reset(self) -> None:
        """Healthy, no delay, every counter zeroed."""
        ...


class ControlHandler:
    """Answers the control port.

    Example::

        handler = ControlHandler(state, node)
        await loop.create_server(lambda: HttpConnection(handler, headers), sock=sock)
    """

    def __init__(self, state: NodeState, switch: HealthSwitch) -> None:
        self._state = state
        self._switch = switch
        self._tasks: set[asyncio.Task[HttpResponse]] = set()
        self._routes: dict[str, dict[str, Callable[[HttpRequest], Reply]]] = {
            "/ready": {"GET": self._ready},
            "/state": {"GET": self._get_state},
            "/health": {"GET": self._get_state, "PUT": self._put_health},
            "/counters": {"GET": self._counters},
            "/reset": {"POST": self._reset},
        }

    def connection_opened(self) -> None:
        pass

    def handle(self, request: HttpRequest, connection: HttpConnection) -> Reply:
        methods = self._routes.get(request.path)
        if methods is None:
            return _error(404, f"no control endpoint {request.path}; try one of {sorted(self._routes)}")
        action = methods.get("GET" if request.method == "HEAD" else request.method)
        if action is None:
            return _error(405, f"{request.path} accepts {sorted(methods)}, not {request.method}")
        return action(request)

    def _ready(self, request: HttpRequest) -> Reply:
        return HttpResponse.json(200, {"ready": True, "name": self._state.name})

    def _get_state(self, request: HttpRequest) -> Reply:
        return HttpResponse.json(200, self._state.state_json())

    def _counters(self, request: HttpRequest) -> Reply:
        return HttpResponse.json(200, self._state.counters_json())

    def _put_health(self, request: HttpRequest) -> Reply:
        try:
            health, delay_ms = _parse_health(request.body)
        except ValueError as error:
            return _error(400, str(error))
        return self._later(self._switch.set_health(health, delay_ms))

    def _reset(self, request: HttpRequest) -> Reply:
        return self._later(self._switch.reset())

    def _later(self, change: Awaitable[None]) -> Reply:
        """Answers with the new state once ``change`` is done, or 500 if it failed."""

        async def run() -> HttpResponse:
            try:
                await change
            except OSError as error:
                return _error(500, f"cannot reopen the server port: {error}")
            return HttpResponse.json(200, self._state.state_json())

        task = asyncio.ensure_future(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task


def _parse_health(body: bytes) -> tuple[HealthState, int]:
    """The health state and delay from a ``PUT /health`` body such as ``{"state": "slow", "delay_ms": 2000}``."""
    try:
        document: Any = json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError) as error:
        raise ValueError(f"body is not JSON: {error}") from None
    if not isinstance(document, dict) or "state" not in document:
        raise ValueError('body must be a JSON object such as {"state": "slow", "delay_ms": 2000}')
    try:
        health = HealthState(document["state"])
    except ValueError:
        known = ", ".join(state.value for state in HealthState)
        raise ValueError(f"unknown health state {document['state']!r}; known: {known}") from None
    delay_ms = document.get("delay_ms", 0)
    if isinstance(delay_ms, bool) or not isinstance(delay_ms, int) or delay_ms < 0:
        raise ValueError(f"delay_ms must be a whole number of milliseconds >= 0, not {delay_ms!r}")
    return health, delay_ms


def _error(status: int, message: str) -> HttpResponse:
    return HttpResponse.json(status, {"error": message})
