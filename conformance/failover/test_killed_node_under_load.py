"""Failover under load: a Flow node is killed while clients stream requests on 8443.

A bounded stream of idempotent GETs runs on keep-alive connections (4 workers, at most 20,000
requests or 30 s). One node is killed (SIGKILL or `docker kill`), the check waits for HAProxy to
mark it DOWN, then runs on for one more check interval. It reports the detection time and the
failed requests. A killed node refuses connections, and `retries` with `option redispatch` and
`retry-on conn-failure` send those requests to another server, so no idempotent request may be
lost. Fails when any request fails (the article has no redispatch) or detection is slower than
``inter x fall`` plus one interval and 1 s.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import urllib3

from flowlb.checks.health import check_timing, marked_down_within
from flowlb.checks.stream import RequestStream
from flowlb.checks.topology import Route, failover_victim
from flowlb.haproxy.runtime import RuntimeAPI, ServerStat
from flowlb.net import wait_until
from flowlb.spec import ClusterSpec
from flowlb.targets.base import NodeControl, Target


def test_no_request_lost_when_a_node_is_killed(
    lb: Target,
    runtime: RuntimeAPI,
    node_control: NodeControl,
    route: Callable[[str], Route],
    http: Callable[..., urllib3.HTTPConnectionPool],
    flowlb_spec: ClusterSpec,
    record_property: Callable[[str, object], None],
) -> None:
    server_route = route("server_tls")
    victim = failover_victim(server_route, 2)
    server = server_route.server(victim)
    limit = check_timing(runtime, lb.config_text, flowlb_spec, server_route.backend, server).down_limit_s()

    stream = RequestStream(lambda: http("server_tls"), "/flowlb/failover", workers=4, max_seconds=30)
    events: list[dict[str, object]] = []  # for the report's failover timeline, recorded even when the check fails
    try:
        with stream:
            wait_until(lambda: stream.count() >= 50, 10, "the request stream running")
            killed_at = stream.now()
            node_control.kill(victim)
            events.append({"t": round(killed_at, 3), "what": f"killed {victim}", "kind": "failure"})
            detected = marked_down_within(runtime, server_route.backend, server, limit)
            if isinstance(detected, ServerStat):
                pytest.fail(f"HAProxy did not mark the killed node {victim} DOWN within {limit:.1f} s")
            down = f"HAProxy marked {victim} DOWN"
            events.append({"t": round(killed_at + detected, 3), "what": down, "kind": "down"})
            settled = stream.count()
            wait_until(lambda: stream.count() >= settled + 50, 10, "the stream after detection")
    finally:
        record_property("kill_timeline", stream.timeline(events))
    outcomes = stream.snapshot()
    failures = stream.failures()
    record_property("kill_detection_s", round(detected, 2))
    record_property("kill_requests", len(outcomes))
    record_property("kill_failed_requests", len(failures))
    print(
        f"killed {victim} at {killed_at:.2f} s: HAProxy marked it down {detected:.2f} s later; "
        f"{len(failures)} of {len(outcomes)} requests failed"
    )
    assert not failures, (
        f"{len(failures)} of {len(outcomes)} idempotent requests failed when {victim} died "
        f"(first: {failures[0].error or failures[0].status} at {failures[0].started:.2f} s). "
        "Fix: `retries 3`, `option redispatch 1` and `retry-on conn-failure empty-response response-timeout`."
    )
