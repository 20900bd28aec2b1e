"""STOMP (61613): a Flow server whose health URL fails gets no new STOMP sessions.

A server in bootstrap mode answers `/commanderRequest/health` with 503 but still accepts TCP on
8000 and 61613. The article checks the STOMP servers with `check port 8000`, a bare TCP connect, so
sessions keep going to a server that cannot serve them (docs/findings.md, article 3). HAProxy must mark the
server DOWN in the STOMP backend within ``inter x fall`` (plus one interval and 1 s), and then no
new session may land on it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pytest

from flowlb.checks.backend import Backend
from flowlb.stompclient import StompSession
from flowlb.targets.base import HealthState, NodeControl

pytestmark = [pytest.mark.stomp, pytest.mark.needs_role(role="stomp")]


def test_bootstrap_node_gets_no_new_sessions(
    node_control: NodeControl,
    stomp_backend: Backend,
    stomp_session: Callable[..., StompSession],
    record_property: Callable[[str, object], None],
) -> None:
    victim = stomp_backend.failover_victim(1)
    limit = stomp_backend.timing(victim).down_limit_s()
    node_control.set_health(victim, HealthState.BOOTSTRAP)
    took = stomp_backend.expect_down(
        victim, limit, f"STOMP sessions still go to {victim}, whose health URL fails (503, bootstrap mode)",
        "add `option httpchk GET /commanderRequest/health` and `http-check expect status 200` to the STOMP backend "
        "(the servers keep `check port 8000`).")
    record_property("stomp_bootstrap_detection_s", round(took, 2))
    placed = Counter(stomp_session().node for _ in range(2 * len(stomp_backend.primaries())))
    assert placed[victim] == 0, f"new STOMP sessions landed on {victim} while HAProxy had it DOWN: {dict(placed)}"
