"""How fast HAProxy must react to a failing server, from the config's own check timing.

The limits the health and failover checks enforce, in one place:

* marked DOWN within ``inter x fall``, plus one interval (the phase of the check timer) and 1 s;
* when the check itself hangs, each of the ``fall`` checks may wait out its timeout too, so
  ``2 x inter x fall`` plus the same margin;
* back UP within ``inter x rise``, plus the same margin.
"""

from __future__ import annotations

from dataclasses import dataclass

from flowlb.haproxy.runtime import RuntimeAPI, ServerStat, wait_until
from flowlb.haproxy.timing import check_interval_s
from flowlb.spec import ClusterSpec

TOLERANCE_S = 1.0


@dataclass(frozen=True)
class CheckTiming:
    """One server's check timing: ``inter`` (seconds), ``fall`` and ``rise``."""

    inter_s: float
    fall: int
    rise: int

    def down_limit_s(self, check_hangs: bool = False) -> float:
        per_check = 2 * self.inter_s if check_hangs else self.inter_s
        return per_check * self.fall + self.inter_s + TOLERANCE_S

    def up_limit_s(self) -> float:
        return self.inter_s * self.rise + self.inter_s + TOLERANCE_S

    def describe(self) -> str:
        return f"inter {self.inter_s:g} s, fall {self.fall}, rise {self.rise}"


def check_timing(runtime: RuntimeAPI, config_text: str, spec: ClusterSpec, backend: str, server: str) -> CheckTiming:
    """``fall``/``rise`` from HAProxy itself, ``inter`` from the config it runs (the spec when unknown)."""
    stat = runtime.server(backend, server)
    inter = check_interval_s(config_text, backend, server) if config_text else spec.health.inter_ms / 1000
    return CheckTiming(inter, stat.check_fall or spec.health.fall, stat.check_rise or spec.health.rise)


def marked_down_within(runtime: RuntimeAPI, backend: str, server: str, limit_s: float) -> float | ServerStat:
    """Seconds until HAProxy marked ``backend/server`` DOWN, or its last state when ``limit_s`` passed first."""
    try:
        return wait_until(lambda: runtime.server(backend, server).is_down, limit_s, f"{backend}/{server} down")
    except TimeoutError:
        return runtime.server(backend, server)
