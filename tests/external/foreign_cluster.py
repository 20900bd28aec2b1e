"""A cluster flowlb did not build, for proving ``--target external``: nginx nodes, RabbitMQ, HAProxy.

Three nginx "Flow nodes" (a web port and a server port each, the server port answering the health
URL), one private RabbitMQ with STOMP as the broker behind 61613, and HAProxy with the hardened
profile in front, all on 127.0.0.1 with free ports. Nothing of flowlb's mock nodes is involved.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
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
from tests.support.brokers import RabbitMQ

NODES = ("node1", "node2", "node3")



@dataclass(frozen=True)
class ForeignCluster:
    """What a user of ``--target external`` would know about a live LB."""

    ports: dict[str, int]
    ca_file: Path
    runtime_socket: Path
    master_socket: Path
    server_name: str = "flow-lb.test"

    def lb_ports_option(self) -> str:
        return ",".join(f"{role.replace('_', '-')}={port}" for role, port in self.ports.items())


def _nginx_config(directory: Path, ports: dict[str, tuple[int, int]]) -> str:
    servers = []
    for name, (web, server) in ports.items():
        servers.append(f"server {{ listen 127.0.0.1:{web}; location / {{ return 200 'web {name}\\n'; }} }}")
        servers.append(
            f"server {{ listen 127.0.0.1:{server}; "
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


@contextlib.contextmanager
def foreign_cluster(directory: Path) -> Iterator[ForeignCluster]:
    """Start nginx, RabbitMQ and HAProxy; stop them all afterwards, whatever happens."""
    nginx_ports = {name: (free_port(), free_port()) for name in NODES}
    (directory / "nginx.conf").write_text(_nginx_config(directory, nginx_ports))
    nginx = processes.spawn([shutil.which("nginx") or "/usr/sbin/nginx", "-p", str(directory), "-c",
                             str(directory / "nginx.conf"), "-e", str(directory / "nginx-error.log")],
                            log=directory / "nginx.out")
    haproxy = None
    try:
        for web, server in nginx_ports.values():
            for port in (web, server):
                wait_until(lambda p=port: port_accepts(Endpoint("127.0.0.1", p)), 15, f"nginx on {port}")
        with RabbitMQ.start() as broker:
            spec = load_spec(None)
            certs = make_certificates(directory, ["flow-lb.test"])
            lb_ports = {role: free_port() for role in LB_ROLES}
            socket_path = directory / "admin.sock"
            layout = Layout(
                binds={role: f"127.0.0.1:{port}" for role, port in lb_ports.items()},
                servers={name: ServerAddress("127.0.0.1", web, server, broker.stomp_port)
                         for name, (web, server) in nginx_ports.items()},
                cert_path=str(certs.server_pem),
                runtime_socket=str(socket_path),
                log_target="stdout format raw local0",
                harness=True,
                socket_dir=str(directory),
            )
            (directory / "haproxy.cfg").write_text(render(spec, "hardened", layout))
            (directory / "server-state").write_text(EMPTY_SERVER_STATE)
            master_socket = directory / "master.sock"
            haproxy = processes.spawn(["haproxy", "-W", "-db", "-S", str(master_socket), "-f",
                                       str(directory / "haproxy.cfg")],
                                      log=directory / "haproxy.log")
            running = haproxy

            def exited() -> str | None:
                return None if running.poll() is None else (directory / "haproxy.log").read_text()

            endpoints = [Endpoint("127.0.0.1", port) for port in lb_ports.values()]
            wait_for_haproxy(RuntimeAPI(socket_path), endpoints, 30, exited)
            yield ForeignCluster(lb_ports, certs.ca_file, socket_path, master_socket)
    finally:
        if haproxy is not None:
            processes.stop(haproxy)
        processes.stop(nginx)
