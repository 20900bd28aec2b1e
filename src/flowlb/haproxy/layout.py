"""Where a rendered config points: the LB's bind addresses, each node's address, the certificate.

The spec says what the cluster *is* (port 8443 is Flow-over-TLS); a layout says where that lives
for one run: ``*:8443`` on a real LB or in a container, ``127.0.0.1:41234`` for the local target.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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
    """

    binds: dict[str, str]
    servers: dict[str, ServerAddress]
    cert_path: str = "/etc/haproxy/server.pem"
    runtime_socket: str | None = None
    log_target: str = "/dev/log local0"
    harness: bool = field(default=False)

    @classmethod
    def for_spec(cls, spec: ClusterSpec, cert_path: str = "/etc/haproxy/server.pem") -> Layout:
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
        )
