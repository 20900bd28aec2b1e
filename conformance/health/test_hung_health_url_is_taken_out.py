"""Health checks: a Flow server whose health URL hangs (accepts, never answers) is taken out.

A server stuck in a long GC pause or a deadlock accepts connections but never answers. The check
must time out and count as failed. Limit: ``fall`` checks, each lasting at most one interval plus
its own timeout (``(inter + timeout check) x fall``, at most 30 s by policy), plus one interval and
1 s. No request may reach the server once it is DOWN. Fails with a TCP-only check (the port still
accepts) or a `timeout check` longer than the interval allows.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pytest
import urllib3

from flowlb.checks.backend import Backend
from flowlb.haproxy.runtime import ServerStat
from flowlb.lbclient import echo
from flowlb.targets.base import HealthState, NodeControl


def test_hung_health_url_marks_the_server_down(
    node_control: NodeControl,
    backend: Callable[[str], Backend],
    http: Callable[..., urllib3.HTTPConnectionPool],
    record_property: Callable[[str, object], None],
) -> None:
    servers = backend("server")
    victim = servers.health_victim(0)
    limit = servers.timing(victim).hung_limit_s()

    node_control.set_health(victim, HealthState.HANG)
    took = servers.marked_down_within(victim, limit)
    if isinstance(took, ServerStat):
        now = took
        pytest.fail(
            f"{victim}'s health URL never answers, yet HAProxy still has it {now.status} ({now.check_status}) "
            f"after {limit:.1f} s. Fix: an HTTP check (`option httpchk GET /commanderRequest/health`) and no "
            "`timeout check` longer than `inter`."
        )
    record_property("hung_health_detection_s", round(took, 2))
    print(f"hung health URL: marked down in {took:.2f} s (limit {limit:.1f})")
    answered = Counter(echo(http("server").request("GET", "/flowlb/while-hung"))["node"] for _ in range(15))
    assert answered[victim] == 0, f"requests reached {victim} while HAProxy had it DOWN: {dict(answered)}"
