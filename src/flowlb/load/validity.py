"""Whether an arrival-rate run measured the LB or its own generator: the rules that make a run invalid.

A run's numbers are only the LB's when the generator kept up. A run is **invalid** (``flowlb load``
exits 3) when any of these holds, each named in one line:

- the achieved rate (the measured window's requests completed, per second of the window or of the time their
  starts really took, when a generator fell behind) is under
  :data:`MIN_ACHIEVED_SHARE` (95 %) of the offered rate;
- more than :data:`MAX_LATE_SHARE` (1 %) of the starts were late, i.e. began more than
  :data:`flowlb.load.arrival.LATE_BOUND_MS` (50 ms) after their intended time (on a shared 2-core machine, run
  niced, a generator that keeps up starts a few requests 10 to 40 ms late; one that falls behind, seconds late);
- a generator process used over :data:`CPU_LIMIT` (90 %) of one core over the measured window;
- the whole machine was over 90 % busy over the measured window, steal time counted as busy
  (``/proc/stat``: a generator starved by the rest of the machine, or by its hypervisor);
- fewer generators reported than ran (a worker died, or Locust stopped it before it finished).

Dropped starts (the pool of concurrent requests exhausted) are not a rule of their own: they are not
sent, so they show in the achieved rate.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flowlb.load.arrival import LATE_BOUND_MS, Counts

MIN_ACHIEVED_SHARE = 0.95
MAX_LATE_SHARE = 0.01
CPU_LIMIT = 90.0
INVALID_EXIT_CODE = 3


@dataclass(frozen=True)
class CpuTimes:
    """The machine's CPU counters (jiffies) from ``/proc/stat``'s first line: busy (steal included) and all."""

    busy: int
    total: int


def parse_proc_stat(text: str) -> CpuTimes:
    """``/proc/stat``'s ``cpu`` line: user nice system idle iowait irq softirq steal [guest guest_nice].

    Idle and iowait are idle; everything else up to steal is busy. Guest time is already in user's."""
    for line in text.splitlines():
        fields = line.split()
        if fields and fields[0] == "cpu":
            values = [int(v) for v in fields[1:9]] + [0] * max(0, 8 - len(fields[1:9]))
            user, nice, system, idle, iowait, irq, softirq, steal = values
            busy = user + nice + system + irq + softirq + steal
            return CpuTimes(busy, busy + idle + iowait)
    raise ValueError("no 'cpu' line in /proc/stat")


def machine_times(path: Path = Path("/proc/stat")) -> CpuTimes | None:
    """The machine's CPU counters now, or None where there is no ``/proc/stat``."""
    try:
        return parse_proc_stat(path.read_text())
    except (OSError, ValueError):
        return None


def busy_percent(before: CpuTimes | None, after: CpuTimes | None) -> float | None:
    """The machine's busy share between two readings, in % of all its cores; None when unknown."""
    if before is None or after is None or after.total <= before.total:
        return None
    return round(100.0 * (after.busy - before.busy) / (after.total - before.total), 1)


@dataclass(frozen=True)
class RunFacts:
    """What the rules read: the merged counts, the measured window, the CPU figures, the generators."""

    counts: Counts
    offered_rate: float
    measured_seconds: float
    generator_cpu: list[float]  # each generator process's CPU over the measured window, % of one core
    machine_cpu: float | None  # the whole machine's, steal included, % of all cores
    generators_expected: int
    generators_reported: int
    sending_seconds: float = 0.0  # how long the starts really took, when longer than the window (a generator behind)

    @property
    def achieved_rate(self) -> float:
        """Requests completed per second of the window, or of the time the starts really took when that was longer."""
        seconds = max(self.measured_seconds, self.sending_seconds)
        return self.counts.completed / seconds if seconds > 0 else 0.0


def reasons(facts: RunFacts) -> list[str]:
    """Why the run is invalid, one line each; empty when it is valid."""
    found = []
    counts = facts.counts
    if facts.generators_reported < facts.generators_expected:
        found.append(f"only {facts.generators_reported} of {facts.generators_expected} generators reported")
    if facts.offered_rate > 0 and facts.achieved_rate < MIN_ACHIEVED_SHARE * facts.offered_rate:
        found.append(f"achieved {facts.achieved_rate:.1f} req/s of {facts.offered_rate:g} offered "
                     f"({facts.achieved_rate / facts.offered_rate:.0%}, under {MIN_ACHIEVED_SHARE:.0%}; "
                     f"{counts.dropped} dropped, {counts.missed} missed)")
    if counts.started and counts.late > MAX_LATE_SHARE * counts.started:
        found.append(f"{counts.late} of {counts.started} starts ({counts.late / counts.started:.1%}) were over "
                     f"{LATE_BOUND_MS:g} ms late (over {MAX_LATE_SHARE:.0%}; the latest {counts.worst_late_ms:g} ms)")
    for index, cpu in enumerate(facts.generator_cpu):
        if cpu > CPU_LIMIT:
            found.append(f"generator process {index + 1} used {cpu:g} % of a core (over {CPU_LIMIT:g} %)")
    if facts.machine_cpu is not None and facts.machine_cpu > CPU_LIMIT:
        found.append(f"the machine was {facts.machine_cpu:g} % busy, steal included (over {CPU_LIMIT:g} %)")
    return found


def rate_summary(facts: RunFacts) -> dict[str, Any]:
    """``summary.json``'s ``rate``: offered and achieved req/s, and what the scheduler could not do."""
    counts = facts.counts
    return {
        "offered": round(facts.offered_rate, 3),
        "achieved": round(facts.achieved_rate, 3),
        "late": counts.late,
        "waited": counts.waited,
        "dropped": counts.dropped,
        "missed": counts.missed,
        "offered_requests": counts.offered,
        "started": counts.started,
        "completed": counts.completed,
        "failed": counts.failed,
        "unfinished": counts.unfinished,
        "worst_late_ms": counts.worst_late_ms,
        "late_bound_ms": LATE_BOUND_MS,
        "measured_seconds": round(facts.measured_seconds, 3),
        "sending_seconds": round(max(facts.sending_seconds, facts.measured_seconds), 3),
    }
