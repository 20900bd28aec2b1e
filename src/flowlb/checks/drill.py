"""What a check that makes a node fail works with, in one place: the nodes' control, the backend behind
each role, clients through the LB, and the report's figures::

    def test_hung_node(drill: Drill) -> None:
        servers = drill.backend("server_tls")
        drill.nodes.hang(servers.failover_victim(1))
        drill.record("hang_detection_s", 4.5)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import urllib3

from flowlb.checks.backend import Backend
from flowlb.targets.base import NodeControl


@dataclass(frozen=True)
class Drill:
    """Control of the Flow nodes, the backends behind the LB's roles, HTTP clients, the run's figures."""

    nodes: NodeControl
    backend: Callable[[str], Backend]
    http: Callable[..., urllib3.HTTPConnectionPool]
    record: Callable[[str, object], None]
