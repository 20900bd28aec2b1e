"""How fast HAProxy must react to a failing server, from the config's own check timing.

The limits the health and failover checks enforce, in one place:

* marked DOWN within ``inter x fall``, plus one interval (the phase of the check timer) and 1 s;
* when the check itself hangs, each of the ``fall`` checks also waits out its timeout (``timeout
  check`` where the config sets one, else ``inter``), so ``(inter + timeout) x fall`` plus the same
  margin, and that must stay within the policy's ``hung_detection_max_s``;
* back UP within ``inter x rise``, plus the same margin.
"""

from __future__ import annotations

from dataclasses import dataclass

from flowlb import policy
from flowlb.haproxy.config import parsed
from flowlb.haproxy.runtime import RuntimeAPI, ServerStat
from flowlb.haproxy.timing import check_interval_s, detection_limit_s
from flowlb.net import wait_until
from flowlb.spec import ClusterSpec

TOLERANCE_S = 1.0


@dataclass(frozen=True)
class CheckTiming:
    """One server's check timing: ``inter`` (seconds), ``fall`` and ``rise``."""

    inter_s: float
    fall: int
    rise: int
    check_timeout_s: float | None = None

    def down_limit_s(self, check_hangs: bool = False) -> float:
        return detection_limit_s(self.inter_s, self.fall, self.check_timeout_s, check_hangs, TOLERANCE_S)

    def hung_limit_s(self) -> float:
        """The limit for a server that hangs; the check fails at once when the config allows more than the policy."""
        limit = self.down_limit_s(check_hangs=True)
        allowed = policy.current().hung_detection_max_s
        if limit > allowed + TOLERANCE_S:
            import pytest

            pytest.fail(
                f"with {self.describe()}, HAProxy needs up to {limit:.0f} s to take out a server that hangs, more than "
                f"the policy's {allowed:g} s: clients wait on it all that time. Fix: keep `timeout check` "
                "near `inter` (or drop it), and `inter x fall` short."
            )
        return limit

    def up_limit_s(self) -> float:
        return self.inter_s * self.rise + self.inter_s + TOLERANCE_S

    def describe(self) -> str:
        timeout = f", timeout check {self.check_timeout_s:g} s" if self.check_timeout_s else ""
        return f"inter {self.inter_s:g} s, fall {self.fall}, rise {self.rise}{timeout}"


def check_timing(runtime: RuntimeAPI, config_text: str, spec: ClusterSpec, backend: str, server: str) -> CheckTiming:
    """``fall``/``rise`` from HAProxy itself, ``inter`` from the config it runs (the spec when unknown)."""
    stat = runtime.server(backend, server)
    if not config_text:
        return CheckTiming(spec.health.inter_ms / 1000, stat.check_fall or spec.health.fall,
                           stat.check_rise or spec.health.rise)
    config = parsed(config_text)
    proxy = config.proxy(backend)
    return CheckTiming(check_interval_s(config, backend, server), stat.check_fall or spec.health.fall,
                       stat.check_rise or spec.health.rise, proxy.timeout_s("check") if proxy else None)


def marked_down_within(runtime: RuntimeAPI, backend: str, server: str, limit_s: float) -> float | ServerStat:
    """Seconds until HAProxy marked ``backend/server`` DOWN, or its last state when ``limit_s`` passed first."""
    try:
        return wait_until(lambda: runtime.server(backend, server).is_down, limit_s, f"{backend}/{server} down")
    except TimeoutError:
        return runtime.server(backend, server)
