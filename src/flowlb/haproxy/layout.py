"""Where a rendered config points: the LB's bind addresses, each node's address, the certificate.

The spec says what the cluster *is* (port 8443 is Flow-over-TLS); a layout says where that lives
for one run: ``*:8443`` on a real LB or in a container, ``127.0.0.1:41234`` for the local target.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from flowlb.spec import ClusterSpec


@dataclass(frozen=True)
class ServerAddress:
    """How HAProxy reaches one Flow node: its host and the three ports it serves."""

    host: str
    web_port: int
    server_port: int
    stomp_port: int


@dataclass(frozen=True)
class Layout:
    """Addresses and paths a config is rendered with.

    Attributes:
        binds: ``bind`` address per LB role (``http``, ``https``, ``server``, ``server_tls``, ``stomp``).
        servers: address per node name, in the order of the ``server`` lines.
        cert_path: the PEM (chain + key) HAProxy serves on the TLS ports.
        runtime_socket: the runtime API socket (``None``: the profile's own choice).
        log_target: what follows ``log`` in ``global``.
        extra_binds: address per port an operator's config binds outside the five roles.
        ca_path: the test CA (for a ``ca-file`` that does not exist here).
        socket_dir: where UNIX sockets an operator's config binds go.
        dead_port: a loopback port (and a port on every node) where nothing listens.
        spare_ports: loopback ports free for listeners the harness moves there (``peers``).
        max_open_files: the most files HAProxy may open here (``None``: as many as it asks for).
    """

    binds: dict[str, str]
    servers: dict[str, ServerAddress]
    cert_path: str = "/etc/haproxy/server.pem"
    runtime_socket: str | None = None
    log_target: str = "/dev/log local0"
    harness: bool = field(default=False)
    extra_binds: dict[int, str] = field(default_factory=dict)
    ca_path: str = "/etc/haproxy/ca.pem"
    socket_dir: str = "/run/haproxy"
    dead_port: int = 9
    spare_ports: tuple[int, ...] = tuple(range(20001, 20017))
    max_open_files: int | None = None

    @classmethod
    def for_spec(
        cls, spec: ClusterSpec, cert_path: str = "/etc/haproxy/server.pem", extra_ports: tuple[int, ...] = ()
    ) -> Layout:
        """The production layout: bind every port on all addresses, reach nodes by their spec host."""
        return cls(
            binds={role: f"*:{port}" for role, port in spec.lb.ports.by_role().items()},
            servers={
                node.name: ServerAddress(
                    host=node.host,
                    web_port=spec.node_ports.web,
                    server_port=spec.node_ports.server,
                    stomp_port=spec.node_ports.stomp,
                )
                for node in spec.nodes
            },
            cert_path=cert_path,
            extra_binds={port: f"*:{port}" for port in extra_ports},
        )

    @classmethod
    def on_loopback(
        cls, lb_ports: Mapping[str, int], node_ports: Mapping[str, tuple[int, int, int]],
        extra_ports: Mapping[int, int], cert_path: str, ca_path: str, run_dir: Path,
    ) -> Layout:
        """The harness's layout on this machine, everything on 127.0.0.1: each LB role on its port in
        ``lb_ports``, each node at its ``(web, server, stomp)`` ports, each extra listener (original port) on its
        port in ``extra_ports``; the test certificate and CA; the runtime API, HAProxy's log and the config's
        UNIX sockets in ``run_dir``. The local target and lint's ``haproxy -c`` both run a config on it."""
        return cls(
            binds={role: f"127.0.0.1:{port}" for role, port in lb_ports.items()},
            servers={name: ServerAddress("127.0.0.1", *ports) for name, ports in node_ports.items()},
            cert_path=cert_path,
            runtime_socket=str(run_dir / "admin.sock"),
            log_target="stdout format raw local0",
            harness=True,
            extra_binds={port: f"127.0.0.1:{test_port}" for port, test_port in extra_ports.items()},
            ca_path=ca_path,
            socket_dir=str(run_dir),
        )

    def node_at(self, host: str, port: int | None) -> tuple[str, str] | None:
        """``(node, kind)`` of the node port at ``host:port`` (kind: web, server or stomp), else ``None``."""
        for name, address in self.servers.items():
            if address.host != host:
                continue
            for kind, node_port in (("web", address.web_port), ("server", address.server_port),
                                    ("stomp", address.stomp_port)):
                if node_port == port:
                    return name, kind
        return None
