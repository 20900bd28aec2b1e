"""A node started with ``--login-user``: the REST API wants a session, the health URL stays open, STOMP wants
CONNECT's login and passcode, and the counters say which methods arrived.

Fails if the REST API answers without a session, if a wrong password gets a session or the right one does
not, if a session from one node is refused by another node configured alike (a real cluster shares them),
if the health URL (HAProxy's checks carry no session) needs a login, if the per-method counter miscounts,
or if a password given on the command line is read at all or echoed in the error.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from flowlb import paths
from flowlb.mocknode.login import SESSIONS_PATH

USER = "loaduser"
PASSWORD = "correct horse battery staple"  # noqa: S105 - the test node's own
LOGIN = json.dumps({"userName": USER, "password": PASSWORD}).encode()


def start_with_login(launcher: Callable[..., Any], name: str, password: str = PASSWORD) -> Any:
    with mock.patch.dict(os.environ, {"FLOWLB_MOCKNODE_PASSWORD": password}):
        return launcher(name, "--login-user", USER)


@pytest.fixture(scope="module")
def guarded(node_launcher: Callable[..., Any]) -> Iterator[Any]:
    """A node that wants a login, its counters zeroed before each use."""
    yield start_with_login(node_launcher, "guarded")


@pytest.fixture
def node_with_login(guarded: Any) -> Any:
    guarded.control("POST", "/reset")
    return guarded


def session_cookie(node: Any, port: str = "server") -> str:
    status, headers, body = node.request(port, "POST", SESSIONS_PATH, LOGIN, {"Content-Type": "application/json"})
    assert status == 200, body
    document = json.loads(body)
    assert document["userName"] == USER and document["sessionId"]
    cookie = headers["set-cookie"].split(";", 1)[0]
    assert cookie.startswith("session=") and document["sessionId"] in cookie
    return cookie


def test_the_rest_api_wants_a_session_and_the_health_url_does_not(node_with_login: Any) -> None:
    assert node_with_login.request("server", "GET", "/commanderRequest/health")[0] == 200
    for port in ("server", "web"):
        assert node_with_login.request(port, "GET", "/rest/v1.0/projects")[0] == 401
        assert node_with_login.request(port, "POST", "/commanderRequest", b"<requests/>")[0] == 401
    cookie = session_cookie(node_with_login)
    status, _, body = node_with_login.request("server", "GET", "/rest/v1.0/projects", headers={"Cookie": cookie})
    assert status == 200 and json.loads(body)["path"] == "/rest/v1.0/projects"
    forged = cookie.replace("sessionId%22%3A%22", "sessionId%22%3A%22f")
    assert node_with_login.request("server", "GET", "/rest/v1.0/projects", headers={"Cookie": forged})[0] == 401
    server = node_with_login.counters()["server"]
    assert server["unauthorized"] == 3 and server["logins"] == 1 and server["logins_refused"] == 0


@pytest.mark.parametrize("body", [
    {"userName": USER, "password": "wrong"}, {"userName": "someone", "password": PASSWORD}, {"userName": USER},
], ids=["wrong-password", "wrong-user", "no-password"])
def test_a_wrong_login_is_401_and_names_no_password(node_with_login: Any, body: dict[str, str]) -> None:
    status, headers, answer = node_with_login.request("server", "POST", SESSIONS_PATH, json.dumps(body).encode())
    assert status == 401 and "set-cookie" not in headers
    assert b"wrong" not in answer and PASSWORD.encode() not in answer
    assert node_with_login.counters()["server"]["logins_refused"] == 1


def test_a_session_holds_on_every_node_configured_alike_and_on_no_other(
    node_with_login: Any, node_factory: Callable[..., Any]
) -> None:
    cookie = session_cookie(node_with_login)
    alike = start_with_login(node_factory, "alike")
    other = start_with_login(node_factory, "other", password="another password")  # noqa: S106
    assert alike.request("server", "GET", "/rest/v1.0/jobs", headers={"Cookie": cookie})[0] == 200
    assert other.request("server", "GET", "/rest/v1.0/jobs", headers={"Cookie": cookie})[0] == 401


def test_requests_are_counted_per_method(node_with_login: Any) -> None:
    cookie = {"Cookie": session_cookie(node_with_login)}
    for method in ("GET", "GET", "PUT", "DELETE"):
        node_with_login.request("server", method, "/rest/v1.0/projects/p", b"" if method == "PUT" else None, cookie)
    node_with_login.request("server", "HEAD", "/commanderRequest/health")
    assert node_with_login.counters()["server"]["methods"] == {"POST": 1, "GET": 2, "PUT": 1, "DELETE": 1, "HEAD": 1}
    node_with_login.control("POST", "/reset")
    assert node_with_login.counters()["server"]["methods"] == {}


def test_without_a_login_user_any_login_gets_a_session_and_nothing_wants_one(node: Any) -> None:
    assert node.request("server", "GET", "/rest/v1.0/projects")[0] == 200
    body = json.dumps({"userName": "anyone", "password": "anything"}).encode()
    status, _, answer = node.request("server", "POST", SESSIONS_PATH, body)
    assert status == 200 and json.loads(answer)["userName"] == "anyone"


@pytest.mark.parametrize("credentials,accepted", [
    ([("login", USER), ("passcode", PASSWORD)], True),
    ([("login", USER), ("passcode", "wrong")], False),
    ([], False),
], ids=["right", "wrong-passcode", "none"])
def test_stomp_connect_wants_the_login_and_passcode(
    node_with_login: Any, stomp_client: Callable[..., Any], credentials: list[tuple[str, str]], accepted: bool
) -> None:
    client = stomp_client(node_with_login.ports["stomp"])
    client.send_frame("CONNECT", [("accept-version", "1.2"), ("host", "flow"), *credentials])
    frame = client.read_frame()
    assert frame.command == ("CONNECTED" if accepted else "ERROR"), frame
    if not accepted:
        message = frame.header("message") or ""
        assert "login refused" in message and PASSWORD not in message
        client.wait_closed()


def run_node(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if key != "FLOWLB_MOCKNODE_PASSWORD"}
    environment.update(env or {}, PYTHONPATH=str(paths.package_parent()))
    command = [sys.executable, "-m", "flowlb.mocknode", "--name", "n", "--host", "127.0.0.1", "--web-port", "0",
               "--server-port", "0", "--stomp-port", "0", "--control-port", "0", *args]
    return subprocess.run(command, capture_output=True, text=True, env=environment, timeout=30, check=False)


@pytest.mark.parametrize("args", [
    ["--login-user", USER, "--login-password", "s3cret-on-argv"],
    ["--login-user", USER, "--login-pass=s3cret-on-argv"],
    ["--login-user", USER, "--login-password-f", "s3cret-on-argv"],
], ids=["full", "prefix-with-equals", "prefix-of-the-file-option"])
def test_a_password_on_the_command_line_is_refused_unread(args: list[str]) -> None:
    result = run_node(*args, env={"FLOWLB_MOCKNODE_PASSWORD": PASSWORD})
    assert result.returncode == 2
    assert "never taken from the command line" in result.stderr
    assert "s3cret-on-argv" not in result.stderr + result.stdout


def test_a_login_user_without_a_password_or_with_an_unreadable_file_is_refused(tmp_path: Path) -> None:
    result = run_node("--login-user", USER)
    assert result.returncode == 2 and "needs a password" in result.stderr
    result = run_node("--login-user", USER, "--login-password-file", str(tmp_path / "missing"))
    assert result.returncode == 2 and "No such file" in result.stderr
    empty = tmp_path / "empty"
    empty.write_text("\n")
    result = run_node("--login-user", USER, "--login-password-file", str(empty))
    assert result.returncode == 2 and "needs a password" in result.stderr


def test_the_password_file_gives_the_password(node_factory: Callable[..., Any], tmp_path: Path) -> None:
    secret = tmp_path / "password"
    secret.write_text(PASSWORD + "\n")
    node = node_factory("from-file", "--login-user", USER, "--login-password-file", str(secret))
    assert node.request("server", "POST", SESSIONS_PATH, LOGIN)[0] == 200
    assert node.request("server", "POST", SESSIONS_PATH, json.dumps({"userName": USER, "password": ""}).encode())[
        0] == 401


def test_a_session_expires_after_the_session_seconds(node_factory: Callable[..., Any], eventually: Any) -> None:
    with mock.patch.dict(os.environ, {"FLOWLB_MOCKNODE_PASSWORD": PASSWORD}):
        node = node_factory("expiring", "--login-user", USER, "--session-seconds", "0.3")
    cookie = {"Cookie": session_cookie(node)}
    assert node.request("server", "GET", "/rest/v1.0/projects", headers=cookie)[0] == 200
    eventually(lambda: node.request("server", "GET", "/rest/v1.0/projects", headers=cookie)[0] == 401,
               message="the session expiring")
    assert node.request("server", "GET", "/rest/v1.0/projects", headers={"Cookie": session_cookie(node)})[0] == 200
