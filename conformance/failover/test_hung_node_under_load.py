"""Check `failover/hung_node_under_load`: its text is its entry in flowlb/checks/catalogue.toml."""

from __future__ import annotations

import urllib3

from flowlb.checks.drill import Drill
from flowlb.checks.stream import RequestStream
from flowlb.evidence import DOWN, FAILURE, NOTE, timeline_event
from flowlb.net import wait_until

CLIENT_TIMEOUT_S = 2.0


def test_hung_node_is_taken_out_under_load(drill: Drill) -> None:
    servers = drill.backend("server_tls")
    victim = servers.failover_victim(1)
    limit = servers.timing(victim).hung_limit_s()
    timeout = urllib3.Timeout(connect=5.0, read=CLIENT_TIMEOUT_S)

    stream = RequestStream(lambda: drill.http("server_tls", timeout=timeout), "/flowlb/hang", workers=4,
                           max_seconds=limit + CLIENT_TIMEOUT_S + 10)
    events: list[dict[str, object]] = []  # for the report's failover timeline, recorded even when the check fails
    try:
        with stream:
            wait_until(lambda: stream.count() >= 50, 10, "the request stream running",
                       seen=lambda: f"{stream.count()} requests")
            hung_at = stream.now()
            drill.nodes.hang(victim)
            events.append(timeline_event(hung_at, f"froze {victim}", FAILURE))
            detected = servers.expect_down(victim, limit, f"{victim} is frozen and requests sent to it hang",
                                           "an HTTP health check (`option httpchk GET /commanderRequest/health`).")
            events.append(timeline_event(hung_at + detected, f"HAProxy marked {victim} DOWN", DOWN))
            clean_from = stream.now() + CLIENT_TIMEOUT_S
            events.append(timeline_event(clean_from, "every request must succeed from here", NOTE))
            wait_until(lambda: stream.now() > clean_from + 1.0, CLIENT_TIMEOUT_S + 5, "the stream after detection")
    finally:
        drill.record("hang_timeline", stream.timeline(events))
    outcomes = stream.snapshot()
    failures = stream.failures()
    late = [o for o in failures if o.started > clean_from]
    drill.record("hang_detection_s", round(detected, 2))
    drill.record("hang_requests", len(outcomes))
    drill.record("hang_failed_requests", len(failures))
    print(
        f"froze {victim} at {hung_at:.2f} s: HAProxy marked it down {detected:.2f} s later; "
        f"{len(failures)} of {len(outcomes)} requests failed, {len(late)} after detection settled"
    )
    assert not late, (
        f"{len(late)} requests failed after HAProxy had taken {victim} out (first at {late[0].started:.2f} s): "
        "traffic still goes to the frozen node."
    )
