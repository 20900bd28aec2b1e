"""One backend as a check handles it: nodes mapped to HAProxy's server names before every question to HAProxy.

Fails when a node's name is sent to HAProxy instead of its server's (they differ here on purpose), or when a server
that is not marked DOWN in time passes instead of failing the check with its state and the fix.
"""

from __future__ import annotations

import pytest

from flowlb.checks.backend import Backend
from flowlb.checks.topology import config_route
from flowlb.spec import load_spec
from tests.checks.configs import CAREFUL, LAYOUT
from tests.checks.fakes import ConfigRuntime

RENAMED = CAREFUL.replace("server node1 127.0.0.11:8000", "server flow-a 127.0.0.11:8000").replace(
    "server node2 127.0.0.12:8000", "server flow-b 127.0.0.12:8000")


def _backend() -> tuple[Backend, ConfigRuntime]:
    runtime = ConfigRuntime(RENAMED, fall=3, rise=2)
    return Backend(config_route(runtime, LAYOUT, "flow"), runtime, RENAMED, load_spec()), runtime


def test_questions_about_a_node_go_to_its_server() -> None:
    """Breaks if the node's name reaches HAProxy (which knows flow-a, not node1)."""
    servers, runtime = _backend()
    assert servers.name == "flow" and servers.server("node1") == "flow-a"
    assert servers.stat("node2").server == "flow-b"
    assert servers.timing("node1").inter_s == 1.0  # `inter 1s` on flow-a's line
    runtime.status[("flow", "flow-b")] = "DOWN"
    assert isinstance(servers.expect_down("node2", 1.0, "node2 stopped answering", "check it"), float)


def test_a_server_still_up_after_the_limit_fails_the_check_with_its_state() -> None:
    """Breaks if a server HAProxy still has UP passes, or the message loses the server, its state or the fix."""
    servers, _ = _backend()
    with pytest.raises(pytest.fail.Exception, match=r"node1 hung: HAProxy still has flow/flow-a UP \(L7OK\) after "
                                                    r"0\.0 s\. Fix: lower inter"):
        servers.expect_down("node1", 0.0, "node1 hung", "lower inter")
