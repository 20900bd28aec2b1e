"""The containers target: HAProxy and the mock Flow nodes in containers started by Testcontainers.

The nodes get fixed addresses on a network the run creates, so a killed and restarted node comes
back where HAProxy resolved it at start. Each node's address is held by a container of its own
(as a Kubernetes pod's pause container holds the pod's), so a killed node is a crashed process on
a live host, as on the local target: its connections reset and its ports refuse at once. (A node
that held its own address took it along: new connections waited out `timeout connect`.) Every
published port is bound to 127.0.0.1 only::

    with ContainersTarget(load_spec(), "hardened") as target:
        target.endpoints.stomp          # Endpoint(host="127.0.0.1", port=<mapped>)
        target.nodes().kill("node2")    # docker kill
"""

from __future__ import annotations

import contextlib
import io
import ipaddress
import os
import random
import resource
import sys
import tarfile
import uuid
from pathlib import Path
from typing import Any

import docker
import docker.constants
import docker.errors
import docker.types
from testcontainers.core.container import DockerContainer
from testcontainers.core.network import Network

from flowlb.errors import TargetError
from flowlb.haproxy.layout import Layout, ServerAddress
from flowlb.haproxy.runtime import RuntimeAPI
from flowlb.net import Endpoint, wait_until
from flowlb.node_contract import NODE_HEARTBEAT
from flowlb.targets import dockerenv, ownership
from flowlb.targets.base import Endpoints
from flowlb.targets.egress import EgressFence
from flowlb.targets.images import ensure_images
from flowlb.targets.lifecycle import HarnessTarget
from flowlb.targets.nodeclient import MockNodeClient
from flowlb.targets.readiness import HAProxyExited, parse_seconds, still_parsing
from flowlb.tls import CertificateFiles

CONFIG_DIR = "/usr/local/etc/haproxy"
SOCKET_DIR = "/run/flowlb"
CONTROL_PORT = 9000


CLUSTER_LABEL = "flowlb.cluster"  # one cluster of a run (a run may hold two: the long waits' quiet twin)


def _labels(kept: bool = False) -> dict[str, str]:
    """Every container and network of a run: flowlb's, its run, owner and cluster, and whether it outlives the run.

    A kept cluster (``--keep-cluster``) is never removed as a leftover, whatever became of its owner.
    """
    return {dockerenv.LABEL: "true", CLUSTER_LABEL: uuid.uuid4().hex,
            **ownership.labels(dockerenv.KEPT_LABEL if kept else None)}


def _loopback(container: DockerContainer, *ports: int) -> None:
    """Publish ``ports`` on 127.0.0.1 only, on ports the engine picks."""
    for port in ports:
        container.ports[f"{port}/tcp"] = ("127.0.0.1", None)


class NodeAddress(DockerContainer):  # type: ignore[misc]
    """The network namespace of one mock node: its fixed address, its name on the network, its published ports.

    It runs nothing but ``sleep``; the node's container joins it, so that killing the node leaves an
    address whose kernel resets the node's connections and refuses its ports.
    """

    def __init__(self, image: str, name: str, network: Network, address: str, labels: dict[str, str]) -> None:
        super().__init__(image)
        self.address = address
        self.with_command(["infinity"])
        _loopback(self, CONTROL_PORT)
        self.with_network(network).with_network_aliases(name)
        endpoint = docker.types.EndpointConfig(
            docker.constants.DEFAULT_DOCKER_API_VERSION, aliases=[name], ipv4_address=address
        )
        self.with_kwargs(labels=labels, networking_config={network.name: endpoint}, hostname=name,
                         entrypoint=["sleep"])


class FlowNodeContainer(DockerContainer):  # type: ignore[misc]
    """A mock Flow node: web :80, server :8000 with the health URL, STOMP :61613, control :9000.

    It lives in the network namespace of its :class:`NodeAddress`, started first.
    """

    def __init__(self, image: str, name: str, address: NodeAddress, labels: dict[str, str]) -> None:
        super().__init__(image)
        self.node_name = name
        self.node_address = address
        self.with_command(
            ["--name", name, "--host", "0.0.0.0", "--control-port", str(CONTROL_PORT), "--heartbeat", NODE_HEARTBEAT]
        )
        self.with_kwargs(labels=labels, network_mode=f"container:{address.get_wrapped_container().id}")

    def control_client(self) -> MockNodeClient:
        """A client for this node's control API on its loopback-published port."""
        return MockNodeClient(self.node_name, "127.0.0.1", self.node_address.get_exposed_port(CONTROL_PORT))


class HAProxyContainer(DockerContainer):  # type: ignore[misc]
    """HAProxy with a given config and certificate, its runtime API socket shared with the host.

    A ``foreign`` image (``--haproxy-image``, e.g. the official ``haproxy:3.2``) may run HAProxy as a
    non-root user, as the official images do: it may then bind ports below 1024 (a namespaced
    sysctl), read the test key and create the runtime socket in the shared directory. A host user
    who is not root runs it under their own uid, so that they can reach the socket it creates.
    """

    def __init__(
        self, image: str, config: str, server_pem: Path, socket_dir: Path, ports: list[int], network: Network,
        foreign: bool = False, labels: dict[str, str] | None = None,
    ) -> None:
        super().__init__(image)
        self.with_copy_into_container(config.encode(), f"{CONFIG_DIR}/haproxy.cfg")
        # the key is a throwaway test key in a throwaway container; a non-root HAProxy must read it
        self.with_copy_into_container(server_pem, f"{CONFIG_DIR}/server.pem", 0o644 if foreign else 0o600)
        self.with_volume_mapping(str(socket_dir), SOCKET_DIR, "rw")
        _loopback(self, *ports)
        self.with_network(network)
        # master-worker mode with the master CLI beside the runtime API, as HAProxy's service runs it
        master = ["-S", f"{SOCKET_DIR}/master.sock"]
        self.with_command(["haproxy", "-f", f"{CONFIG_DIR}/haproxy.cfg", *master] if foreign else master)
        extra: dict[str, Any] = {}
        if foreign:
            socket_dir.chmod(0o777)  # inside the run's 0700 directory: only the container's user gains
            extra["sysctls"] = {"net.ipv4.ip_unprivileged_port_start": "0"}
            if os.geteuid() != 0:
                extra["user"] = f"{os.geteuid()}:{os.getegid()}"
        # HAProxy needs no name service (the config names nodes by address): the engine's resolver would
        # forward a lookup the config asks for (`resolvers`, `do-resolve`) to the machine's real one
        self.with_kwargs(labels=labels or _labels(), dns=["127.0.0.1"], **extra)

    def exited_output(self) -> str | None:
        """``None`` while HAProxy runs; its logs once the container has stopped."""
        wrapped = self.get_wrapped_container()
        wrapped.reload()
        if wrapped.status in ("created", "running"):
            return None
        stdout, stderr = self.get_logs()
        return bytes(stdout + stderr).decode(errors="replace")


class ContainersTarget(HarnessTarget):
    """The cluster in containers; see the module docstring."""

    kind = "containers"
    config_path_in_haproxy = f"{CONFIG_DIR}/haproxy.cfg"

    def __init__(
        self, *args: Any, haproxy_version: str | None = None, haproxy_image: str | None = None, keep: bool = False,
        **kwargs: Any,
    ) -> None:
        self._haproxy_version = haproxy_version
        self._labels = _labels(kept=keep)
        self.haproxy_image = haproxy_image or ""  # the user's image (--haproxy-image); "" for flowlb's own
        self._nodes: dict[str, FlowNodeContainer] = {}
        self._node_addresses: list[NodeAddress] = []
        self._cut: set[str] = set()  # nodes whose address is off the network (cut_off)
        self._haproxy: HAProxyContainer | None = None
        self._network: Network | None = None
        self._docker: docker.DockerClient | None = None
        self._fence = EgressFence()
        kwargs.setdefault("ready_timeout", 60.0)
        super().__init__(*args, **kwargs)

    def _open(self) -> None:
        dockerenv.configure_testcontainers()
        try:
            self._docker = docker.DockerClient(base_url=dockerenv.docker_host(), timeout=30)
            self._docker.ping()
        except Exception as exc:  # noqa: BLE001 - any failure means "no engine"
            self._docker = None
            raise TargetError(
                f"containers target: no Docker engine answers at {dockerenv.docker_host()}: {exc}"
            ) from None
        remove_leftovers(self._docker)
        self._images = ensure_images(self._docker, haproxy_version=self._haproxy_version,
                                     haproxy_image=self.haproxy_image or None)

    def _start_nodes(self) -> None:
        assert self._docker is not None
        self._network, self._addresses = _create_network(self._docker, len(self.spec.nodes), self._labels)
        subnet = ipaddress.ip_network(f"{self._addresses[0]}/24", strict=False)
        self._fence = EgressFence.around_network(str(subnet))
        self.egress_fence = (f"the packet filter rejects whatever the run's network {subnet} sends past itself"
                             if self._fence.on else f"off: {self._fence.why_off}")
        for node, address in zip(self.spec.nodes, self._addresses, strict=True):
            holder = NodeAddress(self._images.flownode, node.name, self._network, str(address), self._labels)
            self._node_addresses.append(holder)
            holder.start()
            container = FlowNodeContainer(self._images.flownode, node.name, holder, self._labels)
            self._nodes[node.name] = container
            container.start()  # all nodes start together; their readiness is awaited below
        for name, container in self._nodes.items():
            self._clients[name] = container.control_client()
        try:
            wait_until(lambda: all(c.ready() for c in self._clients.values()), self.ready_timeout, "mock nodes ready",
                       seen=lambda: "not ready: " + ", ".join(n for n, c in self._clients.items() if not c.ready()))
        except TimeoutError:
            logs = {name: b"".join(c.get_logs()).decode(errors="replace").strip() for name, c in self._nodes.items()}
            failed = ", ".join(
                f"{name}: {text.splitlines()[-1] if text else 'no output'}" for name, text in logs.items()
            )
            raise TargetError(f"containers target: mock nodes did not start ({failed})") from None

    def _layout(self, certs: CertificateFiles) -> Layout:
        p = self.spec.node_ports
        return Layout(
            binds={role: f"*:{port}" for role, port in self.spec.lb.ports.by_role().items()},
            # by address, not name: the runtime API's `set server ... addr` takes addresses only
            servers={node.name: ServerAddress(str(address), p.web, p.server, p.stomp)
                     for node, address in zip(self.spec.nodes, self._addresses, strict=True)},
            cert_path=f"{CONFIG_DIR}/server.pem",
            runtime_socket=f"{SOCKET_DIR}/admin.sock",
            log_target="stdout format raw local0",
            harness=True,
            extra_binds={port: f"*:{port}" for port in self.extra_ports},
            ca_path=f"{CONFIG_DIR}/ca.pem",
            socket_dir=SOCKET_DIR,
            max_open_files=resource.getrlimit(resource.RLIMIT_NOFILE)[1],
        )

    def _start_haproxy(self, certs: CertificateFiles) -> None:
        assert self._network is not None
        socket_dir = self.run_dir / "runtime"
        socket_dir.mkdir()
        self._prepare_server_state()
        lb_ports = self.spec.lb.ports.by_role()
        haproxy = HAProxyContainer(
            self._images.haproxy, self.config_text, certs.server_pem, socket_dir,
            [*lb_ports.values(), *self.extra_ports], self._network, foreign=bool(self.haproxy_image),
            labels=self._labels,
        )
        haproxy.with_copy_into_container(certs.ca_file, f"{CONFIG_DIR}/ca.pem", 0o644)
        self._haproxy = haproxy
        haproxy.start()
        self._api = RuntimeAPI(socket_dir / "admin.sock")
        self._master = RuntimeAPI(socket_dir / "master.sock")
        parsing = self.ready_timeout + parse_seconds(self.config_text)
        try:
            wait_until(lambda: haproxy.exited_output() is not None or self._api.answers(), parsing,
                       "HAProxy container", seen=lambda: f"container {haproxy.get_wrapped_container().status}")
        except TimeoutError:
            raise still_parsing(self.config_text, parsing) from None
        output = haproxy.exited_output()
        if output is not None:
            raise HAProxyExited(output)
        host = haproxy.get_container_host_ip()
        if not dockerenv.is_loopback(host):
            raise TargetError(f"containers target: container host {host} is not loopback; refusing to send traffic")
        self.endpoints = Endpoints(
            **{role: Endpoint("127.0.0.1", haproxy.get_exposed_port(port)) for role, port in lb_ports.items()},
            server_name=self.spec.lb.name,
        )
        self.extra_endpoints = {
            port: Endpoint("127.0.0.1", haproxy.get_exposed_port(port)) for port in self.extra_ports
        }

    def _haproxy_vv(self) -> str:
        if self._haproxy is None:
            return ""
        result = self._haproxy.get_wrapped_container().exec_run(["haproxy", "-vv"])
        return bytes(result.output).decode(errors="replace")

    def _haproxy_check_zero_warning(self) -> str:
        if self._haproxy is None:
            return ""
        command = ["haproxy", "-c", "-dW", "-f", self.config_path_in_haproxy]
        return bytes(self._haproxy.get_wrapped_container().exec_run(command).output).decode(errors="replace")

    def _haproxy_output(self) -> str | None:
        return self._haproxy.exited_output() if self._haproxy is not None else None

    def client_address(self) -> str | None:
        """Docker's proxy connects from the gateway of the run's network on the client's behalf."""
        assert self._network is not None and self._docker is not None
        network = self._docker.networks.get(self._network.name)
        configs = network.attrs.get("IPAM", {}).get("Config") or [{}]
        gateway = configs[0].get("Gateway")
        return str(gateway) if gateway else None

    def replace_config(self, text: str) -> None:
        assert self._haproxy is not None
        archive = io.BytesIO()
        with tarfile.open(fileobj=archive, mode="w") as tar:
            data = text.encode()
            info = tarfile.TarInfo("haproxy.cfg")
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
        self._haproxy.get_wrapped_container().put_archive(CONFIG_DIR, archive.getvalue())
        self.config_text = text

    def host_path(self, path: str) -> Path | None:
        """Files under the runtime directory are shared with the host; nothing else is."""
        if not path.startswith(SOCKET_DIR + "/"):
            return None
        return self.run_dir / "runtime" / path.removeprefix(SOCKET_DIR + "/")

    def port_on_lb(self, port: int) -> Endpoint | None:
        """The HAProxy container's own address on the run's network: a real connect scan of the LB."""
        if self._haproxy is None or self._network is None:
            return None
        wrapped = self._haproxy.get_wrapped_container()
        wrapped.reload()
        networks = wrapped.attrs.get("NetworkSettings", {}).get("Networks", {})
        address = (networks.get(self._network.name) or {}).get("IPAddress")
        return Endpoint(address, port) if address else None

    # -- NodeControl ---------------------------------------------------------------------------

    def _container(self, name: str) -> FlowNodeContainer:
        self._client(name)  # one error for an unknown node
        return self._nodes[name]

    def _kill(self, name: str) -> None:
        self._container(name).get_wrapped_container().kill()

    def _hang(self, name: str) -> None:
        self._container(name).get_wrapped_container().pause()

    def can_cut_off(self) -> bool:
        return True

    def _cut_off(self, name: str) -> None:
        """Take the node's address off the run's network; the node runs on, unreachable."""
        assert self._network is not None
        holder = self._container(name).node_address.get_wrapped_container()
        self._network._network.disconnect(holder, force=True)  # the engine's network object testcontainers holds
        self._cut.add(name)

    def restart(self, name: str) -> None:
        container = self._container(name)
        if name in self._cut:
            assert self._network is not None
            holder = container.node_address
            self._network._network.connect(holder.get_wrapped_container(), ipv4_address=holder.address,
                                           aliases=[name])
            self._cut.discard(name)
            self._clients[name].close()
            self._clients[name] = container.control_client()  # the engine publishes the control port anew
        wrapped = container.get_wrapped_container()
        wrapped.reload()
        if wrapped.status == "paused":
            wrapped.unpause()
        elif wrapped.status != "running":
            wrapped.start()  # back in its address's namespace: same address, same published port
        self._wait_serving(name)

    # -- teardown ------------------------------------------------------------------------------

    def keep_running(self) -> str:
        """Leave the cluster running (``--keep-cluster``) and say how to reach and remove it.

        The LB's private key is already inside its container: the copy on this machine goes. The
        CA certificate and the runtime API's socket directory stay, for the clients and the checks.
        """
        (self.run_dir / "tls" / "server.pem").unlink(missing_ok=True)
        roles = ", ".join(f"{role}=127.0.0.1:{e.port}" for role, e in self.endpoints.by_role().items())
        if self._docker is not None:
            self._docker.close()
            self._docker = None
        run = f"label={ownership.RUN_LABEL}={self._labels[ownership.RUN_LABEL]}"
        return (f"cluster kept: {roles}; CA {self.ca_file}; runtime API {self.run_dir / 'runtime' / 'admin.sock'}; "
                f"remove with: docker rm -f $(docker ps -aq --filter {run}) && "
                f"docker network prune -f --filter {run} && rm -rf {self.run_dir}")

    def close(self) -> None:
        """Remove the cluster's containers and network, then its files: every step runs whatever the one before did.

        After the containers and the network this target knows of, whatever carries its cluster label goes
        too: an interrupt that lands inside ``network.create()`` or a container's start leaves the engine
        holding one the target never heard of (a network and the run directory, 1 of 50 interrupted
        ``flowlb matrix`` runs, where one failing step also skipped the rest).
        """
        try:
            # the nodes before the addresses whose network namespaces they share
            for container in [self._haproxy, *self._nodes.values(), *self._node_addresses]:
                if container is not None and container._container is not None:
                    _best_effort(lambda c=container: c.get_wrapped_container().remove(force=True, v=True))
            self._haproxy = None
            self._nodes.clear()
            self._node_addresses.clear()
            if self._network is not None and self._network._network is not None:
                _best_effort(self._network.remove)
            self._network = None
            if self._docker is not None:
                _best_effort(lambda: _remove_labelled(self._docker, self._labels[CLUSTER_LABEL]))
            _best_effort(self._fence.lower)
            if self._docker is not None:
                _best_effort(self._docker.close)
                self._docker = None
        finally:
            super().close()


def _best_effort(step: Any) -> None:
    """One step of a teardown: a failure is told in one line and the teardown goes on."""
    try:
        step()
    except docker.errors.NotFound:
        pass
    except Exception as exc:  # noqa: BLE001 - the next steps must run whatever this one met
        print(f"flowlb: containers target: teardown step failed ({type(exc).__name__}: {exc}); going on",
              file=sys.stderr)


def _remove_labelled(client: docker.DockerClient | None, cluster: str) -> None:
    """Remove every container, then network, that carries the cluster label ``cluster``."""
    if client is None:
        return
    selector = {"label": f"{CLUSTER_LABEL}={cluster}"}
    for container in client.containers.list(all=True, filters=selector):
        _best_effort(lambda c=container: c.remove(force=True, v=True))
    for network in client.networks.list(filters=selector):
        _best_effort(network.remove)


def _create_network(client: docker.DockerClient, count: int,
                    labels: dict[str, str]) -> tuple[Network, list[ipaddress.IPv4Address]]:
    """A network of the run's own with a /24 no other network uses, and ``count`` node addresses in it."""
    candidates = [ipaddress.IPv4Network(f"172.29.{i}.0/24") for i in range(256)]
    random.shuffle(candidates)
    for subnet in candidates[:32]:
        ipam = docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet=str(subnet))])
        network = Network(docker_network_kw={"ipam": ipam, "labels": labels})
        try:
            network.create()
        except docker.errors.APIError as exc:
            if "overlap" in str(exc).lower():
                continue
            raise TargetError(f"containers target: cannot create a network: {exc.explanation or exc}") from None
        hosts = list(subnet.hosts())
        return network, hosts[10 : 10 + count]
    raise TargetError("containers target: no free /24 in 172.29.0.0/16 for the run's network")


def remove_leftovers(client: docker.DockerClient) -> int:
    """Remove flowlb containers and networks whose owner is provably gone (:mod:`ownership`); return how many.

    Another run may remove its own containers while this runs, or sweep the same leftovers: one that is
    gone already, or whose removal is under way (the engine's 409), is not an error.
    """
    removed = 0
    selector = {"label": dockerenv.LABEL}
    for container in client.containers.list(all=True, sparse=True, filters=selector):
        if _leftover(container.attrs.get("Labels") or {}):
            try:
                client.api.remove_container(container.id, force=True, v=True)
                removed += 1
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError as exc:
                if exc.status_code != 409:  # HTTP Conflict: another sweep is removing it
                    raise
    for network in client.networks.list(filters=selector):
        if _leftover(network.attrs.get("Labels") or {}):
            with contextlib.suppress(docker.errors.APIError):  # gone already, or still in use
                network.remove()
                removed += 1
    return removed


def _leftover(labels: dict[str, str]) -> bool:
    if labels.get(dockerenv.KEPT_LABEL) == "true":
        return False
    return ownership.provably_gone(labels.get(ownership.OWNER_LABEL, ""))
