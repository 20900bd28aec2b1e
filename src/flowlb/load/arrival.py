"""An open model: requests start at a fixed arrival rate, on schedule, whatever the answers do.

A closed model (Locust's users) sends the next request only when the last one is answered, so a
frozen node makes the users wait and stop sending: the stall hides in a few slow samples while the
rate quietly drops (coordinated omission). Here request ``i`` of a :class:`Schedule` is *intended*
at ``start + i / rate``; the :class:`Scheduler` starts it then, in a bounded pool of concurrent
requests, and its latency counts from the intended time, not from when it actually went out.

What the scheduler cannot do is counted, never hidden (:class:`Counts`):

- **late**: a start more than :data:`LATE_BOUND_MS` after its intended time (the generator fell
  behind; its latency still counts from the intended time);
- **dropped**: too many requests were already in flight (waiting for a connection or for their answer), so the
  request never went out;
- **waited**: a request found every connection busy and waited for one longer than the late bound (its wait is
  in its latency, as in wrk2: connections are a fixed pool, not opened on demand under stress);
- **missed**: the run ended (Locust stopped) before the request's intended time came round.

Pure bookkeeping on an injected clock and sleep: gevent and Locust live in :mod:`flowlb.load.openmodel`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Generic, TypeVar

LATE_BOUND_MS = 50.0  # a start later than this after its intended time is late: a stall, not jitter (validity)
YIELD_EVERY = 64  # when behind schedule, let the started requests run after this many starts in a row


@dataclass(frozen=True)
class Schedule:
    """When each request is due: ``rate`` per second from ``start`` for ``seconds``; the first ``warmup_s``
    are not measured."""

    start: float
    rate: float
    seconds: float
    warmup_s: float = 0.0

    def __post_init__(self) -> None:
        if not (self.rate > 0 and math.isfinite(self.rate)):
            raise ValueError(f"an arrival rate must be a positive number, not {self.rate!r}")
        if not 0 <= self.warmup_s < self.seconds:
            raise ValueError(f"the warm-up ({self.warmup_s:g} s) must be shorter than the run ({self.seconds:g} s)")

    def count(self) -> int:
        """How many requests the schedule holds (bounded: rate x seconds)."""
        return math.ceil(self.rate * self.seconds - 1e-9)

    def at(self, index: int) -> float:
        """The intended start of request ``index``."""
        return self.start + index / self.rate

    def first_measured(self) -> int:
        """The index of the first request after the warm-up."""
        return math.ceil(self.warmup_s * self.rate - 1e-9)

    def measured(self, index: int) -> bool:
        """Whether request ``index`` falls after the warm-up."""
        return index >= self.first_measured()

    def offered(self) -> int:
        """Requests due in the measured window."""
        return max(self.count() - self.first_measured(), 0)

    @property
    def measured_seconds(self) -> float:
        return self.seconds - self.warmup_s


@dataclass
class Counts:
    """What happened to the measured window's requests (the warm-up's are not counted)."""

    offered: int = 0  # due in the measured window
    started: int = 0  # went out (on time or late)
    late: int = 0  # of those started, how many started later than the bound
    waited: int = 0  # of those started, how many waited for a free connection longer than the bound
    dropped: int = 0  # not started: too many requests in flight
    missed: int = 0  # not started: the run ended before they were due
    completed: int = 0  # answered or failed, with a latency recorded
    failed: int = 0  # of those completed, how many failed
    unfinished: int = 0  # started but still unanswered when the run's drain ended (latency recorded as a floor)
    worst_late_ms: float = 0.0  # the latest start, in ms after its intended time

    def add(self, other: Counts) -> None:
        for name, value in asdict(other).items():
            if name == "worst_late_ms":
                self.worst_late_ms = max(self.worst_late_ms, float(value))
            else:
                setattr(self, name, getattr(self, name) + int(value))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def of(cls, data: dict[str, Any]) -> Counts:
        counts = cls()
        counts.add(cls(**{k: v for k, v in data.items() if k in asdict(counts)}))
        return counts


Slot = TypeVar("Slot")


class SlotPool(Generic[Slot]):
    """At most ``size`` slots (a connection, a session), made on demand and reused once free.

    Fixed, so that a stall does not make the generator open hundreds of new TLS connections at once: their
    handshakes would load the LB (and a generator on the same machine) with work no steady client gives it,
    and turn a short stall into a collapse."""

    def __init__(self, size: int, make: Callable[[], Slot]) -> None:
        if size < 1:
            raise ValueError(f"the pool needs at least one slot, not {size}")
        self.size = size
        self.make = make
        self.idle: list[Slot] = []
        self.made: list[Slot] = []

    def acquire(self) -> Slot | None:
        """A free slot, a new one while fewer than ``size`` exist, or None: the pool is exhausted."""
        if self.idle:
            return self.idle.pop()
        if len(self.made) >= self.size:
            return None
        slot = self.make()
        self.made.append(slot)
        return slot

    def release(self, slot: Slot) -> None:
        self.idle.append(slot)

    @property
    def busy(self) -> int:
        return len(self.made) - len(self.idle)


class Scheduler:
    """Walks a :class:`Schedule`: waits for each intended time, then starts the request or counts why not.

    ``start(index, intended)`` launches request ``index`` (without waiting for its answer) and returns
    False when no slot was free; ``done(measured, latency_ms, failed)`` is called by whoever finishes it.
    """

    def __init__(self, schedule: Schedule, clock: Callable[[], float], sleep: Callable[[float], Any],
                 start: Callable[[int, float], bool], late_bound_ms: float = LATE_BOUND_MS) -> None:
        self.schedule = schedule
        self.clock = clock
        self.sleep = sleep
        self.start = start
        self.late_bound_s = late_bound_ms / 1000.0
        self.counts = Counts(offered=schedule.offered())
        self.warmup = Counts()
        self.next_index = 0
        self.last_measured_lateness: float | None = None

    def run(self, stopped: Callable[[], bool] = lambda: False) -> Counts:
        """Start every request of the schedule on time (bounded by its count), or until ``stopped()``."""
        behind = 0
        for index in range(self.schedule.count()):
            intended = self.schedule.at(index)
            wait = intended - self.clock()
            if wait > 0:
                behind = 0
                self.sleep(wait)
            else:
                behind += 1
                if behind % YIELD_EVERY == 0:
                    self.sleep(0)
            if stopped():
                break
            self.next_index = index + 1
            counts = self.counts if self.schedule.measured(index) else self.warmup
            now = self.clock()
            lateness = now - intended
            if counts is self.counts:
                self.last_measured_lateness = lateness
            if not self.start(index, intended):
                counts.dropped += 1
                continue
            counts.started += 1
            if lateness > self.late_bound_s:
                counts.late += 1
            counts.worst_late_ms = max(counts.worst_late_ms, round(lateness * 1000.0, 3))
        self.counts.missed = self.schedule.count() - max(self.next_index, self.schedule.first_measured())
        return self.counts

    def sending_seconds(self) -> float:
        """How long the measured window's starts really took: the window, plus how late its last start went.
        A generator that kept up takes the window's length; one that fell behind, longer."""
        if self.last_measured_lateness is None:
            return 0.0
        return self.schedule.measured_seconds + max(self.last_measured_lateness, 0.0)

    def waited(self, index: int) -> None:
        """Request ``index`` waited for a free connection longer than the late bound."""
        counts = self.counts if self.schedule.measured(index) else self.warmup
        counts.waited += 1

    def done(self, index: int, failed: bool, finished: bool = True) -> None:
        """Request ``index`` completed (answered, or failed), or was unanswered at the end (``finished`` False)."""
        counts = self.counts if self.schedule.measured(index) else self.warmup
        if not finished:
            counts.unfinished += 1
            return
        counts.completed += 1
        if failed:
            counts.failed += 1


def split_rate(total: float, weights: dict[str, float], generators: int) -> dict[str, float]:
    """Each scenario's rate in one of ``generators`` processes: ``total`` split by the weights, then evenly."""
    if generators < 1:
        raise ValueError(f"at least one generator is needed, not {generators}")
    positive = {name: w for name, w in weights.items() if w > 0}
    whole = sum(positive.values())
    if not positive or whole <= 0:
        raise ValueError("the mix leaves no scenario with a weight above 0")
    return {name: total * w / whole / generators for name, w in positive.items()}
