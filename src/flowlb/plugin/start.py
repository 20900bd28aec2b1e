"""The session's cluster, started once: a harness target (local processes or containers), the shared cluster of a
sweep, or a live LB; the run described (target, HAProxy, config); and the long waits' quiet twin of the cluster."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from flowlb import __version__
from flowlb.checks.longwaits import LongWaits
from flowlb.errors import FlowlbError, HAProxyConfigError
from flowlb.haproxy.operator import OperatorConfig
from flowlb.interrupts import deferred_signals
from flowlb.plugin.keys import KEPT_KEY, LONG_WAIT_MARK, LONG_WAITS_KEY, OPERATOR_KEY, SHARED_KEY, TARGET_KEY
from flowlb.plugin.report import REPORT_KEY, remember_config
from flowlb.spec import ClusterSpec, load_spec
from flowlb.targets.base import Target
from flowlb.targets.select import DEFAULT_TARGET, choose_target, start_target


@pytest.fixture(scope="session")
def flowlb_spec(pytestconfig: pytest.Config) -> ClusterSpec:
    """The cluster spec of this run."""
    try:
        return load_spec(pytestconfig.getoption("flowlb_spec"))
    except FlowlbError as exc:
        pytest.exit(f"flowlb: {exc}", returncode=2)


@pytest.fixture(scope="session")
def cluster_start(
    pytestconfig: pytest.Config, flowlb_spec: ClusterSpec, record_testsuite_property: Callable[[str, object], None],
    request: pytest.FixtureRequest,
) -> Iterator[Target | HAProxyConfigError]:
    """Start the cluster once: the running target, or HAProxy's refusal of the config ("does not load").

    Any other start-up failure (no target, a spec or file error, Docker trouble) ends the session
    with one line and exit code 2.
    """
    profile = pytestconfig.getoption("flowlb_profile") or flowlb_spec.profile
    cfg_path = pytestconfig.getoption("flowlb_haproxy_cfg")
    try:
        requested = pytestconfig.getoption("flowlb_target")
        shared = pytestconfig.getoption("flowlb_shared_cluster") is not None
        kind = choose_target("local" if shared and requested == DEFAULT_TARGET else requested)
        remember_config(pytestconfig, flowlb_spec, None)
        if kind == "external":
            live = _external_target(pytestconfig, flowlb_spec)
            pytestconfig.stash[TARGET_KEY] = live
            _describe_run(pytestconfig, live, None, record_testsuite_property)
            waits = _start_long_waits(request, lambda: live, owns_target=False)
            try:
                yield live
            finally:
                if waits is not None:
                    waits.close()
            return
        operator = OperatorConfig.load(Path(cfg_path), flowlb_spec) if cfg_path else None
        pytestconfig.stash[OPERATOR_KEY] = operator
        remember_config(pytestconfig, flowlb_spec, operator.text if operator is not None else None)
        target = _shared_target(pytestconfig, kind, flowlb_spec, profile, operator) or start_target(
            kind, flowlb_spec, profile, operator, pytestconfig.getoption("flowlb_haproxy_version"),
            pytestconfig.getoption("flowlb_haproxy_image"), keep=bool(pytestconfig.getoption("flowlb_keep")))
    except HAProxyConfigError as refused:
        missing = pytestconfig.stash.get(OPERATOR_KEY, None)
        if missing is not None and missing.unavailable:
            pytest.skip(f"the config cannot run on the test cluster: {'; '.join(missing.unavailable)} "
                        f"(HAProxy: {refused})")
        yield refused
        return
    except FlowlbError as exc:
        pytest.exit(f"flowlb: {exc}", returncode=2)

    pytestconfig.stash[TARGET_KEY] = target

    def twin() -> Target:
        return start_target(kind, flowlb_spec, profile, operator, pytestconfig.getoption("flowlb_haproxy_version"),
                            pytestconfig.getoption("flowlb_haproxy_image"))

    waits = None
    try:  # from the moment the cluster runs: an interrupt while it is described or its twin starts tears it down
        _describe_run(pytestconfig, target, operator, record_testsuite_property)
        waits = _start_long_waits(request, twin, owns_target=True)
        yield target
    finally:
        with deferred_signals():  # the first Ctrl-C may land in the teardown: it must not cut it short
            if waits is not None:
                waits.close()
            kept = target.keep_running() if pytestconfig.getoption("flowlb_keep") else None
            if kept is not None:
                pytestconfig.stash[KEPT_KEY] = kept  # said at the very end, where the user sees it
            else:
                target.close()


def _shared_target(
    pytestconfig: pytest.Config, kind: str, spec: ClusterSpec, profile: str, operator: OperatorConfig | None
) -> Target | None:
    """With ``--shared-cluster``, this run's config on the shared cluster; ``None`` (said why) when it does not fit."""
    ticket = pytestconfig.getoption("flowlb_shared_cluster")
    if ticket is None:
        return None
    if kind != "local":
        raise FlowlbError(f"--shared-cluster is a local cluster: it runs with --target local, not {kind}")
    from flowlb.targets.shared import attach

    attached = attach(ticket, spec, profile, operator)
    if isinstance(attached, str):
        pytestconfig.stash[SHARED_KEY] = (f"this config does not fit the shared cluster ({attached}); it got a "
                                          "cluster of its own")
        return None
    pytestconfig.stash[SHARED_KEY] = "this config ran on the shared cluster, loaded by a reload of its HAProxy"
    return attached


def _external_target(pytestconfig: pytest.Config, spec: ClusterSpec) -> Target:
    """The live LB of ``--target external``, from its options (one-line errors on bad ones)."""
    from flowlb.targets.external import ExternalTarget, refuse_unreachable

    if pytestconfig.getoption("flowlb_haproxy_cfg"):
        raise FlowlbError("--haproxy-cfg runs your config on the test cluster; with --target external the LB "
                          "already runs its own (lint the file with `flowlb lint`)")
    option = pytestconfig.getoption
    live = ExternalTarget.from_options(
        spec, option("flowlb_lb_host"), option("flowlb_lb_ports"), option("flowlb_ca_file"),
        option("flowlb_lb_name"), option("flowlb_runtime_api"), option("flowlb_stats_url"),
        option("flowlb_stats_auth"), option("flowlb_master_cli"), option("flowlb_reload_command"),
    )
    refuse_unreachable(live.host, live.ports)
    return live


def _describe_run(
    pytestconfig: pytest.Config, target: Target, operator: OperatorConfig | None,
    record_testsuite_property: Callable[[str, object], None],
) -> None:
    """What was tested, into the report, JUnit's properties and the output: the target, HAProxy and OpenSSL, the
    config and its sha256, the nodes and where each extra listener was tested."""
    listeners = {}
    rendered = target.rendered
    for listener in rendered.extra_listeners if rendered is not None else ():
        endpoint = target.extra_endpoints.get(listener.port)
        where = f"{listener.original} ({listener.section}, line {listener.line})"
        listeners[where] = f"{endpoint.host}:{endpoint.port}" if endpoint else "not published"
    disarmed = rendered.disarmed_lines() if rendered is not None else []
    build = target.haproxy_build()
    if operator is not None:
        config_path, digest = str(operator.path), hashlib.sha256(operator.text.encode()).hexdigest()
    elif target.config_text:
        config_path, digest = f"profile {target.profile}", hashlib.sha256(target.config_text.encode()).hexdigest()
        remember_config(pytestconfig, None, target.config_text, keep=True)
    else:
        config_path, digest = "the live LB's own", ""
    identity = {
        "target": target.kind, "haproxy": build.version if build else "", "openssl":
        (build.openssl_running or build.openssl_built) if build else "", "config": config_path, "config_sha256": digest,
        "flowlb": __version__, "haproxy_image": target.haproxy_image,
        "egress_fence": target.egress_fence,
    }
    for name, value in identity.items():
        record_testsuite_property(f"flowlb.{name}", value)
    report = pytestconfig.stash.get(REPORT_KEY, None)
    if report is not None:
        info = report.info
        info.nodes, info.extra_listeners, info.resolved_target = target.node_names(), listeners, target.kind
        info.disarmed = disarmed
        info.haproxy, info.openssl = identity["haproxy"], identity["openssl"]
        info.haproxy_image, info.egress_fence = identity["haproxy_image"], identity["egress_fence"]
        info.config_path, info.config_sha256 = config_path, digest
    if build is not None:
        print(f"\nflowlb: {build.line} on the {target.kind} target; config {config_path} {digest[:16]}")
    if identity["egress_fence"]:
        print(f"\nflowlb: egress fence: {identity['egress_fence']}")
    for where, address in listeners.items():
        print(f"\nflowlb: extra listener {where} is tested at {address}")


def _start_long_waits(
    request: pytest.FixtureRequest, start: Callable[[], Target], owns_target: bool
) -> LongWaits | None:
    """The session's long waits, started now when any selected check is judged from one (else ``None``)."""
    config = request.config
    waits = None
    if any(item.get_closest_marker(LONG_WAIT_MARK) for item in request.session.items):
        waits = LongWaits(start, float(config.getoption("flowlb_stomp_idle")),
                          float(config.getoption("flowlb_long_request")), config.getoption("flowlb_stomp_vhost"),
                          owns_target=owns_target)
    config.stash[LONG_WAITS_KEY] = waits
    return waits


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Checks judged from a long wait go last: by then their wait, started with the cluster, has mostly run."""
    items.sort(key=lambda item: item.get_closest_marker(LONG_WAIT_MARK) is not None)


@pytest.fixture(scope="session")
def cluster(cluster_start: Target | HAProxyConfigError) -> Target:
    """The cluster under test; every check skips when the config does not load (that check fails)."""
    if isinstance(cluster_start, HAProxyConfigError):
        pytest.skip("the config does not load (see loads/test_config_loads.py)")
    return cluster_start
