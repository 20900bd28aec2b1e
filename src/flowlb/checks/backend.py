"""One backend of the LB under test, as a check handles it: its servers and their nodes, which node to
fail, how fast HAProxy must react (from the config it runs), and HAProxy's word on each server::

    servers = backend("server")                  # the conformance fixture
    victim = servers.health_victim(1)
    limit = servers.timing(victim).down_limit_s()
    servers.marked_down_within(victim, limit)    # seconds, or the server's last state
"""

from __future__ import annotations

from dataclasses import dataclass

from flowlb.checks.health import CheckTiming, check_timing, marked_down_within
from flowlb.checks.topology import Route, failover_victim, health_victim
from flowlb.haproxy.runtime import RuntimeAPI, ServerStat
from flowlb.spec import ClusterSpec


@dataclass(frozen=True)
class Backend:
    """A backend's route (which server is which node), HAProxy's runtime API, and the config it runs."""

    route: Route
    runtime: RuntimeAPI
    config_text: str
    spec: ClusterSpec

    @property
    def name(self) -> str:
        return self.route.backend

    def server(self, node: str) -> str:
        return self.route.server(node)

    def primaries(self) -> list[str]:
        return self.route.primaries()

    def health_victim(self, index: int) -> str:
        return health_victim(self.route, index)

    def failover_victim(self, index: int) -> str:
        return failover_victim(self.route, index)

    def timing(self, node: str) -> CheckTiming:
        return check_timing(self.runtime, self.config_text, self.spec, self.name, self.server(node))

    def stat(self, node: str) -> ServerStat:
        return self.runtime.server(self.name, self.server(node))

    def marked_down_within(self, node: str, limit_s: float) -> float | ServerStat:
        return marked_down_within(self.runtime, self.name, self.server(node), limit_s)

    def expect_down(self, node: str, limit_s: float, problem: str, fix: str) -> float:
        """Seconds until HAProxy marked ``node`` DOWN; the check fails with ``problem`` and ``fix`` when it did not
        within ``limit_s``, naming the state HAProxy still reports."""
        took = self.marked_down_within(node, limit_s)
        if isinstance(took, ServerStat):
            import pytest

            pytest.fail(f"{problem}: HAProxy still has {self.name}/{took.server} {took.status} ({took.check_status}) "
                        f"after {limit_s:.1f} s. Fix: {fix}")
        return took
