"""Check `stomp/heartbeats`: its text is its entry in flowlb/checks/catalogue.toml."""

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
