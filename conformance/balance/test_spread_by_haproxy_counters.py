"""Check `balance/spread_by_haproxy_counters`: its text is its entry in flowlb/checks/catalogue.toml."""

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
