"""The cluster spec: what the load balancer and the Flow nodes behind it look like.

A spec is a small TOML file (``fixtures/cluster.toml`` is the default). Loading it validates every
key and raises :class:`~flowlb.errors.SpecError` with a one-line message naming the key::

    spec = load_spec(Path("fixtures/cluster.toml"))
    spec.lb.ports.stomp        # 61613
    [n.name for n in spec.nodes]
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flowlb import paths
from flowlb.errors import FlowlbError, SpecError
from flowlb.inputs import read_input

PROFILES = ("kb", "hardened")
LB_ROLES = ("http", "https", "server", "server_tls", "stomp")
NODE_ROLES = ("web", "server", "stomp")
TLS_ROLES = ("https", "server_tls", "stomp")
"""The LB roles whose port ends TLS."""
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)
_NODE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,31}$")


WEB_AFFINITIES = ("cookie", "none")
"""How browsers on 443 are held to a web node: by a cookie the LB inserts or reads, or not at all."""

@dataclass(frozen=True)
class LBPorts:
    """The port the load balancer listens on for each role."""

    http: int = 80
    https: int = 443
    server: int = 8000
    server_tls: int = 8443
    stomp: int = 61613

    def by_role(self) -> dict[str, int]:
        """Ports keyed by role name (``http``, ``https``, ``server``, ``server_tls``, ``stomp``)."""
        return {role: getattr(self, role) for role in LB_ROLES}


@dataclass(frozen=True)
class NodePorts:
    """The ports every Flow node serves: web server, Flow server (with the health URL), STOMP."""

    web: int = 80
    server: int = 8000
    stomp: int = 61613


@dataclass(frozen=True)
class LoadBalancer:
    """The load balancer: its DNS names (the certificate's SANs, first one is the SNI) and ports."""

    names: tuple[str, ...] = ("flow-lb.test",)
    ports: LBPorts = field(default_factory=LBPorts)
    web_affinity: str = "cookie"  # "cookie": a browser stays on one web node (CloudBees' ingress); "none"

    @property
    def name(self) -> str:
        """The name clients use for SNI and certificate verification."""
        return self.names[0]


@dataclass(frozen=True)
class Node:
    """One Flow server node: its name (also the HAProxy server name) and the host the LB reaches it at."""

    name: str
    host: str


@dataclass(frozen=True)
class HealthCheck:
    """How HAProxy checks a Flow server: the URL and the timing (``inter``, ``fall``, ``rise``)."""

    path: str = "/commanderRequest/health"
    inter_ms: int = 2000
    fall: int = 3
    rise: int = 2

    @property
    def down_after_s(self) -> float:
        """Seconds of failing checks after which HAProxy marks a server down (``inter x fall``)."""
        return self.inter_ms * self.fall / 1000


@dataclass(frozen=True)
class Timeouts:
    """The timeouts the hardened profile sets (the article sets none), in milliseconds."""

    connect_ms: int = 5000
    client_ms: int = 30000
    server_ms: int = 4000000  # CloudBees' own ingress waits 4000 s: Flow API calls can run long
    tunnel_ms: int = 3600000
    http_request_ms: int = 5000
    http_keep_alive_ms: int = 10000


@dataclass(frozen=True)
class ClusterSpec:
    """A whole cluster: the LB, the nodes, their ports, the health check, the profile to render."""

    nodes: tuple[Node, ...]
    lb: LoadBalancer = field(default_factory=LoadBalancer)
    node_ports: NodePorts = field(default_factory=NodePorts)
    health: HealthCheck = field(default_factory=HealthCheck)
    timeouts: Timeouts = field(default_factory=Timeouts)
    profile: str = "hardened"
    source: str = "<built-in>"

    def node_names(self) -> list[str]:
        """The node names, in spec order (which is the order of the ``server`` lines)."""
        return [node.name for node in self.nodes]


def load_spec(path: Path | None = None) -> ClusterSpec:
    """Read and validate a cluster spec; ``None`` loads the default ``fixtures/cluster.toml``."""
    path = path or paths.default_spec()
    try:
        raw = tomllib.loads(read_input(path, "spec"))
    except FlowlbError as exc:
        raise SpecError(f"cluster spec {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"cluster spec {path}: not valid TOML: {exc}") from None
    return parse_spec(raw, source=str(path))


def parse_spec(raw: dict[str, Any], source: str = "<dict>") -> ClusterSpec:
    """Validate a spec already parsed from TOML; errors name ``source`` and the offending key."""
    reader = _Reader(source)
    reader.only(raw, "", {"profile", "lb", "nodes", "node_ports", "health", "timeouts"})
    profile = reader.text(raw, "profile", default="hardened")
    if profile not in PROFILES:
        reader.fail("profile", f"{profile!r} is not a profile (one of: {', '.join(PROFILES)})")

    lb_raw = reader.table(raw, "lb")
    reader.only(lb_raw, "lb", {"names", "ports", "web_affinity"})
    web_affinity = reader.text(lb_raw, "lb.web_affinity", default=LoadBalancer.web_affinity)
    if web_affinity not in WEB_AFFINITIES:
        reader.fail("lb.web_affinity", f"{web_affinity!r} is not a policy (one of: {', '.join(WEB_AFFINITIES)})")
    names = tuple(reader.text_list(lb_raw, "lb.names", default=["flow-lb.test"]))
    if not names:
        reader.fail("lb.names", "at least one DNS name is required")
    for index, name in enumerate(names):
        if not _HOSTNAME.match(name):
            reader.fail(f"lb.names[{index}]", f"{name!r} is not a DNS name")
    ports_raw = reader.table(lb_raw, "lb.ports")
    reader.only(ports_raw, "lb.ports", set(LB_ROLES))
    lb_ports = LBPorts(
        **{role: reader.port(ports_raw, f"lb.ports.{role}", getattr(LBPorts, role)) for role in LB_ROLES}
    )
    used: dict[int, str] = {}
    for role, port in lb_ports.by_role().items():
        if port in used:
            reader.fail(f"lb.ports.{role}", f"port {port} is already used by lb.ports.{used[port]}")
        used[port] = role

    node_ports_raw = reader.table(raw, "node_ports")
    reader.only(node_ports_raw, "node_ports", set(NODE_ROLES))
    node_ports = NodePorts(
        **{role: reader.port(node_ports_raw, f"node_ports.{role}", getattr(NodePorts, role)) for role in NODE_ROLES}
    )

    nodes = _parse_nodes(reader, raw)

    health_raw = reader.table(raw, "health")
    reader.only(health_raw, "health", {"path", "inter_ms", "fall", "rise"})
    health_path = reader.text(health_raw, "health.path", default=HealthCheck.path)
    if not health_path.startswith("/") or any(c.isspace() for c in health_path):
        reader.fail("health.path", f"{health_path!r} must start with '/' and contain no spaces")
    health = HealthCheck(
        path=health_path,
        inter_ms=reader.number(health_raw, "health.inter_ms", HealthCheck.inter_ms, low=100, high=600000),
        fall=reader.number(health_raw, "health.fall", HealthCheck.fall, low=1, high=100),
        rise=reader.number(health_raw, "health.rise", HealthCheck.rise, low=1, high=100),
    )

    timeouts_raw = reader.table(raw, "timeouts")
    fields = ("connect_ms", "client_ms", "server_ms", "tunnel_ms", "http_request_ms", "http_keep_alive_ms")
    reader.only(timeouts_raw, "timeouts", set(fields))
    timeouts = Timeouts(
        **{
            name: reader.number(timeouts_raw, f"timeouts.{name}", getattr(Timeouts, name), low=1, high=86400000)
            for name in fields
        }
    )
    return ClusterSpec(
        nodes=nodes,
        lb=LoadBalancer(names=names, ports=lb_ports, web_affinity=web_affinity),
        node_ports=node_ports,
        health=health,
        timeouts=timeouts,
        profile=profile,
        source=source,
    )


def _parse_nodes(reader: _Reader, raw: dict[str, Any]) -> tuple[Node, ...]:
    if "nodes" not in raw:
        reader.fail("nodes", "missing: the cluster needs at least one [[nodes]] entry")
    entries = raw["nodes"]
    if not isinstance(entries, list) or not entries:
        reader.fail("nodes", "the cluster needs at least one [[nodes]] entry")
    nodes: list[Node] = []
    seen: set[str] = set()
    for index, entry in enumerate(entries):
        key = f"nodes[{index}]"
        if not isinstance(entry, dict):
            reader.fail(key, "must be a table with 'name' and 'host'")
        reader.only(entry, key, {"name", "host"})
        name = reader.text(entry, f"{key}.name")
        if not _NODE_NAME.match(name):
            reader.fail(f"{key}.name", f"{name!r} is not a valid server name (letter, then letters, digits, - or _)")
        if name in seen:
            reader.fail(f"{key}.name", f"duplicate node name {name!r}")
        seen.add(name)
        host = reader.text(entry, f"{key}.host", default=name)
        if not _HOSTNAME.match(host):
            reader.fail(f"{key}.host", f"{host!r} is not a host name or IPv4 address")
        nodes.append(Node(name=name, host=host))
    return tuple(nodes)


class _Reader:
    """Typed access to a parsed TOML document that fails with the key's dotted name."""

    _MISSING: Any = object()

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str, problem: str) -> Any:
        raise SpecError(f"cluster spec {self.source}: {key}: {problem}")

    def only(self, table: dict[str, Any], prefix: str, allowed: set[str]) -> None:
        for key in table:
            if key not in allowed:
                dotted = f"{prefix}.{key}" if prefix else key
                self.fail(dotted, f"unknown key (expected one of: {', '.join(sorted(allowed))})")

    def table(self, parent: dict[str, Any], key: str) -> dict[str, Any]:
        value = parent.get(key.rsplit(".", 1)[-1], {})
        if not isinstance(value, dict):
            self.fail(key, "must be a table")
        table: dict[str, Any] = value
        return table

    def text(self, parent: dict[str, Any], key: str, default: Any = _MISSING) -> str:
        value = parent.get(key.rsplit(".", 1)[-1], default)
        if value is self._MISSING:
            self.fail(key, "missing")
        if not isinstance(value, str) or not value:
            self.fail(key, f"must be a non-empty string, not {value!r}")
        return str(value)

    def text_list(self, parent: dict[str, Any], key: str, default: list[str]) -> list[str]:
        value = parent.get(key.rsplit(".", 1)[-1], default)
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            self.fail(key, f"must be a list of strings, not {value!r}")
        return list(value)

    def number(self, parent: dict[str, Any], key: str, default: int, low: int, high: int) -> int:
        value = parent.get(key.rsplit(".", 1)[-1], default)
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(key, f"must be a whole number, not {value!r}")
        if not low <= value <= high:
            self.fail(key, f"{value} is out of range ({low}-{high})")
        return int(value)

    def port(self, parent: dict[str, Any], key: str, default: int) -> int:
        value = parent.get(key.rsplit(".", 1)[-1], default)
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
            self.fail(key, f"{value!r} is not a port (1-65535)")
        return int(value)
