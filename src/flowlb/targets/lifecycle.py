"""The lifecycle every cluster flowlb starts itself goes through, written once.

certificates -> nodes -> layout -> config -> HAProxy -> wait for HAProxy's word -> evidence; and on
any failure, everything started so far is stopped again. A target fills in only what differs: how
it starts nodes and HAProxy, where they listen, and how it kills, freezes and revives a node::

    class LocalTarget(HarnessTarget):
        kind = "local"
        def _start_nodes(self) -> None: ...
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from flowlb.errors import HAProxyConfigError, TargetError
from flowlb.haproxy.layout import Layout
from flowlb.haproxy.messages import Diagnosis, one_line_error
from flowlb.haproxy.operator import OperatorConfig
from flowlb.haproxy.reload import (
    EMPTY_SERVER_STATE,
    master_reload,
    reload_and_wait,
    save_server_state,
    server_state_file,
)
from flowlb.haproxy.remap import RemapResult
from flowlb.haproxy.runtime import RuntimeAPI
from flowlb.haproxy.version import HAProxyBuild, parse_vv
from flowlb.interrupts import deferred_signals
from flowlb.net import Endpoint, wait_until
from flowlb.node_contract import Counters, HealthState
from flowlb.spec import ClusterSpec
from flowlb.targets.base import Endpoints
from flowlb.targets.nodeclient import MockNodeClient
from flowlb.targets.prepare import prepare
from flowlb.targets.readiness import HAProxyExited, wait_for_haproxy
from flowlb.tls import CertificateFiles, make_certificates

ConfigSource = Callable[[Layout], str]


class HarnessTarget:
    """A cluster of HAProxy and mock Flow nodes that flowlb starts, controls and stops itself."""

    kind = "harness"
    config_path_in_haproxy = ""  # the config file's path as HAProxy names it in its messages
    haproxy_image = ""  # flowlb's own HAProxy (the containers target may run the user's image)

    def __init__(
        self,
        spec: ClusterSpec,
        profile: str,
        config_source: ConfigSource | None = None,
        ready_timeout: float = 30.0,
        operator: OperatorConfig | None = None,
    ) -> None:
        """Start the cluster for ``profile`` (rendered for ``spec``), or for the ``operator``'s own file on the
        cluster its plan asks for; ``config_source`` gives the text outright (the tests' broken configs)."""
        self._prepared = prepare(spec, profile, operator)
        self.spec = self._prepared.spec
        self.profile = self._prepared.profile
        self.config_name = self._prepared.config_name
        self.ready_timeout = ready_timeout
        self.extra_ports = self._prepared.extra_ports
        self.after_start: Callable[[RuntimeAPI], None] | None = None
        self.config_text = ""
        self.rendered: RemapResult | None = None  # the operator's file as remapped here; None for a profile
        self.egress_fence = ""  # how HAProxy is kept from sending past loopback, or why it is not
        self.extra_endpoints: dict[int, Endpoint] = {}
        self._clients: dict[str, MockNodeClient] = {}
        self._disturbed: set[str] = set()  # nodes killed or frozen since the last reset
        self._unhealthy: set[str] = set()  # nodes whose health URL was changed since the last reset
        with deferred_signals():  # an interrupt between the directory's making and the try would leave it
            self.run_dir = Path(tempfile.mkdtemp(prefix=f"flowlb-{self.kind}-"))
        try:
            self._open()
            self._start(config_source)
        except BaseException:
            with deferred_signals():  # the first Ctrl-C may come now: it must not cut the teardown short
                self.close()
            raise

    # -- the lifecycle ---------------------------------------------------------------------------

    def _start(self, config_source: ConfigSource | None) -> None:
        certs = make_certificates(self.run_dir / "tls", self.spec.lb.names)
        self.ca_file = certs.ca_file
        self._start_nodes()
        self.layout = self._layout(certs)
        if config_source is not None:
            self.config_text = config_source(self.layout)
        else:
            self.config_text, self.rendered = self._prepared.render(self.layout)
            self.after_start = self._prepared.after_start(self.rendered)
        try:
            self._start_haproxy(certs)
            self._baseline = wait_for_haproxy(
                self._api, self.endpoints.by_role().values(), self.ready_timeout, self._haproxy_output,
                after_start=self.after_start, config_text=self.config_text,
            )
        except HAProxyExited as exited:
            output = exited.output.replace(self.config_path_in_haproxy, self.config_name)
            raise HAProxyConfigError(
                one_line_error(output, self.config_text, f"{self.config_name} does not load")
            ) from None
        except TimeoutError as exc:
            raise TargetError(f"{self.kind} target: HAProxy not ready: {exc}") from None

    def _open(self) -> None:
        """Check what this target needs before anything starts (a binary, an engine)."""

    def _start_nodes(self) -> None:
        """Start every node of the spec and fill ``self._clients``; return once all serve."""
        raise NotImplementedError

    def _layout(self, certs: CertificateFiles) -> Layout:
        """Where the config must bind and reach the nodes on this target."""
        raise NotImplementedError

    def _start_haproxy(self, certs: CertificateFiles) -> None:
        """Start HAProxy with ``self.config_text``; set ``self._api``, ``self.endpoints``, ``extra_endpoints``."""
        raise NotImplementedError

    def _haproxy_output(self) -> str | None:
        """``None`` while HAProxy runs; its output once it has exited."""
        raise NotImplementedError

    # -- the Target interface --------------------------------------------------------------------

    endpoints: Endpoints
    ca_file: Path
    layout: Layout
    _api: RuntimeAPI
    _master: RuntimeAPI | None = None
    _baseline: frozenset[tuple[str, str]]

    def node_names(self) -> list[str]:
        return self.spec.node_names()

    def nodes(self) -> HarnessTarget:
        return self

    def echoes(self) -> bool:
        return True

    def evidence(self) -> RuntimeAPI:
        return self._api

    def can_reload(self) -> bool:
        return self._master is not None

    def reload(self, timeout: float) -> float:
        """Dump server state where the config reloads it from (the operator's reload procedure must), then the
        master CLI's ``reload``: HAProxy runs in master-worker mode, as its service runs it."""
        assert self._master is not None
        self.save_server_state()
        return reload_and_wait(master_reload(self._master), self._api, timeout)

    def replace_config(self, text: str) -> None:
        """Put ``text`` where HAProxy reads its config; it takes effect at the next reload."""
        raise NotImplementedError

    def host_path(self, path: str) -> Path | None:
        """Where a file HAProxy names by ``path`` lies on this machine, ``None`` when it is not reachable here."""
        raise NotImplementedError

    def _server_state_path(self) -> Path | None:
        """Where the running config keeps server state across reloads, on this machine; ``None`` when it keeps none."""
        path = server_state_file(self.config_text)
        return self.host_path(path) if path else None

    def _prepare_server_state(self) -> None:
        """An empty server state file where the config keeps one, before HAProxy first starts (as an operator must)."""
        host = self._server_state_path()
        if host is not None and not host.exists():
            host.write_text(EMPTY_SERVER_STATE)

    def save_server_state(self) -> bool:
        """Dump server state where the config reloads it from (the operator's reload procedure); False when the
        config keeps no state across reloads."""
        host = self._server_state_path()
        if host is None:
            return False
        save_server_state(self._api, host)
        return True

    def haproxy_build(self) -> HAProxyBuild | None:
        """``haproxy -vv`` of the HAProxy this target runs."""
        return parse_vv(self._haproxy_vv())

    def _haproxy_vv(self) -> str:
        raise NotImplementedError

    def config_warnings(self) -> list[str]:
        """HAProxy's warnings about the config it runs (``haproxy -c -dW``, zero-warning mode), config lines named."""
        output = self._haproxy_check_zero_warning().replace(self.config_path_in_haproxy, self.config_name)
        return list(Diagnosis.parse(output).warnings)

    def _haproxy_check_zero_warning(self) -> str:
        raise NotImplementedError

    def client_address(self) -> str | None:
        return "127.0.0.1"

    def port_on_lb(self, port: int) -> Endpoint | None:
        """HAProxy listens only where its config binds: the five roles and the extra binds, each moved here."""
        return self.extra_endpoints.get(port)

    def reset(self) -> None:
        """Every node running and healthy with zeroed counters, and HAProxy seeing them all UP.

        Only the nodes killed or frozen since the last reset are restarted; the others are reset
        through their control API, and restarted too if it does not answer (a node that died by itself).
        A restarted node, or one whose health URL was made to fail, is healthy again before HAProxy's
        checks have seen it ``rise`` times, so HAProxy is told so (``set server ... health up``); its
        next check still judges the node.
        """
        restarted = self.reset_nodes()
        for backend, server in sorted(self._baseline):
            if server in restarted:
                self._api.command(f"set server {backend}/{server} health up")
        wait_for_haproxy(self._api, [], self.ready_timeout, self._haproxy_output, required=self._baseline)

    def reset_nodes(self) -> set[str]:
        """Every node running and healthy with zeroed counters; return the nodes HAProxy may still judge unhealthy
        (restarted, or their health URL was made to fail)."""
        restarted = set(self._unhealthy)
        for name in list(self._clients):
            if name in self._disturbed:
                self.restart(name)
                restarted.add(name)
            try:
                self._clients[name].reset()
            except TargetError:
                self.restart(name)
                restarted.add(name)
                self._clients[name].reset()
        self._disturbed.clear()
        self._unhealthy.clear()
        return restarted

    # -- NodeControl -----------------------------------------------------------------------------

    def kill(self, name: str) -> None:
        self._client(name)  # one error for an unknown node
        self._disturbed.add(name)
        self._kill(name)

    def hang(self, name: str) -> None:
        self._client(name)
        self._disturbed.add(name)
        self._hang(name)

    def can_cut_off(self) -> bool:
        """Only a target whose nodes have addresses of their own can take one away."""
        return False

    def cut_off(self, name: str) -> None:
        self._client(name)
        if not self.can_cut_off():
            raise TargetError(f"{self.kind} target: its nodes share this machine's address; none can be cut off")
        self._disturbed.add(name)
        self._cut_off(name)

    def _kill(self, name: str) -> None:
        raise NotImplementedError

    def _hang(self, name: str) -> None:
        raise NotImplementedError

    def _cut_off(self, name: str) -> None:
        raise NotImplementedError

    def restart(self, name: str) -> None:
        """Undo :meth:`kill`, :meth:`hang` or :meth:`cut_off`; returns when the node serves again."""
        raise NotImplementedError

    def set_health(self, name: str, state: HealthState, delay_ms: int = 0) -> None:
        self._client(name).set_health(state, delay_ms)
        self._unhealthy.add(name)

    def counters(self, name: str) -> Counters:
        return self._client(name).counters()

    def _client(self, name: str) -> MockNodeClient:
        try:
            return self._clients[name]
        except KeyError:
            raise TargetError(f"no node named {name!r} (nodes: {', '.join(self._clients)})") from None

    def _wait_serving(self, name: str) -> None:
        wait_until(self._clients[name].ready, self.ready_timeout, f"mock node {name} serving again",
                   seen=lambda: f"{name}'s control API does not say ready")

    # -- teardown --------------------------------------------------------------------------------

    def keep_running(self) -> str | None:
        """Only the containers target outlives the session (``--keep-cluster``); this one is closed."""
        return None

    def close(self) -> None:
        """Stop everything this target started and remove its files; safe to call twice."""
        for client in self._clients.values():
            client.close()
        self._clients.clear()
        shutil.rmtree(self.run_dir, ignore_errors=True)

    def __enter__(self) -> HarnessTarget:
        return self

    def __exit__(self, *exc: tuple[type[BaseException] | None, BaseException | None, TracebackType | None]) -> None:
        with deferred_signals():
            self.close()
