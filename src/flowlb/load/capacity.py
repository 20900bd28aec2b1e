"""Finding the LB's capacity: steps of users, each judged on its own window, and the verdict they add up to.

Pure bookkeeping, without Locust (its ``LoadTestShape`` is :mod:`flowlb.load.shape`): counts per path
taken from Locust's stats entries at the start and end of a step's window become a :class:`Step`
(throughput, p50/p95/p99, failures, the generator's CPU). :func:`judge` says whether a step met the
SLO; :func:`verdict` turns the steps into the capacity at SLO per path, the knee and whether the
generator, not the LB, was the limit.

The knee is the step of highest *power* (throughput divided by mean latency, Kleinrock's measure):
below it more users buy throughput, beyond it they mostly buy queueing.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from flowlb.load import searchoptions
from flowlb.load.options import parse_weights
from flowlb.load.paths import PATHS, path_of
from flowlb.load.results import percentile

GENERATOR_CPU_LIMIT = 90.0  # Locust's own CPU warning threshold (locust.runners.CPU_WARNING_THRESHOLD)
WORKER_CPU_TARGET = 50.0  # advice: enough workers that each would run at half a core at the load reached


class StatsEntryLike(Protocol):
    """What is read of a Locust ``StatsEntry``."""

    method: str | None
    name: str
    response_times: dict[int, int]
    num_reqs_per_sec: dict[int, int]
    num_fail_per_sec: dict[int, int]


@dataclass
class PathCounts:
    """One path's cumulative histogram of response times (ms) at one moment."""

    histogram: Counter[float] = field(default_factory=Counter)


def counts(entries: Iterable[StatsEntryLike]) -> dict[str, PathCounts]:
    """The cumulative response-time histogram of every path, summed over its entries."""
    found: dict[str, PathCounts] = {}
    for entry in entries:
        path = found.setdefault(path_of(entry.method or "", entry.name), PathCounts())
        path.histogram.update({float(k): int(v) for k, v in entry.response_times.items()})
    return found


def per_second(entries: Iterable[StatsEntryLike], start: int, end: int) -> dict[str, tuple[int, int]]:
    """Requests and failures per path in the whole seconds ``[start, end)``, by the time they were made.

    Locust keeps them per second of the request's own clock (a worker's, in distributed mode), so
    the window is exact even though a master hears of it in 3-second reports.
    """
    found: dict[str, tuple[int, int]] = {}
    for entry in entries:
        path = path_of(entry.method or "", entry.name)
        requests, failures = found.get(path, (0, 0))
        requests += sum(entry.num_reqs_per_sec.get(t, 0) for t in range(start, end))
        failures += sum(entry.num_fail_per_sec.get(t, 0) for t in range(start, end))
        found[path] = (requests, failures)
    return found


@dataclass(frozen=True)
class PathStep:
    """One path's figures in one step's window."""

    requests: int
    failures: int
    rps: float
    mean_ms: float
    p50_ms: float
    p95_ms: float
    p99_ms: float


def path_steps(before: Mapping[str, PathCounts], after: Mapping[str, PathCounts],
               rates: Mapping[str, tuple[int, int]], seconds: float) -> dict[str, PathStep]:
    """Each path's figures: rates from the per-second counts, latency from the histogram's growth."""
    figures = {}
    for path in sorted(set(after) | set(rates)):
        grown = after[path].histogram.copy() if path in after else Counter()
        if path in before:
            grown.subtract(before[path].histogram)
        grown = Counter({k: v for k, v in grown.items() if v > 0})
        measured = sum(grown.values())
        requests, failures = rates.get(path, (0, 0))
        figures[path] = PathStep(
            requests=requests,
            failures=failures,
            rps=round(requests / seconds, 1) if seconds > 0 else 0.0,
            mean_ms=round(sum(k * v for k, v in grown.items()) / measured, 1) if measured else 0.0,
            p50_ms=percentile(grown, 0.50),
            p95_ms=percentile(grown, 0.95),
            p99_ms=percentile(grown, 0.99),
        )
    return figures


@dataclass(frozen=True)
class Step:
    """One step: its users, its window's figures per path, and how busy the generator was."""

    users: int
    seconds: float
    paths: dict[str, PathStep]
    generator_cpu: float  # the busiest Locust process during the window, % of one core
    workers: int  # Locust processes generating load (1 without distributed mode)

    @property
    def requests(self) -> int:
        return sum(p.requests for p in self.paths.values())

    @property
    def failures(self) -> int:
        return sum(p.failures for p in self.paths.values())

    @property
    def rps(self) -> float:
        return round(sum(p.rps for p in self.paths.values()), 1)

    @property
    def mean_ms(self) -> float:
        measured = [(p.mean_ms, p.requests) for p in self.paths.values() if p.requests]
        total = sum(n for _, n in measured)
        return sum(m * n for m, n in measured) / total if total else 0.0

    @property
    def generator_bound(self) -> bool:
        return self.generator_cpu >= GENERATOR_CPU_LIMIT

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(rps=self.rps, requests=self.requests, failures=self.failures,
                    generator_bound=self.generator_bound)
        return data


@dataclass(frozen=True)
class Policy:
    """What a step must meet: a p95 limit per path (ms) and the highest failed share."""

    p95_ms: dict[str, float]
    failure_ratio: float


DEFAULT_P95_MS = 200.0  # the SLO of every path when --slo-p95-ms is not given


@dataclass(frozen=True)
class SearchPlan:
    """How the search steps: users added per step, the judged window, the ceiling (``searchoptions``), the policy,
    the output."""

    step_users: int
    step_seconds: int
    max_users: int
    policy: Policy
    file: str = ""

    @classmethod
    def from_options(cls, options: Any) -> SearchPlan:
        """From Locust's parsed options (``--capacity-*``, ``--slo-*``); a bad value raises ``ValueError``."""
        steps = searchoptions.from_locust(options)
        searchoptions.check(steps, lambda option: option.locust_flag)
        plan = cls(
            **steps,
            policy=Policy(parse_weights(options.slo_p95_ms or "", PATHS, "--slo-p95-ms")
                          or dict.fromkeys(PATHS, DEFAULT_P95_MS), float(options.slo_failure_ratio)),
            file=str(options.capacity_file or ""),
        )
        if not 0 <= plan.policy.failure_ratio < 1:
            raise ValueError(f"--slo-failure-ratio {plan.policy.failure_ratio:g} must be at least 0 and below 1")
        return plan


def judge(step: Step, policy: Policy) -> list[str]:
    """Why ``step`` broke the policy, one reason each; empty when it met it."""
    reasons = []
    if step.requests == 0:
        reasons.append(f"no requests were answered at {step.users} users")
    elif step.failures / step.requests > policy.failure_ratio:
        reasons.append(f"{step.failures} of {step.requests} requests failed at {step.users} users "
                       f"(more than {policy.failure_ratio:.1%})")
    for path, limit in policy.p95_ms.items():
        figures = step.paths.get(path)
        if figures is not None and figures.requests and figures.p95_ms > limit:
            reasons.append(f"p95 on {path} was {figures.p95_ms:g} ms at {step.users} users (limit {limit:g} ms)")
    return reasons


def knee(steps: list[Step]) -> Step | None:
    """The step of highest power (requests per second over mean latency); None without steps."""
    measured = [s for s in steps if s.rps > 0 and s.mean_ms > 0]
    return max(measured, key=lambda s: s.rps / s.mean_ms, default=None)


def workers_needed(step: Step) -> int:
    """Locust processes that would each run at :data:`WORKER_CPU_TARGET` % for the load ``step`` reached."""
    return max(step.workers + 1, math.ceil(step.workers * step.generator_cpu / WORKER_CPU_TARGET))


def verdict(steps: list[Step], policy: Policy, stopped_because: str) -> dict[str, Any]:
    """The search's outcome: capacity at SLO per path, the knee, and whether the generator was the limit."""
    good = [s for s in steps if not judge(s, policy)]
    best = good[-1] if good else None
    busy = [s for s in steps if s.generator_bound]
    found_knee = knee(good or steps)
    outcome: dict[str, Any] = {
        "stopped_because": stopped_because,
        "policy": asdict(policy),
        "capacity": None,
        "knee": None,
        "generator_bound": bool(busy),
        "advice": "",
        "steps": [s.as_dict() for s in steps],
    }
    if best is not None:
        outcome["capacity"] = {
            "users": best.users,
            "rps": best.rps,
            "paths": {path: {"rps": f.rps, "p95_ms": f.p95_ms} for path, f in best.paths.items()},
        }
    if found_knee is not None:
        outcome["knee"] = {"users": found_knee.users, "rps": found_knee.rps, "mean_ms": round(found_knee.mean_ms, 1)}
    if busy:
        first = busy[0]
        needed = workers_needed(max(busy, key=lambda s: s.users))
        more = needed - first.workers
        outcome["advice"] = (
            f"generator-bound: a Locust process was at {first.generator_cpu:.0f} % CPU from {first.users} users on, "
            f"so the capacity found is a lower bound for the LB; run again with {needed} Locust processes "
            f"(--processes {needed}, or {more} more worker{'s' if more > 1 else ''})"
        )
    return outcome


def summary_lines(outcome: Mapping[str, Any]) -> list[str]:
    """The outcome in a few lines for a terminal or a log."""
    lines = [f"capacity search stopped: {outcome['stopped_because']}"]
    capacity = outcome.get("capacity")
    if capacity:
        per_path = ", ".join(f"{p} {f['rps']:g} req/s (p95 {f['p95_ms']:g} ms)" for p, f in capacity["paths"].items())
        lines.append(f"capacity at SLO: {capacity['rps']:g} req/s at {capacity['users']} users: {per_path}")
    else:
        lines.append("capacity at SLO: none, the first step already broke the SLO")
    if outcome.get("knee"):
        knee_ = outcome["knee"]
        lines.append(f"knee: {knee_['rps']:g} req/s at {knee_['users']} users (mean {knee_['mean_ms']:g} ms)")
    if outcome.get("advice"):
        lines.append(str(outcome["advice"]))
    return lines
