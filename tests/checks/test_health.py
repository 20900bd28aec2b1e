"""How fast HAProxy must react to a failing server, from the config's own check timing.

Fails when the limits stop following ``inter``, ``fall``, ``rise`` and ``timeout check`` (the phase of the check
timer and the tolerance included), when a hung server's limit is not held to the policy, when ``inter`` is not read
from the config HAProxy runs (or ``fall``/``rise`` not from HAProxy itself), or when a server that never goes down
is reported as down.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from flowlb import policy
from flowlb.checks.health import CheckTiming, check_timing, marked_down_within
from flowlb.haproxy.runtime import ServerStat
from flowlb.spec import load_spec
from tests.checks.configs import CAREFUL
from tests.checks.fakes import ConfigRuntime

SPEC = load_spec()


@pytest.fixture(autouse=True)
def default_policy() -> Iterator[None]:
    yield
    policy.use(policy.Policy())


def test_the_limits_follow_inter_fall_rise_and_timeout_check() -> None:
    """Breaks if a limit drops the extra interval, the tolerance, or a hung check's own timeout."""
    timing = CheckTiming(inter_s=1.0, fall=3, rise=2)
    assert timing.down_limit_s() == 1.0 * 3 + 1.0 + 1.0
    assert timing.down_limit_s(check_hangs=True) == (1.0 + 1.0) * 3 + 1.0 + 1.0  # timeout check: inter
    assert CheckTiming(2.0, 3, 2, check_timeout_s=5.0).down_limit_s(check_hangs=True) == (2 + 5) * 3 + 2 + 1
    assert timing.up_limit_s() == 1.0 * 2 + 1.0 + 1.0
    assert timing.describe() == "inter 1 s, fall 3, rise 2"
    assert CheckTiming(2.0, 3, 2, 5.0).describe() == "inter 2 s, fall 3, rise 2, timeout check 5 s"


def test_a_hung_server_is_held_to_the_policy() -> None:
    """Breaks if a config that takes 63 s to drop a hung server passes the policy's 30 s, or a quick one fails."""
    assert CheckTiming(1.0, 3, 2).hung_limit_s() == 8.0
    slow = CheckTiming(inter_s=2.0, fall=3, rise=2, check_timeout_s=18.0)
    with pytest.raises(pytest.fail.Exception, match="up to 63 s to take out a server that hangs, more than the "
                                                    "policy's 30 s"):
        slow.hung_limit_s()
    policy.use(policy.Policy(hung_detection_max_s=5.0))
    with pytest.raises(pytest.fail.Exception, match="more than the policy's 5 s"):
        CheckTiming(1.0, 3, 2).hung_limit_s()


def test_inter_comes_from_the_config_and_fall_rise_from_haproxy() -> None:
    """Breaks if ``inter`` is not read from the server line (or HAProxy's 2 s default), or fall/rise from the spec
    while HAProxy reports its own."""
    runtime = ConfigRuntime(CAREFUL.replace("  timeout tunnel 1h\n", "  timeout tunnel 1h\n  timeout check 3s\n"),
                            fall=4, rise=5)
    assert check_timing(runtime, runtime.config.text, SPEC, "flow", "node1") == CheckTiming(1.0, 4, 5, 3.0)
    assert check_timing(runtime, runtime.config.text, SPEC, "flow", "node2").inter_s == 2.0  # HAProxy's default


def test_without_a_config_the_spec_gives_the_timing() -> None:
    """Breaks if an unknown config (a live LB) is read as empty instead of falling back to the spec, or a fall/rise
    HAProxy does not report (0) is used as is."""
    runtime = ConfigRuntime(CAREFUL)  # reports fall and rise as 0: not known
    timing = check_timing(runtime, "", SPEC, "flow", "node1")
    assert timing == CheckTiming(SPEC.health.inter_ms / 1000, SPEC.health.fall, SPEC.health.rise)
    reported = check_timing(ConfigRuntime(CAREFUL, fall=7, rise=6), "", SPEC, "flow", "node1")
    assert (reported.fall, reported.rise) == (7, 6)  # HAProxy's word wins over the spec's


def test_down_is_seen_at_once_and_a_server_that_stays_up_is_returned_as_it_is() -> None:
    """Breaks if an UP server is reported down, or a DOWN one is not seen within the limit."""
    runtime = ConfigRuntime(CAREFUL)
    runtime.status[("flow", "node1")] = "DOWN 1/2"
    took = marked_down_within(runtime, "flow", "node1", limit_s=1.0)
    assert isinstance(took, float) and took < 1.0
    last = marked_down_within(runtime, "flow", "node2", limit_s=0.0)
    assert isinstance(last, ServerStat) and last.status == "UP"

