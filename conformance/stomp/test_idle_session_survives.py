"""STOMP (61613): a silent session survives (heart-beats off), as `waitForJob` sessions must.

Flow's STOMP sessions carry long-running commands and can be silent for minutes. With
heart-beats off, the session must stay open for ``--stomp-idle-seconds`` of silence (default
45 s, over the common 30 s `timeout client/server`). This catches a config without
`timeout tunnel` (FACTS.md item 5). Afterwards a SEND still gets its RECEIPT. The wait IS the
check: it is bounded by the option.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from flowlb.stompclient import StompSession

pytestmark = pytest.mark.stomp


def test_idle_session_is_not_cut(
    stomp_session: Callable[..., StompSession],
    pytestconfig: pytest.Config,
    record_property: Callable[[str, object], None],
) -> None:
    idle_s = float(pytestconfig.getoption("flowlb_stomp_idle"))
    record_property("stomp_idle_s", idle_s)
    session = stomp_session(heartbeats=(0, 0), socket_timeout=idle_s + 30)
    assert not session.wait_for_disconnect(idle_s), (
        f"the LB cut a silent STOMP session before {idle_s:g} s: long commands such as waitForJob lose their "
        "session. Fix: `timeout tunnel 1h` (or longer than the longest silence) in the STOMP backend or defaults."
    )
    session.send_with_receipt("/queue/flowlb.idle", b"after the silence")
