"""A real STOMP client library (stomp.py, as the load tests use) works against the node.

Fails if stomp.py cannot connect with STOMP 1.2 over plain TCP, subscribe, send and receive its
own message, or disconnect cleanly.
"""

from __future__ import annotations

import threading
import time

import stomp

from flowlb.net import Endpoint
from flowlb.stompclient import StompSession


class Collector(stomp.ConnectionListener):
    def __init__(self) -> None:
        self.messages: list[tuple[dict[str, str], str]] = []
        self.arrived = threading.Event()

    def on_message(self, frame) -> None:
        self.messages.append((frame.headers, frame.body))
        self.arrived.set()


def test_stomppy_connection12_round_trip(node, eventually) -> None:
    connection = stomp.Connection12([("127.0.0.1", node.ports["stomp"])], heartbeats=(1000, 1000))
    collector = Collector()
    connection.set_listener("collector", collector)
    connection.connect(wait=True)
    try:
        connection.subscribe(destination="/queue/flow", id="sub-1", ack="auto")
        connection.send(destination="/queue/flow", body="hello flow", headers={"x-run": "42"}, receipt="sent-1")
        assert collector.arrived.wait(node.timeout), "no MESSAGE within the timeout"
        headers, body = collector.messages[0]
        assert body == "hello flow"
        assert headers["x-run"] == "42"
        assert headers["subscription"] == "sub-1"
    finally:
        connection.disconnect()
    eventually(lambda: node.counters()["stomp"]["sessions_open"] == 0, message="stomp.py session closed")
    received = node.counters()["stomp"]["frames_received"]
    assert received["STOMP"] == 1  # stomp.py opens 1.2 sessions with STOMP, not CONNECT
    assert received["SEND"] == 1
    assert received["DISCONNECT"] == 1


class SlowReceipts(stomp.ConnectionListener):
    """A listener stomp.py calls before flowlb's own (listeners run in name order): the RECEIPT reaches
    flowlb's listener a moment after stomp.py has already marked the session closed, as under load."""

    def on_receipt(self, frame) -> None:
        time.sleep(0.3)


def test_disconnect_awaits_the_receipt_that_stomppy_delivers_after_the_close(node) -> None:
    """stomp.py's disconnect returns once its receiver thread marks the session closed, which it does on the
    DISCONNECT's RECEIPT before the listeners see it: reading the receipts at once missed it (a flaky
    `DISCONNECT's RECEIPT did not come back` against RabbitMQ, which answers and closes at once)."""
    session = StompSession(Endpoint("127.0.0.1", node.ports["stomp"]), None, timeout=node.timeout).open()
    session.connection.set_listener("0-slow", SlowReceipts())
    transport = session.connection.transport
    stop = transport.stop

    def late_stop() -> None:  # the caller's thread is scheduled late, as on a loaded machine
        time.sleep(0.1)
        stop()

    transport.stop = late_stop
    assert session.disconnect(), "the RECEIPT came back, yet disconnect() said it did not"
