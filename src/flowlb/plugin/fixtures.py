"""What a check asks of the cluster: ``lb`` (reset for it), node control, HAProxy's evidence, the start-of-run
probe and the ``needs_role`` mark it feeds, the long waits' outcomes; a check skips, saying why, where the target
does not offer what it needs."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import TypeVar

import pytest
import urllib3

from flowlb.checks import catalogue
from flowlb.checks.backend import Backend
from flowlb.checks.drill import Drill
from flowlb.checks.longwaits import WaitOutcome
from flowlb.haproxy.remap import ExtraListener
from flowlb.haproxy.runtime import RuntimeAPI, StatsPage
from flowlb.plugin.keys import LONG_WAITS_KEY, NEEDS_ROLE_MARK
from flowlb.plugin.options import parse_management_networks
from flowlb.preflight import SESSION, RoleState, probe, why_dead
from flowlb.targets.base import NodeControl, Target

T = TypeVar("T")


@pytest.fixture
def lb(cluster: Target, request: pytest.FixtureRequest) -> Target:
    """The cluster, reset to its starting state for this test; a check of how servers are health-checked skips
    when the harness could not keep the config's health checks (an ``external-check`` it does not run)."""
    changed = cluster.rendered.health_checks_changed if cluster.rendered is not None else ""
    if changed and catalogue.by_file(request.node.nodeid) in catalogue.checks_showing("FLOW003"):
        pytest.skip(changed)
    cluster.reset()
    return cluster


@pytest.fixture(scope="session")
def preflight(cluster: Target, pytestconfig: pytest.Config) -> dict[str, RoleState]:
    """What each TLS port answered at the start of the run (a TLS handshake; a STOMP session on 61613)."""
    return probe(cluster.endpoints, cluster.ca_file, pytestconfig.getoption("flowlb_stomp_vhost"))


@pytest.fixture(autouse=True)
def _needs_live_role(request: pytest.FixtureRequest) -> None:
    """A check marked ``needs_role`` fails at set-up, naming why, when the start-of-run probe found its port
    dead, instead of waiting out its own timeouts (plain STOMP on 61613 cost some twenty of them)."""
    params = getattr(request.node, "callspec", None)
    for marker in request.node.iter_markers(NEEDS_ROLE_MARK):
        role = marker.kwargs.get("role") or (params.params.get(marker.kwargs["param"]) if params else None)
        if role is None:
            continue
        states: dict[str, RoleState] = request.getfixturevalue("preflight")
        why = why_dead(states, role, marker.kwargs.get("layer", SESSION))
        if why:
            pytest.fail(f"{why}. This check needs that port working; the smoke check smoke/every_port_answers names "
                        f"the same failure. Fix the port first.", pytrace=False)


@pytest.fixture
def extra_listeners(lb: Target, pytestconfig: pytest.Config) -> list[ExtraListener]:
    """The operator config's binds outside the five LB roles (stats listeners, exporters), as mapped."""
    return list(lb.rendered.extra_listeners) if lb.rendered is not None else []


@pytest.fixture(scope="session")
def management_networks(pytestconfig: pytest.Config) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """``--management-networks`` parsed (checked when the run starts)."""
    return parse_management_networks(pytestconfig)


ON_HARNESS = "run it on the local or containers target (with --haproxy-cfg for your own config)"
"""What lets a check that needs flowlb's own nodes run: the skip message on a live LB says so."""


def _offered(thing: T | None, missing: str, remedy: str = ON_HARNESS) -> T:
    """``thing``, or a skip saying what the check needs that this target does not offer, and what would."""
    if thing is None:
        pytest.skip(f"needs {missing}, which this target does not offer: {remedy}")
    return thing


@pytest.fixture
def node_control(lb: Target) -> NodeControl:
    """Control of the Flow nodes; checks that need it skip where the nodes are not ours."""
    return _offered(lb.nodes(), "control of the Flow nodes")


@pytest.fixture
def drill(
    node_control: NodeControl,
    backend: Callable[[str], Backend],
    http: Callable[..., urllib3.HTTPConnectionPool],
    record_property: Callable[[str, object], None],
) -> Drill:
    """Everything a check that fails a node works with (see :class:`flowlb.checks.drill.Drill`)."""
    return Drill(node_control, backend, http, record_property)


@pytest.fixture
def node_echo(lb: Target) -> None:
    """Checks that read what reached the node (the mock's echo) skip where the nodes are real Flow servers."""
    if not lb.echoes():
        pytest.skip(f"needs nodes that echo what reached them (flowlb's mock nodes); this LB fronts real servers: "
                    f"{ON_HARNESS}")


@pytest.fixture
def destructive(pytestconfig: pytest.Config, lb: Target) -> None:
    """Checks that change HAProxy's state run on harness targets, and on a live LB only with --destructive."""
    if lb.kind == "external" and not pytestconfig.getoption("flowlb_destructive"):
        pytest.skip("changes server state on the live LB: opt in with --destructive (it is always restored)")
    if isinstance(lb.evidence(), StatsPage):
        pytest.skip("changes server state through HAProxy's runtime API: give --runtime-api (a stats page only reads)")


@pytest.fixture
def runtime(lb: Target) -> RuntimeAPI:
    """HAProxy's runtime API; checks that need HAProxy's own evidence skip without it."""
    return _offered(lb.evidence(), "HAProxy's counters", "give --runtime-api (or --stats-url)")


@pytest.fixture
def long_wait(cluster: Target, pytestconfig: pytest.Config) -> Callable[[str], WaitOutcome]:
    """``long_wait("stomp_idle")``: the outcome of a long wait that ran alongside the other checks."""
    waits = pytestconfig.stash.get(LONG_WAITS_KEY, None)
    if waits is None:
        pytest.fail("the long waits were not started (the check lacks its long_wait mark)")

    def outcome(name: str) -> WaitOutcome:
        result = waits.outcome(name)
        if result.skipped:
            pytest.skip(result.skipped)
        return result

    return outcome
