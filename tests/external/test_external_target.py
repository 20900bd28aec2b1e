"""``--target external`` passes against a cluster flowlb did not build, changes nothing unless told to,
and restores what ``--destructive`` drained.

The cluster: nginx nodes and a Debian RabbitMQ (STOMP) behind HAProxy on loopback, all started here.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from flowlb.haproxy.runtime import RuntimeAPI
from tests.conftest import REPO, require
from tests.external.foreign_cluster import ForeignCluster, foreign_cluster, foreign_lb
from tests.support.suite import run_pytest


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ForeignCluster]:
    require(shutil.which("haproxy") is not None, "the haproxy binary")
    require(shutil.which("nginx") is not None, "nginx (apt-get install nginx-light)")
    require(Path("/usr/lib/rabbitmq/bin/rabbitmq-server").is_file(), "RabbitMQ (apt-get install rabbitmq-server)")
    with foreign_cluster(tmp_path_factory.mktemp("foreign")) as running:
        yield running


def run_external(
    cluster: ForeignCluster, junit: Path, *extra: str, evidence: tuple[str, ...] | None = None
) -> subprocess.CompletedProcess[str]:
    """The suite against the cluster, with HAProxy's runtime API as evidence unless ``evidence`` says otherwise."""
    given = ("--runtime-api", str(cluster.runtime_socket)) if evidence is None else evidence
    return run_pytest("conformance/", "-q", "-p", "no:cacheprovider", "--report-dir", "none",
                      "--junitxml", str(junit), "--target", "external", "--lb-host", cluster.host,
                      "--lb-ports", cluster.lb_ports_option(), "--lb-name", cluster.server_name,
                      "--ca-file", str(cluster.ca_file), "--spec", str(cluster.spec_file), *given,
                      "--stomp-vhost", "/", "--stomp-idle-seconds", "5", *extra)


def stats_page(cluster: ForeignCluster) -> tuple[str, ...]:
    return ("--stats-url", cluster.stats_url, "--stats-auth", cluster.stats_auth)


def outcomes(junit: Path) -> dict[str, str]:
    """Test id -> passed / failed / skipped (with the reason)."""
    found = {}
    for case in ET.parse(junit).getroot().iter("testcase"):  # noqa: S314 - our own pytest wrote it
        name = f"{case.attrib['classname']}::{case.attrib['name']}"
        skipped = case.find("skipped")
        if case.find("failure") is not None or case.find("error") is not None:
            found[name] = "failed"
        elif skipped is not None:
            found[name] = "skipped: " + skipped.attrib.get("message", "")
        else:
            found[name] = "passed"
    return found


def test_the_suite_passes_against_a_cluster_it_did_not_build(cluster: ForeignCluster, tmp_path: Path) -> None:
    result = run_external(cluster, tmp_path / "junit.xml")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    seen = outcomes(tmp_path / "junit.xml")
    passed = {name for name, outcome in seen.items() if outcome == "passed"}
    for must_run in ("redirect", "tls", "stomp.test_protocol_through_the_lb", "health.test_flow_servers_up",
                     "balance.test_spread_by_haproxy_counters", "security.test_stats_page_not_public",
                     "security.test_internal_ports_not_exposed", "stomp.test_sessions_spread_over_nodes",
                     "balance.test_every_flow_server_in_every_flow_backend",
                     "balance.test_web_sessions_stick::test_browser_stays_on_its_web_node"):
        assert any(must_run in name for name in passed), f"nothing of {must_run} ran: {seen}"
    assert sum("routing.test_ports_reach_the_right_backend" in name for name in passed) == 3, seen
    skipped = {name: outcome for name, outcome in seen.items() if outcome.startswith("skipped")}
    assert any("control of the Flow nodes" in reason for reason in skipped.values()), skipped
    vague = {name: reason for name, reason in skipped.items()
             if not any(remedy in reason for remedy in REMEDIES)}
    assert not vague, f"skips on a live LB that do not say what would let the check run: {vague}"
    drained = [o for n, o in seen.items() if "test_drained_server_gets_no_traffic" in n]
    assert drained and drained[0].startswith("skipped") and "--destructive" in drained[0], drained


REMEDIES = ("run it on the local or containers target", "--destructive", "--runtime-api", "--haproxy-cfg", "--spec",
            "does not apply: ")
"""What a skip on a live LB names: a harness target, an option, or that the LB has nothing of the kind."""


COUNTED = "routing or sessions_spread or servers_up or spread_by_haproxy or every_flow_server or stays_on"


def test_a_stats_page_alone_runs_the_checks_read_from_counters(cluster: ForeignCluster, tmp_path: Path) -> None:
    """No runtime API: the stats page's CSV (no server addresses there) still judges routing, spreads, states."""
    result = run_external(cluster, tmp_path / "junit.xml", "-k", COUNTED, evidence=stats_page(cluster))
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    seen = outcomes(tmp_path / "junit.xml")
    passed = [name for name, outcome in seen.items() if outcome == "passed"]
    assert len(passed) == 9, seen  # 3 routing ports, 3 spreads by counters, STOMP spread, servers up, web affinity
    assert next(o for n, o in seen.items() if "every_flow_server" in n).endswith("or give --runtime-api"), seen


def _misrouted(text: str) -> str:
    """The foreign LB's config with five mistakes: 8443 goes to the web servers, the web backend keeps no browser
    on its node (no `cookie`), the STOMP backend balances by client address and checks its servers with a bare
    TCP connect (the article's `check port 8000`), and node3 is missing from the Flow server backend."""
    head, secure, rest = text.partition("frontend commander-server-frontend-secure\n")
    rest = rest.replace("default_backend commander-server-backend", "default_backend commander-web-backend", 1)
    head, stomp, rest = (head + secure + rest).partition("backend commander-stomp-backend\n")
    rest = "\n".join(line for line in rest.splitlines() if "httpchk" not in line and "http-check" not in line)
    text = (head + stomp + rest).replace("  balance leastconn", "  balance source")
    return "\n".join(line for line in text.splitlines()
                     if not (line.startswith("  server node3 ") and line.endswith(" check"))
                     and not line.startswith("  cookie SERVERID")) + "\n"


def test_a_misrouted_live_lb_fails_the_checks_read_from_its_counters(cluster: ForeignCluster, tmp_path: Path) -> None:
    """A second HAProxy over the same nodes with 8443 routed to the web backend, no web affinity, STOMP by source
    and a server missing: each check read from counters fails on its own mistake, with the runtime API and with
    the stats page."""
    with foreign_lb(cluster.nodes, tmp_path / "broken", _misrouted) as broken:
        result = run_external(broken, tmp_path / "api.xml", "-k",
                              "routing or sessions_spread or every_flow_server or stays_on or follow_health")
        by_api = outcomes(tmp_path / "api.xml")
        page = run_external(broken, tmp_path / "page.xml", "-k", "routing or sessions_spread or stays_on",
                            evidence=stats_page(broken))
        by_page = outcomes(tmp_path / "page.xml")
    failed = sorted(name.rsplit("::", 1)[-1] for name, outcome in by_api.items() if outcome == "failed")
    assert failed == ["test_bootstrap_node_gets_no_new_sessions", "test_browser_stays_on_its_web_node",
                      "test_every_flow_server_is_in_every_flow_backend",
                      "test_port_reaches_the_right_node_port[8443-server]", "test_sessions_spread_evenly"], by_api
    assert result.returncode == 1
    assert "lacks the Flow server 127.0.0.13" in result.stdout, result.stdout[-3000:]
    assert "were counted on commander-web-backend" in result.stdout and "not the server port" in result.stdout
    assert "in the STOMP backend" in result.stdout and "no web server took them all" in result.stdout
    assert "commander-stomp-backend) with {'node1': 'L4OK'" in result.stdout, result.stdout[-3000:]
    failed = sorted(name.rsplit("::", 1)[-1] for name, outcome in by_page.items() if outcome == "failed")
    assert failed == ["test_browser_stays_on_its_web_node", "test_port_reaches_the_right_node_port[443-web]",
                      "test_port_reaches_the_right_node_port[8443-server]", "test_sessions_spread_evenly"], by_page
    assert "reach the same servers" in page.stdout, page.stdout[-3000:]


def test_destructive_drains_through_the_runtime_api_and_restores(cluster: ForeignCluster, tmp_path: Path) -> None:
    result = run_external(cluster, tmp_path / "junit.xml", "--destructive", "-k", "drained or servers_up")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    seen = outcomes(tmp_path / "junit.xml")
    assert [o for n, o in seen.items() if "drained" in n] == ["passed"], seen
    stats = RuntimeAPI(cluster.runtime_socket).stats()
    assert all(s.is_up for s in stats), [f"{s.backend}/{s.server}={s.status}" for s in stats if not s.is_up]


def test_exposure_scan_finds_a_port_the_lb_host_should_not_answer(cluster: ForeignCluster, tmp_path: Path) -> None:
    """ZooKeeper answering on the LB's address (the foreign LB's own loopback address) fails the scan, with
    nothing changed on the LB: the scan is connect-only."""
    with socket.create_server((cluster.host, 2181)) as zookeeper:
        zookeeper.settimeout(0)
        result = run_external(cluster, tmp_path / "junit.xml", "-k", "internal_ports")
    assert result.returncode == 1, result.stdout[-3000:]
    assert f"{cluster.host}:2181 (ZooKeeper (clients)) accepts connections" in result.stdout, result.stdout[-3000:]


def test_reload_runs_the_operators_procedure_and_keeps_the_drained_server_out(
    cluster: ForeignCluster, tmp_path: Path
) -> None:
    """--reload-command: the operator's own procedure (here: dump the server state, then the master CLI's reload)."""
    script = tmp_path / "reload.py"
    script.write_text(RELOAD_PROCEDURE.format(runtime=cluster.runtime_socket, master=cluster.master_socket,
                                              state=cluster.runtime_socket.parent / "server-state"))
    result = run_external(cluster, tmp_path / "junit.xml", "--destructive", "--reload-command",
                          f"{sys.executable} {script}", "-k", "reload", "-s")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert [o for n, o in outcomes(tmp_path / "junit.xml").items() if "reload" in n] == ["passed"]
    assert "reload took" in result.stdout
    stats = RuntimeAPI(cluster.runtime_socket).stats()
    assert all(s.is_up for s in stats), [f"{s.backend}/{s.server}={s.status}" for s in stats if not s.is_up]


def test_reload_without_kept_state_is_caught_on_a_live_lb(cluster: ForeignCluster, tmp_path: Path) -> None:
    """The master CLI's bare `reload`, without the state dump: the drained server comes back, the check fails.

    The reload check is recommended (server state across reloads is CloudBees' hardening): its failure is a
    warning, exit 0, unless the operator gates on it with ``--fail-on recommended``."""
    (cluster.runtime_socket.parent / "server-state").write_text("1\n")
    result = run_external(cluster, tmp_path / "junit.xml", "--destructive", "--master-cli",
                          str(cluster.master_socket), "-k", "reload", "--fail-on", "recommended")
    assert result.returncode == 1, result.stdout[-3000:]
    assert "the reload brought them back UP" in result.stdout, result.stdout[-3000:]
    assert "1 warnings (recommended failed)" in result.stdout, result.stdout[-3000:]
    stats = RuntimeAPI(cluster.runtime_socket).stats()
    assert all(s.is_up for s in stats), [f"{s.backend}/{s.server}={s.status}" for s in stats if not s.is_up]


RELOAD_PROCEDURE = """\
import socket
def command(path, text):
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(10)
        sock.connect(path)
        sock.sendall(text.encode() + b"\\n")
        sock.shutdown(socket.SHUT_WR)
        return b"".join(iter(lambda: sock.recv(65536), b"")).decode()
open("{state}", "w").write(command("{runtime}", "show servers state"))
command("{master}", "reload")
"""


def test_bad_external_options_are_one_line(cluster: ForeignCluster, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "conformance/", "-q", "-p", "no:cacheprovider", "--report-dir", "none",
         "--target", "external", "--lb-host", "127.0.0.1", "--lb-ports", "web=80"],
        capture_output=True, text=True, cwd=REPO, check=False, timeout=120,
    )
    assert result.returncode == 2, result.stdout[-2000:]
    assert "--lb-ports: 'web=80' is not <role>=<port>" in result.stdout + result.stderr


def test_a_plain_http_server_on_the_tls_ports_fails_whatever_it_answers(tmp_path: Path) -> None:
    """A 404 (or a 400 to a STOMP CONNECT) is still plaintext on a TLS port."""
    from flowlb.net import free_port

    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)], cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        from flowlb.checks.raw import exchange
        from flowlb.net import Endpoint, wait_until

        def answers() -> bool:
            try:
                return bool(exchange(Endpoint("127.0.0.1", port), b"GET / HTTP/1.0\r\n\r\n", timeout=1.0).data)
            except OSError:
                return False

        wait_until(answers, 10, "the plain HTTP server")
        junit = tmp_path / "junit.xml"
        ports = ",".join(f"{role}={port}" for role in ("http", "https", "server", "server-tls", "stomp"))
        subprocess.run(
            [sys.executable, "-m", "pytest", "conformance/tls/test_plaintext_to_tls_port_refused.py", "-q",
             "-p", "no:cacheprovider", "--report-dir", "none", "--junitxml", str(junit), "--target", "external",
             "--lb-host", "127.0.0.1", "--lb-ports", ports],
            capture_output=True, text=True, cwd=REPO, check=False, timeout=120,
        )
        found = outcomes(junit)
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert sorted(found.values()) == ["failed"] * 3, found


def run_bare_external(*options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "conformance/", "-q", "-p", "no:cacheprovider", "--report-dir", "none",
         "--target", "external", "--lb-host", "127.0.0.1", *options],
        capture_output=True, text=True, cwd=REPO, check=False, timeout=120,
    )


def test_closed_ports_of_a_live_lb_are_named_in_one_line_before_any_check() -> None:
    from flowlb.net import free_port

    closed = [free_port() for _ in range(5)]
    ports = ",".join(f"{role}={port}" for role, port in zip(("http", "https", "server", "server-tls", "stomp"),
                                                            closed, strict=True))
    result = run_bare_external("--lb-ports", ports)
    assert result.returncode == 2, result.stdout[-2000:]
    output = result.stdout + result.stderr
    assert f"the LB at 127.0.0.1 accepts no connection on http={closed[0]} (Connection refused)" in output, output
    assert f"stomp={closed[4]}" in output and "check --lb-host and --lb-ports" in output
    assert " passed" not in output, output[-2000:]


@pytest.mark.parametrize("address", ["tcp:127.0.0.1:abc", "tcp:127.0.0.1:99999", "tcp::9999"])
def test_a_runtime_api_address_that_cannot_be_one_is_refused_at_once(address: str) -> None:
    result = run_bare_external("--runtime-api", address)
    assert result.returncode == 2, result.stdout[-2000:]
    assert f"--runtime-api: {address!r} is not tcp:HOST:PORT" in result.stdout + result.stderr


def test_a_port_that_accepts_and_never_answers_is_one_line_within_seconds() -> None:
    """The kernel completes the TCP handshake for a listening socket nobody serves: the LB 'accepts' but is silent."""
    import time

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        port = silent.getsockname()[1]
        ports = ",".join(f"{role}={port}" for role in ("http", "https", "server", "server-tls", "stomp"))
        started = time.monotonic()
        result = run_bare_external("--lb-ports", ports)
        took = time.monotonic() - started
    assert result.returncode == 2, result.stdout[-2000:]
    assert "accepts connections on http=" in result.stdout and "but answers nothing there within 3 s" in result.stdout
    assert took < 30, f"took {took:.0f} s"
