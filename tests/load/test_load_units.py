"""The load plumbing that needs no cluster: durations, weights, paths, percentiles, Locust's JSON."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from flowlb.errors import FlowlbError
from flowlb.load.options import parse_weights
from flowlb.load.paths import HANDSHAKE_PREFIX, path_of
from flowlb.load.plan import parse_duration
from flowlb.load.results import LoadResult, percentile


@pytest.mark.parametrize(("text", "seconds"), [("90", 90), ("30s", 30), ("5m", 300), ("1h30m", 5400), ("1m5s", 65)])
def test_durations_in_locust_syntax(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5x", "0s", "-1", "5h", "m"])
def test_bad_or_unbounded_durations_are_refused(text: str) -> None:
    with pytest.raises(FlowlbError, match="--run-time"):
        parse_duration(text)


def test_weights_parse_and_name_the_bad_item() -> None:
    assert parse_weights("api=4, stomp=0", ("api", "stomp"), "--flow-mix") == {"api": 4.0, "stomp": 0.0}
    with pytest.raises(ValueError, match="'web=1'"):
        parse_weights("web=1", ("api", "stomp"), "--flow-mix")
    with pytest.raises(ValueError, match="'lots'"):
        parse_weights("api=lots", ("api",), "--flow-mix")
    with pytest.raises(ValueError, match="negative"):
        parse_weights("api=-1", ("api",), "--flow-mix")


def test_paths_from_request_type_and_name() -> None:
    assert path_of("STOMP", "SEND+RECEIPT /queue/x") == "stomp"
    assert path_of("GET", f"{HANDSHAKE_PREFIX}/commanderRequest/health") == "handshake"
    assert path_of("POST", "/rest/v1.0/jobs") == "https"


def test_percentiles_from_a_rounded_histogram() -> None:
    histogram = Counter({1.0: 90, 10.0: 5, 100.0: 4, 1000.0: 1})
    assert percentile(histogram, 0.5) == 1.0
    assert percentile(histogram, 0.95) == 10.0
    assert percentile(histogram, 0.99) == 100.0
    assert percentile(Counter(), 0.95) == 0.0


def _entry(method: str, name: str, requests: int, failures: int, times: dict[str, int]) -> dict[str, object]:
    return {"method": method, "name": name, "num_requests": requests, "num_failures": failures,
            "start_time": 100.0, "last_request_timestamp": 110.0, "response_times": times}


def test_locust_json_grouped_per_path(tmp_path: Path) -> None:
    results = tmp_path / "locust.json"
    results.write_text(json.dumps([
        _entry("GET", "/commanderRequest/health", 600, 0, {"2": 600}),
        _entry("POST", "POST /rest/v1.0/jobs", 400, 2, {"4": 400}),
        _entry("STOMP", "SEND+RECEIPT /queue/flowlb.load", 500, 0, {"1": 450, "9": 50}),
    ]))
    result = LoadResult.read(results)
    paths = result.per_path()
    assert set(paths) == {"https", "stomp"}
    assert (paths["https"].requests, paths["https"].failures, paths["https"].rps) == (1000, 2, 100.0)
    assert paths["https"].p50_ms == 2.0 and paths["https"].p95_ms == 4.0
    assert paths["stomp"].p95_ms == 9.0 and paths["stomp"].p50_ms == 1.0
    assert result.total().requests == 1500


def test_unreadable_results_are_one_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "locust.json"
    bad.write_text("{not json")
    with pytest.raises(FlowlbError, match="no Locust results"):
        LoadResult.read(bad)
