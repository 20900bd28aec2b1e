"""Check `stomp/sessions_spread_over_nodes`: its text is its entry in flowlb/checks/catalogue.toml."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pytest

from flowlb.checks.applies import does_not_apply
from flowlb.checks.backend import Backend
from flowlb.haproxy.runtime import RuntimeAPI, ServerStat
from flowlb.spec import ClusterSpec
from flowlb.stompclient import StompSession
from flowlb.targets.base import Target

pytestmark = [pytest.mark.stomp, pytest.mark.needs_role(role="stomp")]
SESSIONS_PER_NODE = 3


def test_sessions_spread_evenly(
    lb: Target, stomp_session: Callable[..., StompSession], request: pytest.FixtureRequest, flowlb_spec: ClusterSpec
) -> None:
    if not lb.echoes():
        runtime: RuntimeAPI = request.getfixturevalue("runtime")  # skips, naming the options, without evidence
        _judge_by_counters(runtime, stomp_session, len(flowlb_spec.node_names()))
        return
    stomp_backend: Backend = request.getfixturevalue("stomp_backend")
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


def _judge_by_counters(runtime: RuntimeAPI, stomp_session: Callable[..., StompSession], node_count: int) -> None:
    total = SESSIONS_PER_NODE * node_count
    before = {(s.backend, s.server): s for s in runtime.stats()}
    held = [stomp_session() for _ in range(total)]  # held open until the check ends
    after = {(s.backend, s.server): s for s in runtime.stats()}
    grown: Counter[str] = Counter()
    for key, stat in after.items():
        grown[key[0]] += stat.total_sessions - (before[key].total_sessions if key in before else 0)
    carriers = sorted(backend for backend, count in grown.items() if count >= len(held))
    assert carriers, f"HAProxy counted the {total} STOMP sessions opened through the LB on no backend: {dict(grown)}"
    if len(carriers) > 1:
        pytest.skip(f"inconclusive on a busy LB: {', '.join(carriers)} each took {total} sessions or more while "
                    f"{total} STOMP sessions were opened; other clients' traffic hides which is the STOMP backend")
    backend = carriers[0]
    up = sorted(stat.server for (name, _), stat in after.items() if name == backend and stat.is_up and not stat.backup)
    if len(up) < 2:
        does_not_apply(f"{backend} has {len(up)} UP primary server: nothing to spread over")

    def current(stats: dict[tuple[str, str], ServerStat]) -> dict[str, int]:
        return {server: stats[(backend, server)].current_sessions if (backend, server) in stats else 0
                for server in up}

    was, now = current(before), current(after)
    fair = total / len(up)
    opened = {server: after[(backend, server)].total_sessions - (before[(backend, server)].total_sessions
                                                               if (backend, server) in before else 0)
              for server in up}
    assert max(now.values()) - min(now.values()) <= max(was.values()) - min(was.values()) + fair, (
        f"{total} STOMP sessions opened through the LB were placed {opened} in {backend}: HAProxy now holds "
        f"{now} current sessions there, against {was} before (other clients' sessions included, so a margin of "
        f"one fair share, {fair:.0f}, is allowed). Fix: `balance leastconn` (or roundrobin) in the STOMP backend."
    )
