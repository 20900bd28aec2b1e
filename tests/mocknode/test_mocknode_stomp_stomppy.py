"""A real STOMP client library (stomp.py, as the load tests use) works against the node.

Fails if stomp.py cannot connect with STOMP 1.2 over plain TCP, subscribe, send and receive its
own message, or disconnect cleanly.
"""

from __future__ import annotations

import threading

import stomp


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
