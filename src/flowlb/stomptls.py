"""TLS for stomp.py that survives its threads: reads and writes on one SSL object never overlap.

stomp.py 8.2 reads its socket in a receiver thread while the caller's thread writes (SEND,
DISCONNECT) and closes it. OpenSSL forbids concurrent use of one SSL object. Seen here:
frames silently lost (a CONNECT never reached the node) and the process killed by SIGSEGV. So
stomp.py gets an SSL socket class that waits for data *outside* a lock, then reads non-blocking
*inside* it, and sends and closes under the same lock. Only stomp.py's view of the ``ssl`` module
is changed; every other client in the process keeps the standard one.
"""

from __future__ import annotations

import select
import socket
import ssl
import sys
import threading
import time
from types import ModuleType
from typing import Any


class SerializedSSLSocket(ssl.SSLSocket):
    """An ``SSLSocket`` whose OpenSSL calls never run in two threads at once."""

    def _io_lock(self) -> threading.RLock:
        lock = self.__dict__.get("_flowlb_io_lock")
        if lock is None:
            lock = self.__dict__.setdefault("_flowlb_io_lock", threading.RLock())
        return lock  # type: ignore[no-any-return]

    def recv(self, buflen: int = 1024, flags: int = 0) -> bytes:
        timeout = self.gettimeout()
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._io_lock():
                if getattr(self, "_sslobj", None) is None:
                    return super().recv(buflen, flags)
                if self.pending():
                    return super().recv(buflen, flags)
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            readable, _, _ = select.select([self.fileno()], [], [], left)
            if not readable:
                raise TimeoutError("timed out")
            with self._io_lock():
                if getattr(self, "_sslobj", None) is None:
                    return b""
                saved = self.gettimeout()
                self.settimeout(0)
                try:
                    return super().recv(buflen, flags)
                except (ssl.SSLWantReadError, BlockingIOError):
                    continue  # only part of a TLS record so far
                finally:
                    self.settimeout(saved)

    def send(self, data: Any, flags: int = 0) -> int:
        with self._io_lock():
            return super().send(data, flags)

    def sendall(self, data: Any, flags: int = 0) -> None:
        with self._io_lock():
            super().sendall(data, flags)

    def unwrap(self) -> socket.socket:
        with self._io_lock():
            return super().unwrap()

    def shutdown(self, how: int) -> None:
        with self._io_lock():
            super().shutdown(how)

    def close(self) -> None:
        with self._io_lock():
            super().close()


SERVER_NAMES: dict[str, str] = {}
"""Host as dialled -> the name to send as SNI and verify the certificate against (``--lb-name``).

stomp.py verifies the LB's certificate against the host it dials; a live LB reached by address
(``--lb-host 10.0.0.5 --lb-name flow.example.com``) presents a certificate for its name, which the
HTTP checks verify against. :func:`verify_as` makes stomp.py's sessions to that host do the same."""


def _named(server_hostname: Any) -> Any:
    """The name a session to ``server_hostname`` verifies against (:func:`verify_as`), else that host."""
    return SERVER_NAMES.get(server_hostname, server_hostname) if isinstance(server_hostname, str) else server_hostname


def verify_as(host: str, server_name: str) -> None:
    """STOMP sessions dialled to ``host`` send ``server_name`` as SNI and verify the certificate for it."""
    if server_name and server_name != host:
        SERVER_NAMES[host] = server_name


class _SerializedContext(ssl.SSLContext):
    sslsocket_class = SerializedSSLSocket

    def wrap_socket(self, sock: socket.socket, server_side: bool = False, do_handshake_on_connect: bool = True,
                    suppress_ragged_eofs: bool = True, server_hostname: str | bytes | None = None,
                    session: ssl.SSLSession | None = None) -> ssl.SSLSocket:
        return super().wrap_socket(sock, server_side, do_handshake_on_connect, suppress_ragged_eofs,
                                   _named(server_hostname), session)


class _SSLForStomp(ModuleType):
    """The ``ssl`` module as stomp.py sees it: standard, but contexts make serialized sockets."""

    SSLContext = _SerializedContext

    def __getattr__(self, name: str) -> Any:
        return getattr(ssl, name)


class _NamedSSLForStomp(ModuleType):
    """The ``ssl`` module as stomp.py sees it under gevent: gevent's own, but contexts apply :func:`verify_as`."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        base: Any = ssl.SSLContext  # gevent's, once gevent has patched the ssl module

        class _NamedContext(base):  # type: ignore[misc]
            def wrap_socket(self, sock: Any, *args: Any, server_hostname: Any = None, **kwargs: Any) -> Any:
                return super().wrap_socket(sock, *args, server_hostname=_named(server_hostname), **kwargs)

        self.SSLContext = _NamedContext

    def __getattr__(self, name: str) -> Any:
        return getattr(ssl, name)


def _gevent_patched() -> bool:
    """True inside Locust: gevent runs stomp.py's "threads" as greenlets, one at a time."""
    monkey = sys.modules.get("gevent.monkey")
    return bool(monkey is not None and monkey.is_module_patched("threading"))


def install() -> None:
    """Give stomp.py's transport the serialized ``ssl`` (idempotent).

    Not under gevent: greenlets never call OpenSSL at the same time, and gevent's own SSL socket
    (whose ``send`` takes a ``timeout``) must stay as it is.
    """
    import stomp.transport

    if _gevent_patched():  # only the LB's name for SNI and verification (verify_as), on gevent's own SSL
        if not isinstance(stomp.transport.ssl, _NamedSSLForStomp):
            stomp.transport.ssl = _NamedSSLForStomp("ssl")
        return
    if not isinstance(stomp.transport.ssl, _SSLForStomp):
        stomp.transport.ssl = _SSLForStomp("ssl")
