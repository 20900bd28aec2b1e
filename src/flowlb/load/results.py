"""Reading a finished Locust run from its ``--json-file`` output, without importing Locust.

Locust writes one entry per (request type, name) with a response-time histogram; this module turns
them into what a report and a gate need: requests, failures, rate and percentiles per entry and per
path (https, handshake, stomp). Importing Locust would monkey-patch the caller with gevent.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from flowlb.errors import FlowlbError
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
