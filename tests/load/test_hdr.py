"""HdrHistogram per path: merged across processes it gives one process's percentiles, within 1 %, on the same values."""

from __future__ import annotations

import random

import pytest

pytest.importorskip("hdrh", reason="hdrhistogram is not installed (scripts/setup.sh installs it)")

from flowlb.load import hdr

KEYS = ("p50", "p90", "p99", "p99.9", "max")


def values(seed: int, count: int) -> list[float]:
    """Latencies in ms with a long tail: mostly a few ms, some hundreds, a stall or two of seconds."""
    rng = random.Random(seed)
    return [rng.lognormvariate(1.5, 1.2) + (rng.random() < 0.005) * rng.uniform(1000, 6000) for _ in range(count)]


def recorded(latencies: list[float]) -> hdr.PathLatency:
    path = hdr.PathLatency(interval_s=1.0)
    for index, ms in enumerate(latencies):
        path.record(index / 1000.0, ms, measured=True)
    return path


def test_two_recorders_merged_equal_one_recorder_of_the_same_values() -> None:
    latencies = values(1, 20_000)
    # one worker gets the fast half, the other the slow: a merge that is not exact shows at once
    ordered = sorted(latencies)
    first, second = recorded(ordered[::2][:5000] + ordered[10_000:15_000]), recorded(ordered[1::2][:5000] +
                                                                                     ordered[15_000:])
    one = recorded(ordered[::2][:5000] + ordered[10_000:15_000] + ordered[1::2][:5000] + ordered[15_000:])
    merged = hdr.merge_paths([{"https": first.encoded()}, {"https": second.encoded()}])["https"]["window"]
    alone, together = hdr.percentiles_ms(one.window), hdr.percentiles_ms(merged)
    assert together["count"] == alone["count"] == 20_000
    for key in KEYS:
        assert together[key] == pytest.approx(alone[key], rel=0.01), key
    # and the figures are the values' own, within HdrHistogram's 3 significant digits
    exact = sorted(ordered[::2][:5000] + ordered[10_000:15_000] + ordered[1::2][:5000] + ordered[15_000:])
    assert together["p99"] == pytest.approx(exact[int(0.99 * len(exact)) - 1], rel=0.01)
    assert together["max"] == pytest.approx(exact[-1], rel=0.001)


def test_one_recorder_alone_is_not_the_merge() -> None:
    """The check above can fail: half of the values (the slow half) give other percentiles."""
    ordered = sorted(values(2, 4000))
    fast, slow = recorded(ordered[:2000]), recorded(ordered[2000:])
    both = hdr.merge_paths([{"https": fast.encoded()}, {"https": slow.encoded()}])["https"]["window"]
    half = hdr.merge_paths([{"https": fast.encoded()}])["https"]["window"]
    assert hdr.percentiles_ms(half)["p50"] != pytest.approx(hdr.percentiles_ms(both)["p50"], rel=0.01)


def test_interval_histograms_merge_per_interval_and_paths_stay_apart() -> None:
    a, b = hdr.PathLatency(2.0), hdr.PathLatency(2.0)
    a.record(0.5, 1.0, measured=False)
    a.record(3.0, 100.0, measured=True)
    b.record(3.9, 300.0, measured=True)
    stomp = hdr.PathLatency(2.0)
    stomp.record(1.0, 7.0, measured=True)
    merged = hdr.merge_paths([{"https": a.encoded(), "stomp": stomp.encoded()}, {"https": b.encoded()}])
    https = merged["https"]
    assert sorted(https["intervals"]) == [0, 1]
    assert https["intervals"][1].get_total_count() == 2 and https["intervals"][0].get_total_count() == 1
    assert https["window"].get_total_count() == 2, "a warm-up value went into the measured window"
    assert hdr.percentiles_ms(merged["stomp"]["window"])["max"] == pytest.approx(7.0, rel=0.001)


def test_empty_and_out_of_range_values() -> None:
    empty = hdr.new_histogram()
    assert hdr.percentiles_ms(empty) == {"p50": 0.0, "p90": 0.0, "p95": 0.0, "p99": 0.0, "p99.9": 0.0, "max": 0.0,
                                         "count": 0}
    histogram = hdr.new_histogram()
    hdr.record_ms(histogram, -5)
    hdr.record_ms(histogram, 10 * 3600 * 1000.0)  # ten hours: clamped to the hour, not lost
    assert histogram.get_total_count() == 2
    assert hdr.percentiles_ms(histogram)["max"] == pytest.approx(3600 * 1000.0, rel=0.001)


def test_the_hgrm_spectrum_is_in_milliseconds_throughout() -> None:
    histogram = hdr.new_histogram()
    for ms in (1.0, 2.0, 3.0, 100.0):
        hdr.record_ms(histogram, ms)
    text = hdr.hgrm(histogram)
    assert text.splitlines()[0].split() == ["Value", "Percentile", "TotalCount", "1/(1-Percentile)"]
    footer = next(line for line in text.splitlines() if "StdDeviation" in line)
    mean, stddev = (float(part.split("=")[1]) for part in footer.strip("#[]").split(","))
    assert mean == pytest.approx(26.5, rel=0.01) and stddev == pytest.approx(42.4, rel=0.01), footer
