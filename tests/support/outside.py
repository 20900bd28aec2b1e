"""Hosts off the machine, stood in for by listeners on other loopback addresses (127.0.0.2, 127.0.0.3, ...).

Nothing a test does leaves the machine: a config under test names these addresses where a real one
would name syslog servers, nameservers or SOCKS proxies, and the listeners record what reached them::

    with Outside([("127.0.0.3", 5514)]) as outside:
        ...                                  # run the suite on a config that names 127.0.0.3:5514
    assert outside.reached() == []           # "tcp 127.0.0.3:5514", "udp ..." for each one that was reached

A TCP client that connects and resets before the listener accepts (HAProxy's bare layer-4 check)
can go unseen: a config under test gives its servers an HTTP check, which waits for an answer.
"""

from __future__ import annotations

import selectors
import socket
import threading
from types import TracebackType


class Outside:
    """A TCP and a UDP listener on each ``(address, port)``; :meth:`reached` names those that got anything."""

    def __init__(self, endpoints: list[tuple[str, int]]) -> None:
        self._selector = selectors.DefaultSelector()
        self._sockets: list[socket.socket] = []
        self._reached: set[str] = set()
        self._stop = threading.Event()
        for host, port in endpoints:
            for kind, name in ((socket.SOCK_STREAM, "tcp"), (socket.SOCK_DGRAM, "udp")):
                sock = socket.socket(socket.AF_INET, kind)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind((host, port))
                if kind == socket.SOCK_STREAM:
                    sock.listen(16)
                sock.setblocking(False)
                self._sockets.append(sock)
                self._selector.register(sock, selectors.EVENT_READ, f"{name} {host}:{port}")
        self._thread = threading.Thread(target=self._watch, name="outside", daemon=True)

    def __enter__(self) -> Outside:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join(5)
        for sock in self._sockets:
            sock.close()
        self._selector.close()

    def reached(self) -> list[str]:
        """``"tcp HOST:PORT"`` / ``"udp HOST:PORT"`` for each listener that got a connection or a datagram."""
        return sorted(self._reached)

    def _watch(self) -> None:
        while not self._stop.is_set():
            for key, _ in self._selector.select(timeout=0.2):
                sock: socket.socket = key.fileobj  # type: ignore[assignment]
                self._reached.add(key.data)
                try:
                    if sock.type == socket.SOCK_STREAM:
                        sock.accept()[0].close()
                    else:
                        sock.recvfrom(65535)
                except OSError:
                    pass
