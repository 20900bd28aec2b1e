"""The local target: the ``haproxy`` binary and one mock node process per node, all on loopback.

For machines without Docker. Every port is picked free on 127.0.0.1 for this run, so runs do not
collide with each other or with anything listening on the real ports::

    with LocalTarget(load_spec(), "hardened") as target:
        target.endpoints.server_tls        # Endpoint(host="127.0.0.1", port=...)
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from flowlb import paths
from flowlb.errors import HAProxyConfigError, TargetError
from flowlb.haproxy.layout import Layout
from flowlb.haproxy.messages import one_line_error
from flowlb.haproxy.reload import EMPTY_SERVER_STATE, master_reload, reload_and_wait
from flowlb.haproxy.runtime import RuntimeAPI
from flowlb.net import Endpoint, free_port
from flowlb.node_contract import NODE_HEARTBEAT, PORT_ROLES, READY_PREFIX, parse_ready_line
from flowlb.spec import LB_ROLES
from flowlb.targets import processes
from flowlb.targets.base import Endpoints
from flowlb.targets.egress import EgressFence
from flowlb.targets.lifecycle import ConfigSource, HarnessTarget
from flowlb.targets.nodeclient import MockNodeClient
from flowlb.targets.readiness import HAProxyExited, parse_seconds, wait_for_haproxy
from flowlb.tls import CertificateFiles

__all__ = ["ConfigSource", "LocalTarget"]


class LocalTarget(HarnessTarget):
    """HAProxy and the mock Flow nodes as local processes; see the module docstring."""

    kind = "local"

    def __init__(self, *args: Any, haproxy_bin: str = "haproxy", **kwargs: Any) -> None:
        self._haproxy_bin = haproxy_bin
        self._haproxy: subprocess.Popen[bytes] | None = None
        self._processes: dict[str, subprocess.Popen[bytes]] = {}
        self._ports: dict[str, dict[str, int]] = {}
        self._fence = EgressFence()
        kwargs.setdefault("ready_timeout", 30.0)
        super().__init__(*args, **kwargs)

    def _open(self) -> None:
        binary = shutil.which(self._haproxy_bin)
        if binary is None:
            raise TargetError(f"local target: no '{self._haproxy_bin}' on PATH (apt-get install -y haproxy)")
        self._binary = binary

    def _start_nodes(self) -> None:
        for node in self.spec.nodes:
            self._spawn_node(node.name, dict.fromkeys(PORT_ROLES, 0))

    def _layout(self, certs: CertificateFiles) -> Layout:
        lb_ports = {role: free_port() for role in LB_ROLES}
        self.endpoints = Endpoints(
            **{role: Endpoint("127.0.0.1", port) for role, port in lb_ports.items()},
            server_name=self.spec.lb.name,
        )
        self.extra_endpoints = {port: Endpoint("127.0.0.1", free_port()) for port in self.extra_ports}
        layout = Layout.on_loopback(
            lb_ports, {name: (ports["web"], ports["server"], ports["stomp"]) for name, ports in self._ports.items()},
            {port: endpoint.port for port, endpoint in self.extra_endpoints.items()}, str(certs.server_pem),
            str(certs.ca_file), self.run_dir,
        )
        self.socket_path = Path(str(layout.runtime_socket))
        return replace(
            layout,
            dead_port=free_port(),
            spare_ports=tuple(free_port() for _ in range(8)),
            max_open_files=resource.getrlimit(resource.RLIMIT_NOFILE)[1],
        )

    def _start_haproxy(self, certs: CertificateFiles) -> None:
        self.config_path = self.run_dir / "haproxy.cfg"
        self.config_path_in_haproxy = str(self.config_path)
        self.config_path.write_text(self.config_text)
        self._prepare_server_state()
        self.haproxy_log = self.run_dir / "haproxy.log"
        master_socket = self.run_dir / "master.sock"
        self._fence = EgressFence.raise_() if _others_can_reach(self.run_dir) else EgressFence(
            why_off=f"the run directory {self.run_dir} lies where another user cannot reach it (TMPDIR)")
        if self._fence.uid is not None:
            _hand_over(self.run_dir, self._fence.uid)
            self.egress_fence = (f"HAProxy runs as uid {self._fence.uid}; the packet filter rejects whatever it "
                                 "sends past 127.0.0.1")
        else:
            self.egress_fence = f"off: {self._fence.why_off}"
        self._haproxy = processes.spawn(
            [self._binary, "-W", "-db", "-S", str(master_socket), "-f", str(self.config_path)],
            log=self.haproxy_log,
            env={"FLOWLB_RUN_DIR": str(self.run_dir)},
            user=self._fence.uid,
        )
        self._api = RuntimeAPI(self.socket_path)
        self._master = RuntimeAPI(master_socket)

    def replace_config(self, text: str) -> None:
        self.config_path.write_text(text)
        self.config_text = text

    def load_config(self, text: str, config_name: str, after_start: Callable[[RuntimeAPI], None] | None = None) -> None:
        """Run ``text`` from now on, through a reload instead of a restart (a shared cluster's next run).

        It starts as a fresh start would: every node serving and healthy, no server state carried over
        from the config before, HAProxy's servers checked anew; a config HAProxy refuses raises
        :class:`HAProxyConfigError` with the same line as a refused start, and the old one keeps running.
        """
        with tempfile.TemporaryDirectory(prefix="flowlb-check-", dir=self.run_dir) as directory:
            trial = Path(directory) / config_name
            trial.write_text(text)
            result = subprocess.run([self._binary, "-c", "-f", str(trial)], capture_output=True, text=True,
                                    check=False, timeout=30 + parse_seconds(text))
        if result.returncode != 0:
            output = (result.stdout + result.stderr).replace(str(trial), config_name)
            raise HAProxyConfigError(one_line_error(output, text, f"{config_name} does not load"))
        self.reset_nodes()
        self.config_name, self.after_start = config_name, after_start
        self.replace_config(text)
        state = self._server_state_path()
        if state is not None:
            state.write_text(EMPTY_SERVER_STATE)
        assert self._master is not None
        reload_and_wait(master_reload(self._master), self._api, self.ready_timeout + parse_seconds(text))
        try:
            self._baseline = wait_for_haproxy(self._api, self.endpoints.by_role().values(), self.ready_timeout,
                                              self._haproxy_output, after_start=after_start, config_text=text)
        except HAProxyExited as exited:
            raise TargetError(f"{self.kind} target: HAProxy exited after the reload: "
                              f"{one_line_error(exited.output, text, 'it said')}") from None
        except TimeoutError as exc:
            raise TargetError(f"{self.kind} target: HAProxy not ready after the reload: {exc}") from None

    def host_path(self, path: str) -> Path | None:
        return Path(path)

    def _haproxy_vv(self) -> str:
        result = subprocess.run([self._binary, "-vv"], capture_output=True, text=True, check=False, timeout=10)
        return result.stdout + result.stderr

    def _haproxy_check_zero_warning(self) -> str:
        command = [self._binary, "-c", "-dW", "-f", str(self.config_path)]
        result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=30)
        return result.stdout + result.stderr

    def _haproxy_output(self) -> str | None:
        if self._haproxy is None or self._haproxy.poll() is None:
            return None
        return self.haproxy_log.read_text(errors="replace")

    def _spawn_node(self, name: str, ports: dict[str, int]) -> None:
        argv = [sys.executable, "-m", "flowlb.mocknode", "--name", name, "--host", "127.0.0.1",
                "--heartbeat", NODE_HEARTBEAT]  # fmt: skip
        for role in PORT_ROLES:
            argv += [f"--{role}-port", str(ports[role])]
        env = {"PYTHONPATH": str(paths.package_parent()), "FLOWLB_RUN_DIR": str(self.run_dir)}
        process = processes.spawn(argv, env=env)
        self._processes[name] = process
        line, output = processes.read_line_matching(process, READY_PREFIX, self.ready_timeout)
        ready = parse_ready_line(line) if line is not None else None
        if ready is None:
            last = output.strip().splitlines()[-1] if output.strip() else "no output"
            raise TargetError(f"local target: mock node {name} did not start: {last}")
        self._ports[name] = ready.ports
        self._clients[name] = MockNodeClient(name, "127.0.0.1", ready.ports["control"])

    # -- NodeControl ---------------------------------------------------------------------------

    def _process(self, name: str) -> subprocess.Popen[bytes]:
        self._client(name)
        return self._processes[name]

    def _kill(self, name: str) -> None:
        process = self._process(name)
        process.kill()
        process.wait(5)

    def _hang(self, name: str) -> None:
        self._process(name).send_signal(signal.SIGSTOP)

    def restart(self, name: str) -> None:
        process = self._process(name)
        if process.poll() is None:
            process.send_signal(signal.SIGCONT)
        else:
            self._clients.pop(name).close()
            self._spawn_node(name, self._ports[name])  # the same ports: HAProxy's config names them
        self._wait_serving(name)

    # -- teardown ------------------------------------------------------------------------------

    def close(self) -> None:
        if self._haproxy is not None:
            processes.stop(self._haproxy)
            self._haproxy = None
        self._fence.lower()
        for process in self._processes.values():
            processes.stop(process)
        self._processes.clear()
        super().close()


def _hand_over(run_dir: Path, uid: int) -> None:
    """Give the run directory (config, certificate, sockets, server state) to the fenced user HAProxy runs as."""
    for path in [run_dir, *run_dir.rglob("*")]:
        os.chown(path, uid, uid, follow_symlinks=False)


def _others_can_reach(directory: Path) -> bool:
    """Whether every folder above ``directory`` lets another user pass (HAProxy behind the fence is one)."""
    return all(os.stat(parent).st_mode & 0o001 for parent in directory.parents)
