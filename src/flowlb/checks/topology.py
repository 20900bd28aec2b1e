"""Which HAProxy backend and server serve each LB role and node.

The config says which server is which node: the harness mapped every ``server`` line onto a node
address, so the address HAProxy sends a server to (``show servers state``) names its node. Only which backend
takes a role's traffic is learned (``use_backend`` rules can choose it): a few requests go through
the role's port and the backend whose session totals (``stot``) moved is the one::

    route = config_route(runtime, lb.layout, learn_backend(runtime, one_request))
    route.backend, route.servers["node2"]      # "commander-server-backend", "node2"
    route.primaries()                          # nodes that are not `backup`

The cluster's Flow nodes are the union over every Flow backend (Flow server port or STOMP), not each
backend's own list: :func:`flow_servers` reads them from HAProxy, :func:`forgotten_servers` names the
backends that lack one::

    forgotten_servers(flow_servers(runtime, node_finder(lb.layout, spec)))
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import urllib3

from flowlb.checks.applies import does_not_apply
from flowlb.errors import FlowlbError
from flowlb.haproxy.layout import Layout
from flowlb.haproxy.runtime import RuntimeAPI
from flowlb.lbclient import echo
from flowlb.spec import ClusterSpec

FLOW_KINDS = ("server", "stomp")  # the node ports that make a backend a Flow backend; web is the UI tier


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


NodeFinder = Callable[[str, int], tuple[str, str] | None]
"""``(node, kind)`` of the address ``host:port`` HAProxy sends a server to (kind: web, server or stomp)."""


def node_finder(layout: Layout | None, spec: ClusterSpec) -> NodeFinder:
    """Which node an address is: the harness's layout where it mapped the config, else the address's host (a live
    LB: one host is one Flow node, as ``flowlb lint``'s FLOW031 reads it), its kind by the spec's node ports."""
    if layout is not None:
        return layout.node_at
    kinds = {spec.node_ports.web: "web", spec.node_ports.server: "server", spec.node_ports.stomp: "stomp"}

    def by_host(host: str, port: int) -> tuple[str, str] | None:
        return (host.lower(), kinds[port]) if port in kinds else None

    return by_host


@dataclass(frozen=True)
class FlowServer:
    """One server of a Flow backend as HAProxy runs it: the node it reaches, ``backup``, in maintenance (MAINT:
    ``disabled`` in the config, or drained)."""

    backend: str
    server: str
    node: str
    backup: bool = False
    maintenance: bool = False

    @property
    def serves(self) -> bool:
        """A primary that takes traffic: the servers whose nodes every Flow backend must have."""
        return not self.backup and not self.maintenance


def flow_servers(runtime: RuntimeAPI, find: NodeFinder) -> list[FlowServer]:
    """Every server of every Flow backend HAProxy runs (one with a server on a Flow server or STOMP node port), with
    its node; servers on no node port are left out. Needs ``show servers state`` (the runtime API, not a stats
    page: ``TargetError``)."""
    stats = runtime.stats()
    found: list[FlowServer] = []
    for backend in dict.fromkeys(stat.backend for stat in stats):
        rows = {stat.server: stat for stat in stats if stat.backend == backend}
        nodes = {name: where for name, (host, port) in runtime.server_addresses(backend).items()
                 if (where := find(host, port)) is not None}
        if not any(kind in FLOW_KINDS for _, kind in nodes.values()):
            continue
        for name, (node, _) in nodes.items():
            row = rows.get(name)
            found.append(FlowServer(backend, name, node, backup=bool(row and row.backup),
                                    maintenance=bool(row and row.status.startswith("MAINT"))))
    return found


@dataclass(frozen=True)
class Forgotten:
    """A Flow node that ``backend`` has no server for, and the servers that reach it in the other Flow backends."""

    backend: str
    node: str
    elsewhere: tuple[FlowServer, ...]


def forgotten_servers(servers: Iterable[FlowServer]) -> list[Forgotten]:
    """Per Flow backend, the Flow nodes it lacks: nodes that serve (a primary, not in maintenance) in another
    Flow backend. A node that is only a ``backup``, or only in maintenance, is not required elsewhere; a node
    present in a backend in any state (backup, MAINT) is not missing from it."""
    servers = list(servers)
    present: dict[str, set[str]] = {}
    for server in servers:
        present.setdefault(server.backend, set()).add(server.node)
    serving: dict[str, list[FlowServer]] = {}
    for server in servers:
        if server.serves:
            serving.setdefault(server.node, []).append(server)
    return [Forgotten(backend, node, tuple(where)) for backend, nodes in present.items()
            for node, where in serving.items() if node not in nodes]
