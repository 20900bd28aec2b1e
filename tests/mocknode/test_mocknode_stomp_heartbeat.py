"""STOMP heart-beating between the node and a client.

Fails if the node does not send EOLs at the negotiated interval, reports a heart-beat other than
its ``--heartbeat`` in CONNECTED, keeps a silent client's session open, or closes a client that
keeps sending heart-beats.
"""

from __future__ import annotations

import time

import pytest


@pytest.fixture(scope="module")
def fast_heartbeat_node(node_launcher):
    """A node offering heart-beats every 100 ms both ways."""
    return node_launcher("hb", "--heartbeat", "100,100")


def test_node_sends_heartbeats_at_the_negotiated_interval(fast_heartbeat_node, stomp_client) -> None:
    client = stomp_client(fast_heartbeat_node.ports["stomp"])
    started = time.monotonic()
    connected = client.connect(heartbeat="0,100")
    assert connected.header("heart-beat") == "100,100"
    client.sock.settimeout(fast_heartbeat_node.timeout)
    received = b""
    while received.count(b"\n") < 3:
        data = client.sock.recv(100)
        assert data, "connection closed"
        received += data
    assert set(received) == {0x0A}
    assert time.monotonic() - started >= 0.25  # three EOLs 100 ms apart, not a burst


def test_silent_client_is_disconnected(fast_heartbeat_node, stomp_client) -> None:
    client = stomp_client(fast_heartbeat_node.ports["stomp"])
    client.connect(heartbeat="100,0")
    started = time.monotonic()
    received = client.wait_closed()
    assert b"ERROR" in received
    assert time.monotonic() - started >= 0.15  # twice the 100 ms interval, less timer slack


def test_client_that_heartbeats_stays_connected(fast_heartbeat_node, stomp_client) -> None:
    client = stomp_client(fast_heartbeat_node.ports["stomp"])
    client.connect(heartbeat="50,0")
    until = time.monotonic() + 0.6
    while time.monotonic() < until:
        client.send(b"\n")
        time.sleep(0.05)  # the behaviour under test: a client heart-beating every 50 ms
    client.send_frame("SEND", [("destination", "/q"), ("receipt", "alive")])
    assert client.read_frame().header("receipt-id") == "alive"


def test_zero_heartbeat_disables_it(node_factory, stomp_client) -> None:
    node = node_factory("nohb", "--heartbeat", "0,0")
    client = stomp_client(node.ports["stomp"])
    connected = client.connect(heartbeat="10,10")
    assert connected.header("heart-beat") == "0,0"
    client.sock.settimeout(0.3)
    with pytest.raises(TimeoutError):
        client.sock.recv(1)  # neither a heart-beat nor a close within 30 client intervals
