"""Failover under load: a Flow node freezes (SIGSTOP / `docker pause`) while clients stream on 8443.

A frozen node still holds its TCP connections but never answers. Requests already sent to it wait
for `timeout server` (or are retried on `response-timeout`). The check streams GETs (4 workers, 2 s
client read timeout, at most 30 s), freezes one node, and waits for HAProxy to mark it DOWN (limit:
``(inter + timeout check) x fall``, at most 30 s by policy, plus one interval and 1 s, as each check
waits out its timeout). It reports detection time and failed requests. After detection plus one
client timeout, every request must succeed. Fails when HAProxy never takes the node out (TCP-only
checks: the kernel still accepts) or keeps routing to it.
"""

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
