"""The open model's bookkeeping without Locust or timing: the scheduler on a fake clock (late, dropped, missed,
warm-up), the slot pool, the rate split, and what a request's end records."""

from __future__ import annotations

import pytest

from flowlb.load.arrival import LATE_BOUND_MS, Counts, Schedule, Scheduler, SlotPool, split_rate


class FakeClock:
    """A clock that moves only when slept on, each sleep overshooting by ``overshoot(i)`` seconds."""

    def __init__(self, start: float = 100.0, overshoot: dict[int, float] | None = None) -> None:
        self.now = start
        self.sleeps = 0
        self.yields = 0
        self.overshoot = overshoot or {}

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.yields += seconds == 0
        self.now += max(seconds, 0.0) + self.overshoot.get(self.sleeps, 0.0)
        self.sleeps += 1


def always(started: list[tuple[int, float]]):
    def start(index: int, intended: float) -> bool:
        started.append((index, intended))
        return True
    return start


def test_every_start_on_time_is_neither_late_nor_dropped() -> None:
    clock = FakeClock()
    started: list[tuple[int, float]] = []
    scheduler = Scheduler(Schedule(clock() + 0.5, rate=20, seconds=2), clock, clock.sleep, always(started))
    counts = scheduler.run()
    assert [i for i, _ in started] == list(range(40))
    assert started[1][1] - started[0][1] == pytest.approx(0.05)
    assert counts == Counts(offered=40, started=40)


def test_a_start_later_than_the_bound_is_counted_late_with_its_lateness() -> None:
    clock = FakeClock(overshoot={3: LATE_BOUND_MS / 1000 + 0.005, 7: LATE_BOUND_MS / 1000 - 0.001})
    scheduler = Scheduler(Schedule(clock() + 0.1, rate=10, seconds=2), clock, clock.sleep, always([]))
    counts = scheduler.run()
    assert counts.late == 1, counts  # 15 ms late is late; 9 ms is not
    assert counts.worst_late_ms == pytest.approx(LATE_BOUND_MS + 5, abs=0.01)
    assert counts.started == counts.offered == 20


def test_a_generator_that_falls_behind_starts_the_overdue_requests_late_and_yields() -> None:
    clock = FakeClock()
    schedule = Schedule(clock() - 1.0, rate=100, seconds=2)  # a second behind before it starts
    counts = Scheduler(schedule, clock, clock.sleep, always([])).run()
    assert counts.started == 200
    assert counts.late == 95, counts  # the first second's starts, all at once: those over 50 ms late
    assert clock.yields == 1, "it must yield to the started requests every 64 starts while catching up"


def test_starts_with_no_free_slot_are_dropped_not_sent() -> None:
    clock = FakeClock()
    pool: SlotPool[int] = SlotPool(3, iter(range(100)).__next__)

    def start(index: int, intended: float) -> bool:
        return pool.acquire() is not None  # nothing is ever answered: the slots stay busy

    counts = Scheduler(Schedule(clock(), rate=10, seconds=1), clock, clock.sleep, start).run()
    assert (counts.started, counts.dropped, pool.busy, len(pool.made)) == (3, 7, 3, 3)


def test_a_freed_slot_is_reused_before_a_new_one_is_made() -> None:
    made = iter(range(100))
    pool: SlotPool[int] = SlotPool(2, made.__next__)
    first = pool.acquire()
    assert first is not None
    pool.release(first)
    assert pool.acquire() == first and pool.acquire() == 1 and pool.acquire() is None
    with pytest.raises(ValueError, match="at least one slot"):
        SlotPool(0, made.__next__)


def test_the_warm_up_is_run_but_not_counted() -> None:
    clock = FakeClock()
    started: list[tuple[int, float]] = []
    schedule = Schedule(clock(), rate=10, seconds=3, warmup_s=1)
    counts = Scheduler(schedule, clock, clock.sleep, always(started)).run()
    assert len(started) == 30
    assert counts.offered == counts.started == 20
    assert schedule.first_measured() == 10 and not schedule.measured(9) and schedule.measured(10)


def test_requests_never_due_before_the_stop_are_missed() -> None:
    clock = FakeClock()
    scheduler = Scheduler(Schedule(clock(), rate=10, seconds=2), clock, clock.sleep, always([]))
    counts = scheduler.run(stopped=lambda: clock() >= 100.5 - 1e-9)
    assert (counts.offered, counts.started, counts.missed) == (20, 5, 15)


def test_each_end_of_a_request_is_counted_once_by_what_happened() -> None:
    clock = FakeClock()
    scheduler = Scheduler(Schedule(clock(), rate=10, seconds=2, warmup_s=1), clock, clock.sleep, always([]))
    scheduler.run()
    scheduler.done(15, failed=False)
    scheduler.done(16, failed=True)
    scheduler.done(17, failed=True, finished=False)
    scheduler.done(2, failed=True)  # the warm-up's
    assert (scheduler.counts.completed, scheduler.counts.failed, scheduler.counts.unfinished) == (2, 1, 1)
    assert (scheduler.warmup.completed, scheduler.warmup.failed) == (1, 1)


@pytest.mark.parametrize(("rate", "seconds", "warmup", "message"), [
    (0, 10, 0, "positive number"), (float("nan"), 10, 0, "positive number"), (float("inf"), 10, 0, "positive"),
    (10, 10, 10, "shorter than the run"), (10, 10, -1, "shorter than the run"),
])
def test_a_schedule_that_cannot_run_is_refused(rate: float, seconds: float, warmup: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Schedule(0.0, rate, seconds, warmup)


def test_the_rate_is_split_by_the_mix_then_evenly_over_the_generators() -> None:
    rates = split_rate(70, {"api": 4, "handshake": 1, "stomp": 2}, generators=2)
    assert rates == pytest.approx({"api": 20, "handshake": 5, "stomp": 10})
    assert split_rate(10, {"api": 1, "stomp": 0}, 1) == {"api": 10}
    with pytest.raises(ValueError, match="no scenario"):
        split_rate(10, {"api": 0}, 1)
    with pytest.raises(ValueError, match="one generator"):
        split_rate(10, {"api": 1}, 0)


def test_counts_add_up_across_generators() -> None:
    total = Counts()
    total.add(Counts(offered=10, started=9, late=1, dropped=1, completed=9, worst_late_ms=12.0))
    total.add(Counts.of({"offered": 10, "started": 10, "completed": 8, "unfinished": 2, "worst_late_ms": 3.0}))
    assert total == Counts(offered=20, started=19, late=1, dropped=1, completed=17, unfinished=2, worst_late_ms=12.0)


def test_a_generator_behind_schedule_took_longer_than_the_window_to_send_it() -> None:
    on_time = FakeClock()
    scheduler = Scheduler(Schedule(on_time(), rate=10, seconds=3, warmup_s=1), on_time, on_time.sleep, always([]))
    scheduler.run()
    assert scheduler.sending_seconds() == pytest.approx(2.0)  # the window's length: it kept up
    busy = FakeClock()

    def start(index: int, intended: float) -> bool:
        busy.now += 0.15  # each start costs the generator 150 ms: it cannot keep 10 a second
        return True

    behind = Scheduler(Schedule(busy(), rate=10, seconds=3, warmup_s=1), busy, busy.sleep, start)
    counts = behind.run()
    # the last start (index 29, due at 2.9 s) went at 29 x 0.15 s: the 2 s window took 1.45 s more
    assert behind.sending_seconds() == pytest.approx(2.0 + 29 * 0.15 - 2.9), behind.sending_seconds()
    assert counts.started == 20 and counts.late >= 19


def test_a_generator_far_behind_stops_at_its_overrun_and_the_rest_are_missed() -> None:
    clock = FakeClock()

    def start(index: int, intended: float) -> bool:
        clock.now += 0.5  # each start costs 500 ms: 10 a second is out of reach
        return True

    schedule = Schedule(clock(), rate=10, seconds=2)
    counts = Scheduler(schedule, clock, clock.sleep, start).run(stopped=lambda: clock() > 100.0 + 2 + 5)
    assert counts.started == 15 and counts.missed == 5, counts  # starts at 0, 0.5 ... 7.0 s; then the overrun
