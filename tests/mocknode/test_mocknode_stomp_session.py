"""STOMP sessions on the node's STOMP port, checked frame by frame over raw sockets.

Fails if CONNECT or STOMP is refused, if version negotiation picks the wrong version or accepts
no common one, if a receipt is missing, if MESSAGE frames lose or corrupt large or binary bodies or
custom headers, if a protocol error is not answered by ERROR and a close, if one bad session
disturbs another, or if DISCONNECT does not send its receipt before closing.
"""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("command", ["CONNECT", "STOMP"])
def test_connect_and_stomp_both_open_a_session(node, stomp_client, command) -> None:
    connected = stomp_client().connect(command=command)
    assert connected.header("version") == "1.2"
    assert connected.header("server") == "flowlb-mocknode/t1"
    assert connected.header("session")
    assert connected.header("heart-beat") == "10000,10000"
    counters = node.counters()["stomp"]
    assert (counters["sessions_open"], counters["sessions_total"]) == (1, 1)
    assert counters["frames_received"] == {command: 1}


@pytest.mark.parametrize(
    "accept_version, chosen",
    [(None, "1.0"), ("1.0", "1.0"), ("1.1", "1.1"), ("1.0,1.1", "1.1"), ("1.1,1.2", "1.2"), ("1.2,2.0", "1.2")],
)
def test_version_negotiation_picks_the_highest_common(stomp_client, accept_version, chosen) -> None:
    client = stomp_client()
    headers = [] if accept_version is None else [("accept-version", accept_version)]
    client.send_frame("CONNECT", headers)
    connected = client.read_frame()
    assert (connected.command, connected.header("version")) == ("CONNECTED", chosen)


def test_no_common_version_is_an_error_listing_ours(stomp_client) -> None:
    client = stomp_client()
    client.send_frame("CONNECT", [("accept-version", "2.0,3.1")])
    error = client.read_frame()
    assert error.command == "ERROR"
    assert error.header("version") == "1.2,1.1,1.0"
    client.wait_closed()


def test_send_with_receipt(node, stomp_client) -> None:
    client = stomp_client()
    client.connect()
    client.send_frame("SEND", [("destination", "/queue/nobody"), ("receipt", "r:1")], b"dropped")
    receipt = client.read_frame()
    assert (receipt.command, receipt.header("receipt-id")) == ("RECEIPT", "r:1")
    assert node.counters()["stomp"]["frames_received"]["SEND"] == 1


@pytest.mark.parametrize(
    "body", [b"x" * (1024 * 1024), b"\x00binary\x00with nul\xff\x00"], ids=["1MiB", "binary-with-nul"]
)
def test_subscriber_receives_message_with_body_and_custom_headers(stomp_client, body) -> None:
    subscriber, sender = stomp_client(), stomp_client()
    subscriber.connect()
    sender.connect(version="1.1")
    subscriber.send_frame("SUBSCRIBE", [("destination", "/topic/t"), ("id", "s0"), ("receipt", "sub")])
    assert subscriber.read_frame().header("receipt-id") == "sub"
    headers = [("destination", "/topic/t"), ("content-type", "application/octet-stream"), ("x-job", "a:b")]
    headers.append(("content-length", str(len(body))))
    sender.send_frame("SEND", headers, body)
    message = subscriber.read_frame()
    assert message.command == "MESSAGE"
    assert message.body == body
    assert message.header("destination") == "/topic/t"
    assert message.header("subscription") == "s0"
    assert message.header("message-id")
    assert message.header("content-length") == str(len(body))
    assert message.header("content-type") == "application/octet-stream"
    assert message.header("x-job") == "a:b"
    assert message.header("ack") is None


def test_sender_subscribed_itself_gets_its_message_with_ack_header_in_client_mode(stomp_client) -> None:
    client = stomp_client()
    client.connect()
    client.send_frame("SUBSCRIBE", [("destination", "/queue/q"), ("id", "mine"), ("ack", "client-individual")])
    client.send_frame("SEND", [("destination", "/queue/q"), ("receipt", "sent")], b"to myself")
    message = client.read_frame()
    assert (message.command, message.body) == ("MESSAGE", b"to myself")
    assert message.header("ack") == message.header("message-id")
    assert client.read_frame().header("receipt-id") == "sent"
    client.send_frame("ACK", [("id", message.header("ack")), ("receipt", "acked")])
    client.send_frame("UNSUBSCRIBE", [("id", "mine")])
    client.send_frame("SEND", [("destination", "/queue/q"), ("receipt", "after")], b"nobody")
    assert client.read_frame().header("receipt-id") == "acked"
    assert client.read_frame().header("receipt-id") == "after"


def test_transactions_are_accepted(stomp_client) -> None:
    client = stomp_client()
    client.connect()
    for command in ("BEGIN", "COMMIT", "BEGIN", "ABORT"):
        client.send_frame(command, [("transaction", "tx1"), ("receipt", command)])
        assert client.read_frame().header("receipt-id") == command


@pytest.mark.parametrize(
    "wire, problem",
    [
        (b"GARBAGE\n\n\x00", "unknown command"),
        (b"SEND\nno colon\n\n\x00", "malformed header"),
        (b"SEND\nreceipt:r9\n\nno destination\x00", "destination"),
        (b"SUBSCRIBE\ndestination:/q\n\n\x00", "id"),
        (b"CONNECT\naccept-version:1.2\n\n\x00", "already connected"),
    ],
)
def test_protocol_error_gets_error_and_close_other_sessions_unaffected(node, stomp_client, wire, problem) -> None:
    bystander, offender = stomp_client(), stomp_client()
    bystander.connect()
    offender.connect()
    offender.send(wire)
    error = offender.read_frame()
    assert error.command == "ERROR"
    assert problem in error.header("message")
    if b"receipt:r9" in wire:
        assert error.header("receipt-id") == "r9"
    offender.wait_closed()
    bystander.send_frame("SEND", [("destination", "/q"), ("receipt", "still-here")])
    assert bystander.read_frame().header("receipt-id") == "still-here"
    assert node.counters()["stomp"]["errors"] == 1


def test_frame_before_connect_is_an_error(stomp_client) -> None:
    client = stomp_client()
    client.send(b"SEND\ndestination:/q\n\n\x00")
    error = client.read_frame()
    assert error.command == "ERROR"
    assert "before CONNECT" in error.header("message")
    client.wait_closed()


def test_disconnect_sends_receipt_then_closes(node, stomp_client, eventually) -> None:
    client = stomp_client()
    client.connect()
    client.send_frame("DISCONNECT", [("receipt", "bye")])
    receipt = client.read_frame()
    assert (receipt.command, receipt.header("receipt-id")) == ("RECEIPT", "bye")
    client.wait_closed()
    eventually(lambda: node.counters()["stomp"]["sessions_open"] == 0, message="session closed")
    assert node.counters()["stomp"]["sessions_total"] == 1
