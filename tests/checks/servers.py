"""Tiny loopback servers for the checks' fast tests: an HTTP(S) server with canned answers, and ports that refuse.

Each one binds port 0 on 127.0.0.1, serves from a daemon thread, and is shut down by its fixture.
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from flowlb.net import Endpoint

Answers = dict[str, tuple[int, bytes]]
"""Status and body per request path; any other path is a 404."""


@contextmanager
def http_server(answers: Answers, pem: Path | None = None) -> Iterator[Endpoint]:
    """An HTTP server on loopback answering ``answers`` (over TLS with ``pem``, a chain and key); its endpoint."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, body = answers.get(self.path, (404, b"not here"))
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    if pem is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(pem))
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield Endpoint("127.0.0.1", server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@contextmanager
def refusing_port() -> Iterator[Endpoint]:
    """A loopback port held (bound, never listening) so that nothing else takes it: a connect is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield Endpoint("127.0.0.1", sock.getsockname()[1])


@contextmanager
def raw_server(answer: bytes, close: bool, read_first: bool = True) -> Iterator[Endpoint]:
    """A loopback server that reads once per connection (with ``read_first``), writes ``answer`` (if any), then
    closes the connection (``close``) or holds it open until the server stops."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)
    stop = threading.Event()
    held: list[socket.socket] = []

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            conn.settimeout(5.0)
            try:
                if read_first:
                    conn.recv(65536)
                if answer:
                    conn.sendall(answer)
            except OSError:
                pass
            if close:
                conn.close()
            else:
                held.append(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield Endpoint("127.0.0.1", listener.getsockname()[1])
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()
        for conn in held:
            conn.close()
