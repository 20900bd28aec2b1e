"""The load users on a cluster that wants a login, and what they may write there, against a mock node started
with ``--login-user`` (401 without a session), its requests counted per method at the node.

Fails if a user does not log in or logs in more than once, if a run on an external target sends any POST
but the logins without ``--allow-writes`` (or none with it), if a wrong password is anything but one line,
exit code 2, one refused login at the node and no report, or if the password shows on a command line,
in Locust's output or in the report.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from tests.conftest import REPO

from flowlb import paths
from flowlb.errors import FlowlbError
from flowlb.load.credentials import LoadLogin
from flowlb.load.plan import LoadPlan
from flowlb.load.runner import locust_command
from flowlb.load.runner import run as run_load
from flowlb.net import Endpoint
from flowlb.node_contract import parse_ready_line
from flowlb.targets.base import Endpoints

USER = "loadtester"
PASSWORD = "pw-7f3a-never-shown"  # noqa: S105 - the mock node's own
LOCUSTFILE = REPO / "loadtests" / "flow.py"
TIMEOUT = 60


@dataclass
class Node:
    process: subprocess.Popen[str]
    ports: dict[str, int]

    def counters(self) -> Any:
        import urllib.request

        url = f"http://127.0.0.1:{self.ports['control']}/counters"
        with urllib.request.urlopen(url, timeout=5) as answer:
            return json.load(answer)

    def reset(self) -> None:
        import urllib.request

        request = urllib.request.Request(f"http://127.0.0.1:{self.ports['control']}/reset", method="POST")
        urllib.request.urlopen(request, timeout=5).close()  # noqa: S310 - http on loopback


def start_node(*extra: str) -> tuple[subprocess.Popen[str], Node]:
    """A mock node on loopback that wants ``USER``'s login on its REST API and its STOMP port."""
    env = dict(os.environ, PYTHONPATH=str(paths.package_parent()), FLOWLB_MOCKNODE_PASSWORD=PASSWORD)
    command = [sys.executable, "-m", "flowlb.mocknode", "--name", "guarded", "--host", "127.0.0.1", "--web-port", "0",
               "--server-port", "0", "--stomp-port", "0", "--control-port", "0", "--login-user", USER,
               "--heartbeat", "0,0", *extra]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    lines: queue.Queue[str] = queue.Queue()
    assert process.stdout is not None
    stdout = process.stdout
    threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True).start()
    try:
        ready = parse_ready_line(lines.get(timeout=10).strip())
    except queue.Empty:
        ready = None
    if ready is None:
        process.kill()
        process.wait(timeout=10)
        raise AssertionError("the mock node did not start")
    return process, Node(process, ready.ports)


@pytest.fixture(scope="module")
def node() -> Iterator[Node]:
    process, started = start_node()
    yield started
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture
def guarded(node: Node) -> Node:
    node.reset()
    return node


@dataclass
class ExternalTarget:
    """The parts of a Target ``flowlb load``'s runner reads: a live cluster it did not start (the mock node)."""

    endpoints: Endpoints
    kind: str = "external"
    profile: str = "external"
    ca_file: Path = Path("/nonexistent-ca.pem")


def external(node: Node) -> Any:
    server = Endpoint("127.0.0.1", node.ports["server"])
    stomp = Endpoint("127.0.0.1", node.ports["stomp"])
    return ExternalTarget(Endpoints(server, server, server, server, stomp, "127.0.0.1"))


def plain(node: Node) -> list[str]:
    """Locust options that reach the node itself (no LB, no TLS); given last, they win."""
    return ["--host", f"http://127.0.0.1:{node.ports['server']}", "--stomp-plain", "--stomp-host", "127.0.0.1"]


def load_plan(node: Node, allow_writes: bool = False, mix: str = "api=1,handshake=0,stomp=1") -> LoadPlan:
    return LoadPlan(run_time="2s", users=4, spawn_rate=4, mix=mix, extra=plain(node),
                    login=LoadLogin(USER, "", allow_writes))


def everything_written(root: Path) -> str:
    return "".join(p.read_text(errors="replace") for p in root.rglob("*") if p.is_file())


def test_a_read_only_run_on_an_external_target_posts_nothing_but_one_login_per_user(
    guarded: Node, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    target = external(guarded)
    plan = load_plan(guarded)
    assert PASSWORD not in " ".join(locust_command(plan, target, tmp_path / "locust"))
    with mock.patch.dict(os.environ, {"FLOWLB_FLOW_PASSWORD": PASSWORD}):
        code, directory = run_load(plan, target, tmp_path / "reports")
    assert code == 0, capfd.readouterr().err[-3000:]
    server, stomp = guarded.counters()["server"], guarded.counters()["stomp"]
    assert server["logins"] == 2 and server["unauthorized"] == 0, server  # 2 API users of 4, each logged in once
    assert server["methods"].get("POST") == server["logins"], server["methods"]
    assert server["methods"]["GET"] > 20
    assert stomp["sessions_total"] == 2 and stomp["errors"] == 0, stomp
    summary = json.loads((directory / "summary.json").read_text())
    posts = {entry["name"] for entry in summary["entries"] if entry["name"].startswith("POST ")}
    assert posts == {"POST /rest/v1.0/sessions (login)"}, posts
    assert summary["total"]["failures"] == 0, summary["total"]
    assert PASSWORD not in everything_written(tmp_path) + "".join(capfd.readouterr())


def test_with_allow_writes_the_external_run_posts_its_procedures(guarded: Node, tmp_path: Path) -> None:
    with mock.patch.dict(os.environ, {"FLOWLB_FLOW_PASSWORD": PASSWORD}):
        code, directory = run_load(load_plan(guarded, allow_writes=True, mix="api=1,handshake=0,stomp=0"),
                                   external(guarded), tmp_path)
    assert code == 0
    server = guarded.counters()["server"]
    assert server["methods"]["POST"] > server["logins"] + 10, server
    names = {entry["name"] for entry in json.loads((directory / "summary.json").read_text())["entries"]}
    assert {"POST /rest/v1.0/jobs (runProcedure)", "POST /commanderRequest"} <= names, names


def test_flowlbs_own_cluster_takes_writes_and_an_external_one_only_when_allowed() -> None:
    assert LoadLogin().variables("local") == LoadLogin().variables("containers") == {"FLOWLB_ALLOW_WRITES": "true"}
    assert LoadLogin().variables("external") == {}
    assert LoadLogin(allow_writes=True).variables("external") == {"FLOWLB_ALLOW_WRITES": "true"}
    assert LoadLogin(USER, "pw.txt").variables("external") == {
        "FLOWLB_FLOW_USER": USER, "FLOWLB_FLOW_PASSWORD_FILE": str(Path("pw.txt").resolve())}


def test_a_wrong_password_is_one_line_exit_2_one_refused_login_and_no_report(
    guarded: Node, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    plan = load_plan(guarded, mix="api=1,handshake=0,stomp=0")  # STOMP's refusal: the test below
    plan.users = plan.spawn_rate = 12
    with mock.patch.dict(os.environ, {"FLOWLB_FLOW_PASSWORD": "not-the-password"}), \
            pytest.raises(FlowlbError) as refused:
        run_load(plan, external(guarded), tmp_path)
    assert str(refused.value).startswith(f"login as {USER} on http://127.0.0.1:") and "HTTP 401" in str(refused.value)
    assert "\n" not in str(refused.value)
    assert list(tmp_path.iterdir()) == [], "a refused run left a report behind"
    counters = guarded.counters()
    assert counters["server"]["methods"] == {"POST": 1} and counters["server"]["logins_refused"] == 1, counters
    output = "".join(capfd.readouterr())
    assert output.count("refused: HTTP 401") == 1, output[-3000:]
    assert "not-the-password" not in output


def test_locust_alone_stops_at_a_wrong_stomp_passcode_in_one_line(guarded: Node) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLOWLB_", "LOCUST_"))}
    env.update(FLOWLB_FLOW_PASSWORD="not-the-password", PYTHONPATH=str(paths.package_parent()))  # noqa: S106
    result = subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "-u", "6", "-r", "6", "-t", "5s",
         "--only-summary", "--flow-mix", "api=0,handshake=0,stomp=1", "--flow-user", USER, *plain(guarded),
         "--stomp-port", str(guarded.ports["stomp"])],
        capture_output=True, text=True, env=env, timeout=TIMEOUT, check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 2, output[-3000:]
    assert [line for line in output.splitlines() if "ERROR/flowlb.login" in line] == [
        line for line in output.splitlines() if f"STOMP login as {USER} refused" in line], output[-3000:]
    assert output.count(f"STOMP login as {USER} refused") == 1
    assert "Traceback" not in output and "not-the-password" not in output
    assert guarded.counters()["stomp"]["connections"] == 1


def test_an_expired_session_is_renewed_by_one_login_after_one_401(tmp_path: Path) -> None:
    process, expiring = start_node("--session-seconds", "1")
    try:
        plan = load_plan(expiring, mix="api=1,handshake=0,stomp=0")
        plan.users, plan.run_time = 1, "4s"
        with mock.patch.dict(os.environ, {"FLOWLB_FLOW_PASSWORD": PASSWORD}):
            code, directory = run_load(plan, external(expiring), tmp_path)
        server = expiring.counters()["server"]
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert server["logins"] >= 3, server  # sessions of 1 s in a run of 4 s
    # each renewal after exactly one 401 (and the run may stop between a last 401 and its renewal)
    assert server["logins"] - 1 <= server["unauthorized"] <= server["logins"], server
    failures = json.loads((directory / "summary.json").read_text())["total"]["failures"]
    assert failures == server["unauthorized"], "the only failures are the 401s that renewed the session"
    assert code == 1  # Locust's --exit-code-on-error for those failures; the SLO itself held
