"""``--target external``: a live load balancer the run did not build (pre-deployment validation).

No node control (checks that need it skip, saying so), nodes that are usually real Flow servers (they
do not echo what reached them, so checks that read the node's side skip too; flowlb's own mock nodes
put behind the LB do, and are recognised), and HAProxy's evidence only when the operator gives a
runtime API (``--runtime-api``) or a stats page (``--stats-url``); an LB that is not HAProxy gives none. Nothing
is changed on the LB unless ``--destructive`` is given, and then only through the runtime API.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import socket
import ssl
import stat
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from flowlb.checks.raw import exchange
from flowlb.errors import FlowlbError, TargetError
from flowlb.haproxy.reload import master_reload, reload_and_wait
from flowlb.haproxy.runtime import RuntimeAPI, StatsPage
from flowlb.haproxy.version import HAProxyBuild, from_show_info
from flowlb.net import Endpoint
from flowlb.processgroup import stop_group
from flowlb.spec import LB_ROLES, TLS_ROLES, ClusterSpec, LBPorts
from flowlb.targets.base import Endpoints

ROLE_NAMES = {role.replace("_", "-"): role for role in LB_ROLES}
LB_PORTS_SYNTAX = ",".join(f"{name}={LBPorts().by_role()[role]}" for name, role in ROLE_NAMES.items())
"""What ``--lb-ports`` takes, with the spec's default ports: ``http=80,https=443,...,stomp=61613``."""
LB_OPTION_HELP = {
    "--lb-host": "address of the live LB",
    "--lb-ports": f"its ports where they differ from the spec: {LB_PORTS_SYNTAX}",
    "--lb-name": "the name its certificate must carry (SNI); default: --lb-host",
    "--ca-file": "CA that signed the LB's certificate; default: the system store",
    "--stomp-vhost": "CONNECT's host header on 61613 (default: the LB's address; a RabbitMQ behind the LB wants '/')",
}
"""What the options that name the LB and reach it mean: one text for the suite's help and ``flowlb load``'s."""


def parse_ports(text: str, defaults: dict[str, int]) -> dict[str, int]:
    """``http=80,https=443,server=8000,server-tls=8443,stomp=61613`` over the spec's ports."""
    ports = dict(defaults)
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, value = item.partition("=")
        role = ROLE_NAMES.get(name.strip())
        if role is None or not value.strip().isdigit() or not 0 < int(value) < 65536:
            raise FlowlbError(f"--lb-ports: '{item}' is not <role>=<port> with a role among {', '.join(ROLE_NAMES)}")
        ports[role] = int(value)
    return ports


REACH_TIMEOUT_S = 3.0  # how long each declared port of a live LB has to accept a connection


def dead_ports(host: str, ports: dict[str, int], timeout: float = REACH_TIMEOUT_S) -> dict[str, str]:
    """The declared ports of ``host`` that accept no TCP connection within ``timeout`` (all tried at once):
    role -> why."""
    def attempt(port: int) -> str:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                return ""
        except OSError as exc:
            return exc.strerror or type(exc).__name__

    with ThreadPoolExecutor(max_workers=max(1, len(ports))) as pool:
        outcomes = dict(zip(ports, pool.map(attempt, ports.values()), strict=True))
    return {role: why for role, why in outcomes.items() if why}


PLAIN_PROBE = b"HEAD / HTTP/1.0\r\n\r\n"
STOMP_PROBE = b"CONNECT\naccept-version:1.2\nhost:flowlb-probe\n\n\x00"


def silent_ports(host: str, ports: dict[str, int], timeout: float = REACH_TIMEOUT_S) -> list[str]:
    """The roles whose port accepts a connection but then says nothing within ``timeout``: no TLS handshake and no
    plaintext answer on a TLS port (a TLS port that speaks plaintext is alive: the checks judge it), no byte and no
    close after an HTTP request on a plain one. Any answer, even a refusal, is life."""
    probe = ssl.create_default_context()
    probe.check_hostname = False
    probe.verify_mode = ssl.CERT_NONE  # only whether anything answers; the checks judge the certificate

    def quiet(port: int, tls: bool, data: bytes) -> bool:
        try:
            with socket.create_connection((host, port), timeout=timeout) as sock:
                if tls:
                    with probe.wrap_socket(sock, server_hostname=host):
                        return False
                sock.sendall(data)
                sock.recv(1)
                return False
        except TimeoutError:
            return True
        except (OSError, ssl.SSLError):
            return False  # refused, reset or a TLS error: something answered

    def silent(role: str, port: int) -> bool:
        plain = STOMP_PROBE if role == "stomp" else PLAIN_PROBE
        if role in TLS_ROLES and not quiet(port, True, plain):
            return False
        return quiet(port, False, plain)

    with ThreadPoolExecutor(max_workers=max(1, len(ports))) as pool:
        found = list(pool.map(lambda item: silent(*item), ports.items()))
    return [role for role, quiet in zip(ports, found, strict=True) if quiet]


def refuse_unreachable(host: str, ports: dict[str, int]) -> None:
    """One line (``FlowlbError``) when a declared port of the live LB accepts no connection, or accepts one and
    then answers nothing: whatever runs against it (the suite, ``flowlb load``) stops before it starts."""
    names = {role: name for name, role in ROLE_NAMES.items()}
    dead = dead_ports(host, ports)
    if dead:
        listed = ", ".join(f"{names.get(role, role)}={ports[role]} ({why})" for role, why in dead.items())
        raise FlowlbError(f"the LB at {host} accepts no connection on {listed} within {REACH_TIMEOUT_S:g} s: "
                          "check --lb-host and --lb-ports")
    quiet = silent_ports(host, ports)
    if quiet:
        listed = ", ".join(f"{names.get(role, role)}={ports[role]}" for role in quiet)
        raise FlowlbError(f"the LB at {host} accepts connections on {listed} but answers nothing there within "
                          f"{REACH_TIMEOUT_S:g} s (no TLS handshake, no HTTP reply): is it the LB, and is it running?")


ECHO_PROBE = b"GET /flowlb/echo-probe HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n"


def nodes_echo(endpoint: Endpoint, server_name: str) -> bool:
    """Whether the node behind ``endpoint`` (the LB's plain server port) is one of flowlb's mock nodes, which
    name themselves in every answer (``X-Flow-Node``) and echo what reached them."""
    try:
        return exchange(endpoint, ECHO_PROBE % server_name.encode(), timeout=REACH_TIMEOUT_S).from_node
    except OSError:
        return False


def reload_argv(text: str) -> list[str]:
    """``--reload-command`` as the argv it runs (no shell), its program checked to exist before anything starts."""
    try:
        argv = shlex.split(text)
    except ValueError as exc:
        raise FlowlbError(f"--reload-command: {exc}") from None
    if not argv:
        raise FlowlbError("--reload-command: give the command that reloads the LB")
    if shutil.which(argv[0]) is None:
        where = "no such executable file" if "/" in argv[0] else "not found on PATH"
        raise FlowlbError(f"--reload-command: {argv[0]}: {where}")
    return argv


RELOAD_GRACE_S = 5.0  # after SIGTERM, how long a reload command that overran has before SIGKILL


def run_reload_command(argv: list[str], timeout: float) -> None:
    """Run the operator's reload procedure in a process group of its own; one that overruns ``timeout`` is stopped
    with that whole group (SIGTERM, then SIGKILL) and named in the failure."""
    process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, start_new_session=True)
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        stop_group(process, ((signal.SIGTERM, RELOAD_GRACE_S), (signal.SIGKILL, RELOAD_GRACE_S)))
        raise TargetError(f"--reload-command `{shlex.join(argv)}` did not finish within {timeout:g} s; it was "
                          "stopped with its process group") from None
    except BaseException:
        stop_group(process, ((signal.SIGTERM, RELOAD_GRACE_S), (signal.SIGKILL, RELOAD_GRACE_S)))
        raise
    if process.returncode != 0:
        last = (err.strip() or out.strip() or "no output").splitlines()[-1]
        raise TargetError(f"--reload-command exited {process.returncode}: {last}")


def check_master_cli(address: str) -> None:
    """``--master-cli`` accepts a connection now: a socket path that is missing or no socket, or a port that
    refuses, is one line before any check runs."""
    api = RuntimeAPI(address)
    try:
        api.validate()
    except FlowlbError as exc:
        raise FlowlbError(f"--master-cli: {exc}") from None
    if not address.startswith("tcp:"):
        try:
            mode = os.stat(address).st_mode
        except OSError as exc:
            raise FlowlbError(f"--master-cli {address}: {exc.strerror}") from None
        if not stat.S_ISSOCK(mode):
            raise FlowlbError(f"--master-cli {address}: not a UNIX socket (HAProxy's master CLI is `-S PATH`)")
    if not api.accepts():
        raise FlowlbError(f"--master-cli {address}: nothing accepts a connection there; is HAProxy running in "
                          "master-worker mode with -S?")


def system_ca_file() -> Path:
    """The system's CA bundle, for an LB whose certificate a public or corporate CA signed."""
    found = ssl.get_default_verify_paths().cafile or "/etc/ssl/certs/ca-certificates.crt"
    return Path(found)


@dataclass
class ExternalTarget:
    """A running LB at ``host``; evidence optional, node control never."""

    spec: ClusterSpec
    host: str
    ports: dict[str, int]
    ca_file: Path
    server_name: str
    evidence_source: RuntimeAPI | None = None
    master_cli: RuntimeAPI | None = None  # --master-cli: HAProxy's master CLI, to reload it
    reload_command: list[str] | None = None  # --reload-command: the operator's own reload procedure
    kind: str = "external"
    profile: str = "external"
    config_text: str = ""
    endpoints: Endpoints = field(init=False)
    extra_endpoints: dict[int, Endpoint] = field(default_factory=dict)
    _echoes: bool | None = field(default=None, init=False, repr=False)
    layout = None  # the LB runs its own config: no layout of flowlb's
    rendered = None  # nor a config flowlb rendered
    haproxy_image = ""
    egress_fence = ""  # the LB is not flowlb's to fence

    def __post_init__(self) -> None:
        self.endpoints = Endpoints(
            **{role: Endpoint(self.host, port) for role, port in self.ports.items()},
            server_name=self.server_name,
        )
        if not self.ca_file.is_file():
            raise FlowlbError(f"--ca-file {self.ca_file} is not a readable file")
        if self.evidence_source is not None and not self.evidence_source.answers():
            raise TargetError(f"HAProxy's evidence at {self.evidence_source.socket_path} does not answer")

    @classmethod
    def from_options(
        cls,
        spec: ClusterSpec,
        host: str | None,
        ports: str,
        ca_file: Path | None,
        server_name: str | None,
        runtime_api: str | None,
        stats_url: str | None,
        stats_auth: str | None,
        master_cli: str | None = None,
        reload_command: str | None = None,
    ) -> ExternalTarget:
        if not host:
            raise FlowlbError("--target external needs --lb-host (the LB's address)")
        if runtime_api and stats_url:
            raise FlowlbError("give either --runtime-api or --stats-url, not both")
        evidence: RuntimeAPI | None = None
        for flag, address in (("--runtime-api", runtime_api), ("--master-cli", master_cli)):
            if address:
                try:
                    RuntimeAPI(address).validate()
                except FlowlbError as exc:
                    raise FlowlbError(f"{flag}: {exc}") from None
        if runtime_api:
            evidence = RuntimeAPI(runtime_api)
        elif stats_url:
            evidence = StatsPage(stats_url, stats_auth)
            evidence.validate()
        if (master_cli or reload_command) and not runtime_api:
            raise FlowlbError("--master-cli and --reload-command need --runtime-api: the new worker is awaited there")
        if master_cli:
            check_master_cli(master_cli)
        command = reload_argv(reload_command) if reload_command else None
        return cls(
            spec=spec,
            host=host,
            ports=parse_ports(ports, spec.lb.ports.by_role()),
            ca_file=ca_file or system_ca_file(),
            server_name=server_name or host,
            evidence_source=evidence,
            master_cli=RuntimeAPI(master_cli) if master_cli else None,
            reload_command=command,
        )

    def node_names(self) -> list[str]:
        """HAProxy's server names in the Flow server backend when evidence is given, else the spec's."""
        return self.spec.node_names()

    def nodes(self) -> None:
        return None

    def echoes(self) -> bool:
        """Whether flowlb's mock nodes stand behind the LB (asked once): real Flow servers do not echo what
        reached them; mock nodes put behind a staging LB (``flowlb mock-node``) do."""
        if self._echoes is None:
            self._echoes = nodes_echo(self.endpoints.server, self.server_name)
        return self._echoes

    def haproxy_build(self) -> HAProxyBuild | None:
        """The version the LB's runtime API reports (``show info``); the OpenSSL is not known."""
        if self.evidence_source is None:
            return None
        try:
            return from_show_info(self.evidence_source.command("show info"))
        except TargetError:
            return None

    def evidence(self) -> RuntimeAPI | None:
        return self.evidence_source

    def client_address(self) -> str | None:
        return None

    def can_reload(self) -> bool:
        return isinstance(self.evidence_source, RuntimeAPI) and bool(self.reload_command or self.master_cli)

    def reload(self, timeout: float) -> float:
        """The operator's own reload procedure (``--reload-command``), else the master CLI's ``reload``."""
        assert isinstance(self.evidence_source, RuntimeAPI)
        command = self.reload_command
        if not command:
            assert self.master_cli is not None
            return reload_and_wait(master_reload(self.master_cli), self.evidence_source, timeout)

        return reload_and_wait(lambda: run_reload_command(command, timeout), self.evidence_source, timeout)

    def replace_config(self, text: str) -> None:
        raise FlowlbError("the live LB's config is not flowlb's to change")

    def config_warnings(self) -> list[str]:
        """None told: the live LB's config is its own, and flowlb does not run ``haproxy -c`` on it."""
        return []

    def port_on_lb(self, port: int) -> Endpoint | None:
        """The live LB's own address: the one clients use, the only one the run sends anything to."""
        return Endpoint(self.host, port)

    def reset(self) -> None:
        """Nothing to reset: the run changes nothing on a live LB (``--destructive`` restores its own change)."""

    def keep_running(self) -> None:
        """The live LB is not flowlb's to keep or stop."""
        return None

    def close(self) -> None:
        """Nothing was started."""
