"""nginx as the LB, in front of flowlb's mock Flow nodes: the second LB make ``--target external`` is proven on.

The config is ``fixtures/nginx/careful/`` (an operator's nginx.conf and its includes, with ``@NAME@``
placeholders for addresses, ports and certificate paths), or that config with one of the mistakes of
``fixtures/nginx/mistakes/`` applied. Three mock nodes and nginx run as local processes on 127.0.0.1 with
free ports, nginx with ``-p DIR -c DIR/conf/nginx.conf``; all of it stops when the context ends, whatever
happens. The mock nodes name themselves in what they answer, so the external target sees nodes that echo.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from flowlb import paths
from flowlb.net import Endpoint, free_port, wait_until
from flowlb.node_contract import NODE_HEARTBEAT, PORT_ROLES, READY_PREFIX, parse_ready_line
from flowlb.spec import LB_ROLES
from flowlb.targets import processes
from flowlb.targets.readiness import port_accepts
from flowlb.tls import make_certificates

FIXTURES = paths.project_root() / "fixtures" / "nginx"
CAREFUL = FIXTURES / "careful"
MISTAKES = FIXTURES / "mistakes"
NODES = ("node1", "node2", "node3")
SERVER_NAME = "flow-lb.test"
NGINX = "/usr/sbin/nginx"
STREAM_MODULE = Path("/usr/lib/nginx/modules/ngx_stream_module.so")
PLACEHOLDER = re.compile(r"@[A-Z0-9_]+@")


@dataclass(frozen=True)
class Edit:
    """Replace ``old`` (found exactly once) with ``new`` in one file of the careful config."""

    file: str
    old: str
    new: str


@dataclass(frozen=True)
class Mistake:
    """One operator mistake on the careful nginx config, and the checks that must catch it."""

    name: str
    description: str
    area: str  # the conformance folder whose checks catch it
    caught_by: tuple[str, ...]  # check ids (area/check) that must fail
    edits: tuple[Edit, ...]
    run: tuple[str, ...] = ()  # the check files (under conformance/) enough to catch it; default: the whole area

    def paths(self) -> list[str]:
        return [f"conformance/{path}" for path in self.run] or [f"conformance/{self.area}"]


def load_mistake(path: Path) -> Mistake:
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    return Mistake(
        name=path.stem, description=raw["description"], area=raw["area"], caught_by=tuple(raw["caught_by"]),
        edits=tuple(Edit(e["file"], e["old"], e["new"]) for e in raw["edit"]), run=tuple(raw.get("run", ())),
    )


def mistakes() -> list[Mistake]:
    return [load_mistake(path) for path in sorted(MISTAKES.glob("*.toml"))]


def render(files: dict[str, str], values: dict[str, str], mistake: Mistake | None = None) -> dict[str, str]:
    """The config files with ``mistake`` applied and every placeholder filled; a placeholder left unfilled, or an
    edit that does not apply exactly once, is an error naming it."""
    files = dict(files)
    for edit in mistake.edits if mistake else ():
        found = files[edit.file].count(edit.old)
        if found != 1:
            raise ValueError(f"mistake {mistake and mistake.name}: {edit.old!r} occurs {found} times in {edit.file}")
        files[edit.file] = files[edit.file].replace(edit.old, edit.new)
    rendered = {}
    for name, template in files.items():
        text = PLACEHOLDER.sub(lambda found: values.get(found.group(0).strip("@"), found.group(0)), template)
        left = PLACEHOLDER.findall(text)
        if left:
            raise ValueError(f"{name}: no value for {', '.join(sorted(set(left)))}")
        rendered[name] = text
    return rendered


@dataclass(frozen=True)
class NginxCluster:
    """What a user of ``--target external`` would know about this nginx LB."""

    ports: dict[str, int]
    ca_file: Path
    directory: Path
    server_name: str = SERVER_NAME

    def lb_ports_option(self) -> str:
        return ",".join(f"{role.replace('_', '-')}={port}" for role, port in self.ports.items())

    def external_options(self) -> list[str]:
        return ["--target", "external", "--lb-host", "127.0.0.1", "--lb-ports", self.lb_ports_option(),
                "--lb-name", self.server_name, "--ca-file", str(self.ca_file)]


def _start_node(name: str, run_dir: Path) -> tuple[subprocess.Popen[bytes], dict[str, int]]:
    argv = [sys.executable, "-m", "flowlb.mocknode", "--name", name, "--host", "127.0.0.1",
            "--heartbeat", NODE_HEARTBEAT, *(arg for role in PORT_ROLES for arg in (f"--{role}-port", "0"))]
    process = processes.spawn(argv, env={"PYTHONPATH": str(paths.package_parent()),
                                         "FLOWLB_RUN_DIR": str(run_dir)})
    line, output = processes.read_line_matching(process, READY_PREFIX, 30)
    ready = parse_ready_line(line) if line is not None else None
    if ready is None:
        processes.stop(process)
        raise RuntimeError(f"mock node {name} did not start: {output.strip()[-300:]}")
    return process, ready.ports


@contextlib.contextmanager
def mock_nodes(directory: Path) -> Iterator[dict[str, dict[str, int]]]:
    """Three mock Flow nodes on free loopback ports (node name -> port per role); stopped afterwards."""
    started: list[subprocess.Popen[bytes]] = []
    try:
        nodes = {}
        for name in NODES:
            process, ports = _start_node(name, directory)
            started.append(process)
            nodes[name] = ports
        yield nodes
    finally:
        for process in started:
            processes.stop(process)


@contextlib.contextmanager
def nginx_lb(
    directory: Path, nodes: dict[str, dict[str, int]], mistake: Mistake | None = None
) -> Iterator[NginxCluster]:
    """nginx with the careful config (or ``mistake`` applied) in front of ``nodes``, its prefix ``directory``
    (made here); stopped afterwards, whatever happens."""
    directory.mkdir(parents=True)
    certs = make_certificates(directory / "tls", [SERVER_NAME, "localhost"])
    lb_ports = {role: free_port() for role in LB_ROLES}
    values = {f"{role.upper()}_LISTEN": f"127.0.0.1:{port}" for role, port in lb_ports.items()}
    for index, name in enumerate(NODES, start=1):
        for role in ("web", "server", "stomp"):
            values[f"NODE{index}_{role.upper()}"] = f"127.0.0.1:{nodes[name][role]}"
    values.update(CERT_FILE=str(certs.server_pem), KEY_FILE=str(certs.server_pem), LB_NAME=SERVER_NAME)
    conf = directory / "conf"
    conf.mkdir()
    (directory / "logs").mkdir()
    sources = {path.name: path.read_text() for path in CAREFUL.iterdir() if path.suffix == ".conf"}
    for name, text in render(sources, values, mistake).items():
        (conf / name).write_text(text)
    argv = [NGINX, "-p", str(directory), "-c", str(conf / "nginx.conf"), "-e", str(directory / "logs/error.log"),
            "-g", "daemon off;"]
    check = subprocess.run([*argv, "-t"], capture_output=True, text=True, check=False, timeout=30)
    if check.returncode != 0:
        raise RuntimeError(f"nginx -t refused the config: {check.stderr.strip()[-600:]}")
    nginx = processes.spawn(argv, log=directory / "nginx.out")
    try:
        for port in lb_ports.values():
            wait_until(lambda p=port: nginx.poll() is None and port_accepts(Endpoint("127.0.0.1", p)), 15,
                       f"nginx on {port}", seen=lambda: (directory / "nginx.out").read_text()[-300:])
        yield NginxCluster(lb_ports, certs.ca_file, directory)
    finally:
        processes.stop(nginx)


@contextlib.contextmanager
def nginx_cluster(directory: Path, mistake: Mistake | None = None) -> Iterator[NginxCluster]:
    """Mock nodes and nginx in front of them, all stopped afterwards."""
    with mock_nodes(directory) as nodes, nginx_lb(directory / "nginx", nodes, mistake) as cluster:
        yield cluster


def nginx_available() -> str | None:
    """Why nginx cannot be the LB here (``None`` when it can)."""
    if shutil.which(NGINX) is None and not Path(NGINX).exists():
        return "nginx (apt-get install nginx-light)"
    if not STREAM_MODULE.is_file():
        return "nginx's stream module (apt-get install libnginx-mod-stream)"
    return None
