"""STOMP (61613): new sessions are spread over every healthy node.

Three sessions per node are opened and held. The `server` header of each CONNECTED names the node,
and HAProxy's current-session counters for the STOMP backend must agree. Every node gets between
half and one and a half times its fair share (`leastconn` and `roundrobin` both give exactly the
fair share). Fails with `balance source`. A node missing from the STOMP backend altogether is
`balance/every_flow_server_in_every_flow_backend`'s.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pytest

from flowlb.checks.applies import does_not_apply
from flowlb.checks.backend import Backend
from flowlb.stompclient import StompSession

pytestmark = [pytest.mark.stomp, pytest.mark.needs_role(role="stomp")]
SESSIONS_PER_NODE = 3


def test_sessions_spread_evenly(
    stomp_backend: Backend, stomp_session: Callable[..., StompSession]
) -> None:
    nodes = stomp_backend.primaries()
    if len(nodes) < 2:
        does_not_apply(f"{stomp_backend.name} has one primary server: nothing to spread over")
    total = SESSIONS_PER_NODE * len(nodes)
    placed = Counter(stomp_session().node for _ in range(total))
    fair = total / len(nodes)
    for node in nodes:
        assert 0.5 * fair <= placed[node] <= 1.5 * fair, (
            f"{total} STOMP sessions landed {dict(placed)}: {node} got {placed[node]}. "
            "Fix: `balance leastconn` (or roundrobin) and every node in the STOMP backend."
        )
    current = {node: stomp_backend.stat(node).current_sessions for node in nodes}
    assert current == {node: placed[node] for node in nodes}, (
        f"HAProxy counts current STOMP sessions {current}, the nodes' CONNECTED frames say {dict(placed)}"
    )
