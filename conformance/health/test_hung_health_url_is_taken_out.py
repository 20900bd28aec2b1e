"""Health checks: a Flow server whose health URL hangs (accepts, never answers) is taken out.

A server stuck in a long GC pause or a deadlock accepts connections but never answers. The check
must time out and count as failed. Limit: ``fall`` checks, each lasting at most one interval plus
its own timeout (``(inter + timeout check) x fall``, at most 30 s by policy), plus one interval and
1 s. No request may reach the server once it is DOWN. Fails with a TCP-only check (the port still
accepts) or a `timeout check` longer than the interval allows.
"""

from __future__ import annotations

from collections import Counter

from flowlb.checks.drill import Drill
from flowlb.lbclient import echo
from flowlb.targets.base import HealthState


def test_hung_health_url_marks_the_server_down(drill: Drill) -> None:
    servers = drill.backend("server")
    victim = servers.health_victim(0)
    limit = servers.timing(victim).hung_limit_s()

    drill.nodes.set_health(victim, HealthState.HANG)
    took = servers.expect_down(victim, limit, f"{victim}'s health URL never answers",
                               "an HTTP check (`option httpchk GET /commanderRequest/health`) and no `timeout check` "
                               "longer than `inter`.")
    drill.record("hung_health_detection_s", round(took, 2))
    print(f"hung health URL: marked down in {took:.2f} s (limit {limit:.1f})")
    answered = Counter(echo(drill.http("server").request("GET", "/flowlb/while-hung"))["node"] for _ in range(15))
    assert answered[victim] == 0, f"requests reached {victim} while HAProxy had it DOWN: {dict(answered)}"
