"""Reading a finished Locust run from its ``--json-file`` output, without importing Locust.

Locust writes one entry per (request type, name) with a response-time histogram; this module turns
them into what a report and a gate need: requests, failures, rate and percentiles per entry and per
path (https, handshake, stomp); and from ``--csv-full-history``, requests and failures per second
with what a failover cost. Importing Locust would monkey-patch the caller with gevent.
"""

from __future__ import annotations

import csv
import json
import math
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from flowlb.errors import FlowlbError
from flowlb.evidence import DOWN, FAILURE, of_kind
from flowlb.load.paths import path_of


@dataclass(frozen=True)
class Figures:
    """Throughput and latency of one entry or one path."""

    name: str
    requests: int
    failures: int
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def percentile(histogram: Counter[float], fraction: float) -> float:
    """The response time (ms) below which ``fraction`` of the requests fall, from Locust's rounded histogram."""
    total = sum(histogram.values())
    if total == 0:
        return 0.0
    wanted = fraction * total
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen >= wanted:
            return float(value)
    return float(max(histogram))


def _figures(name: str, entries: list[dict[str, Any]]) -> Figures:
    histogram: Counter[float] = Counter()
    for entry in entries:
        histogram.update({float(k): int(v) for k, v in (entry.get("response_times") or {}).items()})
    requests = sum(int(e["num_requests"]) for e in entries)
    started = min((float(e["start_time"]) for e in entries), default=0.0)
    ended = max((float(e.get("last_request_timestamp") or 0) for e in entries), default=0.0)
    seconds = max(ended - started, 1e-9)
    return Figures(
        name=name,
        requests=requests,
        failures=sum(int(e["num_failures"]) for e in entries),
        rps=round(requests / seconds, 1) if requests else 0.0,
        p50_ms=percentile(histogram, 0.50),
        p95_ms=percentile(histogram, 0.95),
        p99_ms=percentile(histogram, 0.99),
    )


@dataclass(frozen=True)
class LoadResult:
    """A finished run: its raw entries, grouped per path."""

    entries: list[dict[str, Any]]

    @classmethod
    def read(cls, path: Path) -> LoadResult:
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise FlowlbError(f"no Locust results in {path}: {exc}") from None
        if not isinstance(data, list):
            raise FlowlbError(f"{path} is not Locust's --json-file output (a list of entries)")
        return cls(data)

    def per_entry(self) -> list[Figures]:
        return [_figures(f"{e['method']} {e['name']}", [e]) for e in self.entries]

    def per_path(self) -> dict[str, Figures]:
        groups: dict[str, list[dict[str, Any]]] = {}
        for entry in self.entries:
            groups.setdefault(path_of(entry["method"], entry["name"]), []).append(entry)
        return {path: _figures(path, entries) for path, entries in sorted(groups.items())}

    def total(self) -> Figures:
        return _figures("total", self.entries)


@dataclass(frozen=True)
class Second:
    """One row of the per-second history, as counts in that second (Locust keeps running totals)."""

    t: int  # Unix time at the end of the second
    users: int
    requests: int
    failures: int


def read_history(path: Path) -> list[Second]:
    """Requests and failures per second from ``locust_stats_history.csv`` (its ``Aggregated`` rows).

    Counted from the differences of Locust's running totals, not its ``Requests/s`` column, which
    is a moving average that smooths a failover's dip away. A missing file is an empty history.
    """
    try:
        rows = list(csv.DictReader(path.read_text().splitlines()))
    except OSError:
        return []
    seconds: list[Second] = []
    last_t, last_requests, last_failures = None, 0, 0
    for row in rows:
        if row.get("Name") != "Aggregated":
            continue
        try:
            t, users = int(row["Timestamp"]), int(row["User Count"])
            requests, failures = int(row["Total Request Count"]), int(row["Total Failure Count"])
        except (KeyError, TypeError, ValueError):
            continue
        if last_t is not None and t <= last_t:
            continue  # Locust writes the first second twice
        seconds.append(Second(t, users, max(requests - last_requests, 0), max(failures - last_failures, 0)))
        last_t, last_requests, last_failures = t, requests, failures
    return seconds


def failover_summary(history: list[Second], events: list[dict[str, Any]]) -> dict[str, Any]:
    """What a failover cost: detection per backend, and the failures from the failure to the last DOWN and after.

    ``events`` are ``timeline.json``'s (:mod:`flowlb.evidence`): the first failure is the kill or
    freeze; the DOWN events are HAProxy marking the node DOWN in a backend. The outage is counted in whole
    seconds of the history, from the second of the failure to the second of the last DOWN.
    """
    failure = next(iter(of_kind(events, FAILURE)), None)
    if failure is None:
        return {}
    failed_at = float(failure["t"])
    downs = of_kind(events, DOWN)
    last_down = max((float(e["t"]) for e in downs), default=None)
    outage_end = math.ceil(last_down) if last_down is not None else None
    during = [s for s in history if math.ceil(failed_at) <= s.t and (outage_end is None or s.t <= outage_end)]
    after = [s for s in history if outage_end is not None and s.t > outage_end]
    return {
        "node": failure.get("node"),
        "action": failure.get("action"),
        "at": failed_at,
        "detection_s": {str(e["backend"]): round(float(e["t"]) - failed_at, 2) for e in downs},
        "marked_down_everywhere": last_down is not None,
        "outage_s": round(last_down - failed_at, 2) if last_down is not None else None,
        "requests_during_outage": sum(s.requests for s in during),
        "failures_during_outage": sum(s.failures for s in during),
        "failures_after_down": sum(s.failures for s in after),
        "events": events,
    }
