"""The local target: the ``haproxy`` binary and one mock node process per node, all on loopback.

For machines without Docker. Every port is picked free on 127.0.0.1 for this run, so runs do not
collide with each other or with anything listening on the real ports::

    with LocalTarget(load_spec(), "hardened") as target:
        target.endpoints.server_tls        # Endpoint(host="127.0.0.1", port=...)
"""

from __future__ import annotations

import resource
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from flowlb import paths
from flowlb.errors import HAProxyConfigError, TargetError
from flowlb.haproxy.layout import Layout, ServerAddress
from flowlb.haproxy.messages import one_line_error
from flowlb.haproxy.render import render
from flowlb.haproxy.runtime import RuntimeAPI
from flowlb.net import Endpoint, free_port, wait_until
from flowlb.node_contract import NODE_HEARTBEAT, PORT_ROLES, READY_PREFIX, Counters, HealthState, parse_ready_line
from flowlb.spec import LB_ROLES, ClusterSpec
from flowlb.targets import processes
from flowlb.targets.base import Endpoints
from flowlb.targets.nodeclient import MockNodeClient
from flowlb.targets.readiness import HAProxyExited, wait_for_haproxy
from flowlb.tls import make_certificates

ConfigSource = Callable[[Layout], str]


@dataclass
class _LocalNode:
    name: str
    ports: dict[str, int]
    process: subprocess.Popen[bytes]
    client: MockNodeClient


class LocalTarget:
    """HAProxy and three mock Flow nodes as local processes; see the module docstring."""

    kind = "local"

    def __init__(
        self,
        spec: ClusterSpec,
        profile: str,
        config_source: ConfigSource | None = None,
        config_name: str = "haproxy.cfg",
        haproxy_bin: str = "haproxy",
        ready_timeout: float = 30.0,
        extra_ports: tuple[int, ...] = (),
        after_start: Callable[[RuntimeAPI], None] | None = None,
    ) -> None:
        self.spec = spec
        self.profile = profile
        self.config_name = config_name
        self.ready_timeout = ready_timeout
        self.extra_ports = extra_ports
        self.after_start = after_start
        self.extra_endpoints: dict[int, Endpoint] = {}
        self._nodes: dict[str, _LocalNode] = {}
        self._haproxy: subprocess.Popen[bytes] | None = None
        self.run_dir = Path(tempfile.mkdtemp(prefix="flowlb-local-"))
        self.config_text = ""
        binary = shutil.which(haproxy_bin)
        if binary is None:
            self.close()
            raise TargetError(f"local target: no '{haproxy_bin}' on PATH (apt-get install -y haproxy)")
        try:
            self._start(binary, config_source or (lambda layout: render(spec, profile, layout)))
        except BaseException:
            self.close()
            raise

    # -- starting -------------------------------------------------------------------------------

    def _start(self, haproxy_bin: str, config_source: ConfigSource) -> None:
        certs = make_certificates(self.run_dir / "tls", self.spec.lb.names)
        self.ca_file = certs.ca_file
        for node in self.spec.nodes:
            self._nodes[node.name] = self._spawn_node(node.name, {"web": 0, "server": 0, "stomp": 0, "control": 0})
        lb_ports = {role: free_port() for role in LB_ROLES}
        self.endpoints = Endpoints(
            **{role: Endpoint("127.0.0.1", port) for role, port in lb_ports.items()},
            server_name=self.spec.lb.name,
        )
        self.socket_path = self.run_dir / "admin.sock"
        self.extra_endpoints = {port: Endpoint("127.0.0.1", free_port()) for port in self.extra_ports}
        self.layout = layout = Layout(
            binds={role: f"127.0.0.1:{port}" for role, port in lb_ports.items()},
            servers={
                name: ServerAddress("127.0.0.1", node.ports["web"], node.ports["server"], node.ports["stomp"])
                for name, node in self._nodes.items()
            },
            cert_path=str(certs.server_pem),
            runtime_socket=str(self.socket_path),
            log_target="stdout format raw local0",
            harness=True,
            extra_binds={port: f"127.0.0.1:{e.port}" for port, e in self.extra_endpoints.items()},
            ca_path=str(certs.ca_file),
            socket_dir=str(self.run_dir),
            dead_port=free_port(),
            spare_ports=tuple(free_port() for _ in range(8)),
            max_open_files=resource.getrlimit(resource.RLIMIT_NOFILE)[1],
        )
        self.config_text = config_source(layout)
        self.config_path = self.run_dir / "haproxy.cfg"
        self.config_path.write_text(self.config_text)
        self.haproxy_log = self.run_dir / "haproxy.log"
        self._haproxy = processes.spawn(
            [haproxy_bin, "-db", "-f", str(self.config_path)],
            log=self.haproxy_log,
            env={"FLOWLB_RUN_DIR": str(self.run_dir)},
        )
        self._api = RuntimeAPI(self.socket_path)
        try:
            self._baseline = wait_for_haproxy(
                self._api, self.endpoints.by_role().values(), self.ready_timeout, self._haproxy_output,
                after_start=self.after_start,
            )
        except HAProxyExited as exited:
            output = exited.output.replace(str(self.config_path), self.config_name)
            raise HAProxyConfigError(
                one_line_error(output, self.config_text, f"{self.config_name} does not load")
            ) from None
        except TimeoutError as exc:
            raise TargetError(f"local target: HAProxy not ready: {exc}") from None

    def _haproxy_output(self) -> str | None:
        if self._haproxy is None or self._haproxy.poll() is None:
            return None
        return self.haproxy_log.read_text(errors="replace")

    def _spawn_node(self, name: str, ports: dict[str, int]) -> _LocalNode:
        argv = [
            sys.executable,
            "-m",
            "flowlb.mocknode",
            "--name",
            name,
            "--host",
            "127.0.0.1",
            "--heartbeat",
            NODE_HEARTBEAT,
        ]
        for role in PORT_ROLES:
            argv += [f"--{role}-port", str(ports[role])]
        env = {"PYTHONPATH": str(paths.package_parent()), "FLOWLB_RUN_DIR": str(self.run_dir)}
        process = processes.spawn(argv, env=env)
        line, output = processes.read_line_matching(process, READY_PREFIX, self.ready_timeout)
        ready = parse_ready_line(line) if line is not None else None
        if ready is None:
            processes.stop(process)
            last = output.strip().splitlines()[-1] if output.strip() else "no output"
            raise TargetError(f"local target: mock node {name} did not start: {last}")
        actual = ready.ports
        return _LocalNode(name, actual, process, MockNodeClient(name, "127.0.0.1", actual["control"]))

    # -- the Target interface ------------------------------------------------------------------

    def node_names(self) -> list[str]:
        return self.spec.node_names()

    def nodes(self) -> LocalTarget:
        return self

    def echoes(self) -> bool:
        return True

    def evidence(self) -> RuntimeAPI:
        return self._api

    def client_address(self) -> str:
        return "127.0.0.1"

    def reset(self) -> None:
        """Every node running and healthy with zeroed counters, and HAProxy seeing them all UP."""
        for name, node in self._nodes.items():
            if node.process.poll() is not None:
                self.restart(name)
            node.process.send_signal(signal.SIGCONT)
            node.client.reset()
        wait_for_haproxy(self._api, [], self.ready_timeout, self._haproxy_output, required=self._baseline)

    # -- NodeControl ---------------------------------------------------------------------------

    def kill(self, name: str) -> None:
        node = self._node(name)
        node.process.kill()
        node.process.wait(5)

    def hang(self, name: str) -> None:
        self._node(name).process.send_signal(signal.SIGSTOP)

    def restart(self, name: str) -> None:
        node = self._node(name)
        if node.process.poll() is None:
            node.process.send_signal(signal.SIGCONT)
        else:
            node.client.close()
            self._nodes[name] = self._spawn_node(name, node.ports)
        wait_until(self._nodes[name].client.ready, self.ready_timeout, f"mock node {name} serving again")

    def set_health(self, name: str, state: HealthState, delay_ms: int = 0) -> None:
        self._node(name).client.set_health(state, delay_ms)

    def counters(self, name: str) -> Counters:
        return self._node(name).client.counters()

    def _node(self, name: str) -> _LocalNode:
        try:
            return self._nodes[name]
        except KeyError:
            raise TargetError(f"no node named {name!r} (nodes: {', '.join(self._nodes)})") from None

    # -- teardown ------------------------------------------------------------------------------

    def close(self) -> None:
        if self._haproxy is not None:
            processes.stop(self._haproxy)
            self._haproxy = None
        for node in self._nodes.values():
            processes.stop(node.process)
            node.client.close()
        self._nodes.clear()
        shutil.rmtree(self.run_dir, ignore_errors=True)

    def __enter__(self) -> LocalTarget:
        return self

    def __exit__(self, *exc: tuple[type[BaseException] | None, BaseException | None, TracebackType | None]) -> None:
        self.close()

