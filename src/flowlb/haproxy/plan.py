"""The test cluster an operator's config asks for: how many Flow nodes, which server is which node.

Sized from the config, never from the spec: every distinct host behind a ``server`` line on a node
port (web, Flow server, STOMP) is one mock node, backups included. The same host in several
backends (``flow1`` on 8000 and on 61613) is one node; servers without a host (``server node1 :80``,
the article's style) or made by ``server-template`` are one node per server name. Binds on ports
outside the five LB roles (stats listeners, exporters, ``monitor-uri`` frontends) are listed to get
a free loopback port of their own::

    plan = ClusterPlan.of(parsed(text), spec)
    plan.nodes                           # ("web1", "flow1", "flow2", ...)
    plan.node_of[("commander-stomp-backend", "flow2")]   # "flow2"
    plan.spec                            # the spec with exactly those nodes
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from flowlb.errors import ClusterTooBig, FlowlbError
from flowlb.haproxy.config import HAProxyConfig, Server
from flowlb.spec import ClusterSpec, Node

MAX_NODES = 16
_ROLE_KIND = {"http": "web", "https": "web", "server": "server", "server_tls": "server", "stomp": "stomp"}


@dataclass(frozen=True)
class ClusterPlan:
    """Nodes the config needs, the node and node port of each server, the extra LB ports."""

    spec: ClusterSpec
    node_of: dict[tuple[str, str], str]
    kind_of: dict[tuple[str, str], str]
    extra_ports: tuple[int, ...]

    @property
    def nodes(self) -> tuple[str, ...]:
        return tuple(self.spec.node_names())

    @classmethod
    def of(cls, config: HAProxyConfig, spec: ClusterSpec, max_nodes: int | None = None) -> ClusterPlan:
        """The plan for ``config``; raises :class:`FlowlbError` when it has no Flow server at all, and
        :class:`ClusterTooBig` when it has more Flow hosts than ``max_nodes`` (given where the nodes will be
        started, as :data:`MAX_NODES`; lint and the remap start none)."""
        kinds = _node_kinds(spec)
        lb_ports = spec.lb.ports.by_role()
        role_of_port = {port: role for role, port in lb_ports.items()}
        node_by_key: dict[str, str] = {}
        node_of: dict[tuple[str, str], str] = {}
        kind_of: dict[tuple[str, str], str] = {}
        for server in config.servers():
            kind = _kind(server, kinds, config, role_of_port)
            if kind is None:
                continue
            key = _identity(server)
            if key not in node_by_key:
                node_by_key[key] = _unique(_node_name(server.name), set(node_by_key.values()))
            node_of[(server.proxy.name, server.name)] = node_by_key[key]
            kind_of[(server.proxy.name, server.name)] = kind
        if not node_by_key:
            ports = ", ".join(f"{k}={p}" for k, p in kinds.items())
            raise FlowlbError(f"the config has no server on a Flow node port ({ports}): nothing to test behind the LB")
        if max_nodes is not None and len(node_by_key) > max_nodes:
            raise ClusterTooBig(f"the config has {len(node_by_key)} distinct Flow hosts (servers on a Flow node port, "
                                f"server-template ones included); flowlb's test cluster runs at most {max_nodes}, "
                                "one mock node each")
        extra = sorted({a.port for s in config.of_kind("frontend", "listen") for a, _ in s.binds()
                        if a.port is not None and a.port not in role_of_port})
        nodes = tuple(Node(name=name, host=name) for name in node_by_key.values())
        return cls(dataclasses.replace(spec, nodes=nodes), node_of, kind_of, tuple(extra))


def _node_kinds(spec: ClusterSpec) -> dict[str, int]:
    return {"web": spec.node_ports.web, "server": spec.node_ports.server, "stomp": spec.node_ports.stomp}


def _kind(server: Server, kinds: dict[str, int], config: HAProxyConfig, role_of_port: dict[int, str]) -> str | None:
    """web, server or stomp by the server's port; without a port, by the LB port in front of its backend."""
    if server.address is None or server.address.is_socket:
        return None
    if server.port is not None:
        return next((kind for kind, port in kinds.items() if port == server.port), None)
    for front in config.of_kind("frontend", "listen"):
        if front is server.proxy or server.proxy.name in front.backends():
            for port, _ in front.bind_ports():
                if port in role_of_port:
                    return _ROLE_KIND[role_of_port[port]]
    return None


def _identity(server: Server) -> str:
    address = server.address
    if server.template or address is None or address.is_wildcard or address.host.startswith("$"):
        return f"name:{server.name}"
    return f"host:{address.host.lower()}"


def _node_name(server_name: str) -> str:
    name = re.sub(r"[^a-z0-9-]+", "-", server_name.lower()).strip("-")[:32] or "node"
    return name if name[0].isalpha() else f"n{name}"[:32]


def _unique(name: str, taken: set[str]) -> str:
    candidate, index = name, 2
    while candidate in taken:
        candidate = f"{name[:28]}-{index}"
        index += 1
    return candidate
