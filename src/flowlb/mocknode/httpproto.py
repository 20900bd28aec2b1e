"""The HTTP/1.1 connection: keep-alive, pipelining, delayed and never-sent answers.

What to answer is up to a :class:`RequestHandler`; this module only parses requests (with
:mod:`.httpparse`), writes responses in request order, and closes connections when HTTP says so.
"""

from __future__ import annotations

import asyncio
import functools
import http
import json
from dataclasses import dataclass
from typing import Any, Protocol, Union

from .httpparse import HttpParseError, HttpRequest, RequestParser

IDLE_TIMEOUT_S = 60.0
PAUSE_READING_BYTES = 1024 * 1024
"""Stop reading from a client that has this much unanswered input (pipelining behind a hang)."""

_BODYLESS_STATUSES = frozenset({204, 304})


@dataclass(slots=True)
class HttpResponse:
    """An answer to one request, optionally sent only after ``delay_ms``."""

    status: int
    body: bytes
    content_type: str = "application/json"
    delay_ms: int = 0
    close: bool = False
    """Close the connection after this response."""
    extra_headers: tuple[tuple[str, str], ...] = ()
    """Headers of this response alone, such as ``Set-Cookie``."""

    @classmethod
    def json(cls, status: int, document: Any, delay_ms: int = 0) -> HttpResponse:
        """A JSON response."""
        return cls(status, json.dumps(document).encode(), delay_ms=delay_ms)


Reply = Union[HttpResponse, "asyncio.Future[HttpResponse]", None]
"""A response now (possibly delayed), a response later, or None: never answer."""


class RequestHandler(Protocol):
    """Decides what to answer on one listening port."""

    def connection_opened(self) -> None:
        """Called once per accepted connection."""
        ...

    def handle(self, request: HttpRequest, connection: HttpConnection) -> Reply:
        """The reply to ``request``."""
        ...


class HttpConnection(asyncio.Protocol):
    """One client connection on an HTTP port.

    Example::

        await loop.create_server(lambda: HttpConnection(handler, b"Server: x\\r\\n"), sock=sock)
    """

    def __init__(
        self,
        handler: RequestHandler,
        common_headers: bytes,
        registry: set[HttpConnection] | None = None,
        idle_timeout: float = IDLE_TIMEOUT_S,
    ) -> None:
        self._handler = handler
        self._common_headers = common_headers
        self._registry = registry
        self._idle_timeout = idle_timeout
        self._parser = RequestParser()
        self._transport: asyncio.Transport | None = None
        self._loop = asyncio.get_running_loop()
        self._waiting = False
        self._closing = False
        self._read_paused = False
        self._last_activity = 0.0
        self._idle_timer: asyncio.TimerHandle | None = None
        self._pending_timer: asyncio.TimerHandle | None = None
        self._out: list[bytes] = []
        self.client = ""
        """The client's address, ``host:port``."""
        self.requests_seen = 0
        """How many requests this connection has carried so far."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        peer = transport.get_extra_info("peername")
        self.client = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        if self._registry is not None:
            self._registry.add(self)
        self._handler.connection_opened()
        self._last_activity = self._loop.time()
        self._idle_timer = self._loop.call_later(self._idle_timeout, self._check_idle)

    def connection_lost(self, exc: Exception | None) -> None:
        self._closing = True
        if self._registry is not None:
            self._registry.discard(self)
        for timer in (self._idle_timer, self._pending_timer):
            if timer is not None:
                timer.cancel()

    def data_received(self, data: bytes) -> None:
        if self._closing:
            return
        self._last_activity = self._loop.time()
        self._parser.feed(data)
        if not self._waiting:
            self._answer_buffered_requests()
        if self._waiting and self._parser.buffered > PAUSE_READING_BYTES:
            self._pause_reading()

    def pause_writing(self) -> None:
        self._pause_reading()

    def resume_writing(self) -> None:
        if self._read_paused and self._transport is not None and not self._closing:
            self._read_paused = False
            self._transport.resume_reading()

    def close(self) -> None:
        """Closes the connection without answering what is pending."""
        self._closing = True
        if self._transport is not None:
            self._transport.close()

    def _pause_reading(self) -> None:
        if not self._read_paused and self._transport is not None and not self._closing:
            self._read_paused = True
            self._transport.pause_reading()

    def _answer_buffered_requests(self) -> None:
        """Answers complete requests in order until one has to wait or the input runs out."""
        out = self._out
        while not self._waiting and not self._closing:
            try:
                request = self._parser.next_request()
            except HttpParseError as error:
                response = HttpResponse.json(error.status, {"error": str(error)})
                out.append(self._render(response, head_only=False, keep_alive=False, http10=False))
                self._closing = True
                break
            if request is None:
                if self._parser.continue_due:
                    self._parser.continue_due = False
                    out.append(b"HTTP/1.1 100 Continue\r\n\r\n")
                break
            self.requests_seen += 1
            reply = self._handler.handle(request, self)
            if isinstance(reply, HttpResponse):
                if reply.delay_ms <= 0:
                    out.append(self._render_for(request, reply))
                    continue
                self._waiting = True
                self._pending_timer = self._loop.call_later(reply.delay_ms / 1000.0, self._send_later, request, reply)
            elif reply is None:
                self._waiting = True  # never answered; the client gives up and closes
            else:
                self._waiting = True
                reply.add_done_callback(functools.partial(self._future_done, request))
        self._flush()

    def _send_later(self, request: HttpRequest, response: HttpResponse) -> None:
        self._pending_timer = None
        if self._closing:
            return
        self._waiting = False
        self._last_activity = self._loop.time()
        self._out.append(self._render_for(request, response))
        self._answer_buffered_requests()
        if self._read_paused and not self._closing and self._transport is not None:
            self._read_paused = False
            self._transport.resume_reading()

    def _future_done(self, request: HttpRequest, future: asyncio.Future[HttpResponse]) -> None:
        if future.cancelled():
            self.close()
        else:
            self._send_later(request, future.result())

    def _flush(self) -> None:
        transport = self._transport
        if transport is None:
            return
        if self._out:
            transport.write(b"".join(self._out) if len(self._out) > 1 else self._out[0])
            self._out.clear()
        if self._closing:
            transport.close()

    def _render_for(self, request: HttpRequest, response: HttpResponse) -> bytes:
        keep_alive = request.keep_alive and not response.close
        if not keep_alive:
            self._closing = True
        http10 = request.http_version == "HTTP/1.0"
        return self._render(response, request.method == "HEAD", keep_alive, http10)

    def _render(self, response: HttpResponse, head_only: bool, keep_alive: bool, http10: bool) -> bytes:
        status = response.status
        body = response.body
        parts = [_status_line(status), self._common_headers]
        for name, value in response.extra_headers:
            parts.append(f"{name}: {value}\r\n".encode())
        if status in _BODYLESS_STATUSES:
            body = b""
        else:
            parts.append(b"Content-Type: %s\r\nContent-Length: %d\r\n" % (response.content_type.encode(), len(body)))
        if not keep_alive:
            parts.append(b"Connection: close\r\n")
        elif http10:
            parts.append(b"Connection: keep-alive\r\n")
        parts.append(b"\r\n")
        if not head_only:
            parts.append(body)
        return b"".join(parts)

    def _check_idle(self) -> None:
        """Closes a keep-alive connection that carried nothing for the idle timeout."""
        if self._closing:
            return
        if self._waiting:  # an answer is still due: the connection is not idle
            self._idle_timer = self._loop.call_later(self._idle_timeout, self._check_idle)
            return
        idle_until = self._last_activity + self._idle_timeout
        if self._loop.time() >= idle_until:
            self.close()
            return
        self._idle_timer = self._loop.call_at(idle_until, self._check_idle)


_STATUS_LINES: dict[int, bytes] = {}


def _status_line(status: int) -> bytes:
    """``HTTP/1.1 200 OK\\r\\n``, cached per status."""
    line = _STATUS_LINES.get(status)
    if line is None:
        try:
            reason = http.HTTPStatus(status).phrase
        except ValueError:
            reason = "Unknown"
        line = _STATUS_LINES[status] = f"HTTP/1.1 {status} {reason}\r\n".encode()
    return line
