"""Check `failover/drained_server_gets_no_traffic`: its text is its entry in flowlb/checks/catalogue.toml."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import urllib3

from flowlb.checks.counters import measure_spread
from flowlb.haproxy.runtime import RuntimeAPI
from flowlb.interrupts import deferred_signals
from flowlb.net import wait_until
from flowlb.targets.base import Target

REQUESTS = 60


@pytest.mark.usefixtures("destructive")
def test_server_in_maintenance_gets_no_request(
    lb: Target, runtime: RuntimeAPI, http: Callable[..., urllib3.HTTPConnectionPool]
) -> None:
    pool = http("server_tls")
    statuses: list[int] = []

    def send(index: int) -> None:
        statuses.append(pool.request("GET", f"/flowlb/drain?i={index}").status)

    backend = measure_spread(runtime, send, 10).backend
    drained = sorted(s.server for s in runtime.servers(backend).values() if s.is_up)[0]
    statuses.clear()
    runtime.set_state(backend, drained, "maint")
    try:
        wait_until(lambda: runtime.server(backend, drained).is_down, 5.0, f"{backend}/{drained} in MAINT",
                   seen=lambda: runtime.server(backend, drained).status)
        spread = measure_spread(runtime, send, REQUESTS)
        failed = [status for status in statuses if status >= 500]
        assert not failed, f"{len(failed)} of {REQUESTS} requests failed with {backend}/{drained} in maintenance"
        assert spread.per_server.get(drained, 0) == 0, (
            f"{backend}/{drained} is in maintenance yet took {spread.per_server[drained]} requests"
        )
    finally:
        with deferred_signals():  # a second Ctrl-C must not leave the server in MAINT
            runtime.set_state(backend, drained, "ready")
        wait_until(lambda: runtime.server(backend, drained).is_up, 30.0, f"{backend}/{drained} UP again",
                   seen=lambda: runtime.server(backend, drained).status)
