"""Balancing, by HAProxy's own counters: requests on 443, 8000 and 8443 spread over every UP server.

The node-side balance check needs nodes that say who answered; this one reads only HAProxy's
per-server session totals, so it also runs against a live LB in front of real Flow servers (with
``--runtime-api`` or ``--stats-url``). Fails when a primary server UP in the backend behind the port
gets less than half or more than twice its even share of a bounded burst of requests. Backup servers
take no share while a primary is UP; a backend with one primary server has nothing to balance (skip).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import urllib3

from flowlb.checks.applies import does_not_apply
from flowlb.checks.counters import measure_spread
from flowlb.haproxy.runtime import RuntimeAPI
from flowlb.targets.base import Target

PER_SERVER = 30


@pytest.mark.parametrize("role", ["https", "server", "server_tls"], ids=["443", "8000", "8443"])
def test_haproxy_counts_an_even_spread(
    lb: Target, runtime: RuntimeAPI, http: Callable[..., urllib3.HTTPConnectionPool], role: str
) -> None:
    pool = http(role)
    count = PER_SERVER * len(lb.node_names())
    spread = measure_spread(runtime, lambda i: pool.request("GET", f"/flowlb/spread?i={i}"), count)
    primaries = [s for s in runtime.servers(spread.backend).values() if not s.backup]
    if len(primaries) < 2:
        does_not_apply(f"{spread.backend} (behind {role}) has {len(primaries)} primary server: nothing to balance")
    assert len(spread.up) > 1, f"{spread.backend} has {len(spread.up)} server UP: nothing to balance"
    even = spread.total() / len(spread.up)
    off = {server: spread.per_server.get(server, 0) for server in spread.up
           if not even / 2 <= spread.per_server.get(server, 0) <= even * 2}
    assert not off, (
        f"{spread.backend} (behind {role}) gave {spread.per_server} of {spread.total()} requests; {sorted(off)} "
        f"got less than half or more than twice the even share of {even:.0f}. Fix: `balance roundrobin`, equal "
        "weights, no `balance source` in front of clients behind one address."
    )
