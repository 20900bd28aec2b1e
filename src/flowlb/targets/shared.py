"""One local cluster that the runs of a sweep share: each run reloads its own config into it.

Starting a cluster (certificates, a mock node per node, HAProxy) is about half of a short suite
run, and the mutant sweep is some forty of them. :class:`SharedCluster` starts one local cluster
in a process of its own and serves it on a UNIX socket (:mod:`multiprocessing.managers`, behind
an auth key). A suite run given ``--shared-cluster TICKET`` attaches to it, loads its config with
a reload of HAProxy instead of a restart, and leaves the cluster running for the next run::

    with SharedCluster() as shared:
        subprocess.run(["pytest", "conformance/balance", "--shared-cluster", str(shared.ticket),
                        "--haproxy-cfg", "mutant.cfg"])

A config fits when it needs the cluster's nodes and certificate names and no extra listeners
(:func:`misfit` says why not); the suite starts a cluster of its own for any other.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing import AuthenticationError
from multiprocessing.managers import BaseManager
from operator import methodcaller
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from flowlb import paths
from flowlb.errors import TargetError
from flowlb.haproxy.layout import Layout
from flowlb.haproxy.operator import OperatorConfig, send_commands
from flowlb.haproxy.remap import RemapResult
from flowlb.haproxy.runtime import RuntimeAPI
from flowlb.net import Endpoint
from flowlb.spec import ClusterSpec, load_spec
from flowlb.targets import processes
from flowlb.targets.base import Endpoints, HAProxyControl, NodeControl
from flowlb.targets.forwarding import forwards
from flowlb.targets.prepare import Prepared, prepare

T = TypeVar("T")


@dataclass(frozen=True)
class SharedState:
    """What a run needs to know of the shared cluster to render its config and reach the LB."""

    node_names: tuple[str, ...]
    lb_names: tuple[str, ...]
    endpoints: Endpoints
    ca_file: Path
    layout: Layout


def _on_owner_thread(host: ClusterHost, call: methodcaller) -> Any:
    """A node or HAProxy control call, made on the cluster's target on the host's one thread."""
    return host._on_thread(lambda: call(host._target))


@forwards(NodeControl, HAProxyControl, through=_on_owner_thread)
class ClusterHost(NodeControl, HAProxyControl):
    """The cluster, in the process that owns it. Every call runs on one long-lived thread: the kernel kills a
    child when the thread that started it ends (``PR_SET_PDEATHSIG``), and a restarted node must outlive the
    connection that asked for it. Node and HAProxy control are forwarded to its target (:func:`forwards`)."""

    def __init__(self, spec_path: str | None) -> None:
        from flowlb.targets.local import LocalTarget

        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="flowlb-shared")
        self._target = self._on_thread(lambda: LocalTarget(load_spec(Path(spec_path) if spec_path else None),
                                                           "hardened"))

    def _on_thread(self, work: Callable[[], T]) -> T:
        return self._thread.submit(work).result()

    def describe(self) -> SharedState:
        target = self._target
        return SharedState(tuple(target.node_names()), target.spec.lb.names, target.endpoints, target.ca_file,
                           target.layout)

    def load(self, text: str, config_name: str, commands: tuple[str, ...]) -> None:
        """Run ``text`` from now on, as a fresh start would (see ``LocalTarget.load_config``)."""

        def after_start(api: RuntimeAPI) -> None:
            send_commands(api, commands, Path(config_name))

        self._on_thread(lambda: self._target.load_config(text, config_name, after_start if commands else None))

    def close(self) -> None:
        self._on_thread(self._target.close)
        self._thread.shutdown()


class _Manager(BaseManager):
    """Serves a process's one :class:`ClusterHost` (see :func:`serve`)."""


READY = "flowlb-shared-cluster ready"


def serve(ticket: Path, spec_path: str | None) -> None:
    """The owner process (``python -m flowlb.targets.shared TICKET [SPEC]``): start the cluster, say so, serve it
    until stdin closes (the owner stopped us, or died), then stop it."""
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stopped: the cluster goes as after Ctrl-C
    raw = json.loads(ticket.read_text())
    host = ClusterHost(spec_path)  # type: ignore[abstract]  # @forwards made the rest
    try:
        _Manager.register("host", callable=lambda: host)
        server = _Manager(address=raw["address"], authkey=bytes.fromhex(raw["authkey"])).get_server()
        threading.Thread(target=server.serve_forever, daemon=True).start()
        print(READY, flush=True)
        sys.stdin.read()  # EOF: the owner closed our stdin or is gone
    finally:
        host.close()


class SharedCluster:
    """Owns a shared local cluster: started in its own process, reached through :attr:`ticket`; see the module."""

    def __init__(self, spec_path: Path | None = None, ready_timeout: float = 60.0) -> None:
        self._directory = Path(tempfile.mkdtemp(prefix="flowlb-shared-"))  # 0700: it holds the auth key
        self.ticket = self._directory / "ticket.json"
        descriptor = os.open(self.ticket, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as ticket:
            json.dump({"address": str(self._directory / "cluster.sock"), "authkey": secrets.token_hex(32)}, ticket)
        argv = [sys.executable, "-m", "flowlb.targets.shared", str(self.ticket)]
        if spec_path is not None:
            argv.append(str(spec_path))
        self._process: subprocess.Popen[bytes] | None = None
        try:
            self._process = processes.spawn(argv, env={"PYTHONPATH": str(paths.package_parent())},
                                            stdin=subprocess.PIPE)
        except OSError:
            self.close()
            raise
        self.pid = self._process.pid
        line, output = processes.read_line_matching(self._process, READY, ready_timeout)
        if line is None:
            self.close()
            last = output.strip().splitlines()[-1] if output.strip() else "no output"
            raise TargetError(f"the shared cluster did not start: {last}")

    def close(self) -> None:
        """Stop the cluster and its process, and remove the ticket; safe to call twice."""
        if self._process is not None:
            if self._process.stdin is not None:
                self._process.stdin.close()  # the owner process stops its cluster, then exits
            try:
                self._process.wait(30)
            except subprocess.TimeoutExpired:
                processes.stop(self._process)
            if self._process.stdout is not None:
                self._process.stdout.close()
            self._process = None
        shutil.rmtree(self._directory, ignore_errors=True)

    def __enter__(self) -> SharedCluster:
        return self

    def __exit__(self, *exc: tuple[type[BaseException] | None, BaseException | None, TracebackType | None]) -> None:
        self.close()


def connect(ticket: Path) -> Any:
    """The shared cluster's :class:`ClusterHost`, as a proxy; one line when the ticket leads nowhere."""
    _Manager.register("host")
    try:
        raw = json.loads(ticket.read_text())
        manager = _Manager(address=str(raw["address"]), authkey=bytes.fromhex(str(raw["authkey"])))
        manager.connect()
    except AuthenticationError:
        raise TargetError(f"--shared-cluster {ticket}: the shared cluster there refused this ticket's authkey (a "
                          "stale or edited ticket: use the one its SharedCluster wrote)") from None
    except (OSError, ValueError, KeyError, TypeError, EOFError) as exc:
        raise TargetError(f"--shared-cluster {ticket}: no shared cluster answers there ({exc})") from None
    return manager.host()  # type: ignore[attr-defined]


def misfit(state: SharedState, prepared: Prepared) -> str | None:
    """Why a run's config cannot run on the shared cluster, ``None`` when it can."""
    wanted = prepared.spec
    if tuple(wanted.node_names()) != state.node_names:
        return f"it needs the nodes {', '.join(wanted.node_names())}; the shared one {', '.join(state.node_names)}"
    if wanted.lb.names != state.lb_names:
        return f"its LB is named {', '.join(wanted.lb.names)}; the shared certificate {', '.join(state.lb_names)}"
    if prepared.extra_ports:
        return f"it binds extra listeners ({', '.join(map(str, prepared.extra_ports))})"
    return None


def _in_owner_process(view: SharedTarget, call: methodcaller) -> Any:
    """A node or HAProxy control call, made on the :class:`ClusterHost` in the owner's process."""
    return call(view._host)


@forwards(NodeControl, HAProxyControl, through=_in_owner_process)
class SharedTarget(NodeControl, HAProxyControl):
    """A suite run's view of the shared cluster: the Target interface, node and HAProxy control made in the
    owner's process (:func:`forwards`)."""

    kind = "local"
    haproxy_image = ""
    egress_fence = ""  # not told: the fence, if any, is the owner's

    def __init__(self, host: Any, state: SharedState, spec: ClusterSpec, profile: str, config_text: str,
                 rendered: RemapResult | None = None) -> None:
        self._host = host
        self.spec, self.profile, self.config_text = spec, profile, config_text
        self.rendered = rendered
        self.endpoints, self.ca_file, self.layout = state.endpoints, state.ca_file, state.layout
        self.extra_endpoints: dict[int, Endpoint] = {}
        assert state.layout.runtime_socket is not None
        self._api = RuntimeAPI(Path(state.layout.runtime_socket))

    def node_names(self) -> list[str]:
        return self.spec.node_names()

    def nodes(self) -> SharedTarget:
        return self

    def client_address(self) -> str:
        return "127.0.0.1"

    def port_on_lb(self, port: int) -> Endpoint | None:
        return self.extra_endpoints.get(port)

    def evidence(self) -> RuntimeAPI:
        return self._api

    def replace_config(self, text: str) -> None:
        """Forwarded like the other members, and remembered: :attr:`config_text` is what the next reload runs."""
        self._host.replace_config(text)
        self.config_text = text

    def echoes(self) -> bool:
        return True

    def keep_running(self) -> None:
        """The shared cluster outlives this run anyway: its owner stops it; this view is closed."""
        return None

    def close(self) -> None:
        """Leave the cluster running for the next run (its next load resets it)."""


def attach(ticket: Path, spec: ClusterSpec, profile: str, operator: OperatorConfig | None) -> SharedTarget | str:
    """This run's config loaded into the shared cluster through a reload; or, when it does not fit, why not.

    A config HAProxy refuses raises :class:`~flowlb.errors.HAProxyConfigError`, as a refused start does.
    """
    host = connect(ticket)
    state: SharedState = host.describe()
    prepared = prepare(spec, profile, operator)
    reason = misfit(state, prepared)
    if reason is not None:
        return reason
    text, rendered = prepared.render(state.layout)
    host.load(text, prepared.config_name, rendered.after_start if rendered is not None else ())
    # mypy cannot see the node and HAProxy control that @forwards made
    return SharedTarget(host, state, prepared.spec, prepared.profile, text, rendered)  # type: ignore[abstract]


if __name__ == "__main__":
    from flowlb.targets import shared  # noqa: PLW0406 - under its own name, what it sends unpickles as flowlb's

    shared.serve(Path(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else None)
