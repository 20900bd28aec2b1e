"""Check `failover/backup_takes_over`: its text is its entry in flowlb/checks/catalogue.toml."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import urllib3

from flowlb.checks.applies import does_not_apply
from flowlb.checks.counters import measure_spread
from flowlb.errors import FlowlbError
from flowlb.haproxy.runtime import RuntimeAPI
from flowlb.interrupts import deferred_signals
from flowlb.net import wait_until
from flowlb.targets.base import Target

REQUESTS = 40


@pytest.mark.usefixtures("destructive")
def test_backup_serves_only_when_every_primary_is_out(
    lb: Target, runtime: RuntimeAPI, http: Callable[..., urllib3.HTTPConnectionPool]
) -> None:
    pool = http("server_tls")
    statuses: list[int] = []

    def send(index: int) -> None:
        statuses.append(pool.request("GET", f"/flowlb/backup?i={index}").status)

    backend = measure_spread(runtime, send, 5).backend
    servers = runtime.servers(backend)
    backups = sorted(name for name, stat in servers.items() if stat.backup)
    primaries = sorted(name for name, stat in servers.items() if not stat.backup)
    if not backups:
        does_not_apply(f"{backend} (behind 8443) has no backup server")
    spread = measure_spread(runtime, send, REQUESTS)
    shared = {name: spread.per_server.get(name, 0) for name in backups if spread.per_server.get(name, 0)}
    assert not shared, (
        f"{backend}'s backup servers took {shared} of {REQUESTS} requests while primaries {primaries} were UP: "
        "they are not standing by. Fix: `backup` on the standby's server line, and no `option allbackups` "
        "unless every backup should serve at once."
    )
    statuses.clear()
    try:
        for name in primaries:
            runtime.set_state(backend, name, "maint")
        wait_until(lambda: all(runtime.server(backend, n).is_down for n in primaries), 5.0, "primaries in MAINT",
                   seen=lambda: {n: runtime.server(backend, n).status for n in primaries})
        try:
            taken = measure_spread(runtime, send, REQUESTS).per_server
        except FlowlbError:
            taken = {}
        failed = [status for status in statuses if status >= 500]
        assert not failed and sum(taken.get(name, 0) for name in backups) == REQUESTS, (
            f"with every primary of {backend} in maintenance, {len(failed)} of {REQUESTS} requests failed "
            f"({sorted(set(failed))}) and the backups {backups} took {taken}: the standby does not take "
            "over. Fix: a backup server that passes the same health check as the primaries."
        )
    finally:
        with deferred_signals():  # a second Ctrl-C must not leave a primary in MAINT
            for name in primaries:
                runtime.set_state(backend, name, "ready")
        wait_until(lambda: all(runtime.server(backend, n).is_up for n in primaries), 30.0, "primaries UP again",
                   seen=lambda: {n: runtime.server(backend, n).status for n in primaries})
