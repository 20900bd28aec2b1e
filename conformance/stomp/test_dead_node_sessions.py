"""Check `stomp/dead_node_sessions`: its text is its entry in flowlb/checks/catalogue.toml."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from flowlb import policy
from flowlb.checks.backend import Backend
from flowlb.stompclient import StompError, StompSession, open_session
from flowlb.targets.base import FAILURES, NodeControl, Target, fail_node

pytestmark = [pytest.mark.stomp, pytest.mark.needs_role(role="stomp")]


def _sessions_on(victim: str, stomp_session: Callable[..., StompSession], count: int) -> list[StompSession]:
    sessions = [stomp_session(heartbeats=(0, 0)) for _ in range(count)]
    on_victim = [s for s in sessions if s.node == victim]
    assert on_victim, f"no session of {count} landed on {victim}: {[s.node for s in sessions]}"
    return on_victim


@pytest.mark.parametrize("failure", list(FAILURES))
def test_sessions_of_a_dead_node_are_closed(
    lb: Target,
    node_control: NodeControl,
    stomp_backend: Backend,
    stomp_session: Callable[..., StompSession],
    record_property: Callable[[str, object], None],
    failure: str,
) -> None:
    if failure == "cut_off" and not node_control.can_cut_off():
        pytest.skip(f"the {lb.kind} target's nodes share one address: none can be cut off from the network")
    victim = stomp_backend.failover_victim(0)
    timing = stomp_backend.timing(victim)
    # a node that does not answer (frozen, or cut off) is held to the policy, as its checks time out; a killed
    # one refuses them at once, and is held to what its own timing gives
    limit = timing.down_limit_s(check_hangs=True) if failure == "kill" else timing.hung_limit_s()
    doomed = _sessions_on(victim, stomp_session, 2 * len(stomp_backend.primaries()))
    started = time.monotonic()
    fail_node(node_control, failure, victim)
    closed = doomed[0].wait_for_disconnect(limit)
    took = time.monotonic() - started
    assert closed, (
        f"{victim} was {FAILURES[failure]}, yet its STOMP session is still open after "
        f"{limit:.1f} s: the client waits forever. Fix: `on-marked-down shutdown-sessions` on the STOMP servers "
        "and an HTTP health check."
    )
    record_property(f"stomp_{failure}_session_closed_s", round(took, 2))
    print(f"{failure}: the LB closed the STOMP session on {victim} {took:.2f} s later (limit {limit:.1f} s)")
    retry, attempts = _reconnect(lb, deadline=started + limit)
    try:
        assert retry is not None, (
            f"{victim} was {FAILURES[failure]}; a client reconnecting for {limit:.1f} s "
            f"({attempts} attempts) got no STOMP session through the LB. Fix: HTTP health checks on the STOMP "
            "servers, `retries` with `option redispatch`."
        )
        assert retry.node != victim, f"a reconnecting client landed on {victim} again"
        retry.send_with_receipt("/queue/flowlb.reconnect", b"back")
        record_property(f"stomp_{failure}_reconnect_attempts", attempts)
        print(f"{failure}: a reconnecting client got a session on {retry.node} at attempt {attempts}, "
              f"{time.monotonic() - started:.2f} s after the failure")
    finally:
        if retry is not None:
            retry.close()


def _reconnect(lb: Target, deadline: float) -> tuple[StompSession | None, int]:
    """Reconnect like a Flow agent does: again at once after a refusal or an unanswered attempt, until ``deadline``.

    A client may land on the dead node before HAProxy has marked it DOWN (a cut-off node's address
    swallows the connect until `timeout connect`); marking it DOWN then closes that attempt (2.6,
    3.2) or leaves it unanswered (3.0.11, see docs/findings.md), and the next one must reach a
    healthy node.
    """
    attempts = 0
    while True:
        attempts += 1
        left = deadline - time.monotonic()
        try:
            attempt_s = max(1.0, min(left, policy.current().stomp_connect_attempt_s))
            return open_session(lb.endpoints.stomp, lb.ca_file, timeout=attempt_s,
                                server_name=lb.endpoints.server_name), attempts
        except StompError:
            if time.monotonic() >= deadline:
                return None, attempts
