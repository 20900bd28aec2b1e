"""The interface every target offers the checks: endpoints, node control, HAProxy's evidence."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from flowlb.haproxy.layout import Layout
from flowlb.haproxy.remap import RemapResult
from flowlb.haproxy.runtime import RuntimeAPI
from flowlb.haproxy.version import HAProxyBuild
from flowlb.net import Endpoint
from flowlb.node_contract import Counters, HealthState

__all__ = ["Endpoint", "Endpoints", "HAProxyControl", "HealthState", "NodeControl", "Target"]
from flowlb.spec import LB_ROLES, ClusterSpec


@dataclass(frozen=True)
class Endpoints:
    """The LB's five roles, and the name clients send as SNI and verify the certificate against."""

    http: Endpoint
    https: Endpoint
    server: Endpoint
    server_tls: Endpoint
    stomp: Endpoint
    server_name: str

    def by_role(self) -> dict[str, Endpoint]:
        return {role: getattr(self, role) for role in LB_ROLES}


class NodeControl(Protocol):
    """What a harness target can do to its Flow nodes (an external LB offers none of it)."""

    def kill(self, name: str) -> None:
        """The node dies at once (SIGKILL / ``docker kill``): connections reset, ports closed."""

    def hang(self, name: str) -> None:
        """The whole node freezes (SIGSTOP / ``docker pause``): connections open, nothing answers."""

    def can_cut_off(self) -> bool:
        """Whether :meth:`cut_off` can be done here (it takes a node's address away)."""

    def cut_off(self, name: str) -> None:
        """The node's host drops off the network (a crashed VM, a partition): no reset, no refusal, no answer."""

    def restart(self, name: str) -> None:
        """Undo :meth:`kill`, :meth:`hang` or :meth:`cut_off`; returns when the node serves again."""

    def set_health(self, name: str, state: HealthState, delay_ms: int = 0) -> None:
        """Switch what the node's health URL does."""

    def counters(self, name: str) -> Counters:
        """The node's own counters: requests per port, health checks, STOMP sessions and frames."""

    def reset(self) -> None:
        """Every node running, healthy, counters zeroed."""


FAILURES = {"hang": "frozen", "kill": "killed", "cut_off": "cut off from the network"}
"""The ways a node can be made to fail (the :class:`NodeControl` member of that name), and what it then is."""
FAILOVERS = ("kill", "hang")
"""What ``flowlb load --failover`` may do to a node: the failures every target with node control can make."""


def fail_node(nodes: NodeControl, failure: str, name: str) -> None:
    """Make node ``name`` fail the way ``failure`` (a key of :data:`FAILURES`) says."""
    members = {"kill": nodes.kill, "hang": nodes.hang, "cut_off": nodes.cut_off}
    members[failure](name)


class HAProxyControl(Protocol):
    """What the checks ask of the LB's HAProxy itself: which build it is, what it warns about, a reload."""

    def can_reload(self) -> bool:
        """True when :meth:`reload` can reload HAProxy here (a test cluster; a live LB given a way to)."""

    def reload(self, timeout: float) -> float:
        """Reload HAProxy as its service does; return the seconds until a new worker answers the runtime API."""

    def replace_config(self, text: str) -> None:
        """Put ``text`` where HAProxy reads its config, for the next reload (test clusters only)."""

    def haproxy_build(self) -> HAProxyBuild | None:
        """Which HAProxy (and OpenSSL) runs the LB, ``None`` where it cannot be told."""

    def config_warnings(self) -> list[str]:
        """HAProxy's warnings about the config it runs (zero-warning mode would refuse it); empty where not told."""


class Target(HAProxyControl, Protocol):
    """A running cluster behind a load balancer, as the checks see it."""

    kind: str
    spec: ClusterSpec
    profile: str
    endpoints: Endpoints
    ca_file: Path
    config_text: str
    extra_endpoints: dict[int, Endpoint]  # the config's binds outside the five roles: original port -> test address

    @property
    def layout(self) -> Layout | None:
        """Where the config binds and reaches the nodes on this target; ``None`` on a live LB (its own config)."""

    @property
    def rendered(self) -> RemapResult | None:
        """The operator's file as remapped for this target (the text it runs, what was rewritten or disarmed, the
        extra listeners); ``None`` for a generated profile or a live LB."""

    @property
    def haproxy_image(self) -> str:
        """The image HAProxy runs from when it is the user's (``--haproxy-image``); "" for flowlb's own HAProxy."""

    @property
    def egress_fence(self) -> str:
        """How HAProxy is kept from sending past the run's own addresses, or why it is not; "" where not told."""

    def node_names(self) -> list[str]:
        """The HAProxy server names of the Flow nodes, in ``server`` line order."""

    def nodes(self) -> NodeControl | None:
        """Node control, or ``None`` where the nodes are not ours (checks that need it skip)."""

    def client_address(self) -> str | None:
        """The source address the LB sees for this machine's clients, ``None`` when unknown."""

    def port_on_lb(self, port: int) -> Endpoint | None:
        """Where a client reaches the LB's address on ``port`` from here (a connect scan's target); ``None`` when
        the LB cannot be listening there (a test cluster whose config binds nothing on that port)."""

    def evidence(self) -> RuntimeAPI | None:
        """HAProxy's runtime API, or ``None`` where it cannot be reached."""

    def echoes(self) -> bool:
        """True when the nodes are flowlb's mock nodes: they name themselves and echo what reached them."""

    def reset(self) -> None:
        """Bring the cluster back to its starting state between checks."""

    def keep_running(self) -> str | None:
        """Leave the cluster running (``--keep-cluster``) and say how to reach and remove it; ``None`` where this
        target cannot (it is then closed as usual)."""

    def close(self) -> None:
        """Stop everything the target started and remove its files; safe to call twice."""
