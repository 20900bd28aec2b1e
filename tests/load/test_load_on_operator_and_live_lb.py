"""``flowlb load`` on an operator's config (remapped and contained as the suite runs it) and on a live LB that
flowlb did not build (nginx nodes and RabbitMQ behind HAProxy): each run is short, bounded, and writes its report.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest import REPO, require
from tests.external.foreign_cluster import ForeignCluster, foreign_cluster
from tests.support.suite import flowlb_processes

from flowlb.haproxy.runtime import RuntimeAPI

CORPUS_CFG = REPO / "fixtures" / "operator-configs" / "24-two-flow-small.cfg"


def flowlb_load(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "flowlb.cli", "load", *args], capture_output=True, text=True,
                          cwd=REPO, check=False, timeout=timeout)


def published_run(root: Path) -> Path:
    runs = [p for p in root.iterdir() if p.is_dir() and not p.is_symlink()]
    assert len(runs) == 1 and not runs[0].name.endswith(".partial"), runs
    assert (root / "latest").resolve() == runs[0].resolve()
    return runs[0]


def assert_clean_paths(summary: dict, paths: tuple[str, ...]) -> None:
    for path in paths:
        figures = summary["paths"].get(path)
        assert figures and figures["requests"] > 0 and figures["failures"] == 0, (path, summary["paths"])


def test_an_operator_config_runs_on_its_own_cluster_and_finds_a_capacity(haproxy_bin: str, tmp_path: Path) -> None:
    result = flowlb_load("--target", "local", "--haproxy-cfg", str(CORPUS_CFG), "--find-capacity",
                         "--step-users", "4", "--step-seconds", "2", "--max-users", "8",
                         "--slo-p95-ms", "https=60000,handshake=60000,stomp=60000",  # the mechanics, not the machine
                         "--report-dir", str(tmp_path))
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "flowlb: disarmed line 7: `log /dev/log local0`" in result.stdout, output[-3000:]
    assert "flowlb: capacity at SLO: " in result.stdout, output[-3000:]
    run = published_run(tmp_path)
    assert run.name.endswith("-load-local-24-two-flow-small.cfg"), run.name
    summary = json.loads((run / "summary.json").read_text())
    tested = summary["tested"]
    assert tested["config"] == str(CORPUS_CFG), tested
    assert tested["config_sha256"] == hashlib.sha256(CORPUS_CFG.read_bytes()).hexdigest()
    assert tested["nodes"] == ["web1", "flow1", "flow2"], tested  # sized from the config, not the default spec
    assert any("log /dev/log" in line for line in tested["disarmed"]), tested
    assert "127.0.0.1" in tested["egress_fence"] or tested["egress_fence"].startswith("off: "), tested
    assert summary["profile"] == "operator:24-two-flow-small.cfg"
    outcome = summary["capacity"]
    assert [s["users"] for s in outcome["steps"]] == [4, 8], outcome["steps"]
    assert outcome["capacity"]["users"] == 8, outcome
    for step in outcome["steps"]:
        assert set(step["paths"]) == {"https", "handshake", "stomp"}, step
        assert all(p["rps"] > 0 and p["failures"] == 0 for p in step["paths"].values()), step
    page = (run / "index.html").read_text()
    assert "<h2>Capacity</h2>" in page and "24-two-flow-small.cfg (sha256 " in page and "Disarmed: 1 line" in page
    assert flowlb_processes() == []


@pytest.fixture(scope="module")
def live_lb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ForeignCluster]:
    require(shutil.which("haproxy") is not None, "the haproxy binary")
    require(shutil.which("nginx") is not None, "nginx (apt-get install nginx-light)")
    require(Path("/usr/lib/rabbitmq/bin/rabbitmq-server").is_file(), "RabbitMQ (apt-get install rabbitmq-server)")
    with foreign_cluster(tmp_path_factory.mktemp("foreign")) as running:
        yield running


def test_a_live_lb_flowlb_did_not_build_is_loaded_reported_and_gated(live_lb: ForeignCluster, tmp_path: Path) -> None:
    """A p95 limit no LB meets (0.001 ms on https) proves the SLO gate holds there too: exit code 1, report kept."""
    haproxy = RuntimeAPI(live_lb.runtime_socket)
    before = sum(stat.total_sessions for stat in haproxy.stats())
    result = flowlb_load("--target", "external", "--lb-host", live_lb.host, "--lb-ports", live_lb.lb_ports_option(),
                         "--lb-name", live_lb.server_name, "--ca-file", str(live_lb.ca_file), "--stomp-vhost", "/",
                         "--run-time", "4s", "--users", "6", "--spawn-rate", "6", "--slo-p95-ms", "https=0.001",
                         "--report-dir", str(tmp_path))
    output = result.stdout + result.stderr
    assert result.returncode == 1, output[-3000:]
    assert "SLO breached: p95 on https (ms)" in output and "); exit code 1" in result.stdout, output[-3000:]
    run = published_run(tmp_path)
    assert run.name.endswith("-load-external"), run.name
    summary = json.loads((run / "summary.json").read_text())
    assert summary["target"] == "external" and summary["tested"]["config"] == "the live LB's own", summary["tested"]
    assert summary["tested"]["lb_ports"] == live_lb.ports and summary["tested"]["lb_name"] == "flow-lb.test"
    assert_clean_paths(summary, ("https", "handshake", "stomp"))
    connects = next(e["requests"] for e in summary["entries"] if e["name"] == "STOMP CONNECT")
    grown = sum(stat.total_sessions for stat in haproxy.stats()) - before
    assert grown >= connects + summary["paths"]["handshake"]["requests"], (grown, connects)  # it went through the LB
    assert f"<b>Live LB</b> {live_lb.host} (" in (run / "index.html").read_text()
    assert (run / "locust.html").is_file() and (run / "locust_stats_history.csv").is_file()
    assert flowlb_processes() == []
