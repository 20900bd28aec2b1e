"""Which HAProxy backend and server serve each LB role and node, learned from HAProxy's counters.

Checks must work on the generated profiles and on an operator's own config, whose backend and
server names are its own. So they do not assume names. One request at a time goes through a
role's port. The server row whose ``stot`` moved, together with the node that answered, maps
node -> (backend, server)::

    route = learn_route(runtime, pool, nodes=["node1", "node2", "node3"])
    route.backend, route.servers["node2"]      # "commander-server-backend", "node2"
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import urllib3

from flowlb.errors import FlowlbError
from flowlb.haproxy.runtime import RuntimeAPI
from flowlb.lbclient import echo


@dataclass(frozen=True)
class Route:
    """The backend behind one LB role and the server name of each node in it."""

    backend: str
    servers: dict[str, str]

    def server(self, node: str) -> str:
        return self.servers[node]


def _counters(runtime: RuntimeAPI) -> dict[tuple[str, str], int]:
    return {(s.backend, s.server): s.total_sessions for s in runtime.stats()}


def learn_route(runtime: RuntimeAPI, pool: urllib3.HTTPConnectionPool, nodes: list[str], budget: int = 60) -> Route:
    """Send single HTTP requests until every node was seen answering (at most ``budget``)."""

    def one_request(index: int) -> str | None:
        reply = pool.request("GET", f"/flowlb/route-discovery?i={index}")
        return str(echo(reply)["node"]) if reply.status == 200 else None

    return learn_route_by(runtime, one_request, nodes, budget)


def learn_route_by(
    runtime: RuntimeAPI, one_exchange: Callable[[int], str | None], nodes: list[str], budget: int = 60
) -> Route:
    """Run ``one_exchange`` (one request or session, returning the node that answered) until every node was seen."""
    seen: dict[str, tuple[str, str]] = {}
    for index in range(budget):
        before = _counters(runtime)
        node = one_exchange(index)
        after = _counters(runtime)
        moved = [key for key, value in after.items() if value > before.get(key, 0)]
        if node is None or len(moved) != 1:
            continue
        seen[node] = moved[0]
        if set(seen) >= set(nodes):
            break
    backends = {backend for backend, _ in seen.values()}
    if set(seen) < set(nodes) or len(backends) != 1:
        raise FlowlbError(
            f"could not tell which HAProxy servers serve this port: seen {sorted(seen.items())} for nodes {nodes}"
        )
    return Route(backend=backends.pop(), servers={node: server for node, (_, server) in seen.items()})
