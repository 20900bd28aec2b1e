"""Capacity by arrival rate: steps of offered rate, each judged on its own, and where they stop.

Pure bookkeeping (the runs are :mod:`flowlb.load.ratesearch`'s). Each :class:`RateStep` is one
open-model run at a fixed offered rate: what was achieved, the HDR p95/p99 per path, failures, whether
the generator kept up, and HAProxy's own counters over the step when a runtime API is there. The search
stops at the first step that

- **plateaus**: the achieved rate is under 95 % of the offered one (throughput stopped following the
  offered rate: the LB, or the machine under it, is full); or
- **breaks the SLO**: a path's p95 (from the intended send time) over its limit, or failures over the ratio.

When the search stops between a step that held and one that did not, :func:`refine` halves that gap
:data:`REFINE_ROUNDS` times (a knee is often a cliff: p95 from 8 ms to 2 s within one coarse step), so
the knee is known to an eighth of a step. The *knee* is the highest step whose throughput still followed
the offered rate; the *capacity at SLO* the highest step that met the SLO too. A step whose generator did
not keep up (late starts, its CPU over 90 %) is marked generator-bound: from there on the figures are a
lower bound for the LB.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from flowlb.load.validity import CPU_LIMIT, MAX_LATE_SHARE, MIN_ACHIEVED_SHARE


@dataclass(frozen=True)
class RateStep:
    """One step: the offered and achieved rate, its latency per path, and HAProxy's counters over it."""

    offered: float
    achieved: float
    p95_ms: dict[str, float]
    p99_ms: dict[str, float]
    completed: int
    failed: int
    late: int
    started: int
    generator_cpu: float
    haproxy: dict[str, float] = field(default_factory=dict)

    @property
    def follows(self) -> bool:
        """Whether throughput kept up with the offered rate."""
        return self.offered > 0 and self.achieved >= MIN_ACHIEVED_SHARE * self.offered

    @property
    def generator_bound(self) -> bool:
        return self.generator_cpu > CPU_LIMIT or (self.started > 0 and self.late > MAX_LATE_SHARE * self.started)

    @classmethod
    def of(cls, arrival: Mapping[str, Any], haproxy: Mapping[str, float] | None = None) -> RateStep:
        """From one step's ``arrival.json`` (:mod:`flowlb.load.arrivalresult`)."""
        rate, latency = arrival.get("rate") or {}, arrival.get("latency_ms") or {}
        cpu = (arrival.get("validity") or {}).get("generator_cpu") or [0.0]
        return cls(
            offered=float(rate.get("offered", 0.0)),
            achieved=float(rate.get("achieved", 0.0)),
            p95_ms={p: float(f.get("p95", f.get("p99", 0.0))) for p, f in latency.items() if f.get("count")},
            p99_ms={p: float(f.get("p99", 0.0)) for p, f in latency.items() if f.get("count")},
            completed=int(rate.get("completed", 0)),
            failed=int(rate.get("failed", 0)),
            late=int(rate.get("late", 0)),
            started=int(rate.get("started", 0)),
            generator_cpu=max(float(c) for c in cpu),
            haproxy=dict(haproxy or {}),
        )

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "follows": self.follows, "generator_bound": self.generator_bound}


def slo_breaches(step: RateStep, p95_limits_ms: Mapping[str, float], failure_ratio: float) -> list[str]:
    """Why ``step`` broke the SLO, one reason each; empty when it met it."""
    reasons = []
    if step.completed == 0:
        reasons.append(f"no request was answered at {step.offered:g} req/s")
    elif step.failed / step.completed > failure_ratio:
        reasons.append(f"{step.failed} of {step.completed} requests failed at {step.offered:g} req/s "
                       f"(more than {failure_ratio:.1%})")
    for path, limit in p95_limits_ms.items():
        measured = step.p95_ms.get(path)
        if measured is not None and measured > limit:
            reasons.append(f"p95 on {path} was {measured:g} ms at {step.offered:g} req/s (limit {limit:g} ms)")
    return reasons


def stop_reason(step: RateStep, p95_limits_ms: Mapping[str, float], failure_ratio: float) -> str:
    """Why the search stops at ``step``, or ``""`` to go on."""
    breaches = slo_breaches(step, p95_limits_ms, failure_ratio)
    if breaches:
        return "SLO broken: " + "; ".join(breaches)
    if not step.follows:
        return (f"plateau: {step.achieved:g} req/s achieved of {step.offered:g} offered "
                f"(under {MIN_ACHIEVED_SHARE:.0%}: throughput stopped following the offered rate)")
    return ""


REFINE_ROUNDS = 3
"""How many times the gap between the last step that held and the first that did not is halved."""


def refine(held: float, gave_way: float, holds: Callable[[float], bool], rounds: int = REFINE_ROUNDS) -> list[float]:
    """Bisect between an offered rate that ``held`` and one that ``gave_way``: each round runs the middle rate
    (``holds``) and keeps the half where the change happens. Returns the rates tried, in order."""
    tried = []
    for _ in range(rounds):
        middle = round((held + gave_way) / 2, 6)
        if middle in (held, gave_way):
            break
        tried.append(middle)
        if holds(middle):
            held = middle
        else:
            gave_way = middle
    return tried


def verdict(steps: list[RateStep], p95_limits_ms: Mapping[str, float], failure_ratio: float,
            stopped_because: str) -> dict[str, Any]:
    """The search's outcome: the knee, the capacity at SLO, the first step that broke the SLO, per-step figures
    (ordered by offered rate: the refining steps run after the coarse ones)."""
    steps = sorted(steps, key=lambda step: step.offered)
    following = [s for s in steps if s.follows]
    good = [s for s in following if not slo_breaches(s, p95_limits_ms, failure_ratio)]
    broke = next((s for s in steps if slo_breaches(s, p95_limits_ms, failure_ratio)), None)
    bound = next((s for s in steps if s.generator_bound), None)
    return {
        "stopped_because": stopped_because,
        "policy": {"p95_ms": dict(p95_limits_ms), "failure_ratio": failure_ratio},
        "knee": {"offered": following[-1].offered, "achieved": following[-1].achieved} if following else None,
        "capacity": {"offered": good[-1].offered, "achieved": good[-1].achieved, "p95_ms": good[-1].p95_ms}
        if good else None,
        "first_slo_break": {"offered": broke.offered, "reasons": slo_breaches(broke, p95_limits_ms, failure_ratio)}
        if broke else None,
        "generator_bound_from": bound.offered if bound else None,
        "steps": [s.as_dict() for s in steps],
    }


def summary_lines(outcome: Mapping[str, Any]) -> list[str]:
    """The outcome in a few lines for the terminal."""
    lines = [f"rate search stopped: {outcome['stopped_because']}"]
    knee, capacity, broke = outcome.get("knee"), outcome.get("capacity"), outcome.get("first_slo_break")
    lines.append(f"knee: throughput followed up to {knee['offered']:g} req/s offered ({knee['achieved']:g} achieved)"
                 if knee else "knee: none, the first step already fell behind the offered rate")
    lines.append(f"capacity at SLO: {capacity['offered']:g} req/s offered ({capacity['achieved']:g} achieved)"
                 if capacity else "capacity at SLO: none")
    if broke:
        lines.append(f"first SLO break at {broke['offered']:g} req/s: {'; '.join(broke['reasons'])}")
    if outcome.get("generator_bound_from") is not None:
        lines.append(f"generator-bound from {outcome['generator_bound_from']:g} req/s (late starts or its CPU over "
                     f"{CPU_LIMIT:g} %): from there on the figures are a lower bound for the LB; add --processes")
    for step in outcome.get("steps", []):
        counters = ", ".join(f"{k} {v:g}" for k, v in step.get("haproxy", {}).items())
        lines.append(f"  step {step['offered']:g} req/s: achieved {step['achieved']:g}, p95 "
                     + ", ".join(f"{p} {v:g} ms" for p, v in step["p95_ms"].items())
                     + f", {step['failed']} failed" + (f"; HAProxy: {counters}" if counters else ""))
    return lines
