"""STOMP (61613): a garbage frame gets an ERROR and a close, and other sessions carry on.

A broken client must not disturb anyone else through the LB. The garbage frame reaches the node,
which answers ERROR and closes. That session ends, and a second session opened before it still
gets RECEIPTs. Fails when the LB turns one bad session into an outage for others, or hides the
node's ERROR.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from flowlb.stompclient import StompSession

pytestmark = pytest.mark.stomp


def test_garbage_frame_gets_error_and_others_carry_on(stomp_session: Callable[..., StompSession]) -> None:
    bystander = stomp_session()
    broken = stomp_session()
    broken.send_raw(b"NOT-A-COMMAND\nfoo:bar\n\nbody\x00")
    assert broken.wait_for_disconnect(5.0), "the session that sent a garbage frame was not closed"
    assert broken.listener.errors, "no ERROR frame came back through the LB for a garbage frame"
    bystander.send_with_receipt("/queue/flowlb.bystander", b"unaffected")
