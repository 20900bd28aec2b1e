"""A bounded stream of idempotent requests through the LB, recorded per request for failover checks.

Every request is recorded with when it started, how long it took, which node answered (or the
error), so a check can say "3 requests failed, all within 0.8 s of the kill" and the report can draw
the timeline. The stream stops by itself after ``max_requests`` or ``max_seconds``, whichever first::

    with RequestStream(pool_factory, path="/flowlb/failover", workers=4, max_seconds=20) as stream:
        ...kill a node, wait for HAProxy to mark it down...
    stream.failures()
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

import urllib3

from flowlb.lbclient import echo

MAX_INTERVALS = 120  # bounds the per-interval series a report draws
MIN_INTERVAL_S = 0.01


def _readable_step(seconds: float) -> float:
    """The smallest 1, 2 or 5 x 10^k seconds (at least :data:`MIN_INTERVAL_S`) not below ``seconds``."""
    exponent = math.floor(math.log10(max(seconds, MIN_INTERVAL_S)))
    for mantissa in (1, 2, 5, 10):
        step = round(mantissa * 10.0**exponent, 6)
        if step >= seconds:
            return max(step, MIN_INTERVAL_S)
    raise AssertionError("unreachable: 10 x 10^floor(log10(x)) >= x")


@dataclass(frozen=True)
class Outcome:
    """One request: start time (seconds since the stream began), duration, node or error."""

    started: float
    seconds: float
    node: str | None
    status: int | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.error is None and self.status == 200


def _node_of(reply: urllib3.BaseHTTPResponse) -> str | None:
    """The mock node that answered; ``None`` for a real Flow server, which does not say."""
    try:
        return echo(reply).get("node")
    except (ValueError, AttributeError):
        return None


class RequestStream:
    """Worker threads sending GETs until stopped or a bound is reached."""

    def __init__(
        self,
        pool_factory: Callable[[], urllib3.HTTPConnectionPool],
        path: str,
        workers: int = 4,
        max_requests: int = 20000,
        max_seconds: float = 30.0,
        retries: urllib3.Retry | bool = False,
    ) -> None:
        self.pool_factory = pool_factory
        self.retries = retries
        self.path = path
        self.workers = workers
        self.max_requests = max_requests
        self.max_seconds = max_seconds
        self.outcomes: list[Outcome] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.t0 = 0.0

    def start(self) -> RequestStream:
        self.t0 = time.monotonic()
        for index in range(self.workers):
            thread = threading.Thread(target=self._run, name=f"stream-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def now(self) -> float:
        """Seconds since the stream started: the clock of every recorded event."""
        return time.monotonic() - self.t0

    def _run(self) -> None:
        pool = self.pool_factory()
        try:
            while not self._stop.is_set() and self.now() < self.max_seconds:
                with self._lock:
                    if len(self.outcomes) >= self.max_requests:
                        return
                started = self.now()
                try:
                    reply = pool.request("GET", self.path, retries=self.retries)
                    node = _node_of(reply) if reply.status == 200 else None
                    outcome = Outcome(started, self.now() - started, node, reply.status, None)
                except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
                    outcome = Outcome(started, self.now() - started, None, None, type(exc).__name__)
                with self._lock:
                    self.outcomes.append(outcome)
        finally:
            pool.close()

    def in_flight(self, count: int, delay_ms: int) -> None:
        """Start ``count`` slow requests at once (each node answers after ``delay_ms``), on connections of
        their own: a node that dies while they run has requests on it, so the check does not hang on luck."""
        for index in range(count):
            thread = threading.Thread(target=self._one_slow, args=(delay_ms,), name=f"in-flight-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def _one_slow(self, delay_ms: int) -> None:
        pool = self.pool_factory()
        started = self.now()
        try:
            reply = pool.request("GET", f"{self.path}?in-flight=1&delay_ms={delay_ms}")
            node = echo(reply).get("node") if reply.status == 200 else None
            outcome = Outcome(started, self.now() - started, node, reply.status, None)
        except (urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
            outcome = Outcome(started, self.now() - started, None, None, type(exc).__name__)
        finally:
            pool.close()
        with self._lock:
            self.outcomes.append(outcome)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(self.max_seconds)

    def count(self) -> int:
        with self._lock:
            return len(self.outcomes)

    def snapshot(self) -> list[Outcome]:
        with self._lock:
            return sorted(self.outcomes, key=lambda o: o.started)

    def failures(self) -> list[Outcome]:
        return [o for o in self.snapshot() if not o.ok]

    def series(self, until: float | None = None, max_intervals: int = MAX_INTERVALS) -> dict[str, object]:
        """Requests per node and failures per interval (by start time), for the report's timeline.

        At most ``max_intervals`` equal intervals from 0 to ``until`` (default: now), so the size
        is bounded whatever the stream's length: ``{"interval_s", "t", "nodes": {node: [...]}, "failed": [...]}``.
        """
        end = max(self.now() if until is None else until, MIN_INTERVAL_S)
        interval = _readable_step(end / (max_intervals // 2))
        count = min(max_intervals, int(end / interval) + 1)
        nodes: dict[str, list[int]] = {}
        failed = [0] * count
        for outcome in self.snapshot():
            if outcome.started > end:
                break
            index = min(int(outcome.started / interval), count - 1)
            if not outcome.ok:
                failed[index] += 1
            elif outcome.node is not None:
                nodes.setdefault(outcome.node, [0] * count)[index] += 1
        return {
            "interval_s": interval,
            "t": [round(i * interval, 3) for i in range(count)],
            "nodes": dict(sorted(nodes.items())),
            "failed": failed,
        }

    def timeline(self, events: list[dict[str, object]]) -> dict[str, object]:
        """:meth:`series` plus the check's events (``{"t", "what", "kind"}``, stream seconds): one report figure."""
        return {**self.series(), "events": list(events)}

    def __enter__(self) -> RequestStream:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()
