"""Check `stomp/new_sessions_follow_health`: its text is its entry in flowlb/checks/catalogue.toml."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pytest

from flowlb.checks.backend import Backend
from flowlb.checks.routing import Burst, not_checked_at_layer7
from flowlb.haproxy.runtime import RuntimeAPI
from flowlb.stompclient import StompSession
from flowlb.targets.base import HealthState, NodeControl, Target

FIX = ("add `option httpchk GET /commanderRequest/health` and `http-check expect status 200` to the STOMP backend "
       "(the servers keep `check port 8000`).")

pytestmark = [pytest.mark.stomp, pytest.mark.needs_role(role="stomp")]


def test_bootstrap_node_gets_no_new_sessions(
    lb: Target,
    request: pytest.FixtureRequest,
    stomp_session: Callable[..., StompSession],
    record_property: Callable[[str, object], None],
) -> None:
    if lb.nodes() is None:
        _haproxy_side_only(request.getfixturevalue("runtime"), stomp_session, len(lb.node_names()))
    node_control: NodeControl = request.getfixturevalue("node_control")
    stomp_backend: Backend = request.getfixturevalue("stomp_backend")
    victim = stomp_backend.failover_victim(1)
    limit = stomp_backend.timing(victim).down_limit_s()
    node_control.set_health(victim, HealthState.BOOTSTRAP)
    took = stomp_backend.expect_down(
        victim, limit, f"STOMP sessions still go to {victim}, whose health URL fails (503, bootstrap mode)",
        FIX)
    record_property("stomp_bootstrap_detection_s", round(took, 2))
    placed = Counter(stomp_session().node for _ in range(2 * len(stomp_backend.primaries())))
    assert placed[victim] == 0, f"new STOMP sessions landed on {victim} while HAProxy had it DOWN: {dict(placed)}"


def _haproxy_side_only(runtime: RuntimeAPI, stomp_session: Callable[..., StompSession], nodes: int) -> None:
    """A live LB: fail when the STOMP backend's checks are not HTTP checks; skip otherwise (it needs a node in
    bootstrap mode)."""
    carriers = Burst.send(runtime, lambda i: stomp_session().close(), nodes).carriers()
    assert carriers, f"HAProxy counted the {nodes} STOMP sessions opened through the LB on no backend"
    if len(carriers) > 1:
        pytest.skip(f"inconclusive on a busy LB: {', '.join(carriers)} each grew by {nodes} or more while {nodes} "
                    "STOMP sessions were opened; other clients' traffic hides which is the STOMP backend")
    for backend in carriers:
        layer4 = not_checked_at_layer7(runtime, backend)
        assert not layer4, (
            f"HAProxy checks the STOMP servers ({backend}) with {layer4}, not an HTTP check (L7): a Flow server in "
            f"bootstrap mode (health URL 503) keeps getting new STOMP sessions. Fix: {FIX}"
        )
    pytest.skip(f"HAProxy checks every server of {', '.join(carriers)} with HTTP (L7); that a node in bootstrap mode "
                "then gets no session needs one: run it on the local or containers target (with --haproxy-cfg for your "
                "own config)")
