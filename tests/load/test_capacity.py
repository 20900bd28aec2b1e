"""The capacity search's bookkeeping without Locust: windows of stats, the SLO judgement, the knee, the verdict."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import pytest

from flowlb.errors import FlowlbError
from flowlb.load import capacity, report
from flowlb.load.capacity import PathStep, Policy, SearchPlan, Step
from flowlb.load.paths import HANDSHAKE_PREFIX
from flowlb.load.plan import CapacitySearch

POLICY = Policy({"https": 200.0, "stomp": 100.0}, 0.01)


@dataclass
class Entry:
    """The parts of a Locust StatsEntry that the search reads."""

    method: str
    name: str
    response_times: dict[int, int] = field(default_factory=dict)
    num_reqs_per_sec: dict[int, int] = field(default_factory=dict)
    num_fail_per_sec: dict[int, int] = field(default_factory=dict)


def step(users: int, https: tuple[float, float], stomp: tuple[float, float] = (100.0, 5.0), *, failures: int = 0,
         cpu: float = 40.0, workers: int = 1) -> Step:
    """A step whose paths have (req/s, p95 ms) as given over a 10 s window; the mean is half the p95."""
    def figures(rps: float, p95: float, failed: int = 0) -> PathStep:
        return PathStep(int(rps * 10), failed, rps, p95 / 2, p95 / 3, p95, p95 * 1.5)
    return Step(users, 10.0, {"https": figures(*https, failures), "stomp": figures(*stomp)}, cpu, workers)


def test_a_window_counts_requests_by_their_own_second_and_latency_by_the_histograms_growth() -> None:
    api = Entry("GET", "/rest", {5: 10}, {100: 50, 101: 60, 102: 70, 103: 80}, {101: 2})
    shake = Entry("GET", f"{HANDSHAKE_PREFIX}/health", {20: 4}, {101: 5})
    before = capacity.counts([api, shake])
    api.response_times = {5: 100, 300: 10}
    rates = capacity.per_second([api, shake], 101, 103)
    assert rates == {"https": (130, 2), "handshake": (5, 0)}
    figures = capacity.path_steps(before, capacity.counts([api, shake]), rates, 2.0)
    assert figures["https"].rps == 65.0 and figures["https"].failures == 2
    assert figures["https"].p50_ms == 5.0 and figures["https"].p95_ms == 300.0
    assert figures["handshake"].requests == 5 and figures["handshake"].p95_ms == 0.0  # no new latencies


def test_a_step_breaks_the_slo_on_latency_failures_or_silence() -> None:
    assert capacity.judge(step(10, (1000, 50)), POLICY) == []
    assert capacity.judge(step(20, (1000, 250)), POLICY) == ["p95 on https was 250 ms at 20 users (limit 200 ms)"]
    assert "failed at 30 users" in capacity.judge(step(30, (1000, 50), failures=500), POLICY)[0]
    silent = Step(40, 10.0, {}, 10.0, 1)
    assert capacity.judge(silent, POLICY) == ["no requests were answered at 40 users"]


def test_the_capacity_is_the_last_step_within_the_slo_and_the_knee_the_highest_power() -> None:
    steps = [step(10, (1000, 10)), step(20, (1900, 12)), step(30, (2100, 40)), step(40, (2150, 260))]
    outcome = capacity.verdict(steps, POLICY, "p95 on https was 260 ms at 40 users (limit 200 ms)")
    assert outcome["capacity"]["users"] == 30
    assert outcome["capacity"]["paths"]["https"] == {"rps": 2100, "p95_ms": 40}
    assert outcome["knee"]["users"] == 20  # 2000 req/s at 6 ms beats 2200 at 20 ms
    assert not outcome["generator_bound"] and outcome["advice"] == ""
    assert "capacity at SLO: 2200 req/s at 30 users" in "\n".join(capacity.summary_lines(outcome))


def test_no_capacity_when_the_first_step_breaks_the_slo() -> None:
    outcome = capacity.verdict([step(10, (500, 900))], POLICY, "p95 on https was 900 ms at 10 users")
    assert outcome["capacity"] is None
    assert "none, the first step already broke the SLO" in "\n".join(capacity.summary_lines(outcome))


def test_a_saturated_generator_makes_the_figure_a_lower_bound_and_says_how_many_workers() -> None:
    steps = [step(10, (1000, 10), cpu=60), step(20, (1500, 12), cpu=97, workers=2), step(30, (1500, 18), cpu=99,
                                                                                       workers=2)]
    outcome = capacity.verdict(steps, POLICY, "--capacity-max-users 30 reached without breaking the SLO")
    assert outcome["generator_bound"]
    assert "generator-bound" in outcome["advice"] and "from 20 users" in outcome["advice"]
    assert "--processes 4" in outcome["advice"], outcome["advice"]  # 2 x 99 % at 50 % each
    assert capacity.workers_needed(step(10, (1, 1), cpu=91, workers=1)) == 2


def plan_options(**changes: object) -> SimpleNamespace:
    values: dict[str, object] = {"capacity_step_users": 10, "capacity_step_seconds": 10, "capacity_max_users": 200,
                                 "slo_p95_ms": "", "slo_failure_ratio": 0.01, "capacity_file": ""}
    return SimpleNamespace(**{**values, **changes})


def test_the_search_plan_defaults_to_200_ms_on_every_path_and_refuses_bad_values() -> None:
    plan = SearchPlan.from_options(plan_options())
    assert plan.policy.p95_ms == {"https": 200.0, "handshake": 200.0, "stomp": 200.0}
    assert SearchPlan.from_options(plan_options(slo_p95_ms="stomp=50")).policy.p95_ms == {"stomp": 50.0}
    for bad, message in [({"capacity_step_users": 0}, "--capacity-step-users 0: give a number from 1"),
                         ({"capacity_max_users": 5}, "--capacity-max-users 5 is below one step"),
                         ({"slo_failure_ratio": 1.5}, "below 1"), ({"slo_p95_ms": "web=1"}, "'web=1'")]:
        with pytest.raises(ValueError, match=message):
            SearchPlan.from_options(plan_options(**bad))


@pytest.mark.parametrize(("search", "message"), [
    (CapacitySearch(step_users=0), "--step-users 0: give a number from 1"),
    (CapacitySearch(step_users=50, max_users=20), "below one step"),
    (CapacitySearch(slo_p95_ms="https=fast"), "'fast'"),
    (CapacitySearch(step_users=1, step_seconds=600, max_users=100), "over 4 h"),
])
def test_flowlb_load_refuses_a_bad_search_before_anything_starts(search: CapacitySearch, message: str) -> None:
    with pytest.raises(FlowlbError, match=message):
        search.validate()


def test_the_load_report_shows_the_search(tmp_path: Path) -> None:
    steps = [step(10, (1000, 10)), step(20, (1900, 12)), step(30, (1950, 240), cpu=95)]
    outcome = capacity.verdict(steps, POLICY, "p95 on https was 240 ms at 30 users (limit 200 ms)")
    summary = {"target": "local", "plan": {"search": {"step_users": 10}}, "exit_code": 0, "capacity": outcome}
    (tmp_path / "summary.json").write_text(json.dumps(summary))
    page = report.render(tmp_path)
    assert "<h2>Capacity</h2>" in page and "Throughput against p95 latency" in page
    assert "capacity at SLO: 2000 req/s at 20 users" in page
    assert "generator-bound" in page and "95 % (bound)" in page
