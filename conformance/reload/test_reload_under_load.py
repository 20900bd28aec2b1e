"""Check `reload/reload_under_load`: its text is its entry in flowlb/checks/catalogue.toml."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
import urllib3

from flowlb import policy
from flowlb.checks.applies import does_not_apply
from flowlb.checks.backend import Backend
from flowlb.checks.counters import measure_spread
from flowlb.checks.settings import section_for_role
from flowlb.checks.stream import RequestStream
from flowlb.haproxy.config import parse_time_s, parsed
from flowlb.haproxy.runtime import RuntimeAPI
from flowlb.interrupts import deferred_signals
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
SESSION_FIX = "Fix: `hard-stop-after 1h` (or longer than your longest session), or none."


def _hard_stop_allows_sessions(config_text: str) -> None:
    """Fails from the config alone when `hard-stop-after` cuts sessions too soon, yet too late to observe here."""
    lines = [line for section in parsed(config_text).of_kind("global")
             for line in section.own("hard-stop-after")]
    hard_stop = parse_time_s(lines[-1].value(1)) if lines else None
    rules = policy.current()
    if hard_stop is not None and rules.reload_observe_s < hard_stop < rules.reload_sessions_min_s:
        pytest.fail(f"`hard-stop-after {hard_stop:g}s` ends every STOMP session at each reload after {hard_stop:g} s, "
                    f"less than the policy's {rules.reload_sessions_min_s:g} s: waitForJob sessions are cut in each "
                    f"change window. {SESSION_FIX}")


def _with_header(lb: Target, token: str) -> str | None:
    """The running config with a response header added to the 8443 frontend; ``None`` when it is not ours."""
    layout = lb.layout
    front = section_for_role(lb.config_text, layout, "server_tls") if layout and lb.config_text else None
    if front is None:
        return None
    lines = lb.config_text.splitlines()
    lines.insert(front.own("bind")[0].number, f"  http-after-response set-header {HEADER} {token}")
    return "\n".join(lines) + "\n"


def _sessions_still_work(sessions: list[StompSession]) -> None:
    for session in sessions:
        try:
            session.send_with_receipt("/queue/flowlb.reload", b"after the reload")
        except Exception as exc:  # noqa: BLE001 - stomp.py raises its own on a closed connection
            observe_s = policy.current().reload_observe_s
            pytest.fail(f"a STOMP session open before the reload broke {observe_s:g} s after it "
                        f"({type(exc).__name__}): waitForJob sessions are cut in every change window. {SESSION_FIX}")


def _down_candidate(lb: Target, request: pytest.FixtureRequest, up: list[str]) -> tuple[Backend | None, str | None]:
    """On a test cluster with three servers or more, the node behind the second-last UP server, to put DOWN."""
    if lb.nodes() is None or not lb.echoes() or len(up) < 3:
        return None, None
    servers: Backend = request.getfixturevalue("backend")("server_tls")
    return servers, next((node for node in servers.primaries() if servers.server(node) == up[-2]), None)


def _put_down(lb: Target, servers: Backend | None, node: str | None) -> str | None:
    """Put ``node`` into bootstrap mode and return it once HAProxy has it DOWN; ``None`` when its health checks
    never take it out (the health checks fail for that): the reload is then tested with a drained server only."""
    control = lb.nodes()
    if servers is None or node is None or control is None:
        return None
    control.set_health(node, HealthState.BOOTSTRAP)
    if isinstance(servers.marked_down_within(node, servers.timing(node).down_limit_s()), float):
        return node
    control.set_health(node, HealthState.HEALTHY)
    print(f"{node} in bootstrap mode was not marked DOWN: the reload is tested with a drained server only")
    return None


@pytest.mark.usefixtures("destructive")
@pytest.mark.needs_role(role="stomp")
@pytest.mark.needs_role(role="server_tls", layer="tls")
def test_reload_under_load_keeps_requests_sessions_and_server_states(
    lb: Target, runtime: RuntimeAPI, http: Callable[..., urllib3.HTTPConnectionPool],
    stomp_session: Callable[..., StompSession], request: pytest.FixtureRequest,
    record_property: Callable[[str, object], None],
) -> None:
    if not lb.can_reload():
        pytest.skip("needs a way to reload HAProxy: on a live LB, --runtime-api with --master-cli or --reload-command")
    pool = http("server_tls")
    spread = measure_spread(runtime, lambda i: pool.request("GET", f"/flowlb/reload?i={i}"), 20)
    up = sorted(spread.up)
    if len(up) < 2:
        does_not_apply(f"{spread.backend} has one UP server: draining it leaves none to serve")
    _hard_stop_allows_sessions(lb.config_text)
    backend, drained = spread.backend, up[-1]
    servers, down = _down_candidate(lb, request, up)
    token = uuid.uuid4().hex[:12]
    original, changed = lb.config_text, _with_header(lb, token)
    # opened before a node goes DOWN, so that no session races its STOMP checks; those on it are rightly cut
    sessions = [stomp_session(heartbeats=(0, 0)) for _ in range(2 * len(up))]
    runtime.set_state(backend, drained, "maint")
    # the node put into bootstrap mode: the STOMP backend may take it out (and rightly cut its sessions) even when
    # the server backend never does (it checks another URL), so its sessions are never the reload's to keep
    bootstrapped = down
    try:
        down = _put_down(lb, servers, down)
        stream = RequestStream(lambda: http("server_tls", timeout=urllib3.Timeout(connect=5.0, read=10.0)),
                               "/flowlb/reload", workers=4, max_seconds=60, retries=CLIENT_RETRY)
        with stream:
            wait_until(lambda: stream.count() >= 50, 10, "the request stream running",
                       seen=lambda: f"{stream.count()} requests")
            if changed is not None:
                lb.replace_config(changed)
            reloaded_at = stream.now()
            took = lb.reload(30)
            after = reloaded_at + took + policy.current().reload_observe_s
            wait_until(lambda: stream.now() > after, 30, "the stream after")
        failures = stream.failures()
        # the new worker's counters start at zero: whatever a kept-out server counts, it got after the reload
        out = {name: runtime.server(backend, name) for name in (drained, servers.server(down) if servers and down
                                                                  else None) if name}
        strays = {name: stat.total_sessions for name, stat in out.items() if stat.total_sessions}
        record_property("reload_s", round(took, 2))
        record_property("reload_requests", stream.count())
        record_property("reload_failed_requests", len(failures))
        print(f"reload took {took:.2f} s; {len(failures)} of {stream.count()} requests failed; the new worker sent "
              f"{sum(strays.values())} to servers kept out ({', '.join(out)})")
        assert not failures, (
            f"{len(failures)} of {stream.count()} GETs on 8443 failed around a reload (first: "
            f"{failures[0].error or failures[0].status} at {failures[0].started:.2f} s, reload at "
            f"{reloaded_at:.2f} s). Fix: reload with the master CLI or SIGUSR2 (master-worker mode, `-W`), never by "
            "restarting."
        )
        assert not strays, (
            f"after the reload HAProxy sent requests to {backend}/" + ", ".join(f"{k} ({v})" for k, v in strays.items())
            + ", which were drained into maintenance or DOWN before it: the reload brought them back UP. " + STATE_FIX
        )
        assert out[drained].status.upper().startswith("MAINT"), (
            f"{backend}/{drained} was in maintenance before the reload and is {out[drained].status} after it. "
            + STATE_FIX
        )
        if changed is not None:
            reply = http("server_tls").request("GET", "/flowlb/reload-check")
            assert reply.headers.get(HEADER) == token, "the reloaded config did not take effect on 8443"
        _sessions_still_work([session for session in sessions if bootstrapped is None or session.node != bootstrapped])
    finally:
        with deferred_signals():  # a second Ctrl-C must not leave the server in MAINT
            runtime.set_state(backend, drained, "ready")
        if down is not None:
            lb.nodes().set_health(down, HealthState.HEALTHY)  # type: ignore[union-attr]
        if lb.config_text != original:
            lb.replace_config(original)
            lb.reload(30)  # the restored states are dumped first, or the next worker brings back the drained one
