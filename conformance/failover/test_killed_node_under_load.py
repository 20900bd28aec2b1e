"""Check `failover/killed_node_under_load`: its text is its entry in flowlb/checks/catalogue.toml."""

from __future__ import annotations

import contextlib

from flowlb.checks.backend import Backend
from flowlb.checks.drill import Drill
from flowlb.checks.stream import RequestStream
from flowlb.evidence import DOWN, FAILURE, timeline_event
from flowlb.net import wait_until

IN_FLIGHT_MS = 2000
SETTLE_S = 0.1  # after the kill returns, for requests already on their way to the node


def _node_with_requests_in_flight(servers: Backend, preferred: str) -> str:
    """``preferred`` once HAProxy counts a request in flight on it, else a primary that has one."""

    def busy() -> list[str]:
        return [node for node in servers.primaries() if servers.stat(node).current_sessions > 0]

    try:
        wait_until(lambda: bool(busy()), 5.0, "a request in flight on a primary server")
    except TimeoutError:
        return preferred
    found = busy()
    return preferred if preferred in found else (found or [preferred])[0]


def test_no_request_lost_when_a_node_is_killed(drill: Drill) -> None:
    servers = drill.backend("server_tls")
    victim = servers.failover_victim(2)

    stream = RequestStream(lambda: drill.http("server_tls"), "/flowlb/failover", workers=4, max_seconds=30)
    events: list[dict[str, object]] = []  # for the report's failover timeline, recorded even when the check fails
    try:
        with stream:
            wait_until(lambda: stream.count() >= 50, 10, "the request stream running",
                       seen=lambda: f"{stream.count()} requests")
            stream.in_flight(2 * len(servers.primaries()), IN_FLIGHT_MS)
            victim = _node_with_requests_in_flight(servers, victim)
            limit = servers.timing(victim).down_limit_s()
            killed_at = stream.now()
            drill.nodes.kill(victim)
            dead_from = stream.now() + SETTLE_S  # requests started before were possibly on the dying node
            events.append(timeline_event(killed_at, f"killed {victim}", FAILURE))
            detected = servers.expect_down(victim, limit, f"{victim} was killed",
                                           "a health check on every server (`check`), `inter` and `fall` short.")
            down = f"HAProxy marked {victim} DOWN"
            events.append(timeline_event(killed_at + detected, down, DOWN))
            settled = stream.count()
            with contextlib.suppress(TimeoutError):  # at most 10 s more of traffic: its failures are the verdict
                wait_until(lambda: stream.count() >= settled + 50, 10, "the stream after detection")
            wait_until(lambda: stream.now() > killed_at + IN_FLIGHT_MS / 1000 + 1, 10, "the in-flight requests")
    finally:
        drill.record("kill_timeline", stream.timeline(events))
    outcomes = stream.snapshot()
    in_flight_lost = [o for o in stream.failures() if o.started < dead_from]
    failures = [o for o in stream.failures() if o.started >= dead_from]
    drill.record("kill_detection_s", round(detected, 2))
    drill.record("kill_requests", len(outcomes))
    drill.record("kill_failed_requests", len(failures))
    drill.record("kill_in_flight_lost", len(in_flight_lost))
    print(
        f"killed {victim} at {killed_at:.2f} s: HAProxy marked it down {detected:.2f} s later; "
        f"{len(failures)} of {len(outcomes)} requests sent after the kill failed; {len(in_flight_lost)} in flight "
        "at the kill were lost" + ("" if not in_flight_lost else " (`retry-on ... empty-response` would retry them)")
    )
    assert not failures, (
        f"{len(failures)} of {len(outcomes)} idempotent requests sent after {victim} died failed "
        f"(first: {failures[0].error or failures[0].status} at {failures[0].started:.2f} s): HAProxy sent them to "
        "the dead server instead of another one. Fix: `retries 3` and `option redispatch 1`."
    )
    assert not in_flight_lost, (
        f"{len(in_flight_lost)} idempotent requests in flight on {victim} when it died were lost "
        f"(first: {in_flight_lost[0].error or in_flight_lost[0].status}): HAProxy did not retry them on another "
        "server. Fix: `retry-on conn-failure empty-response response-timeout` with `retries 3` and "
        "`option redispatch 1`."
    )
