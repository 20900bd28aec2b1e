"""The long waits' verdicts on HAProxy's own timers, fed from real ``show sess all`` dumps (HAProxy 2.6, 3.0, 3.2)
of the hardened profile and from the config that set those timers.

A timer that outlasts the policy passes, one that fires within ``observe_cut_max_s`` (with the margin) is observed,
a later one fails on HAProxy's word. The careless variants of a dump are the real dump with the timer a careless
config arms instead (``timeout client 30s`` and no ``timeout tunnel``: 27 s left, 3 s into the session; ``timeout
server 60s``: 57 s), everything else as HAProxy printed it.
"""

from __future__ import annotations

import pytest

from flowlb import policy
from flowlb.checks.longwaits import (
    IDLE_FIX,
    LONG_FIX,
    idle_cut_reason,
    idle_rearmed_failure,
    idle_timer_failure,
    idle_verdict,
    long_request_timer_failure,
    long_request_verdict,
    timer_figure,
    timer_verdict,
)
from flowlb.checks.settings import backend_of, idle_cut_s, section_for_role
from flowlb.haproxy.layout import Layout
from flowlb.haproxy.streams import StreamTimers, find_stream
from flowlb.spec import load_spec
from tests.checks.configs import GOLDEN, target, without

RULES = policy.Policy()
HARDENED = (GOLDEN / "hardened.cfg").read_text()
PRODUCTION = Layout.for_spec(load_spec())  # binds *:8000, *:8443, *:61613 as the 3.x dumps were taken
PORTS = {"2.6": {"server": 46143, "server_tls": 40883, "stomp": 38467},  # the local target's free ports
         "3.0": {"server": 8000, "server_tls": 8443, "stomp": 61613},
         "3.2": {"server": 8000, "server_tls": 8443, "stomp": 61613}}
VERSIONS = sorted(PORTS)
IDLE_1H, CALL_4000S = "=59m57s", "=1h6m"  # as HAProxy prints `timeout tunnel 1h` 3 s in, `timeout server 4000s`


def _dump(version: str, *rewrites: tuple[str, str]) -> str:
    text = (GOLDEN / "show-sess" / f"show-sess-all-{version}.txt").read_text()
    for old, new in rewrites:
        assert old in text
        text = text.replace(old, new)
    return text


def _stream(text: str, version: str, role: str) -> StreamTimers:
    stream = find_stream(text, PORTS[version][role], http=role != "stomp")
    assert stream is not None
    return stream


@pytest.mark.parametrize(("cut", "needed", "verdict"), [
    (None, 600.0, "pass"),  # no timer armed: HAProxy never cuts it
    (600.0, 600.0, "pass"), (3597.0, 600.0, "pass"),
    (599.0, 600.0, "fail"),  # just short of the policy, too far off to watch
    (8.0, 600.0, "observe"),  # 8 s + the 2 s margin is the most observe_cut_max_s lets us wait
    (8.5, 600.0, "fail"), (0.0, 600.0, "observe"),
])
def test_the_timer_verdict_at_its_edges(cut: float | None, needed: float, verdict: str) -> None:
    """Breaks if a timer equal to the need fails, one a second short passes, or the observe bound moves."""
    assert timer_verdict(cut, needed, RULES) == verdict


@pytest.mark.parametrize("version", VERSIONS)
def test_the_hardened_profiles_timers_pass_both_waits(version: str) -> None:
    """Breaks if `timeout tunnel 1h` fails the policy's 600 s of silence, or `timeout server 4000s` a 75 s call."""
    dump = _dump(version)
    assert idle_verdict(_stream(dump, version, "stomp").next_cut_s, RULES) == "pass"
    for role in ("server", "server_tls"):
        assert long_request_verdict(_stream(dump, version, role).next_cut_s, RULES.long_request_s, RULES) == "pass"


@pytest.mark.parametrize("version", VERSIONS)
def test_a_session_cut_after_30s_fails_on_haproxys_word_naming_the_setting(version: str) -> None:
    """Breaks if a 27 s timer passes, is observed (it is beyond observe_cut_max_s), or the message loses the
    timer, the policy, the config's setting or the fix."""
    careless = without(HARDENED, "timeout tunnel 3600000ms")
    cut = _stream(_dump(version, (IDLE_1H, "=27s")), version, "stomp").next_cut_s
    assert cut == 27.0 and idle_verdict(cut, RULES) == "fail"
    reason = idle_cut_reason(target(careless, PRODUCTION))
    assert reason == "; frontend commander-stomp-frontend: timeout client 30 s and no timeout tunnel"
    message = idle_timer_failure(cut, RULES, reason)
    assert message.startswith("HAProxy will cut a silent STOMP session after 27 s (its own timer for the session, "
                              "`show sess`; frontend commander-stomp-frontend: timeout client 30 s")
    assert "less than the policy's 600 s" in message and message.endswith(IDLE_FIX)


@pytest.mark.parametrize("version", VERSIONS)
def test_a_session_cut_within_seconds_is_observed_and_holds_to_the_policy_if_it_survives(version: str) -> None:
    """Breaks if a 5 s timer is judged without being watched, or a session that outlives it passes anyway."""
    cut = _stream(_dump(version, (IDLE_1H, "=5s")), version, "stomp").next_cut_s
    assert cut == 5.0 and idle_verdict(cut, RULES) == "observe"
    assert idle_rearmed_failure(cut, RULES) == ("HAProxy kept the silent session past its timer (5 s) but gives it "
                                                f"less than the policy's 600 s. {IDLE_FIX}")


@pytest.mark.parametrize("version", VERSIONS)
def test_a_call_cut_after_60s_fails_before_the_nodes_answer(version: str) -> None:
    """Breaks if a 57 s timer passes a 75 s call, or the message loses the port, the timer or the fix."""
    dump = _dump(version, (CALL_4000S, "=57s"))
    for role, port in (("server", "8000"), ("server_tls", "8443")):
        stream = _stream(dump, version, role)
        assert stream.next_cut_s == 57.0
        assert long_request_verdict(stream.next_cut_s, RULES.long_request_s, RULES) == "fail"
        message = long_request_timer_failure(port, 57.0, stream.next_cut_name, RULES.long_request_s)
        assert message == (f"HAProxy will cut a Flow API call on {port} after 57 s (its own timer for the call, "
                           f"`show sess`: {stream.next_cut_name}), before the node's answer at 75 s: the client gets "
                           f"a 504. {LONG_FIX}")
        assert stream.next_cut_name.endswith(".rex")


def test_a_call_is_held_to_what_remains_of_it_plus_the_margin() -> None:
    """Breaks if the call's time already spent is not taken off, or the margin is dropped (a timer firing as the
    answer is due would pass)."""
    assert long_request_verdict(60.0, 57.0, RULES) == "pass"  # 57 s left + 2 s margin: 60 s is enough
    assert long_request_verdict(58.0, 57.0, RULES) == "fail"  # fires within the margin of the answer
    assert long_request_verdict(6.0, 57.0, RULES) == "observe"


@pytest.mark.parametrize("version", VERSIONS)
def test_a_stricter_policy_fails_the_same_timers(version: str) -> None:
    """Breaks if the verdicts read flowlb's default numbers instead of the run's policy."""
    strict = policy.Policy(stomp_idle_min_s=7200.0)
    dump = _dump(version)
    assert idle_verdict(_stream(dump, version, "stomp").next_cut_s, strict) == "fail"
    assert long_request_verdict(_stream(dump, version, "server").next_cut_s, 5000.0, RULES) == "fail"


def test_the_config_and_haproxys_timer_agree_on_the_hardened_profile() -> None:
    """Breaks if the config reading (`timeout tunnel` 1 h) and the dump's timer (1 h, 3 s in) drift apart."""
    front = section_for_role(HARDENED, PRODUCTION, "stomp")
    assert front is not None
    cut, why = idle_cut_s(front, backend_of(HARDENED, front))
    dumped = _stream(_dump("3.2"), "3.2", "stomp").next_cut_s
    assert cut == 3600.0 and why == "timeout tunnel 3600 s"
    assert dumped is not None and cut - 5 <= dumped <= cut
    assert idle_cut_reason(target(HARDENED, PRODUCTION)) == "; frontend commander-stomp-frontend: timeout tunnel 3600 s"


def test_no_reason_is_given_without_a_config_or_a_layout() -> None:
    """Breaks if a live LB (no layout) or an unknown config raises instead of leaving the setting out."""
    assert idle_cut_reason(target(HARDENED, None)) == ""
    assert idle_cut_reason(target("", PRODUCTION)) == ""
    bare = without(HARDENED, "timeout tunnel 3600000ms", "timeout client 30000ms", "timeout server 4000000ms")
    assert idle_cut_reason(target(bare, PRODUCTION)) == ""  # nothing bounds it: no setting to name


def test_the_reported_timer_says_never_when_none_is_armed() -> None:
    """Breaks if an unarmed timer is reported as 0 s or None (the run report shows it)."""
    assert timer_figure(None) == "never"
    assert timer_figure(3960.0) == 3960.0
