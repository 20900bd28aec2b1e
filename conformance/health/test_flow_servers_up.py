"""Check `health/flow_servers_up`: its text is its entry in flowlb/checks/catalogue.toml."""

from __future__ import annotations

from flowlb.haproxy.runtime import RuntimeAPI
from flowlb.targets.base import Target


def test_every_flow_server_is_up(lb: Target, runtime: RuntimeAPI) -> None:
    servers = runtime.stats()
    assert servers, "HAProxy reports no servers: its evidence shows no backend at all"
    down = [f"{s.backend}/{s.server} is {s.status} (check: {s.check_status or 'none'} {s.check_code})"
            for s in servers if not s.is_up]
    assert not down, "HAProxy does not route to: " + "; ".join(down) + (
        ". Fix: start the node, check it answers /commanderRequest/health with 200, or `set server ... state "
        "ready` if it was left drained."
    )
