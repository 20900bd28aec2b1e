"""STOMP (61613): heart-beats are negotiated through the LB and keep the session up.

The client asks for 1 s heart-beats both ways. The server's `CONNECTED` answer must arrive with its
own `heart-beat` header, and the session must stay up across 3 periods, with heart-beats flowing
both ways, and still carry a SEND/RECEIPT afterwards. Fails when the LB cuts a session that only
exchanges heart-beats, or mangles the CONNECTED frame.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from flowlb.stompclient import StompSession

pytestmark = [pytest.mark.stomp, pytest.mark.needs_role(role="stomp")]
PERIODS = 3


def test_session_lives_on_heartbeats(stomp_session: Callable[..., StompSession]) -> None:
    session = stomp_session(heartbeats=(1000, 1000))
    sx, sy = session.heartbeat
    assert sx > 0 and sy > 0, f"CONNECTED came back with heart-beat {sx},{sy}: not negotiated through the LB"
    period_s = max(1000, sx, sy) / 1000
    assert not session.wait_for_disconnect(PERIODS * period_s), (
        f"the LB closed a STOMP session that exchanged only heart-beats within {PERIODS} periods of {period_s:g} s"
    )
    session.send_with_receipt("/queue/flowlb.heartbeat", b"still here")
    assert session.connected()
