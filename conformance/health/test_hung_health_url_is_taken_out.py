"""Check `health/hung_health_url_is_taken_out`: its text is its entry in flowlb/checks/catalogue.toml."""

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
