"""Reload under load: a change-window reload loses no request, keeps STOMP sessions and server states.

Operators change the LB by reloading HAProxy the way its service does (master-worker mode, the
master CLI's `reload`, which SIGUSR2 also triggers). While requests stream on 8443 and STOMP
sessions are open, one Flow server is drained into maintenance through the runtime API and another
is DOWN (its health URL answers 503, bootstrap mode); the server state is dumped where the config
reloads it from (`server-state-file`), a header is added to the config, and HAProxy is reloaded.
Then: no idempotent request fails (each is sent once more when its keep-alive connection closes
under it, as HTTP clients do); neither server gets a request after the reload (a reload
without kept state brings every server back UP, and a node in bootstrap mode gets traffic until it
is detected again); the new config answers; and the STOMP sessions still carry messages
``policy.RELOAD_OBSERVE_S`` later (old workers keep them up to `hard-stop-after`, which the policy
wants at least ``policy.RELOAD_SESSIONS_MIN_S``). Everything is put back. Fails with
`hard-stop-after 1s` or without `load-server-state-from-file`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
import urllib3

from flowlb import policy
from flowlb.checks.drill import Drill
from flowlb.checks.settings import section_for_role
from flowlb.checks.stream import RequestStream
from flowlb.haproxy.config import HAProxyConfig, parse_time_s
from flowlb.haproxy.reload import reload_and_wait
from flowlb.haproxy.runtime import RuntimeAPI
from flowlb.net import wait_until
from flowlb.node_contract import HealthState
from flowlb.stompclient import StompSession
from flowlb.targets.base import Target

HEADER = "X-Flowlb-Reload"
# As HTTP clients do (RFC 9110 9.2.2), a GET whose keep-alive connection is closed under it is sent once more: the
# old worker closes its idle connections at a reload, and a request may cross that close on the wire.
CLIENT_RETRY = urllib3.Retry(total=1, connect=1, read=1, status=0, redirect=0, other=0)
STATE_FIX = ("Fix: `server-state-file /var/lib/haproxy/server-state` in global, `load-server-state-from-file global` "
             "in defaults, and dump `show servers state` into that file before each reload.")


def _hard_stop_after_s(config_text: str) -> float | None:
    lines = [line for section in HAProxyConfig.parse(config_text).of_kind("global")
             for line in section.own("hard-stop-after")]
    return parse_time_s(lines[-1].value(1)) if lines else None


def _with_header(lb: Target, token: str) -> str | None:
    """The running config with a response header added to the 8443 frontend; ``None`` when it cannot be told."""
    layout = getattr(lb, "layout", None)
    front = section_for_role(lb.config_text, layout, "server_tls") if layout and lb.config_text else None
    if front is None:
        return None
    lines = lb.config_text.splitlines()
    bind = front.own("bind")[0].number  # 1-based: insert right after it
    lines.insert(bind, f"  http-after-response set-header {HEADER} {token}")
    return "\n".join(lines) + "\n"


def _hard_stop_allows_sessions(config_text: str) -> None:
    """Fails from the config alone when `hard-stop-after` cuts sessions too soon, yet too late to observe here."""
    hard_stop = _hard_stop_after_s(config_text)
    if hard_stop is not None and policy.RELOAD_OBSERVE_S < hard_stop < policy.RELOAD_SESSIONS_MIN_S:
        pytest.fail(f"`hard-stop-after {hard_stop:g}s` ends every STOMP session at each reload after {hard_stop:g} s, "
                    f"less than the policy's {policy.RELOAD_SESSIONS_MIN_S:g} s: waitForJob sessions are cut in each "
                    "change window. Fix: `hard-stop-after 1h` (or longer than your longest session).")


def _sessions_still_work(sessions: list[StompSession]) -> None:
    for session in sessions:
        try:
            session.send_with_receipt("/queue/flowlb.reload", b"after the reload")
        except Exception as exc:  # noqa: BLE001 - stomp.py raises its own on a closed connection
            pytest.fail(f"a STOMP session open before the reload broke {policy.RELOAD_OBSERVE_S:g} s after it "
                        f"({exc}): waitForJob sessions are cut in every change window. Fix: `hard-stop-after 1h` "
                        "(or longer than your longest session), or none.")


@pytest.mark.usefixtures("destructive")
def test_reload_under_load_keeps_requests_sessions_and_server_states(
    lb: Target, drill: Drill, runtime: RuntimeAPI, stomp_session: Callable[..., StompSession],
) -> None:
    master = lb.master()
    if master is None:
        pytest.skip("needs HAProxy's master CLI (master-worker mode) to reload it as its service does")
    servers = drill.backend("server_tls")
    nodes = servers.primaries()
    if len(nodes) < 2:
        pytest.skip(f"{servers.name} has one primary server: draining it leaves none to serve")
    _hard_stop_allows_sessions(lb.config_text)
    drained = nodes[-1]
    down = nodes[-2] if len(nodes) >= 3 else None  # with two servers, one drained leaves one to serve
    original = lb.config_text
    token = uuid.uuid4().hex[:12]
    changed = _with_header(lb, token)
    runtime.set_state(servers.name, servers.server(drained), "maint")
    # opened before a node goes DOWN, so that no session races its STOMP checks; those on it are rightly cut
    sessions = [stomp_session(heartbeats=(0, 0)) for _ in range(2 * len(nodes))]
    try:
        if down is not None:
            drill.nodes.set_health(down, HealthState.BOOTSTRAP)
            servers.expect_down(down, servers.timing(down).down_limit_s(), f"{down} answers its health URL with 503",
                                "an HTTP health check that expects 200")
        stream = RequestStream(lambda: drill.http("server_tls", timeout=urllib3.Timeout(connect=5.0, read=10.0)),
                               "/flowlb/reload", workers=4, max_seconds=60, retries=CLIENT_RETRY)
        with stream:
            wait_until(lambda: stream.count() >= 50, 10, "the request stream running")
            if changed is not None:
                lb.replace_config(changed)
            kept_state = lb.save_server_state()
            reloaded_at = stream.now()
            took = reload_and_wait(master, runtime, 30)
            wait_until(lambda: stream.now() > reloaded_at + took + policy.RELOAD_OBSERVE_S, 30, "the stream after")
        drill.record("reload_s", round(took, 2))
        failures = stream.failures()
        after = [o for o in stream.snapshot() if o.started > reloaded_at + took]
        strays = [o for o in after if o.node in (drained, down)]
        drill.record("reload_requests", stream.count())
        drill.record("reload_failed_requests", len(failures))
        print(f"reload took {took:.2f} s; {len(failures)} of {stream.count()} requests failed; "
              f"{len(strays)} of {len(after)} after it reached {drained} (drained) or {down or 'no'} (DOWN)")
        assert not failures, (
            f"{len(failures)} of {stream.count()} GETs on 8443 failed around a reload (first: "
            f"{failures[0].error or failures[0].status} at {failures[0].started:.2f} s, reload at "
            f"{reloaded_at:.2f} s). "
            "Fix: reload with the master CLI or SIGUSR2 (master-worker mode, `-W`), never by restarting."
        )
        assert not strays, (
            f"after the reload {len(strays)} requests reached {drained} (drained into maintenance)"
            f"{f' or {down} (DOWN, its health URL answers 503)' if down else ''}"
            f"{'' if kept_state else ': the config keeps no server state'}: a reload "
            f"brought them back UP. {STATE_FIX}"
        )
        assert runtime.server(servers.name, servers.server(drained)).status.upper().startswith("MAINT"), (
            f"{servers.name}/{servers.server(drained)} was in maintenance before the reload and is not after it. "
            f"{STATE_FIX}"
        )
        if changed is not None:
            reply = drill.http("server_tls").request("GET", "/flowlb/reload-check")
            assert reply.headers.get(HEADER) == token, "the reloaded config did not take effect on 8443"
        _sessions_still_work([session for session in sessions if session.node != down])
    finally:
        runtime.set_state(servers.name, servers.server(drained), "ready")
        if down is not None:
            drill.nodes.set_health(down, HealthState.HEALTHY)
        if lb.config_text != original:
            lb.replace_config(original)
            lb.save_server_state()  # the restored states, or the next worker brings back the drained one
            reload_and_wait(master, runtime, 30)
