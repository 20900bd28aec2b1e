"""What a Flow node's web and server ports answer: the health URL by health state, all else echoed.

The echo is a JSON document naming the node and port that answered and everything that arrived,
in the spirit of the Gateway API conformance echo backend. ``?status=NNN`` and ``?delay_ms=N`` in
the query choose the status and delay the answer.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

from .httpparse import HttpRequest
from .httpproto import HttpConnection, HttpResponse, Reply
from .login import SESSIONS_PATH, SessionsEndpoint, needs_session, unauthorized
from .state import HealthState, NodeState

HEALTH_PATH = "/commanderRequest/health"
HEALTH_METHODS = frozenset({"GET", "HEAD"})
MAX_ECHO_DELAY_MS = 10 * 60 * 1000


class FlowPortHandler:
    """Answers one of a node's HTTP ports, ``web`` or ``server``.

    Example::

        handler = FlowPortHandler(state, "server")
        await loop.create_server(lambda: HttpConnection(handler, headers), sock=sock)
    """

    def __init__(self, state: NodeState, port: str, sessions: SessionsEndpoint | None = None) -> None:
        if port not in ("web", "server"):
            raise ValueError(f"port must be 'web' or 'server', not {port!r}")
        self._state = state
        self._port = port
        self._counters = state.server if port == "server" else state.web
        self._sessions = sessions or SessionsEndpoint(None)
        node = json.dumps(state.name)
        self._healthy = HttpResponse(200, f'{{"status":"ok","node":{node}}}'.encode())
        self._bootstrap = HttpResponse(503, f'{{"status":"bootstrap","node":{node}}}'.encode())
        self._refusing = HttpResponse(503, f'{{"status":"refuse","node":{node}}}'.encode())

    def connection_opened(self) -> None:
        self._counters.connections += 1

    def handle(self, request: HttpRequest, connection: HttpConnection) -> Reply:
        self._counters.requests += 1
        self._counters.count_method(request.method)
        if request.path == HEALTH_PATH:
            self._counters.count_health_check(request.request_line)
            if request.method in HEALTH_METHODS:
                return self._health_reply()
        if request.path == SESSIONS_PATH:
            return self._login(request)
        if needs_session(request.path, HEALTH_PATH) and not self._sessions.admits(request):
            self._counters.unauthorized += 1
            return unauthorized()
        return self._echo(request, connection)

    def _login(self, request: HttpRequest) -> HttpResponse:
        response, accepted = self._sessions.login(request)
        if accepted:
            self._counters.logins += 1
        else:
            self._counters.logins_refused += 1
        return response

    def _health_reply(self) -> Reply:
        health = self._state.health
        if health is HealthState.HEALTHY:
            return self._healthy
        if health is HealthState.BOOTSTRAP:
            return self._bootstrap
        if health is HealthState.HANG:
            return None
        if health is HealthState.SLOW:
            return HttpResponse(200, self._healthy.body, delay_ms=self._state.delay_ms)
        return self._refusing  # only the web port, or a server connection racing the close, sees this

    def _echo(self, request: HttpRequest, connection: HttpConnection) -> HttpResponse:
        status = 200
        delay_ms = 0
        if request.query:
            try:
                status, delay_ms = _echo_options(request.query)
            except ValueError as error:
                return HttpResponse.json(400, {"error": str(error), "node": self._state.name})
        document = {
            "node": self._state.name,
            "port": self._port,
            "method": request.method,
            "path": request.path,
            "query": request.query,
            "headers": request.headers,
            "body_length": request.body_size if request.body_size >= 0 else len(request.body),
            "body_sha256": request.body_sha256 or None,
            "http_version": request.http_version,
            "client": connection.client,
            "connection_request": connection.requests_seen,
        }
        return HttpResponse(status, json.dumps(document).encode(), delay_ms=delay_ms)


def _echo_options(query: str) -> tuple[int, int]:
    """The status and delay asked for by ``status=NNN`` and ``delay_ms=N`` in a query string."""
    status = 200
    delay_ms = 0
    if "status=" not in query and "delay_ms=" not in query:
        return status, delay_ms
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name == "status":
            if not (value.isascii() and value.isdigit() and 200 <= int(value) <= 599):
                raise ValueError(f"status must be a number from 200 to 599, not {value!r}")
            status = int(value)
        elif name == "delay_ms":
            if not (value.isascii() and value.isdigit() and int(value) <= MAX_ECHO_DELAY_MS):
                raise ValueError(f"delay_ms must be a number from 0 to {MAX_ECHO_DELAY_MS}, not {value!r}")
            delay_ms = int(value)
    return status, delay_ms
