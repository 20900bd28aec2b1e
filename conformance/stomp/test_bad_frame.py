"""Check `stomp/bad_frame`: its text is its entry in flowlb/checks/catalogue.toml."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from flowlb.stompclient import StompSession
from flowlb.targets.base import Target

pytestmark = [pytest.mark.stomp, pytest.mark.needs_role(role="stomp")]


def test_garbage_frame_gets_error_and_others_carry_on(
    lb: Target, stomp_session: Callable[..., StompSession]
) -> None:
    bystander = stomp_session()
    broken = stomp_session()
    broken.send_raw(b"NOT-A-COMMAND\nfoo:bar\n\nbody\x00")
    if lb.echoes():  # the mock closes after ERROR, as STOMP 1.2 says; RabbitMQ, for one, keeps the session
        assert broken.wait_for_disconnect(5.0), "the session that sent a garbage frame was not closed"
    else:
        broken.listener.wait_for(lambda: bool(broken.listener.errors), 5.0)
    assert broken.listener.errors, "no ERROR frame came back through the LB for a garbage frame"
    bystander.send_with_receipt("/queue/flowlb.bystander", b"unaffected")
