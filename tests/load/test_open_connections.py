"""The open model's connections: a fixed pool that requests wait for, and the in-flight bound beyond which starts
are dropped. Real gevent greenlets on a stand-in user class (no LB, no Locust run): each request takes 50 ms, so
two connections carry 40 req/s and an offered 50 req/s must queue, on any machine (a slower one queues more).

Each case runs in a child process: importing Locust patches the interpreter for gevent, which must not happen
inside a pytest-xdist worker."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

GENERATION = """
import json, sys
from pathlib import Path
from types import SimpleNamespace
import gevent
from locust.event import EventHook
from flowlb.load.openmodel import ArrivalPlan, Generation

made = []

class SlowUser:
    host = "https://127.0.0.1"
    def __init__(self, environment):
        made.append(self)
    def on_start(self):
        pass
    def on_stop(self):
        pass
    tasks = [lambda user: gevent.sleep(0.05)]

connections, max_in_flight = int(sys.argv[1]), int(sys.argv[2])
environment = SimpleNamespace(events=SimpleNamespace(request=EventHook()), host="https://127.0.0.1")
plan = ArrivalPlan(rate=50.0, seconds=1.0, warmup_s=0.0, max_in_flight=max_in_flight, directory=Path(sys.argv[3]),
                   generators=1, connections=connections)
report = Generation(environment, plan, {"api": SlowUser}, {"api": 50.0}).run()
print(json.dumps({"made": len(made), **report["counts"]["https"]}))
"""


def run(tmp_path: Path, connections: int, max_in_flight: int) -> dict[str, Any]:
    command = [sys.executable, "-c", GENERATION, str(connections), str(max_in_flight), str(tmp_path)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def test_requests_wait_for_a_busy_connection_instead_of_opening_more(tmp_path: Path) -> None:
    """A stall must not make the generator open connection after connection (each a TLS handshake on the LB):
    the two connections carry every request, the ones that found both busy wait (counted), none is dropped.
    Fails when the pool grows past its size, a waiting request is dropped or lost, or waits go uncounted."""
    counts = run(tmp_path, connections=2, max_in_flight=1000)
    assert counts["made"] == 2, counts
    assert counts["offered"] == counts["started"] == counts["completed"] == 50, counts
    assert counts["dropped"] == 0 and counts["waited"] > 0, counts


def test_starts_beyond_the_in_flight_bound_are_dropped(tmp_path: Path) -> None:
    """Four requests may wait or run at once: with 50 ms answers on two connections most starts find four
    ahead of them and are dropped, not queued without end. Fails when the bound is not applied."""
    counts = run(tmp_path, connections=2, max_in_flight=4)
    assert counts["made"] == 2, counts
    assert counts["dropped"] > 0 and counts["started"] + counts["dropped"] == 50, counts
    assert counts["completed"] == counts["started"], counts
