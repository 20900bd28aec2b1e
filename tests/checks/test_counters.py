"""How a backend spread the requests it took, from HAProxy's session totals before and after.

Fails when the backend is not the one whose totals grew most, growth is read as totals (old sessions counted), a
backup or DOWN server counts among the UP primaries, or a run where nothing was counted passes as a spread.
"""

from __future__ import annotations

import pytest

from flowlb.checks.counters import Spread, measure_spread
from flowlb.errors import FlowlbError
from tests.checks.configs import CAREFUL
from tests.checks.fakes import ConfigRuntime

WITH_BACKUP = CAREFUL.replace("  server node2 127.0.0.12:8000 check\n",
                              "  server node2 127.0.0.12:8000 check\n  server node3 127.0.0.13:8000 check backup\n")


def test_the_spread_is_the_growth_of_the_backend_that_took_the_requests() -> None:
    """Breaks if earlier sessions count, another backend's growth wins, or backups/DOWN servers are called up."""
    runtime = ConfigRuntime(WITH_BACKUP)
    runtime.count("flow", "node1", 100)  # sessions from before the measure
    runtime.status[("flow", "node2")] = "DOWN"
    targets = ["node1", "node1", "node2", "node3"]

    def send(index: int) -> None:
        runtime.count("flow", targets[index])
        if index == 0:
            runtime.count("stomp_nodes", "node1")  # another backend moves a little at the same time

    spread = measure_spread(runtime, send, len(targets))
    assert spread == Spread("flow", {"node1": 2, "node2": 1, "node3": 1}, up=["node1"])
    assert spread.total() == 4


def test_nothing_counted_is_an_error_not_a_spread() -> None:
    """Breaks if requests no server counted (a port routed nowhere) yield an empty spread."""
    with pytest.raises(FlowlbError, match="counted none of the 3 requests"):
        measure_spread(ConfigRuntime(CAREFUL), lambda index: None, 3)


def test_a_haproxy_without_servers_is_an_error() -> None:
    """Breaks if an HAProxy with no servers at all is judged as a spread over nothing."""
    with pytest.raises(FlowlbError, match="no servers at all"):
        measure_spread(ConfigRuntime("frontend f\n  bind 127.0.0.1:1\n"), lambda index: None, 1)
