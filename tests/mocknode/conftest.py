"""Fixtures for the mock Flow node: a node process started once per session, reset before each test.

``MOCKNODE_TEST_TIMEOUT`` (seconds, default 5) bounds every wait in these tests.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from flowlb import paths
from flowlb.mocknode.stompframe import Frame, FrameDecoder, Heartbeat, encode_frame
from flowlb.node_contract import parse_ready_line

SRC = paths.package_parent()

TIMEOUT = float(os.environ.get("MOCKNODE_TEST_TIMEOUT", "5"))
LOOPBACK = "127.0.0.1"


def eventually(condition: Callable[[], Any], timeout: float = TIMEOUT, message: str = "condition") -> Any:
    """Polls ``condition`` until it returns something truthy, failing after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{message} not true within {timeout}s (last: {result!r})")
        time.sleep(0.01)


class NodeProcess:
    """A ``python3 -m flowlb.mocknode`` subprocess on loopback with every port picked by the OS."""

    def __init__(self, name: str, *extra_args: str) -> None:
        self.name = name
        self.timeout = TIMEOUT
        self.args = [
            sys.executable, "-m", "flowlb.mocknode", "--name", name, "--host", LOOPBACK,
            "--web-port", "0", "--server-port", "0", "--stomp-port", "0", "--control-port", "0", *extra_args,
        ]  # fmt: skip
        env = dict(os.environ, PYTHONPATH=str(SRC))
        self.process = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
        self.ports = self._wait_for_ready_line()

    def _wait_for_ready_line(self) -> dict[str, int]:
        lines: queue.Queue[str] = queue.Queue()
        assert self.process.stdout is not None
        stdout = self.process.stdout
        threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True).start()
        try:
            line = lines.get(timeout=TIMEOUT)
        except queue.Empty:
            self.stop()
            raise AssertionError(f"node {self.name} printed no ready line within {TIMEOUT}s") from None
        ready = parse_ready_line(line.strip())
        if ready is None:
            self.stop()
            raise AssertionError(f"node {self.name} did not start: {line!r} {self.stderr()}")
        assert ready.name == self.name
        return ready.ports

    def stderr(self) -> str:
        """Whatever the process wrote to stderr; only after it exited."""
        if self.process.poll() is None or self.process.stderr is None:
            return ""
        return self.process.stderr.read()

    def stop(self) -> int:
        """SIGTERM, then SIGKILL if the node does not exit in time; the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=TIMEOUT)
        for stream in (self.process.stdout,):
            if stream is not None:
                stream.close()
        return self.process.returncode

    def request(
        self, port: str, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        """One HTTP request on a fresh connection: status, headers (lower-case names), body."""
        connection = http.client.HTTPConnection(LOOPBACK, self.ports[port], timeout=TIMEOUT)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        finally:
            connection.close()

    def control(self, method: str, path: str, document: Any = None) -> Any:
        """A control API call that must succeed; its JSON answer."""
        body = None if document is None else json.dumps(document).encode()
        status, _, answer = self.request("control", method, path, body)
        assert status == 200, answer
        return json.loads(answer)

    def set_health(self, state: str, delay_ms: int = 0) -> None:
        """Switches the node's health state."""
        self.control("PUT", "/health", {"state": state, "delay_ms": delay_ms})

    def counters(self) -> Any:
        """The node's counters."""
        return self.control("GET", "/counters")


class RawStomp:
    """A STOMP client on a plain socket, for checking frames byte by byte."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection((LOOPBACK, port), timeout=TIMEOUT)
        self.decoder = FrameDecoder()
        self.heartbeats = 0

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send_frame(self, command: str, headers: list[tuple[str, str]] | None = None, body: bytes = b"") -> None:
        self.sock.sendall(encode_frame(command, headers or [], body, escape=self.decoder.unescape))

    def connect(self, version: str = "1.2", command: str = "CONNECT", heartbeat: str = "0,0") -> Frame:
        """Connects and returns CONNECTED; headers are unescaped from then on for 1.1 and 1.2."""
        self.send_frame(command, [("accept-version", version), ("host", "flow"), ("heart-beat", heartbeat)])
        connected = self.read_frame()
        assert connected.command == "CONNECTED", connected
        self.decoder.unescape = connected.header("version") != "1.0"
        return connected

    def read_frame(self, timeout: float = TIMEOUT) -> Frame:
        """The next frame, counting heart-beats on the way; fails on timeout or end of stream."""
        deadline = time.monotonic() + timeout
        while True:
            item = self.decoder.next_item()
            if isinstance(item, Frame):
                return item
            if item is Heartbeat.EOL:
                self.heartbeats += 1
                continue
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            data = self.sock.recv(1 << 20)
            if not data:
                raise ConnectionError("server closed the connection")
            self.decoder.feed(data)

    def wait_closed(self, timeout: float = TIMEOUT) -> bytes:
        """Reads until the server closes the connection; what arrived meanwhile."""
        deadline = time.monotonic() + timeout
        received = b""
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = self.sock.recv(1 << 16)
            except TimeoutError:
                break
            except ConnectionResetError:
                return received
            if not data:
                return received
            received += data
        raise AssertionError(f"server did not close the connection within {timeout}s")

    def close(self) -> None:
        self.sock.close()


@contextlib.contextmanager
def _launching() -> Iterator[Callable[..., NodeProcess]]:
    """A ``start(name, *args)`` that starts node processes, all stopped when the block ends."""
    nodes: list[NodeProcess] = []

    def start(name: str, *extra_args: str) -> NodeProcess:
        started = NodeProcess(name, *extra_args)
        nodes.append(started)
        return started

    try:
        yield start
    finally:
        for started in nodes:
            started.stop()


@pytest.fixture(scope="session")
def node_launcher() -> Iterator[Callable[..., NodeProcess]]:
    """Starts node processes that live until the end of the session: ``node_launcher("n2", "--heartbeat", "0,0")``."""
    with _launching() as start:
        yield start


@pytest.fixture(scope="session")
def node_process(node_launcher: Callable[..., NodeProcess]) -> NodeProcess:
    """One node for the whole session (the expensive part)."""
    return node_launcher("t1")


@pytest.fixture
def node(node_process: NodeProcess) -> NodeProcess:
    """The session's node, healthy, with zeroed counters and no STOMP session left by earlier tests."""
    eventually(lambda: node_process.counters()["stomp"]["sessions_open"] == 0, message="earlier STOMP sessions closed")
    node_process.control("POST", "/reset")
    return node_process


@pytest.fixture
def stomp_client(node_process: NodeProcess) -> Iterator[Callable[..., RawStomp]]:
    """Opens raw STOMP connections (to the session's node unless given a port); closes them after the test."""
    clients: list[RawStomp] = []

    def open_client(port: int | None = None) -> RawStomp:
        client = RawStomp(node_process.ports["stomp"] if port is None else port)
        clients.append(client)
        return client

    yield open_client
    for client in clients:
        client.close()


@pytest.fixture(name="eventually")
def eventually_fixture() -> Callable[..., Any]:
    """:func:`eventually`, for tests (which do not import conftest)."""
    return eventually


@pytest.fixture
def node_factory() -> Iterator[Callable[..., NodeProcess]]:
    """Starts extra nodes with their own arguments; stops them after the test."""
    with _launching() as start:
        yield start
