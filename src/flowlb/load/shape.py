"""``CapacityShape``: a Locust ``LoadTestShape`` that steps users up until the LB breaks its SLO.

Each step adds ``--capacity-step-users`` users, lets them settle, then judges a window of
``--capacity-step-seconds`` on its own (:mod:`flowlb.load.capacity`): throughput and p50/p95/p99
per path, failures, and the CPU of every Locust process. The search stops at the first step that
breaks ``--slo-p95-ms`` (200 ms on every path when unset) or ``--slo-failure-ratio``, or at
``--capacity-max-users``. The outcome goes to the log, and to ``--capacity-file`` as JSON after
every step, so an interrupted search keeps what it measured.

It runs where the stats are complete: the local runner, or the master of ``--processes N`` and of
master/worker runs (the workers' CPU comes from their heartbeats, or directly for forked ones).
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from pathlib import Path
from typing import Any

import psutil
from locust import LoadTestShape
from locust.runners import WORKER_REPORT_INTERVAL, MasterRunner

from flowlb.load import capacity
from flowlb.load.credentials import REFUSED_EXIT_CODE

log = logging.getLogger("flowlb.capacity")
SETTLE_S = 2.0  # after a step's users have started: their connections open before the window
RAMP_GRACE_S = 15.0  # beyond users / spawn rate, how long a step may take to start its users


class _Cpu:
    """The busiest Locust process's CPU over a window: measured directly where possible, else reported."""

    def __init__(self, runner: Any) -> None:
        self.runner = runner
        self.processes: list[psutil.Process] = []
        self.reported = 0.0

    def start(self) -> None:
        own = psutil.Process()
        self.processes = [own, *own.children()]
        for process in self.processes:
            process.cpu_percent(None)
        self.reported = 0.0

    def sample(self) -> None:
        """Fold in the workers' own last report (remote workers measure themselves every 10 s)."""
        if isinstance(self.runner, MasterRunner):
            self.reported = max([self.reported, *(float(w.cpu_usage) for w in self.runner.clients.values())])

    def busiest(self) -> float:
        measured = []
        for process in self.processes:
            try:
                measured.append(process.cpu_percent(None))
            except psutil.Error:
                continue
        return float(round(max([*measured, self.reported]), 1))


class CapacityShape(LoadTestShape):
    """Steps users up, one judged window per step, until the SLO breaks or the users run out."""

    def __init__(self) -> None:
        super().__init__()
        self.steps: list[capacity.Step] = []
        self.stopped_because = "Locust stopped before the search ended (its --run-time or a signal)"
        self._phase = ""
        self._users = 0
        self._deadline = 0.0
        self._window: tuple[int, int] = (0, 0)
        self._before: dict[str, capacity.PathCounts] = {}
        self._cpu: _Cpu | None = None
        self._finished = False

    def configure(self, environment: Any) -> None:
        """Read the plan from the options (a bad value raises ``ValueError``) and hook the end of the run."""
        self.plan = capacity.SearchPlan.from_options(environment.parsed_options)
        self.lag_s = WORKER_REPORT_INTERVAL + 1.0 if isinstance(environment.runner, MasterRunner) else 0.0
        self._cpu = _Cpu(environment.runner)
        environment.events.quitting.add_listener(self._quitting)

    def tick(self) -> tuple[int, float] | None:
        if not self._phase:
            if self._cpu is None:
                assert self.runner is not None
                self.configure(self.runner.environment)
            self._next_step(time.time())
        now = time.time()
        if self._finished:
            return None
        if self._phase == "ramp" and (self.get_current_user_count() >= self._users or now >= self._deadline):
            self._phase, self._deadline = "settle", now + SETTLE_S + self.lag_s
        elif self._phase == "settle" and now >= self._deadline:
            start = math.ceil(now - self.lag_s)
            self._window = (start, start + self.plan.step_seconds)
            self._phase, self._deadline = "window", self._window[1] + self.lag_s
            self._before = capacity.counts(self._entries())
            assert self._cpu is not None
            self._cpu.start()
        elif self._phase == "window":
            assert self._cpu is not None
            self._cpu.sample()
            if now >= self._deadline:
                self._close_step(now)
                if self._finished:
                    return None
        return self._users, float(max(self.plan.step_users, 10))

    def _entries(self) -> list[Any]:
        return list(self.runner.environment.stats.entries.values()) if self.runner else []

    def _next_step(self, now: float) -> None:
        self._users += self.plan.step_users
        self._phase = "ramp"
        self._deadline = now + self.plan.step_users / max(self.plan.step_users, 10) + RAMP_GRACE_S

    def _workers(self) -> int:
        return max(1, self.runner.worker_count) if isinstance(self.runner, MasterRunner) else 1

    def _close_step(self, now: float) -> None:
        assert self._cpu is not None
        entries = self._entries()
        start, end = self._window
        step = capacity.Step(
            users=self.get_current_user_count(),
            seconds=float(end - start),
            paths=capacity.path_steps(self._before, capacity.counts(entries), capacity.per_second(entries, start, end),
                                      float(end - start)),
            generator_cpu=self._cpu.busiest(),
            workers=self._workers(),
        )
        self.steps.append(step)
        reasons = capacity.judge(step, self.plan.policy)
        log.info("capacity step: %d users, %g req/s, %s; busiest Locust process %g %% CPU%s", step.users, step.rps,
                 ", ".join(f"{p} p95 {f.p95_ms:g} ms" for p, f in step.paths.items()), step.generator_cpu,
                 " (generator-bound)" if step.generator_bound else "")
        if reasons:
            self._finish("; ".join(reasons))
        elif self._users + self.plan.step_users > self.plan.max_users:
            self._finish(f"--capacity-max-users {self.plan.max_users} reached without breaking the SLO")
        else:
            self._write()
            self._next_step(now)

    def _finish(self, because: str) -> None:
        self.stopped_because = because
        self._finished = True
        self._write()

    def outcome(self) -> dict[str, Any]:
        return capacity.verdict(self.steps, self.plan.policy, self.stopped_because)

    def _write(self) -> None:
        if not self.plan.file:
            return
        target = Path(self.plan.file)
        temporary = target.with_name(f".{target.name}.{os.getpid()}")
        temporary.write_text(json.dumps(self.outcome(), indent=2))
        temporary.replace(target)

    def _quitting(self, environment: Any, **_: Any) -> None:
        """Say the outcome and set the exit code: 0 when a capacity at SLO was found."""
        self._write()
        outcome = self.outcome()
        for line in capacity.summary_lines(outcome):
            log.info("%s", line)
        if environment.process_exit_code != REFUSED_EXIT_CODE:  # a refused login is not a capacity of 0
            environment.process_exit_code = 0 if outcome["capacity"] else 1
