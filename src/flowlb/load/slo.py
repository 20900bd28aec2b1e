"""SLO gates: at the end of a run, a p95 above its limit or too many failures sets the exit code to 1.

Evaluated where the stats are complete: the local runner or the master, never a worker. Each
breach is one line in the log saying which path, the measured figure and the limit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from locust.env import Environment
from locust.runners import WorkerRunner
from locust.stats import StatsEntry

from flowlb.load.credentials import REFUSED_EXIT_CODE
from flowlb.load.options import parse_weights
from flowlb.load.paths import PATHS, path_of

log = logging.getLogger("flowlb.slo")


@dataclass(frozen=True)
class Breach:
    """One SLO that the run did not meet."""

    what: str
    measured: float
    limit: float

    def __str__(self) -> str:
        return f"SLO breached: {self.what} is {self.measured:g}, limit {self.limit:g}"


def per_path(environment: Environment) -> dict[str, StatsEntry]:
    """The run's stats merged per path (entries of the same path added together)."""
    merged: dict[str, StatsEntry] = {}
    for (name, method), entry in environment.stats.entries.items():
        path = path_of(method, name)
        if path not in merged:
            merged[path] = StatsEntry(environment.stats, path, "", use_response_times_cache=False)
        merged[path].extend(entry)
    return merged


def breaches(environment: Environment, p95_limits_ms: dict[str, float], failure_ratio: float) -> list[Breach]:
    """Every SLO the finished run breaks; an empty list when it meets them all."""
    found: list[Breach] = []
    total = environment.stats.total
    if total.num_requests == 0:
        found.append(Breach("the number of requests", 0, 1))
    elif total.fail_ratio > failure_ratio:
        found.append(Breach("the failure ratio", round(total.fail_ratio, 4), failure_ratio))
    paths = per_path(environment)
    for path, limit in p95_limits_ms.items():
        entry = paths.get(path)
        if entry is None or entry.num_requests == 0:
            found.append(Breach(f"the number of {path} requests", 0, 1))
            continue
        p95 = entry.get_response_time_percentile(0.95)
        if p95 > limit:
            found.append(Breach(f"p95 on {path} (ms)", p95, limit))
    return found


def install(environment: Environment) -> None:
    """Check the SLOs when the run ends; called from ``events.init``."""
    options = environment.parsed_options
    if options is None or isinstance(environment.runner, WorkerRunner):
        return
    limits = parse_weights(options.slo_p95_ms, PATHS, "--slo-p95-ms")

    def gate(environment: Environment, **_: Any) -> None:
        if environment.process_exit_code == REFUSED_EXIT_CODE:
            return  # the run never ran: its one line said why, an SLO verdict would only bury it
        found = breaches(environment, limits, options.slo_failure_ratio)
        for breach in found:
            log.error("%s", breach)
        if found:
            environment.process_exit_code = 1
        else:
            log.info("SLOs met: failure ratio <= %g%s", options.slo_failure_ratio,
                     "".join(f", p95 {p} <= {v:g} ms" for p, v in limits.items()))

    environment.events.quitting.add_listener(gate)
