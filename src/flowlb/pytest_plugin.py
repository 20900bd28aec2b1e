"""The conformance suite's pytest plugin: options, the session cluster, the per-test reset.

Loaded by ``conformance/conftest.py``. The cluster is started once per session (the expensive
part); every test gets it through the function-scoped ``lb`` fixture, which first brings it back
to its starting state (all nodes running and healthy, counters zeroed) so tests never leak state.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest
import urllib3

from flowlb.checks.topology import Route, learn_route
from flowlb.errors import FlowlbError, HAProxyConfigError
from flowlb.haproxy.operator import OperatorConfig
from flowlb.haproxy.runtime import RuntimeAPI
from flowlb.lbclient import lb_pool
from flowlb.spec import PROFILES, ClusterSpec, load_spec
from flowlb.targets.base import NodeControl, Target
from flowlb.targets.select import TARGETS, choose_target, start_target

TLS_ROLES = ("https", "server_tls", "stomp")
OPERATOR_KEY = pytest.StashKey[OperatorConfig | None]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("flowlb", "flowlb: the cluster under test")
    group.addoption(
        "--target",
        dest="flowlb_target",
        choices=TARGETS,
        default=os.environ.get("FLOWLB_TARGET", "auto"),
        help="where the cluster runs: containers (Docker), local (haproxy + processes on loopback), "
        "auto = containers when a Docker engine answers, else local [env FLOWLB_TARGET; default auto]",
    )
    group.addoption(
        "--profile",
        dest="flowlb_profile",
        choices=PROFILES,
        default=os.environ.get("FLOWLB_PROFILE"),
        help="config to render: kb (the article) or hardened [env FLOWLB_PROFILE; default: the spec's profile]",
    )
    group.addoption(
        "--spec",
        dest="flowlb_spec",
        type=Path,
        default=os.environ.get("FLOWLB_SPEC"),
        help="cluster spec (TOML) [env FLOWLB_SPEC; default fixtures/cluster.toml]",
    )
    group.addoption(
        "--haproxy-cfg",
        dest="flowlb_haproxy_cfg",
        type=Path,
        default=os.environ.get("FLOWLB_HAPROXY_CFG"),
        help="run YOUR haproxy.cfg instead of a generated profile: its binds, server addresses and certificate "
        "paths are mapped onto the test cluster, everything else runs as written [env FLOWLB_HAPROXY_CFG]",
    )
    group.addoption(
        "--keep-cluster",
        dest="flowlb_keep",
        action="store_true",
        help="leave the cluster running after the session (containers target) and print how to reach it",
    )


def pytest_configure(config: pytest.Config) -> None:
    # SIGTERM (CI cancelling a job) runs the same teardown as Ctrl-C: no containers left behind.
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _raise_interrupt)


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@pytest.fixture(scope="session")
def flowlb_spec(pytestconfig: pytest.Config) -> ClusterSpec:
    """The cluster spec of this run."""
    try:
        return load_spec(pytestconfig.getoption("flowlb_spec"))
    except FlowlbError as exc:
        pytest.exit(f"flowlb: {exc}", returncode=2)


@pytest.fixture(scope="session")
def cluster_start(pytestconfig: pytest.Config, flowlb_spec: ClusterSpec) -> Iterator[Target | HAProxyConfigError]:
    """Start the cluster once: the running target, or HAProxy's refusal of the config ("does not load").

    Any other start-up failure (no target, a spec or file error, Docker trouble) ends the session
    with one line and exit code 2.
    """
    profile = pytestconfig.getoption("flowlb_profile") or flowlb_spec.profile
    cfg_path = pytestconfig.getoption("flowlb_haproxy_cfg")
    try:
        kind = choose_target(pytestconfig.getoption("flowlb_target"))
        operator = OperatorConfig.load(Path(cfg_path), flowlb_spec) if cfg_path else None
        pytestconfig.stash[OPERATOR_KEY] = operator
        target = start_target(kind, flowlb_spec, profile, operator)
    except HAProxyConfigError as refused:
        yield refused
        return
    except FlowlbError as exc:
        pytest.exit(f"flowlb: {exc}", returncode=2)
    try:
        yield target
    finally:
        if pytestconfig.getoption("flowlb_keep") and target.kind == "containers":
            roles = ", ".join(f"{role}={e.host}:{e.port}" for role, e in target.endpoints.by_role().items())
            print(f"\nflowlb: cluster kept: {roles}; remove with: docker rm -f $(docker ps -aq --filter label=flowlb)")
        else:
            target.close()


@pytest.fixture(scope="session")
def cluster(cluster_start: Target | HAProxyConfigError) -> Target:
    """The cluster under test; every check skips when the config does not load (that check fails)."""
    if isinstance(cluster_start, HAProxyConfigError):
        pytest.skip("the config does not load (see loads/test_config_loads.py)")
    return cluster_start


@pytest.fixture
def lb(cluster: Target) -> Target:
    """The cluster, reset to its starting state for this test."""
    cluster.reset()
    return cluster


@pytest.fixture
def node_control(lb: Target) -> NodeControl:
    """Control of the Flow nodes; checks that need it skip where the nodes are not ours."""
    control = lb.nodes()
    if control is None:
        pytest.skip("needs control of the Flow nodes, which this target does not offer")
    return control


@pytest.fixture
def runtime(lb: Target) -> RuntimeAPI:
    """HAProxy's runtime API; checks that need HAProxy's own evidence skip without it."""
    api = lb.evidence()
    if api is None:
        pytest.skip("needs HAProxy's runtime API (or stats), which this target does not offer")
    return api


@pytest.fixture(scope="session")
def _routes() -> dict[str, Route]:
    return {}


@pytest.fixture
def route(
    lb: Target, runtime: RuntimeAPI, http: Callable[..., urllib3.HTTPConnectionPool], _routes: dict[str, Route]
) -> Callable[[str], Route]:
    """``route("server")``: the HAProxy backend behind an HTTP role and each node's server name in it."""

    def learn(role: str) -> Route:
        if role not in _routes:
            try:
                _routes[role] = learn_route(runtime, http(role), lb.node_names())
            except FlowlbError as exc:
                pytest.fail(str(exc))
        return _routes[role]

    return learn


@pytest.fixture
def http(lb: Target) -> Iterator[Callable[..., urllib3.HTTPConnectionPool]]:
    """``http("server_tls")``: a keep-alive pool to an LB role, TLS verified against the run's CA."""
    pools: list[urllib3.HTTPConnectionPool] = []

    def make(role: str, **kwargs: Any) -> urllib3.HTTPConnectionPool:
        tls = role in TLS_ROLES
        pool = lb_pool(
            lb.endpoints.by_role()[role], tls=tls, ca_file=lb.ca_file, server_name=lb.endpoints.server_name, **kwargs
        )
        pools.append(pool)
        return pool

    yield make
    for pool in pools:
        pool.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    """On a failed check against an operator's config, show the lines the harness rewrote."""
    outcome = yield
    report = outcome.get_result()
    operator = item.config.stash.get(OPERATOR_KEY, None)
    if report.failed and call.when == "call" and operator is not None and operator.last is not None:
        report.sections.append(
            (f"flowlb: lines of {operator.path} rewritten for the test cluster", operator.last.relevant_lines())
        )


def pytest_report_header(config: pytest.Config) -> str:
    return (
        f"flowlb: target={config.getoption('flowlb_target')} "
        f"profile={config.getoption('flowlb_profile') or '(spec)'} spec={config.getoption('flowlb_spec') or 'default'}"
    )
