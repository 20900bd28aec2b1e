"""``flowlb load --find-capacity --arrival-rate R``: step the offered rate up until the SLO breaks or throughput
stops following it (a plateau), one open-model Locust run per step on the same cluster.

Each step runs ``--step-seconds`` (plus a 2 s warm-up left out) at its rate, in ``step-NN/`` of the run
directory with its own ``arrival.json`` and ``.hgrm`` files. It starts once the last step's sessions have
drained from the LB; HAProxy's counters are zeroed before it and read after it (:mod:`flowlb.load.haproxysteps`).
The steps are judged by :mod:`flowlb.load.ratesteps`; ``summary.json`` gets ``rate_capacity``. Exit code 0
when a capacity at SLO was found, else 1.
"""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from flowlb.errors import FlowlbError
from flowlb.interrupts import deferred_signals
from flowlb.load import haproxysteps, ratesteps
from flowlb.load import report as load_report
from flowlb.load.arrivalresult import arrival_environment, read
from flowlb.load.capacity import DEFAULT_P95_MS
from flowlb.load.options import parse_weights
from flowlb.load.paths import PATHS
from flowlb.load.results import LoadResult
from flowlb.reporting import discard, fresh_directory, publish
from flowlb.targets.base import Target

WARMUP_S = 2.0
MAX_STEPS = 50
FAILURE_RATIO = 0.01  # the share of failed requests a step may have (--slo-failure-ratio's default)
STEP_MARGIN_S = 60.0  # Locust's start, the drain and the stop, on top of a step's seconds


def rates(start: float, step: float, most: float) -> list[float]:
    """The offered rates of the steps: ``start``, ``start + step``... up to ``most`` (at most :data:`MAX_STEPS`)."""
    if not (start > 0 and step > 0 and most >= start):
        raise FlowlbError(f"the rate search needs a positive start and step and --max-rate at least the start "
                          f"(start {start:g}, step {step:g}, max {most:g})")
    count = int((most - start) / step + 1e-9) + 1
    if count > MAX_STEPS:
        raise FlowlbError(f"{count} steps from {start:g} to {most:g} req/s by {step:g}: at most {MAX_STEPS}; "
                          "take bigger steps")
    return [round(start + index * step, 6) for index in range(count)]


def _step(plan: Any, target: Target, rate: float, step_dir: Path, runtime: Any,
          running: list[subprocess.Popen[bytes]]) -> ratesteps.RateStep:
    """One open-model Locust run at ``rate`` into ``step_dir``, with HAProxy's counters over it."""
    from flowlb.load.runner import _stop as stop_locust
    from flowlb.load.runner import locust_command, locust_environment

    seconds = plan.search.step_seconds + WARMUP_S
    step_plan = replace(plan, arrival_rate=rate, run_time=f"{int(seconds)}s", search=None, extra=list(plan.extra))
    environment = {**locust_environment(target, plan.mix), **arrival_environment(rate, seconds, step_dir),
                   "FLOWLB_ARRIVAL_WARMUP": str(WARMUP_S)}
    if runtime is not None:
        left = haproxysteps.settle(runtime)
        if left:
            print(f"flowlb: {left} sessions of the last step were still on the LB's servers after "
                  f"{haproxysteps.SETTLE_S:g} s; the step at {rate:g} req/s starts on top of them", flush=True)
        haproxysteps.start(runtime)
    command = [*locust_command(step_plan, target, step_dir / "locust"), "--loglevel", "WARNING"]
    process = subprocess.Popen(command, env=environment, start_new_session=True)
    running.append(process)
    deadline = time.monotonic() + seconds + STEP_MARGIN_S
    busiest: dict[str, float] = {}  # show info's rates are the last second's: their highest while the step runs
    while True:
        try:
            process.wait(timeout=1.0)
            break
        except subprocess.TimeoutExpired:
            if time.monotonic() > deadline:
                raise FlowlbError(f"the step at {rate:g} req/s did not finish in {seconds + STEP_MARGIN_S:.0f} s") \
                    from None
            if runtime is not None:
                for name, value in haproxysteps.rates(runtime).items():
                    busiest[name] = max(busiest.get(name, 0.0), value)
    stop_locust(process)
    running.remove(process)
    arrival = read(step_dir)
    if arrival is None:
        raise FlowlbError(f"the step at {rate:g} req/s wrote no arrival.json (see Locust's output above)")
    counters = {**haproxysteps.read(runtime), **busiest} if runtime is not None else None
    return ratesteps.RateStep.of(arrival, counters)


def _summary(plan: Any, target: Target, outcome: dict[str, Any], last: Path | None) -> dict[str, Any]:
    summary: dict[str, Any] = {
        "kind": "load", "target": target.kind, "profile": target.profile,
        "plan": {**asdict(plan), "locustfile": str(plan.locustfile)}, "exit_code": 0 if outcome["capacity"] else 1,
        "rate_capacity": outcome,
    }
    if last is not None and (last / "locust.json").is_file():  # the last step's figures, as a plain run's
        result = LoadResult.read(last / "locust.json")
        summary["total"] = result.total().as_dict()
        summary["paths"] = {name: f.as_dict() for name, f in result.per_path().items()}
    return summary


def run(plan: Any, target: Target, report_root: Path) -> tuple[int, Path]:
    """Step the rate up on a started ``target``; the exit code and the published report directory."""
    from flowlb.load.runner import _stop as stop_locust

    limits = parse_weights(plan.search.slo_p95_ms, PATHS, "--slo-p95-ms") or dict.fromkeys(PATHS, DEFAULT_P95_MS)
    steps_rates = rates(plan.arrival_rate, plan.rate_step or plan.arrival_rate, plan.max_rate or 20 * plan.arrival_rate)
    runtime = target.evidence()
    directory = fresh_directory(report_root, f"{time.strftime('%Y%m%d-%H%M%S')}-load-rates-{target.kind}")
    running: list[subprocess.Popen[bytes]] = []
    try:
        steps: list[ratesteps.RateStep] = []
        stopped = f"--max-rate {steps_rates[-1]:g} req/s reached without a plateau or an SLO break"
        last: Path | None = None

        def one_step(rate: float) -> ratesteps.RateStep:
            nonlocal last
            last = directory / f"step-{len(steps) + 1:02d}"
            last.mkdir()
            steps.append(_step(plan, target, rate, last, runtime, running))
            return steps[-1]

        for rate in steps_rates:
            reason = ratesteps.stop_reason(one_step(rate), limits, FAILURE_RATIO)
            if reason:
                stopped = reason
                break
        if len(steps) >= 2 and stopped == reason and not ratesteps.stop_reason(steps[-2], limits, FAILURE_RATIO):
            # the coarse steps bracket the knee: halve that gap a few times (ratesteps.refine)
            ratesteps.refine(steps[-2].offered, steps[-1].offered,
                             lambda rate: not ratesteps.stop_reason(one_step(rate), limits, FAILURE_RATIO))
        summary = _summary(plan, target, ratesteps.verdict(steps, limits, FAILURE_RATIO, stopped), last)
        (directory / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
        (directory / "timeline.json").write_text("{}")
        load_report.write(directory)
        with deferred_signals():
            return int(summary["exit_code"]), publish(directory)
    except BaseException:
        with deferred_signals():
            for process in running:
                stop_locust(process)
            discard(directory)
        raise
