"""Which HAProxy backend and server serve each LB role and node.

The config says which server is which node: the harness mapped every ``server`` line onto a node
address, so the address HAProxy sends a server to (``show servers state``) names its node. Only which backend
takes a role's traffic is learned (``use_backend`` rules can choose it): a few requests go through
the role's port and the backend whose session totals (``stot``) moved is the one::

    route = config_route(runtime, lb.layout, learn_backend(runtime, one_request))
    route.backend, route.servers["node2"]      # "commander-server-backend", "node2"
    route.primaries()                          # nodes that are not `backup`
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import urllib3

from flowlb.checks.applies import does_not_apply
from flowlb.errors import FlowlbError
from flowlb.haproxy.layout import Layout
from flowlb.haproxy.runtime import RuntimeAPI
from flowlb.lbclient import echo


@dataclass(frozen=True)
class Route:
    """The backend behind one LB role, the server name of each node in it, and its backup nodes."""

    backend: str
    servers: dict[str, str]
    backups: frozenset[str] = field(default_factory=frozenset)

    def server(self, node: str) -> str:
        return self.servers[node]

    def primaries(self) -> list[str]:
        """Nodes of this backend that are not ``backup`` servers, in server order."""
        return [node for node in self.servers if node not in self.backups]


def _counters(runtime: RuntimeAPI) -> dict[tuple[str, str], int]:
    return {(s.backend, s.server): s.total_sessions for s in runtime.stats()}


def http_exchange(pool: urllib3.HTTPConnectionPool) -> Callable[[int], str | None]:
    """One request through ``pool``; the node that answered (``None`` when none did)."""

    def one_request(index: int) -> str | None:
        reply = pool.request("GET", f"/flowlb/route-discovery?i={index}")
        return str(echo(reply)["node"]) if reply.status == 200 else None

    return one_request


def learn_backend(runtime: RuntimeAPI, one_exchange: Callable[[int], object], budget: int = 10) -> str:
    """The backend whose servers take the exchanges (the first one whose session total moves)."""
    for index in range(budget):
        before = _counters(runtime)
        one_exchange(index)
        after = _counters(runtime)
        moved = {backend for (backend, server), value in after.items() if value > before.get((backend, server), 0)}
        if len(moved) == 1:
            return moved.pop()
    raise FlowlbError(f"none of {budget} requests was counted on a server of one backend: HAProxy routes this port "
                      "to no backend with servers")


def config_route(runtime: RuntimeAPI, layout: Layout, backend: str) -> Route:
    """The route of ``backend``: each server's node, from the address the harness gave it (HAProxy's own word)."""
    servers: dict[str, str] = {}
    backups: set[str] = set()
    stats = runtime.servers(backend)
    for name, (host, port) in runtime.server_addresses(backend).items():
        found = layout.node_at(host, port)
        if found is None or found[0] in servers:
            continue
        servers[found[0]] = name
        if name in stats and stats[name].backup:
            backups.add(found[0])
    if not servers:
        raise FlowlbError(f"backend {backend} has no server on a Flow node")
    return Route(backend, servers, frozenset(backups))


def health_victim(route: Route, index: int) -> str:
    """The node a health check makes unhealthy: the ``index``-th primary (wrapping round)."""
    primaries = route.primaries()
    return primaries[index % len(primaries)]


def failover_victim(route: Route, index: int) -> str:
    """The node a failover check fails: a primary with somewhere to fail over to, else the check skips."""

    primaries = route.primaries()
    if len(primaries) < 2 and not route.backups:
        does_not_apply(f"{route.backend} has one server and no backup: there is nothing to fail over to")
    return primaries[index % len(primaries)]
