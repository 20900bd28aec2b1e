"""The open model's connections: a fixed pool that requests wait for, and the in-flight bound beyond which starts
are dropped. Real gevent greenlets on a stand-in user class (no LB, no Locust run): each request takes 50 ms, so
two connections carry 40 req/s and an offered 50 req/s must queue, on any machine (a slower one queues more)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import gevent
from locust.event import EventHook

from flowlb.load.openmodel import ArrivalPlan, Generation

TASK_S = 0.05


class SlowUser:
    """A scenario's user class as the open model uses it: made per connection, started once, one task a request."""

    host = "https://127.0.0.1"
    made: ClassVar[int] = 0

    def __init__(self, environment: Any) -> None:
        SlowUser.made += 1

    def on_start(self) -> None:
        pass

    def on_stop(self) -> None:
        pass

    @staticmethod
    def answer(user: Any) -> None:
        gevent.sleep(TASK_S)

    tasks: ClassVar[list[Any]] = [answer]


def run(tmp_path: Path, connections: int, max_in_flight: int) -> dict[str, Any]:
    SlowUser.made = 0
    environment = SimpleNamespace(events=SimpleNamespace(request=EventHook()), host="https://127.0.0.1")
    plan = ArrivalPlan(rate=50.0, seconds=1.0, warmup_s=0.0, max_in_flight=max_in_flight, directory=tmp_path,
                       generators=1, connections=connections)
    report = Generation(environment, plan, {"api": SlowUser}, {"api": 50.0}).run()  # type: ignore[dict-item]
    return dict(report["counts"]["https"])


def test_requests_wait_for_a_busy_connection_instead_of_opening_more(tmp_path: Path) -> None:
    """A stall must not make the generator open connection after connection (each a TLS handshake on the LB):
    the two connections carry every request, the ones that found both busy wait (counted), none is dropped.
    Fails when the pool grows past its size, a waiting request is dropped or lost, or waits go uncounted."""
    counts = run(tmp_path, connections=2, max_in_flight=1000)
    assert SlowUser.made == 2
    assert counts["offered"] == counts["started"] == counts["completed"] == 50, counts
    assert counts["dropped"] == 0 and counts["waited"] > 0, counts


def test_starts_beyond_the_in_flight_bound_are_dropped(tmp_path: Path) -> None:
    """Four requests may wait or run at once: with 50 ms answers on two connections most starts find four
    ahead of them and are dropped, not queued without end. Fails when the bound is not applied."""
    counts = run(tmp_path, connections=2, max_in_flight=4)
    assert SlowUser.made == 2
    assert counts["dropped"] > 0 and counts["started"] + counts["dropped"] == 50, counts
    assert counts["completed"] == counts["started"], counts
