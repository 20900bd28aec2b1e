"""A client that dribbles its headers, and how long the LB may let it: the limit from the config's own header
timeout held to the policy, then the client itself against loopback servers that cut it, answer it, or never do.

Fails when a config with no header timeout, or one longer than the policy, is let through to a client; when the
limit is not the config's timeout plus the margin (the policy's own on a live LB); when a cut or an answer is not
taken as the LB's end of the client; or when an LB that never cuts passes.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from flowlb import policy
from flowlb.checks.slowheaders import FIX, header_limit, judge_header_timeout, slow_client
from flowlb.net import Endpoint
from tests.checks.configs import CAREFUL, target, without
from tests.checks.servers import raw_server

RULES = policy.Policy()


@pytest.fixture(autouse=True)
def default_policy() -> Iterator[None]:
    yield
    policy.use(policy.Policy())


def test_the_limit_is_the_configs_header_timeout_plus_the_margin() -> None:
    """Breaks if the margin is dropped or the frontend's `timeout http-request` is not the one read."""
    assert header_limit(target(CAREFUL)) == (10.0 + RULES.margin_s, None)
    assert judge_header_timeout("frontend f", 30.0, RULES) == (30.0 + RULES.margin_s, None)  # the policy's own


def test_a_live_lb_is_held_to_the_policy_itself() -> None:
    """Breaks if an unknown config (no layout, or no text) fails at once instead of being tried against the policy."""
    expected = (RULES.header_timeout_max_s + RULES.margin_s, None)
    assert header_limit(target(CAREFUL, layout=None)) == expected
    assert header_limit(target("")) == expected


def test_no_header_timeout_or_a_longer_one_fails_before_any_client_is_tried() -> None:
    """Breaks if a config with no header timeout (HAProxy waits forever) or 31 s against 30 s passes."""
    limit, failure = header_limit(target(without(CAREFUL, "timeout http-request 10s", "timeout client 30s")))
    assert limit == 0.0 and failure is not None
    assert failure.startswith("frontend plain (port 8000) sets neither `timeout http-request` nor `timeout client`")
    assert failure.endswith(FIX)
    limit, failure = judge_header_timeout("defaults", 31.0, RULES)
    assert limit == 0.0 and failure is not None and "gives a client 31 s to send its headers" in failure


def _lb(endpoint: Endpoint, header_timeout: str) -> Any:
    """A target whose port 8000 is ``endpoint`` and whose config gives clients ``header_timeout``."""
    lb = target(CAREFUL.replace("timeout http-request 10s", f"timeout http-request {header_timeout}"))
    lb.endpoints = SimpleNamespace(server=endpoint)
    return lb


@pytest.mark.parametrize(("answer", "close"), [
    (b"", True),  # HAProxy closes the connection
    (b"HTTP/1.1 408 Request Time-out\r\nContent-Length: 0\r\n\r\n", False),  # it answers 408 (and closes later)
], ids=["close", "408"])
def test_a_client_the_lb_cuts_passes(answer: bytes, close: bool) -> None:
    """Breaks if the LB's close or its 408 is not seen as the end of the slow client."""
    with raw_server(answer, close=close) as endpoint:
        took, limit, failure = slow_client(_lb(endpoint, "10s"))
    assert failure is None and limit == 10.0 + RULES.margin_s
    assert took < 2.0


def test_a_client_the_lb_never_cuts_fails_when_its_limit_is_up() -> None:
    """Breaks if an LB that keeps reading headers forever passes, or the client runs past its limit."""
    policy.use(policy.Policy(margin_s=0.0))
    with raw_server(b"", close=False, read_first=False) as endpoint:
        took, limit, failure = slow_client(_lb(endpoint, "300ms"))
    assert limit == 0.3 and took == limit
    assert failure is not None and failure.startswith("the LB still waits for the headers of a client that sent")
