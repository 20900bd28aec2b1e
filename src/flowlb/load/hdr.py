"""Latency in HdrHistogram: one histogram per path, recorded in microseconds, merged exactly across processes.

Every generator process records the latency of each request from its *intended* send time
(:mod:`flowlb.load.arrival`) into a :class:`PathLatency` per path: one histogram for the whole
measured window (3 significant digits, so p99.9 is within 0.1 %) and one per interval of the run
for "latency over time" (2 digits, small enough to keep a few hundred). Histograms travel between
processes as the package's base64 encoding (``encode``) and are added bucket by bucket
(``decode_and_add``), so merged percentiles are those of one histogram of all the values.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from hdrh.histogram import HdrHistogram

LOWEST_US = 1
HIGHEST_US = 3600 * 1_000_000  # one hour: every latency of a bounded run fits; a longer one is clamped
DIGITS = 3  # the whole window's histogram: values within 0.1 %
INTERVAL_DIGITS = 2  # each interval's histogram: within 1 %, 26 KB each instead of 190 KB
PERCENTILES = (("p50", 50.0), ("p90", 90.0), ("p95", 95.0), ("p99", 99.0), ("p99.9", 99.9))


def new_histogram(digits: int = DIGITS) -> HdrHistogram:
    """An empty histogram of microseconds from 1 µs to 1 h."""
    return HdrHistogram(LOWEST_US, HIGHEST_US, digits)


def record_ms(histogram: HdrHistogram, milliseconds: float) -> None:
    """Record one latency given in milliseconds; negative is 0, beyond an hour is an hour."""
    histogram.record_value(min(max(round(milliseconds * 1000.0), 0), HIGHEST_US))


def encode(histogram: HdrHistogram) -> str:
    """The histogram as text (HdrHistogram's compressed V2 format in base64), for Locust's messages."""
    blob = histogram.encode()
    return blob.decode("ascii") if isinstance(blob, bytes) else str(blob)


def merge(encoded: Iterable[str], digits: int = DIGITS) -> HdrHistogram:
    """One histogram holding every value of the ``encoded`` ones (bucket counts added, nothing approximated)."""
    merged = new_histogram(digits)
    for blob in encoded:
        merged.decode_and_add(blob)
    return merged


def percentiles_ms(histogram: HdrHistogram) -> dict[str, float]:
    """p50, p90, p99, p99.9 and max in milliseconds (3 decimals), plus the count; zeros for an empty histogram."""
    figures = {name: round(histogram.get_value_at_percentile(p) / 1000.0, 3) for name, p in PERCENTILES}
    figures["max"] = round(histogram.get_max_value() / 1000.0, 3) if histogram.get_total_count() else 0.0
    figures["count"] = int(histogram.get_total_count())
    return figures


def hgrm(histogram: HdrHistogram) -> str:
    """The percentile spectrum in HdrHistogram's ``.hgrm`` text (values in milliseconds), for HdrHistogram's plotter."""
    out = io.BytesIO()
    histogram.output_percentile_distribution(out, 1000.0)
    text = out.getvalue().decode("ascii")
    # the package scales the mean but not the standard deviation: put it in milliseconds too
    stddev = f"{histogram.get_stddev() / 1000.0:12.{histogram.significant_figures}f}"
    return re.sub(r"(StdDeviation   = )\s*[0-9.]+", lambda m: m.group(1) + stddev, text)


class PathLatency:
    """One path's latencies in one process: the measured window's histogram and one per interval of the run."""

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self.window = new_histogram()
        self.intervals: dict[int, HdrHistogram] = {}

    def record(self, seconds_since_start: float, milliseconds: float, measured: bool) -> None:
        """A request intended ``seconds_since_start`` into the run took ``milliseconds`` from then.

        The interval histograms get every request, warm-up included (the report leaves the warm-up out);
        the window's only the ``measured`` ones."""
        if measured:
            record_ms(self.window, milliseconds)
        index = max(int(seconds_since_start // self.interval_s), 0)
        if index not in self.intervals:
            self.intervals[index] = new_histogram(INTERVAL_DIGITS)
        record_ms(self.intervals[index], milliseconds)

    def encoded(self) -> dict[str, Any]:
        return {"window": encode(self.window),
                "intervals": {str(i): encode(h) for i, h in sorted(self.intervals.items())}}


def merge_paths(reports: Iterable[Mapping[str, Mapping[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Each path's window histogram and interval histograms merged over every process's ``encoded()`` report."""
    windows: dict[str, list[str]] = {}
    intervals: dict[str, dict[int, list[str]]] = {}
    for report in reports:
        for path, encoded in report.items():
            windows.setdefault(path, []).append(str(encoded["window"]))
            for index, blob in dict(encoded.get("intervals", {})).items():
                intervals.setdefault(path, {}).setdefault(int(index), []).append(str(blob))
    return {
        path: {
            "window": merge(blobs),
            "intervals": {i: merge(b, INTERVAL_DIGITS) for i, b in sorted(intervals.get(path, {}).items())},
        }
        for path, blobs in sorted(windows.items())
    }


def write_hgrm(histogram: HdrHistogram, path: Path) -> Path:
    """Write the ``.hgrm`` spectrum of ``histogram`` to ``path``."""
    path.write_text(hgrm(histogram))
    return path
