"""Capacity by arrival rate, on synthetic steps: where the search stops (plateau, SLO), the knee, the capacity at SLO,
the generator-bound mark, the steps' rates, and HAProxy's counters read from its runtime API's text."""

from __future__ import annotations

import pytest

from flowlb.errors import FlowlbError
from flowlb.load import haproxysteps, ratesteps
from flowlb.load.ratesearch import MAX_STEPS, rates
from flowlb.load.ratesteps import RateStep

LIMITS = {"https": 200.0}


def step(offered: float, achieved: float, p95: float = 10.0, failed: int = 0, late: int = 0,
         cpu: float = 20.0) -> RateStep:
    completed = int(achieved * 10)
    return RateStep(offered=offered, achieved=achieved, p95_ms={"https": p95}, p99_ms={"https": p95 * 2},
                    completed=completed, failed=failed, late=late, started=completed, generator_cpu=cpu)


def test_a_step_that_follows_its_rate_within_the_slo_goes_on() -> None:
    assert ratesteps.stop_reason(step(100, 95.0), LIMITS, 0.01) == ""


@pytest.mark.parametrize(("the_step", "reason"), [
    (step(100, 94.9), "plateau: 94.9 req/s achieved of 100 offered"),
    (step(100, 100, p95=201), "SLO broken: p95 on https was 201 ms at 100 req/s (limit 200 ms)"),
    (step(100, 100, failed=11), "SLO broken: 11 of 1000 requests failed at 100 req/s (more than 1.0%)"),
    (step(100, 0), "SLO broken: no request was answered at 100 req/s"),
], ids=["plateau", "p95", "failures", "nothing"])
def test_the_search_stops_at_a_plateau_or_an_slo_break(the_step: RateStep, reason: str) -> None:
    assert ratesteps.stop_reason(the_step, LIMITS, 0.01).startswith(reason)


def test_the_knee_is_the_last_step_that_followed_and_the_capacity_the_last_within_the_slo() -> None:
    steps = [step(100, 100), step(200, 199, p95=150), step(300, 298, p95=250), step(400, 310, p95=900)]
    outcome = ratesteps.verdict(steps, LIMITS, 0.01, "plateau")
    assert outcome["knee"] == {"offered": 300, "achieved": 298}
    assert outcome["capacity"]["offered"] == 200
    assert outcome["first_slo_break"]["offered"] == 300
    assert outcome["generator_bound_from"] is None
    lines = ratesteps.summary_lines(outcome)
    assert lines[1] == "knee: throughput followed up to 300 req/s offered (298 achieved)"
    assert lines[2] == "capacity at SLO: 200 req/s offered (199 achieved)"
    assert lines[3].startswith("first SLO break at 300 req/s: p95 on https was 250 ms")


def test_a_generator_that_falls_behind_is_named() -> None:
    steps = [step(100, 100), step(200, 180, late=100), step(300, 200, cpu=95)]
    outcome = ratesteps.verdict(steps, LIMITS, 0.01, "plateau")
    assert outcome["generator_bound_from"] == 200
    assert any(line.startswith("generator-bound from 200 req/s") for line in ratesteps.summary_lines(outcome))
    assert not step(100, 100, late=10).generator_bound  # 1 % of 1000 starts: within the bound


def test_no_step_followed() -> None:
    outcome = ratesteps.verdict([step(100, 50)], LIMITS, 0.01, "plateau")
    assert outcome["knee"] is None and outcome["capacity"] is None
    assert ratesteps.summary_lines(outcome)[1] == "knee: none, the first step already fell behind the offered rate"


def test_a_step_is_read_from_arrival_json() -> None:
    arrival = {"rate": {"offered": 100.0, "achieved": 99.0, "completed": 990, "failed": 1, "late": 2, "started": 990},
               "latency_ms": {"https": {"p95": 12.0, "p99": 30.0, "count": 990}, "stomp": {"count": 0}},
               "validity": {"generator_cpu": [40.0, 70.0]}}
    read = RateStep.of(arrival, {"retries": 3.0})
    assert (read.p95_ms, read.p99_ms, read.generator_cpu, read.haproxy) == ({"https": 12.0}, {"https": 30.0}, 70.0,
                                                                             {"retries": 3.0})


def test_the_steps_rates_are_bounded() -> None:
    assert rates(100, 100, 450) == [100, 200, 300, 400]
    assert rates(50, 25, 50) == [50]
    with pytest.raises(FlowlbError, match="at most 50"):
        rates(1, 1, MAX_STEPS + 1)
    with pytest.raises(FlowlbError, match="positive start and step"):
        rates(100, 0, 200)
    with pytest.raises(FlowlbError, match="positive start and step"):
        rates(100, 10, 50)


SHOW_STAT = """# pxname,svname,qcur,qmax,scur,econ,wretr,wredis,hrsp_5xx,req_rate
flow,node1,0,4,0,1,2,1,0,
flow,BACKEND,0,7,0,1,2,1,5,
web,BACKEND,0,3,0,0,1,0,2,
fe,FRONTEND,,,0,,,,9,150
fe2,FRONTEND,,,0,,,,0,30
"""
SHOW_INFO = "Name: HAProxy\nSessRate: 120\nConnRate: 118\nSslRate: 40\nUptime: 0d 0h01m\n"


def test_haproxy_counters_come_from_the_backend_rows_and_show_info() -> None:
    assert haproxysteps.parse_stat(SHOW_STAT) == {"retries": 3.0, "redispatches": 1.0, "http_5xx": 7.0,
                                                  "connect_errors": 1.0, "queue_max": 7.0}
    assert haproxysteps.parse_info(SHOW_INFO) == {"sess_rate": 120.0, "conn_rate": 118.0, "ssl_rate": 40.0}
    assert haproxysteps.parse_request_rate(SHOW_STAT) == {"http_req_rate": 180.0}

    class Broken:
        def command(self, text: str) -> str:
            raise OSError("gone")

    assert haproxysteps.read(Broken()) == {} and haproxysteps.rates(Broken()) == {}


def test_refining_halves_the_gap_until_the_knee_is_known_to_an_eighth_of_a_step() -> None:
    """A cliff at 1430 req/s between coarse steps at 1200 (held) and 1600 (gave way): three rounds land within
    50 req/s of it. Fails when a round keeps the wrong half or runs past its rounds."""
    tried = ratesteps.refine(1200, 1600, lambda rate: rate <= 1430)
    assert tried == [1400, 1500, 1450]
    held = max([1200, *[rate for rate in tried if rate <= 1430]])
    assert held == 1400 and 1430 - held <= 400 / 8


def test_refined_steps_are_judged_in_rate_order() -> None:
    """The refining steps run after the coarse ones; the knee is still the highest rate that followed."""
    steps = [step(400, 400), step(800, 700), step(600, 599), step(700, 650)]
    outcome = ratesteps.verdict(steps, LIMITS, 0.01, "plateau")
    assert outcome["knee"]["offered"] == 600
    assert [s["offered"] for s in outcome["steps"]] == [400, 600, 700, 800]


class Draining:
    """A runtime API whose backends hold ``left[0]``, then ``left[1]``... sessions, one answer per ``show stat``."""

    def __init__(self, *left: int) -> None:
        self.left = list(left)
        self.asked = 0

    def command(self, text: str) -> str:
        assert text == "show stat"
        held = self.left[min(self.asked, len(self.left) - 1)]
        self.asked += 1
        return (f"# pxname,svname,qcur,scur\nflow,node1,0,{held}\nflow,BACKEND,{held // 2},{held - held // 2}\n"
                f"fe,FRONTEND,,{held}\n")


def test_a_step_waits_until_the_last_steps_sessions_have_drained_from_the_backends() -> None:
    """A broken step leaves sessions queued on the servers; the next waits on show stat until none is left
    (queued ones count, the frontend's do not). Fails when it starts at once or counts the wrong rows."""
    runtime = Draining(40, 3, 1, 0)
    slept: list[float] = []
    now = [0.0]

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    assert haproxysteps.settle(runtime, 30.0, lambda: now[0], sleep) == 0
    assert runtime.asked == 4 and len(slept) == 3


def test_a_step_waits_no_longer_than_its_bound_and_says_what_is_left() -> None:
    now = [0.0]
    left = haproxysteps.settle(Draining(9), 1.0, lambda: now[0], lambda s: now.__setitem__(0, now[0] + s))
    assert left == 9 and now[0] >= 1.0


def test_without_a_runtime_api_a_step_starts_at_once() -> None:
    class Broken:
        def command(self, text: str) -> str:
            raise OSError("gone")

    assert haproxysteps.settle(Broken(), 30.0) == 0
