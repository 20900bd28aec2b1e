"""The clients a check talks to the LB with: HTTP pools and STOMP sessions through its roles (TLS verified against
the run's CA, each closed after the check, bounded), and the HAProxy backend behind a role, learned once a run."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import urllib3

from flowlb.checks.backend import Backend
from flowlb.checks.topology import Route, config_route, http_exchange, learn_backend
from flowlb.errors import FlowlbError
from flowlb.haproxy.runtime import RuntimeAPI
from flowlb.interrupts import within
from flowlb.lbclient import lb_pool
from flowlb.plugin.fixtures import ON_HARNESS
from flowlb.spec import TLS_ROLES, ClusterSpec
from flowlb.stompclient import StompError, StompSession, open_session
from flowlb.targets.base import Target

CLOSE_WITHIN_S = 10.0  # a check's HTTP pools close within this, even when an interrupt left a pool's lock held


@pytest.fixture(scope="session")
def _routes() -> dict[str, Route]:
    return {}


@pytest.fixture
def backend(
    lb: Target, runtime: RuntimeAPI, http: Callable[..., urllib3.HTTPConnectionPool], _routes: dict[str, Route],
    flowlb_spec: ClusterSpec,
) -> Callable[[str], Backend]:
    """``backend("server")``: the HAProxy backend behind an HTTP role, its servers' nodes, their check timing."""
    if not lb.echoes():
        pytest.skip(f"needs to know which node answered (flowlb's mock nodes name themselves); real Flow servers "
                    f"do not: {ON_HARNESS}")

    def learn(role: str) -> Backend:
        if role not in _routes:
            _routes[role] = _route(lb, runtime, http_exchange(http(role)))
        return Backend(_routes[role], runtime, lb.config_text, flowlb_spec)

    return learn


def _route(lb: Target, runtime: RuntimeAPI, one_exchange: Callable[[int], object]) -> Route:
    """The backend behind an LB role (learned from HAProxy's counters) and its servers' nodes (from the config)."""
    layout = lb.layout
    if layout is None or not lb.config_text:
        pytest.skip(f"needs the config HAProxy runs, to know which server is which node: {ON_HARNESS}")
    try:
        return config_route(runtime, layout, learn_backend(runtime, one_exchange))
    except FlowlbError as exc:
        pytest.fail(str(exc))


@pytest.fixture
def stomp_session(lb: Target, pytestconfig: pytest.Config) -> Iterator[Callable[..., StompSession]]:
    """``stomp_session()``: a STOMP session through the LB's 61613, TLS verified against the run's CA."""
    sessions: list[StompSession] = []

    def open_one(**kwargs: Any) -> StompSession:
        try:
            kwargs.setdefault("vhost", pytestconfig.getoption("flowlb_stomp_vhost"))
            kwargs.setdefault("server_name", lb.endpoints.server_name)
            session = open_session(lb.endpoints.stomp, lb.ca_file, **kwargs)
        except StompError as exc:
            pytest.fail(f"no STOMP session through the LB: {exc}")
        sessions.append(session)
        return session

    yield open_one
    for session in sessions:
        session.close()  # each bounded (StompSession.close)


@pytest.fixture
def stomp_backend(
    lb: Target, runtime: RuntimeAPI, stomp_session: Callable[..., StompSession], _routes: dict[str, Route],
    flowlb_spec: ClusterSpec,
) -> Backend:
    """The HAProxy backend behind 61613, its servers' nodes and their check timing."""
    if not lb.echoes():
        pytest.skip(f"needs to know which node took a STOMP session (the mock names itself in CONNECTED): "
                    f"{ON_HARNESS}")
    if "stomp" not in _routes:

        def one_session(index: int) -> None:
            stomp_session().close()

        _routes["stomp"] = _route(lb, runtime, one_session)
    return Backend(_routes["stomp"], runtime, lb.config_text, flowlb_spec)


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

    def close_all() -> None:
        for pool in pools:
            pool.close()

    within(CLOSE_WITHIN_S, close_all, "closing the connections to the LB")
