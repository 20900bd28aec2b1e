"""Which backend serves an LB port, and how it spread the requests, from HAProxy's counters alone.

Works where the nodes do not say who answered (a live LB in front of real Flow servers): send a
bounded number of requests, then compare every server's session total (``stot``) before and after.
The backend whose servers took them is the one behind the port.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flowlb.errors import FlowlbError
from flowlb.haproxy.runtime import RuntimeAPI


@dataclass(frozen=True)
class Spread:
    """Requests per server of the backend that took them; ``up``: its UP primary (non-backup) servers."""

    backend: str
    per_server: dict[str, int]
    up: list[str]

    def total(self) -> int:
        return sum(self.per_server.values())


def _totals(runtime: RuntimeAPI) -> dict[tuple[str, str], int]:
    return {(s.backend, s.server): s.total_sessions for s in runtime.stats()}


def measure_spread(runtime: RuntimeAPI, send: Callable[[int], None], count: int) -> Spread:
    """Call ``send(i)`` ``count`` times; the backend whose servers' totals grew most, and by how much each."""
    before = _totals(runtime)
    for index in range(count):
        send(index)
    after = _totals(runtime)
    grown: dict[str, dict[str, int]] = {}
    for (backend, server), total in after.items():
        grown.setdefault(backend, {})[server] = total - before.get((backend, server), 0)
    if not grown:
        raise FlowlbError("HAProxy reports no servers at all")
    backend = max(grown, key=lambda name: sum(grown[name].values()))
    if sum(grown[backend].values()) == 0:
        raise FlowlbError(f"HAProxy counted none of the {count} requests on any server")
    up = [s.server for s in runtime.servers(backend).values() if s.is_up and not s.backup]
    return Spread(backend, grown[backend], up)
