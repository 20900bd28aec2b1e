"""The load users' login on a real Flow cluster: one session per user, opened on start and reused.

``POST /rest/v1.0/sessions`` with ``{"userName", "password"}`` answers ``sessionId`` (CloudBees CD/RO's
REST sessions API, as its Jenkins plugin and GitHub action call it). The session then travels in
the ``session`` cookie: the one the server set, which Locust's cookie jar keeps, or, when the server
set none, the cookie CloudBees' own GitHub action builds (URL-encoded JSON of user and session id).

A session the server no longer takes (401: it expired) is renewed by a new login, at most once a
second per user, so a long run outlives the server's session timeout.

A refused login stops the whole run at once with one line and exit code 2, instead of every user
trying and failing: the first login in each Locust process goes alone (REST and STOMP each), the
others wait for it; a refusal on a worker is sent to the master, which ends the run. The users
that waited stop quietly.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar
from urllib.parse import quote, urlsplit

import gevent
import gevent.lock
from locust.runners import MasterRunner, WorkerRunner

from flowlb.load.credentials import (
    PASSWORD_FILE_OPTION,
    PASSWORD_VARIABLE,
    REFUSAL_FILE_VARIABLE,
    REFUSED_EXIT_CODE,
    FlowLogin,
    login_from,
)

SESSIONS_PATH = "/rest/v1.0/sessions"
LOGIN_NAME = f"{SESSIONS_PATH} (login)"
SESSION_COOKIE = "session"
REFUSED_MESSAGE = "flowlb_run_refused"
RENEW_INTERVAL_S = 1.0  # a user logs in again at most this often (a 401 storm is not a login storm)

log = logging.getLogger("flowlb.login")
Result = TypeVar("Result")


class _Gate:
    """Per process and channel: has a login succeeded yet; and (shared) has the run been refused."""

    refused = ""

    def __init__(self) -> None:
        self.lock = gevent.lock.Semaphore()
        self.verified = False

    def first_alone(self, attempt: Callable[[], Result]) -> Result:
        """Run ``attempt``; until one succeeded, one at a time, and none once the run was refused."""
        if _Gate.refused:
            stop_quietly()
        if self.verified:
            return attempt()
        with self.lock:
            if _Gate.refused:
                stop_quietly()
            result = attempt()
            self.verified = True
            return result


REST = _Gate()
STOMP = _Gate()
_logins: dict[int, FlowLogin | None] = {}


def account(environment: Any) -> FlowLogin | None:
    """The run's account, read once per environment from the options (``ValueError`` on a bad one)."""
    key = id(environment)
    if key not in _logins:
        options = environment.parsed_options
        _logins[key] = login_from(getattr(options, "flow_user", ""), getattr(options, "flow_password_file", ""))
    return _logins[key]


def install(environment: Any) -> None:
    """``events.init``: check the account now, and let the local runner or the master end a refused run."""
    account(environment)
    runner = environment.runner
    if runner is not None and not isinstance(runner, WorkerRunner):
        runner.register_message(REFUSED_MESSAGE, _on_refused)


def _on_refused(environment: Any, msg: Any, **_: Any) -> None:
    if environment.process_exit_code == REFUSED_EXIT_CODE:
        return  # another user or worker said so already
    environment.process_exit_code = REFUSED_EXIT_CODE
    if isinstance(environment.runner, MasterRunner):
        log.error("%s", msg.data)  # the worker logged it in its own process
    gevent.spawn(environment.runner.quit)


def refuse_run(environment: Any, line: str) -> NoReturn:
    """End the run because it cannot work: one line here, exit code 2; this user idles until the run stops."""
    if not _Gate.refused:
        _Gate.refused = line
        log.error("%s", line)
        _tell_flowlb_load(line)
        if environment.runner is not None:
            environment.runner.send_message(REFUSED_MESSAGE, line)
    stop_quietly()


def _tell_flowlb_load(line: str) -> None:
    """Write the line where ``flowlb load`` looks for it (``$FLOWLB_REFUSAL_FILE``), when it runs this Locust."""
    path = os.environ.get(REFUSAL_FILE_VARIABLE)
    if path:
        with contextlib.suppress(OSError), open(path, "w", encoding="utf-8") as handle:
            handle.write(line.removeprefix("flowlb: ") + "\n")


def stop_quietly() -> NoReturn:
    """Stop this user now, quietly: Locust logs a traceback for a StopUser raised in ``on_start``, not for
    GreenletExit, which ends the user as its own stop does (``on_stop`` runs)."""
    raise gevent.GreenletExit()


def open_session(user: Any) -> dict[str, str]:
    """Log ``user`` (a FastHttpUser) in; the headers its requests carry (none when the cookie jar has the session).

    Without ``--flow-user`` there is no login and nothing to carry.
    """
    login = account(user.environment)
    if login is None:
        return {}
    user.flowlb_login_at = time.monotonic()
    return REST.first_alone(lambda: _post_login(user, login))


def renew_session(user: Any, headers: dict[str, str]) -> dict[str, str]:
    """After a 401: log ``user`` in again (at most once per ``RENEW_INTERVAL_S``); the headers to carry from now on."""
    login = account(user.environment)
    last = getattr(user, "flowlb_login_at", None)
    if login is None or last is None or time.monotonic() - last < RENEW_INTERVAL_S:
        return headers
    user.flowlb_login_at = time.monotonic()
    return _post_login(user, login)


def _post_login(user: Any, login: FlowLogin) -> dict[str, str]:
    host = user.environment.host or user.host or ""
    body = {"userName": login.user, "password": login.password}
    with user.client.post(SESSIONS_PATH, json=body, name=LOGIN_NAME, catch_response=True) as response:
        status = response.status_code
        session_id = _session_id(response.text) if status == 200 else ""
        if status == 200 and session_id:
            response.success()
        else:
            why = f"HTTP {status}" if status else f"no answer ({response.error})"
            if status == 200:
                why = "the answer carries no sessionId"
            response.failure(f"login as {login.user} failed: {why}")
            hint = (f" (check --flow-user and ${PASSWORD_VARIABLE} or {PASSWORD_FILE_OPTION})"
                    if status in (401, 403) else "")
            if not REST.verified:
                refuse_run(user.environment, f"flowlb: login as {login.user} on {host} refused: {why}{hint}")
            return {}  # a later login that fails: this user's calls fail visibly, the others carry on
    if _has_session_cookie(user.client.cookiejar, host):
        return {}
    cookie = quote(json.dumps({"username": login.user, "sessionId": session_id}, separators=(",", ":")), safe="")
    return {"Cookie": f"{SESSION_COOKIE}={cookie}"}


def _session_id(text: str | None) -> str:
    try:
        document = json.loads(text or "")
    except ValueError:
        return ""
    value = document.get("sessionId") if isinstance(document, dict) else None
    return str(value) if isinstance(value, str | int) and str(value) else ""


def _has_session_cookie(jar: Any, host: str) -> bool:
    wanted = urlsplit(host).hostname or ""
    domains = (wanted, f"{wanted}.local")
    return any(cookie.name == SESSION_COOKIE and (not wanted or cookie.domain.lstrip(".") in domains) for cookie in jar)
