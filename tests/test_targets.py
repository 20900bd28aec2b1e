"""Both targets: the conformance suite passes on each, bad input is one line and leaves nothing behind.

These start real clusters (HAProxy + three mock nodes), so they are the slowest tests here.
"""

from __future__ import annotations

import json
import socket
import sys
import time
from pathlib import Path

import pytest

from flowlb.errors import HAProxyConfigError, TargetError
from flowlb.spec import load_spec
from tests.support.suite import flowlb_containers, flowlb_processes, flowlb_temp_dirs, run_conformance

BROKEN = "frontend commander-web-frontend-insecure\n  mode http\n  redirect scheme https if !{ssl_fc}\n"


@pytest.mark.timeout(900)  # the whole suite, STOMP's 45 s idle check included
@pytest.mark.parametrize("target", ["local", "containers"])
def test_hardened_passes_the_whole_suite_on_target(target: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
    request.getfixturevalue("haproxy_bin" if target == "local" else "docker_engine")
    result = run_conformance("--target", target, "--report-dir", str(tmp_path), "--durations=5", timeout=840)
    print(result.stdout[-3000:])
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    summary = json.loads((tmp_path / "latest" / "summary.json").read_text())
    assert summary["counts"]["failed"] == 0
    # the local target's nodes share one address: the dead-node check's cut-off case, a core check, cannot run there,
    # so that run is partial (exit 0 all the same); checks the profile has nothing for (no backup) leave no gap
    core_skipped = [check["nodeid"] for check in summary["core_skipped"]]
    if target == "local":
        assert summary["verdict"] == "partial" and len(core_skipped) == 1 and core_skipped[0].endswith("[cut_off]")
    else:
        assert summary["verdict"] == "pass" and not core_skipped, core_skipped
    run = summary["run"]
    assert run["resolved_target"] == target and run["haproxy"][0].isdigit() and run["openssl"].startswith("OpenSSL")
    assert run["config_path"] == "profile hardened" and len(run["config_sha256"]) == 64
    assert run["ended"] > run["started"]
    assert sum(area["passed"] for area in summary["areas"].values()) == summary["counts"]["passed"]
    skipped = [c["nodeid"] for c in summary["checks"] if c["outcome"] == "skipped"]
    # the generated profiles bind no port outside the five roles and have no backup server: nothing to probe
    nothing_to_probe = ("test_management_listeners_need_auth", "test_backup_takes_over")
    if target == "local":  # its nodes share the machine's address: none can be cut off from the network
        nothing_to_probe += ("test_sessions_of_a_dead_node_are_closed[cut_off]",)
    applies = [nodeid for nodeid in skipped if not any(name in nodeid for name in nothing_to_probe)]
    assert not applies, f"every check applies to a harness target; skipped: {applies}"
    untitled = [c["nodeid"] for c in summary["checks"] if not (c["title"] and c["guards"])]
    assert not untitled, f"checks without a title or a 'what it guards' paragraph in the report: {untitled}"
    assert (tmp_path / "latest" / "junit.xml").is_file() and (tmp_path / "latest" / "index.html").is_file()
    assert flowlb_processes() == [] and flowlb_temp_dirs() == []
    if target == "containers":
        assert flowlb_containers() == []


def test_local_refused_config_is_one_line_and_leaves_nothing(haproxy_bin: str) -> None:
    from flowlb.targets.local import LocalTarget

    with pytest.raises(HAProxyConfigError) as caught:
        LocalTarget(load_spec(), "hardened", config_source=lambda layout: BROKEN)
    message = str(caught.value)
    assert "no such ACL : '{ssl_fc}'" in message and "(line 3: `redirect scheme https if !{ssl_fc}`)" in message
    assert "\n" not in message
    assert flowlb_processes() == [] and flowlb_temp_dirs() == []


def test_containers_refused_config_is_one_line_and_leaves_nothing(docker_engine: None) -> None:
    from flowlb.targets.containers import ContainersTarget

    with pytest.raises(HAProxyConfigError) as caught:
        ContainersTarget(load_spec(), "hardened", config_source=lambda layout: BROKEN)
    message = str(caught.value)
    assert "no such ACL : '{ssl_fc}'" in message and "\n" not in message
    assert flowlb_containers() == [] and flowlb_temp_dirs() == []


def test_no_docker_engine_is_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from flowlb.targets.containers import ContainersTarget

    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/absent.sock")
    with pytest.raises(TargetError, match=r"^containers target: no Docker engine answers at unix://"):
        ContainersTarget(load_spec(), "hardened")


def test_no_target_at_all_exits_2_with_one_line(tmp_path: Path) -> None:
    env = {"PATH": str(Path(sys.executable).parent), "DOCKER_HOST": f"unix://{tmp_path}/absent.sock"}
    result = run_conformance("--target", "auto", env=env)
    assert result.returncode == 2
    assert "flowlb: no target: no Docker engine answers and no 'haproxy' on PATH" in result.stdout + result.stderr


def test_bad_spec_exits_2_with_one_line(tmp_path: Path) -> None:
    spec = tmp_path / "bad.toml"
    spec.write_text("[[nodes]]\nname = 'node1'\nport = 1\n")
    result = run_conformance("--target", "local", "--spec", str(spec))
    assert result.returncode == 2
    assert f"flowlb: cluster spec {spec}: nodes[0].port: unknown key" in result.stdout + result.stderr


def test_an_operator_config_that_binds_no_lb_port_says_so_at_once(haproxy_bin: str, tmp_path: Path) -> None:
    config = tmp_path / "haproxy.cfg"
    config.write_text("defaults\n  mode http\n  timeout client 5s\n  timeout server 5s\n  timeout connect 5s\n"
                      "listen other\n  bind :9000\n  server node1 10.0.0.1:8000 check\n")
    started = time.monotonic()
    result = run_conformance("--target", "local", "--haproxy-cfg", str(config))
    assert result.returncode == 2, result.stdout[-2000:]
    assert f"flowlb: {config}: binds none of the LB's ports (80, 443, 8000, 8443, 61613)" in result.stdout
    assert time.monotonic() - started < 20, "it waited for a port to open"
    assert flowlb_processes() == []


def test_a_kept_cluster_is_printed_survives_the_next_run_and_keeps_no_private_key(docker_engine: None) -> None:
    import re
    import subprocess as sp

    first = run_conformance("-m", "smoke", "--target", "containers", "--keep-cluster")
    line = next((line for line in first.stdout.splitlines() if line.startswith("flowlb: cluster kept: ")), "")
    try:
        assert first.returncode == 0 and line, first.stdout[-2000:]
        https = int(re.search(r"https=127\.0\.0\.1:(\d+)", line).group(1))  # type: ignore[union-attr]
        run_dir = Path(re.search(r"rm -rf (\S+)", line).group(1))  # type: ignore[union-attr]
        assert (run_dir / "tls" / "ca.pem").is_file() and not (run_dir / "tls" / "server.pem").exists()
        second = run_conformance("-m", "smoke", "--target", "containers")
        assert second.returncode == 0, second.stdout[-2000:]
        with socket.create_connection(("127.0.0.1", https), timeout=5):
            pass  # the kept LB still answers after another run's start-up sweep
    finally:
        removal = line.partition("remove with: ")[2]
        if removal:
            sp.run(["sh", "-c", removal], check=False, capture_output=True, timeout=60)
    assert flowlb_containers() == []


def _held_connection(target: object, node: str) -> tuple[str, tuple[str, int], socket.socket]:
    """The backend that has ``node`` on the server port, the address HAProxy sends it to, and a connection to it."""
    evidence = target.evidence()  # type: ignore[attr-defined]
    backend = next(stat.backend for stat in evidence.stats() if stat.server == node)
    address = evidence.server_addresses(backend)[node]
    return backend, address, socket.create_connection(address, timeout=5)


@pytest.mark.parametrize("target_kind", ["local", "containers"])
def test_a_killed_node_resets_its_connections_and_refuses_new_ones(
    target_kind: str, request: pytest.FixtureRequest
) -> None:
    """The NodeControl contract on both targets: a killed node is a crashed process on a live host.

    On containers, ``docker kill`` of a node that held its own address made the address vanish: new
    connections waited out the connect timeout instead of being refused, a different failure from local's.
    """
    from flowlb.targets.containers import ContainersTarget
    from flowlb.targets.local import LocalTarget

    request.getfixturevalue("haproxy_bin" if target_kind == "local" else "docker_engine")
    kind = LocalTarget if target_kind == "local" else ContainersTarget
    with kind(load_spec(), "hardened") as target:
        _, address, held = _held_connection(target, "node2")
        held.settimeout(5)
        try:
            target.nodes().kill("node2")
            try:
                ended = held.recv(1) == b""
            except ConnectionResetError:
                ended = True
            except TimeoutError:
                ended = False
            assert ended, f"a connection to the killed node2 at {address} stayed open (5 s)"
        finally:
            held.close()
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(address, timeout=5).close()
        target.nodes().restart("node2")
        socket.create_connection(address, timeout=5).close()


def test_a_cut_off_node_answers_nothing_until_restarted_and_local_says_it_cannot(
    haproxy_bin: str, docker_engine: None
) -> None:
    """``cut_off`` on containers: held connections get no reset, new ones no refusal; ``restart`` brings the node
    back at its address with its control API. The local target refuses in one line."""
    from flowlb.targets.containers import ContainersTarget
    from flowlb.targets.local import LocalTarget

    with LocalTarget(load_spec(), "hardened") as local:
        assert not local.nodes().can_cut_off()
        with pytest.raises(TargetError, match=r"^local target: its nodes share this machine's address"):
            local.nodes().cut_off("node2")
    with ContainersTarget(load_spec(), "hardened") as target:
        backend, address, held = _held_connection(target, "node2")
        held.settimeout(1)
        try:
            target.nodes().cut_off("node2")
            with pytest.raises(TimeoutError):
                held.recv(1)
        finally:
            held.close()
        with pytest.raises(OSError) as unanswered:
            socket.create_connection(address, timeout=1)
        assert not isinstance(unanswered.value, ConnectionRefusedError)
        target.nodes().restart("node2")
        socket.create_connection(address, timeout=5).close()
        target.reset()  # HAProxy sees node2 UP again: its address and port are where they were
        assert target.evidence().server(backend, "node2").is_up
