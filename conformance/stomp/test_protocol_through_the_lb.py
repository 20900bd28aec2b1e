"""Check `stomp/protocol_through_the_lb`: its text is its entry in flowlb/checks/catalogue.toml."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from flowlb.stompclient import StompSession
from flowlb.targets.base import Target

pytestmark = [pytest.mark.stomp, pytest.mark.needs_role(role="stomp")]


@pytest.mark.parametrize("command", ["CONNECT", "STOMP"])
def test_connect_negotiates_stomp_1_2(lb: Target, stomp_session: Callable[..., StompSession], command: str) -> None:
    session = stomp_session(command=command)
    assert session.version == "1.2", f"{command} through the LB negotiated version {session.version!r}, not 1.2"


def test_send_gets_its_receipt(stomp_session: Callable[..., StompSession]) -> None:
    stomp_session().send_with_receipt("/queue/flowlb.receipt", b"ping")


@pytest.mark.parametrize(
    "body",
    [b"hello flow", os.urandom(1 << 20), b"\x00binary\x00with\x00NULs\xff"],
    ids=["text", "1MiB", "binary-with-NUL"],
)
def test_subscribed_session_receives_the_message_intact(
    stomp_session: Callable[..., StompSession], body: bytes
) -> None:
    session = stomp_session(timeout=20.0)
    destination = f"/queue/flowlb.roundtrip.{len(body)}"
    session.subscribe(destination)
    session.send_with_receipt(destination, body, content_type="application/octet-stream")
    messages = session.wait_for_messages(1)
    assert messages, f"no MESSAGE for a {len(body)}-byte SEND to {destination}"
    received = messages[0].body
    assert received == body, f"the body changed on the way: sent {len(body)} bytes, received {len(received)}"


def test_disconnect_with_receipt_closes_cleanly(stomp_session: Callable[..., StompSession]) -> None:
    session = stomp_session()
    assert session.disconnect(), "DISCONNECT's RECEIPT did not come back through the LB before the close"
