"""A cluster flowlb did not build, for proving ``--target external``: nginx nodes, RabbitMQ, HAProxy.

Three nginx "Flow nodes", each on a loopback address of its own (127.0.0.11-13) with the same web and
server ports, as real nodes are hosts with the same ports; the server port answers the health URL. One
private RabbitMQ with STOMP on every node's address stands in for the nodes' brokers behind 61613.
HAProxy runs the hardened profile in front, plus a stats page on a management port with a password
(for ``--stats-url``). A spec file describes the nodes as an operator's ``--spec`` would. Nothing of
flowlb's mock nodes is involved.

A second HAProxy over the same nodes, with a config changed on purpose, proves that checks fail on a broken
LB without starting nginx and RabbitMQ again::

    with foreign_cluster(tmp) as cluster, foreign_lb(cluster.nodes, tmp / "broken", mutate) as broken: ...
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from flowlb.haproxy.layout import Layout, ServerAddress
from flowlb.haproxy.reload import EMPTY_SERVER_STATE
from flowlb.haproxy.render import render
from flowlb.haproxy.runtime import RuntimeAPI
from flowlb.net import Endpoint, free_port, wait_until
from flowlb.spec import LB_ROLES, load_spec
from flowlb.targets import processes
from flowlb.targets.readiness import port_accepts, wait_for_haproxy
from flowlb.tls import make_certificates
from tests.support.addresses import own_loopback
from tests.support.brokers import RabbitMQ

NODES = {"node1": "127.0.0.11", "node2": "127.0.0.12", "node3": "127.0.0.13"}
STATS_AUTH = "ops:stats-secret"
STATS_LISTENER = """
# the operator's stats page, on a management address of its own with a password (for --stats-url)
listen stats
  mode http
  bind 127.0.0.1:{port}
  stats enable
  stats uri /stats
  stats auth {auth}
"""


@dataclass(frozen=True)
class ForeignNodes:
    """The Flow nodes behind the LB: their ports (the same on every node's address) and the LB's certificate."""

    web_port: int
    server_port: int
    stomp_port: int
    server_pem: Path
    ca_file: Path

    def servers(self) -> dict[str, ServerAddress]:
        return {name: ServerAddress(host, self.web_port, self.server_port, self.stomp_port)
                for name, host in NODES.items()}


@dataclass(frozen=True)
class ForeignCluster:
    """What a user of ``--target external`` would know about a live LB."""

    ports: dict[str, int]
    ca_file: Path
    runtime_socket: Path
    master_socket: Path
    stats_url: str
    stats_auth: str
    spec_file: Path
    nodes: ForeignNodes
    server_name: str = "flow-lb.test"
    host: str = "127.0.0.1"  # the LB's address (its own loopback address: tests.support.addresses)

    def lb_ports_option(self) -> str:
        return ",".join(f"{role.replace('_', '-')}={port}" for role, port in self.ports.items())


def _nginx_config(directory: Path, web: int, server: int) -> str:
    servers = []
    for name, host in NODES.items():
        servers.append(f"server {{ listen {host}:{web}; location / {{ return 200 'web {name}\\n'; }} }}")
        servers.append(
            f"server {{ listen {host}:{server}; "
            f"location = /commanderRequest/health {{ return 200 '{{\"status\":\"ok\"}}'; }} "
            f"location / {{ return 200 'server {name}\\n'; }} }}"
        )
    temp = " ".join(f"{kind}_temp_path {directory}/{kind};" for kind in ("client_body", "proxy", "fastcgi",
                                                                          "uwsgi", "scgi"))
    return (
        f"daemon off; master_process on; worker_processes 1; user root; pid {directory}/nginx.pid;\n"
        f"error_log {directory}/nginx-error.log;\nevents {{ worker_connections 512; }}\n"
        f"http {{ access_log off; {temp}\n" + "\n".join(servers) + "\n}\n"
    )


def _spec_text(lb_ports: dict[str, int], nodes: ForeignNodes) -> str:
    """The spec an operator of this cluster would give: the LB's ports, the nodes' hosts and ports."""
    ports = "\n".join(f"{role} = {port}" for role, port in lb_ports.items())
    hosts = "\n".join(f'[[nodes]]\nname = "{name}"\nhost = "{host}"\n' for name, host in NODES.items())
    return (f'[lb]\nnames = ["flow-lb.test"]\n\n[lb.ports]\n{ports}\n\n[node_ports]\nweb = {nodes.web_port}\n'
            f"server = {nodes.server_port}\nstomp = {nodes.stomp_port}\n\n{hosts}")


@contextlib.contextmanager
def foreign_nodes(directory: Path) -> Iterator[ForeignNodes]:
    """Start the nginx nodes and RabbitMQ; stop them afterwards, whatever happens."""
    web, server = free_port(), free_port()
    (directory / "nginx.conf").write_text(_nginx_config(directory, web, server))
    nginx = processes.spawn([shutil.which("nginx") or "/usr/sbin/nginx", "-p", str(directory), "-c",
                             str(directory / "nginx.conf"), "-e", str(directory / "nginx-error.log")],
                            log=directory / "nginx.out")
    try:
        for host in NODES.values():
            for port in (web, server):
                wait_until(lambda h=host, p=port: port_accepts(Endpoint(h, p)), 15, f"nginx on {host}:{port}")
        with RabbitMQ.start(addresses=tuple(NODES.values())) as broker:
            # for its name only (and 127.0.0.1): the LB is reached at its own address, so whatever dials it must
            # send and verify --lb-name, as an operator's LB reached by address with a certificate for its name
            certs = make_certificates(directory, ["flow-lb.test"])
            yield ForeignNodes(web, server, broker.stomp_port, certs.server_pem, certs.ca_file)
    finally:
        processes.stop(nginx)


@contextlib.contextmanager
def foreign_lb(
    nodes: ForeignNodes, directory: Path, mutate: Callable[[str], str] | None = None
) -> Iterator[ForeignCluster]:
    """HAProxy (hardened profile, stats page, master CLI) in front of ``nodes``; ``mutate`` changes its config
    text first (a broken LB). Stopped afterwards, whatever happens."""
    directory.mkdir(parents=True, exist_ok=True)
    lb_ports = {role: free_port() for role in LB_ROLES}
    host = own_loopback()  # not 127.0.0.1: the exposure scan of this LB must see only what its own test binds
    spec_file = directory / "cluster.toml"
    spec_file.write_text(_spec_text(lb_ports, nodes))
    spec = load_spec(spec_file)
    socket_path = directory / "admin.sock"
    layout = Layout(
        binds={role: f"{host}:{port}" for role, port in lb_ports.items()},
        servers=nodes.servers(),
        cert_path=str(nodes.server_pem),
        runtime_socket=str(socket_path),
        log_target="stdout format raw local0",
        harness=True,
        socket_dir=str(directory),
    )
    stats_port = free_port()
    text = render(spec, "hardened", layout) + STATS_LISTENER.format(port=stats_port, auth=STATS_AUTH)
    (directory / "haproxy.cfg").write_text(mutate(text) if mutate else text)
    (directory / "server-state").write_text(EMPTY_SERVER_STATE)
    master_socket = directory / "master.sock"
    haproxy = processes.spawn(["haproxy", "-W", "-db", "-S", str(master_socket), "-f",
                               str(directory / "haproxy.cfg")], log=directory / "haproxy.log")
    try:
        def exited() -> str | None:
            return None if haproxy.poll() is None else (directory / "haproxy.log").read_text()

        endpoints = [Endpoint(host, port) for port in lb_ports.values()]
        wait_for_haproxy(RuntimeAPI(socket_path), endpoints, 30, exited)
        yield ForeignCluster(lb_ports, nodes.ca_file, socket_path, master_socket,
                             f"http://127.0.0.1:{stats_port}/stats", STATS_AUTH, spec_file, nodes, host=host)
    finally:
        processes.stop(haproxy)


@contextlib.contextmanager
def foreign_cluster(directory: Path) -> Iterator[ForeignCluster]:
    """Start nginx, RabbitMQ and HAProxy; stop them all afterwards, whatever happens."""
    with foreign_nodes(directory) as nodes, foreign_lb(nodes, directory / "lb") as cluster:
        yield cluster
