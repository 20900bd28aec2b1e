"""The project's thin STOMP layer on stomp.py, shared by the checks and the Locust STOMP user.

Mind two stomp.py pitfalls (docs/findings.md): TLS applies only to the (host, port) pairs given to
``set_ssl``, and ``try_loopback_connect`` would dial ``localhost`` as 127.0.0.1 in plaintext; so it is
always off here, and :func:`open_session` asserts that the socket really is TLS::

    with open_session(target.endpoints.stomp, ca_file=target.ca_file) as session:
        session.server          # "flowlb-mocknode/node2": who answered through the LB
        session.send_with_receipt("/queue/flowlb", b"hello")
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import stomp
import stomp.exception

from flowlb import stomptls
from flowlb.errors import FlowlbError
from flowlb.net import Endpoint

stomptls.install()


class StompError(FlowlbError):
    """A STOMP session could not be opened or an operation failed."""


class StompRefused(StompError):
    """The server answered CONNECT with an ERROR frame (a wrong login or passcode, for one)."""


@dataclass
class _Collector(stomp.ConnectionListener):  # type: ignore[misc]
    """Collects what the server sends: CONNECTED headers, receipts, messages, errors."""

    connected: dict[str, str] = field(default_factory=dict)
    receipts: set[str] = field(default_factory=set)
    messages: list[Any] = field(default_factory=list)
    errors: list[Any] = field(default_factory=list)
    disconnected: threading.Event = field(default_factory=threading.Event)
    changed: threading.Condition = field(default_factory=threading.Condition)

    def _notify(self) -> None:
        with self.changed:
            self.changed.notify_all()

    def on_connected(self, frame: Any) -> None:
        self.connected = dict(frame.headers)
        self._notify()

    def on_receipt(self, frame: Any) -> None:
        self.receipts.add(frame.headers.get("receipt-id", ""))
        self._notify()

    def on_message(self, frame: Any) -> None:
        self.messages.append(frame)
        self._notify()

    def on_error(self, frame: Any) -> None:
        self.errors.append(frame)
        self._notify()

    def on_disconnected(self) -> None:
        self.disconnected.set()
        self._notify()

    def wait_for(self, condition: Any, timeout: float) -> bool:
        with self.changed:
            return bool(self.changed.wait_for(condition, timeout))


class StompSession:
    """One STOMP 1.2 session through the LB, over TLS verified against a CA."""

    def __init__(
        self,
        endpoint: Endpoint,
        ca_file: Path | None,
        heartbeats: tuple[int, int] = (0, 0),
        timeout: float = 10.0,
        auto_decode: bool = False,
        socket_timeout: float = 60.0,
        unverified_tls: bool = False,
        vhost: str | None = None,
        login: str | None = None,
        passcode: str | None = None,
        server_name: str | None = None,
    ) -> None:
        """``timeout`` bounds our waits (CONNECTED, RECEIPT, MESSAGE). ``socket_timeout`` is stomp.py's socket
        timeout, which also ends the session after that much silence on the wire: keep it longer than any
        silence a check waits through, or "the LB closed it" would be the client's own doing.
        Without a CA file the session is plaintext, unless ``unverified_tls`` asks for TLS that
        checks nothing (the load scenarios' ``--insecure``). ``vhost`` is the CONNECT ``host`` header
        (default: the endpoint's host); RabbitMQ reads it as its virtual host and wants ``/``.
        ``login`` and ``passcode`` are CONNECT's credentials (none by default). ``server_name`` is the name
        the certificate is verified against (the LB's, ``--lb-name``) when it is not the endpoint's host."""
        self.endpoint = endpoint
        self._credentials = {"username": login, "passcode": passcode} if login is not None else {}
        self.vhost = vhost or endpoint.host
        self.timeout = timeout
        host_and_port = (endpoint.host, endpoint.port)
        self.connection = stomp.Connection12(
            [host_and_port],
            heartbeats=heartbeats,
            try_loopback_connect=False,
            reconnect_attempts_max=1,
            timeout=socket_timeout,
            auto_decode=auto_decode,
            vhost=self.vhost,  # stomp.py sends it as CONNECT's host header
        )
        if ca_file is not None or unverified_tls:
            stomptls.verify_as(endpoint.host, server_name or endpoint.host)
            self.connection.set_ssl(for_hosts=[host_and_port], ca_certs=None if ca_file is None else str(ca_file))
        self.listener = _Collector()
        self.connection.set_listener("flowlb", self.listener)

    def open(self, command: str = "STOMP") -> StompSession:
        """Connect with ``STOMP`` (stomp.py's default) or ``CONNECT`` and wait for ``CONNECTED``.

        stomp.py's own ``wait=True`` path is used (its ``wait=False`` path lost the first frame now and then
        here), bounded by ``timeout``: a node that accepts and never answers must not hang a check.
        """
        failure: list[BaseException] = []

        def connect() -> None:
            try:
                self.connection.connect(
                    wait=True, with_connect_command=(command == "CONNECT"), **self._credentials
                )
            except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
                failure.append(exc)

        worker = threading.Thread(target=connect, name="stomp-connect", daemon=True)
        worker.start()
        worker.join(self.timeout)
        where = f"{self.endpoint.host}:{self.endpoint.port}"
        if worker.is_alive():
            self.connection.transport.running = False  # ends stomp.py's wait loop
            self.close()
            raise StompError(f"no CONNECTED within {self.timeout:.0f} s on {where}")
        if not self.listener.connected and self.listener.errors:
            message = self.listener.errors[0].headers.get("message", "")
            self.close()
            raise StompRefused(f"the STOMP server on {where} refused the session: {message or 'ERROR'}")
        if failure and isinstance(failure[0], stomp.exception.ConnectFailedException):
            raise StompError(f"no STOMP session on {where}") from None
        if failure:
            raise StompError(f"no STOMP session on {where}: {failure[0]}") from None
        return self

    @property
    def server(self) -> str:
        """The ``server`` header of ``CONNECTED``: which node answered."""
        return self.listener.connected.get("server", "")

    @property
    def version(self) -> str:
        return self.listener.connected.get("version", "")

    @property
    def node(self) -> str:
        """The node name from the ``server`` header (the mock says ``flowlb-mocknode/<node>``)."""
        return self.server.rsplit("/", 1)[-1]

    @property
    def heartbeat(self) -> tuple[int, int]:
        """The ``heart-beat`` the server answered in ``CONNECTED`` (sx, sy) in milliseconds."""
        sx, _, sy = self.listener.connected.get("heart-beat", "0,0").partition(",")
        return int(sx or 0), int(sy or 0)

    def connected(self) -> bool:
        return bool(self.connection.is_connected()) and not self.listener.disconnected.is_set()

    def subscribe(self, destination: str, subscription_id: str = "1") -> None:
        self.connection.subscribe(destination, id=subscription_id, ack="auto")

    def wait_for_messages(self, count: int, timeout: float | None = None) -> list[Any]:
        """Wait until ``count`` MESSAGE frames arrived; return them (fewer on timeout)."""
        self.listener.wait_for(lambda: len(self.listener.messages) >= count, timeout or self.timeout)
        return list(self.listener.messages)

    def wait_for_disconnect(self, timeout: float) -> bool:
        """True when the connection was closed (by the peer or the LB) within ``timeout``."""
        return self.listener.disconnected.wait(timeout)

    def send_raw(self, data: bytes) -> None:
        """Bytes straight onto the session's socket, bypassing stomp.py's framing (bad-input checks)."""
        self.socket.sendall(data)

    @property
    def socket(self) -> Any:
        return self.connection.transport.socket

    def tls_version(self) -> str | None:
        """The TLS version of the live socket, ``None`` when it is plaintext."""
        sock = self.socket
        return sock.version() if isinstance(sock, ssl.SSLSocket) else None

    def send_with_receipt(
        self,
        destination: str,
        body: bytes | str,
        headers: dict[str, str] | None = None,
        content_type: str | None = None,
    ) -> float:
        """SEND and wait for its RECEIPT; return the round trip in seconds."""
        receipt = uuid.uuid4().hex
        start = time.perf_counter()
        self.connection.send(
            destination, body, content_type=content_type, headers={**(headers or {}), "receipt": receipt}
        )
        if not self.listener.wait_for(lambda: receipt in self.listener.receipts, self.timeout):
            raise StompError(f"no RECEIPT for a SEND to {destination} within {self.timeout:.0f} s")
        self.listener.receipts.discard(receipt)  # a long load run must not grow this set
        return time.perf_counter() - start

    def round_trip(self, destination: str, body: bytes | str) -> float:
        """SEND to a destination this session subscribes to and wait for that MESSAGE; return seconds.

        The MESSAGE is matched by a ``flowlb-id`` header and removed once seen, so a long run keeps no
        history. Subscribe to ``destination`` first.
        """
        token = uuid.uuid4().hex
        start = time.perf_counter()
        self.connection.send(destination, body, headers={"flowlb-id": token})
        found: list[Any] = []

        def arrived() -> bool:
            for index, frame in enumerate(self.listener.messages):
                if frame.headers.get("flowlb-id") == token:
                    found.append(self.listener.messages.pop(index))
                    return True
            return False

        if not self.listener.wait_for(arrived, self.timeout):
            raise StompError(f"no MESSAGE back from {destination} within {self.timeout:.0f} s")
        return time.perf_counter() - start

    def disconnect(self, timeout: float = 5.0) -> bool:
        """DISCONNECT with a receipt; True when the RECEIPT came back before the close (bounded wait).

        stomp.py's disconnect returns as soon as its receiver thread marks the connection closed, which it
        does on the RECEIPT *before* handing the frame to the listeners: the receipt is awaited on the
        listener itself, or a broker that answers and closes at once (RabbitMQ) reads as one that did not.
        """
        receipt = uuid.uuid4().hex
        started = time.monotonic()
        _bounded(lambda: self.connection.disconnect(receipt=receipt), timeout)
        left = max(0.0, timeout - (time.monotonic() - started))
        got_it = self.listener.wait_for(lambda: receipt in self.listener.receipts, left)
        self._drop_socket()
        return got_it

    def close(self, timeout: float = 2.0) -> None:
        """DISCONNECT (with a receipt) when connected, then drop the socket; never blocks past ``timeout``.

        stomp.py's own disconnect waits, without a bound, for its receiver thread; a frozen node
        (or an LB that keeps a dead session open) would hold a check there until the socket timeout.
        """
        if self.connection.is_connected():
            _bounded(lambda: self.connection.disconnect(receipt=uuid.uuid4().hex), timeout)
        self._drop_socket()

    def _drop_socket(self) -> None:
        transport = self.connection.transport
        transport.running = False
        sock = getattr(transport, "socket", None)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()

    def __enter__(self) -> StompSession:
        return self

    def __exit__(self, *exc: tuple[type[BaseException] | None, BaseException | None, TracebackType | None]) -> None:
        self.close()


def _bounded(action: Callable[[], object], timeout: float) -> bool:
    """Run ``action`` in a helper thread; True when it finished within ``timeout`` (errors are swallowed)."""

    def run() -> None:
        with contextlib.suppress(stomp.exception.StompException, OSError):
            action()

    worker = threading.Thread(target=run, name="stomp-bounded", daemon=True)
    worker.start()
    worker.join(timeout)
    return not worker.is_alive()


def open_session(endpoint: Endpoint, ca_file: Path | None, command: str = "STOMP", **kwargs: Any) -> StompSession:
    """Open a session; with a CA file it must be TLS, else :class:`StompError`."""
    session = StompSession(endpoint, ca_file, **kwargs).open(command)
    if (ca_file is not None or kwargs.get("unverified_tls")) and session.tls_version() is None:
        session.close()
        raise StompError("the STOMP session is plaintext although TLS was asked for (stomp.py loopback pitfall)")
    return session
