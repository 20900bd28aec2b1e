"""Check `balance/requests_spread_over_all_nodes`: its text is its entry in flowlb/checks/catalogue.toml."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pytest
import urllib3

from flowlb.checks.applies import does_not_apply
from flowlb.checks.backend import Backend
from flowlb.haproxy.runtime import RuntimeAPI
from flowlb.lbclient import echo
from flowlb.targets.base import Target

REQUESTS_PER_NODE = 20


@pytest.mark.usefixtures("node_echo")
@pytest.mark.parametrize("role", ["https", "server", "server_tls"], ids=["443", "8000", "8443"])
def test_requests_spread_evenly(
    lb: Target,
    http: Callable[..., urllib3.HTTPConnectionPool],
    runtime: RuntimeAPI,
    backend: Callable[[str], Backend],
    role: str,
    record_property: Callable[[str, object], None],
) -> None:
    nodes = backend(role).primaries()
    if len(nodes) < 2:
        does_not_apply(f"{backend(role).name} (behind {role}) has one primary server: nothing to balance")
    total = REQUESTS_PER_NODE * len(nodes)
    before = {(s.backend, s.server): s.total_sessions for s in runtime.stats()}
    pool = http(role)
    answered = Counter(echo(pool.request("GET", f"/flowlb/balance?i={i}"))["node"] for i in range(total))
    after = {(s.backend, s.server): s.total_sessions for s in runtime.stats()}
    moved = {key: after[key] - before.get(key, 0) for key in after if after[key] > before.get(key, 0)}

    record_property("requests_per_node", {name: answered[name] for name in nodes})

    fair = total / len(nodes)
    shares = ", ".join(f"{name}={answered[name]}" for name in nodes)
    for name in nodes:
        assert 0.5 * fair <= answered[name] <= 1.5 * fair, (
            f"{total} requests on the {role} port were answered {shares}: {name} got "
            f"{answered[name]}, outside {0.5 * fair:.0f}-{1.5 * fair:.0f}. "
            "Fix: `balance roundrobin` (or leastconn) and every node in the backend, weight > 0."
        )
    assert sum(moved.values()) == total and sorted(moved.values()) == sorted(answered.values()), (
        f"HAProxy's per-server counters moved by {moved}, which disagrees with the nodes' answers {dict(answered)}"
    )
