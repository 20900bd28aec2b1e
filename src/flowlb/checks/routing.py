"""Which backend an LB port routes to, and which node port its servers are on, from HAProxy's counters alone.

For a live LB in front of real Flow servers, which do not say which of their ports answered. A bounded
burst of requests goes through the port and every backend's session totals (``stot``) are compared
before and after. Other clients of a live LB can only add to the counts, so the backends that carried the
burst are those that grew by at least the whole burst; when other traffic makes two backends of
different kinds grow that much, the answer is inconclusive rather than guessed::

    burst = Burst.send(runtime, lambda i: pool.request("GET", f"/x?i={i}"), 30)
    burst.carriers()                         # ["commander-server-backend"]
    backend_kinds(runtime, "commander-server-backend", spec)   # {"server"}, or None (addresses unknown)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flowlb.errors import TargetError
from flowlb.haproxy.runtime import RuntimeAPI
from flowlb.spec import ClusterSpec


def _backend_totals(runtime: RuntimeAPI) -> dict[str, int]:
    totals: dict[str, int] = {}
    for stat in runtime.stats():
        totals[stat.backend] = totals.get(stat.backend, 0) + stat.total_sessions
    return totals


@dataclass(frozen=True)
class Burst:
    """``count`` requests sent through one port, and how much each backend's servers' session totals grew."""

    count: int
    grown: dict[str, int]

    @classmethod
    def send(cls, runtime: RuntimeAPI, send: Callable[[int], object], count: int) -> Burst:
        before = _backend_totals(runtime)
        for index in range(count):
            send(index)
        after = _backend_totals(runtime)
        return cls(count, {backend: total - before.get(backend, 0) for backend, total in after.items()})

    def carriers(self) -> list[str]:
        """The backends that grew by the whole burst or more (ours, plus whatever other clients sent)."""
        return sorted(backend for backend, grown in self.grown.items() if grown >= self.count)

    def describe(self) -> str:
        moved = {backend: grown for backend, grown in self.grown.items() if grown}
        return ", ".join(f"{backend} +{grown}" for backend, grown in sorted(moved.items())) or "no backend moved"


def backend_kinds(runtime: RuntimeAPI, backend: str, spec: ClusterSpec) -> dict[str, int] | None:
    """The node ports ``backend``'s servers are on, by kind (web, server, stomp, or ``port N`` for a port the spec
    does not name); ``None`` where HAProxy's evidence gives no server addresses (a stats page without
    ``stats show-legends``)."""
    try:
        addresses = runtime.server_addresses(backend)
    except TargetError:
        return None
    if not addresses:
        return None
    ports = spec.node_ports
    names = {ports.web: "web", ports.server: "server", ports.stomp: "stomp"}
    return {names.get(port, f"port {port}"): port for _, port in addresses.values()}


def not_checked_at_layer7(runtime: RuntimeAPI, backend: str) -> dict[str, str]:
    """The servers of ``backend`` whose last health check was not an HTTP one (``L4OK``: a bare TCP connect,
    ``""``: no check at all), with that status: such a check never sees a Flow server's 503 in bootstrap mode."""
    return {name: stat.check_status or "no check" for name, stat in runtime.servers(backend).items()
            if not stat.check_status.startswith("L7")}
