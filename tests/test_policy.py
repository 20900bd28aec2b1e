"""The run's policy is read where the checks judge: a stricter policy makes a check fail a config that the
default passes.

Fails when a check still reads a constant of ``flowlb.policy`` instead of ``policy.current()``, so that an
operator's ``header_timeout_max_s = 5`` would let ``timeout http-request 10s`` through.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest

from flowlb import policy
from flowlb.checks.slowheaders import header_limit

CONFIG = """\
defaults
  mode http
  timeout connect 5s
  timeout client 30s
  timeout server 30s

frontend flow_server
  bind 127.0.0.1:18000
  timeout http-request 10s
  default_backend nodes

backend nodes
  server node1 127.0.0.1:18001 check
"""


@pytest.fixture(autouse=True)
def default_policy() -> Iterator[None]:
    yield
    policy.use(policy.Policy())


def target() -> Any:
    """What ``header_limit`` reads of a target: the config it runs and the address bound to port 8000's role."""
    return SimpleNamespace(config_text=CONFIG, layout=SimpleNamespace(binds={"server": "127.0.0.1:18000"}))


def test_the_default_policy_lets_a_10s_header_timeout_through() -> None:
    assert header_limit(target()) == (10 + policy.MARGIN_S, None)


def test_a_policy_of_5s_fails_a_10s_header_timeout_before_any_client_is_tried() -> None:
    policy.use(policy.Policy(header_timeout_max_s=5))
    limit, failure = header_limit(target())
    assert limit == 0 and failure is not None
    assert "gives a client 10 s to send its headers, more than the policy's 5 s" in failure


def test_the_policys_defaults_are_the_constants() -> None:
    rules = policy.current()
    assert rules.header_timeout_max_s == policy.HEADER_TIMEOUT_MAX_S
    assert rules.upload_max_bytes == policy.UPLOAD_MAX_BYTES and rules.web_affinity is None
