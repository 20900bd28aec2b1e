"""--baseline: p99 regresses past 20 % and 5 ms together, the error rate past 0.5 points; bad reports are one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flowlb.errors import FlowlbError
from flowlb.load.baseline import compare, fold_baseline, load_report


def run(p99: dict[str, float], requests: int = 10_000, failures: int = 0, hdr: bool = True) -> dict:
    summary: dict = {"kind": "load", "total": {"requests": requests, "failures": failures},
                     "paths": {p: {"requests": 100, "p99_ms": v * 10} for p, v in p99.items()}}
    if hdr:
        summary["latency_ms"] = {p: {"p99": v, "count": 100} for p, v in p99.items()}
    return summary


@pytest.mark.parametrize(("before", "after", "regressed"), [
    (100.0, 119.0, False),  # +19 %: within the relative tolerance
    (100.0, 121.0, True),  # +21 % and +21 ms
    (10.0, 14.9, False),  # +49 % but only +4.9 ms
    (10.0, 15.1, True),  # +51 % and +5.1 ms
    (100.0, 50.0, False),  # better
])
def test_p99_regresses_only_past_both_tolerances(before: float, after: float, regressed: bool) -> None:
    findings = compare(run({"https": before}), run({"https": after}))
    p99 = next(f for f in findings if f.what.startswith("p99 on https"))
    assert p99.regressed is regressed, p99
    assert "intended send time" in p99.what


def test_the_error_rate_regresses_past_half_a_point() -> None:
    assert not compare(run({}, failures=10), run({}, failures=59))[0].regressed  # 0.1 % -> 0.59 %
    assert compare(run({}, failures=10), run({}, failures=61))[0].regressed  # 0.1 % -> 0.61 %


def test_an_open_run_is_never_compared_with_a_closed_runs_p99() -> None:
    findings = compare(run({"https": 10.0}, hdr=False), run({"https": 10.0}))
    assert findings[0].what == "p99 on https (ms (Locust's))" and findings[0].before == findings[0].after == 100.0


def test_a_regression_makes_the_exit_code_1_and_is_recorded(tmp_path: Path) -> None:
    (tmp_path / "summary.json").write_text(json.dumps(run({"https": 10.0, "stomp": 5.0})))
    summary = run({"https": 30.0, "stomp": 5.0})
    assert fold_baseline(summary, tmp_path, 0) == 1
    assert summary["baseline"]["regressed"] is True
    assert [f["regressed"] for f in summary["baseline"]["findings"]] == [True, False, False]
    assert fold_baseline(run({"https": 30.0}), tmp_path, 3) == 3  # an invalid run stays invalid
    assert fold_baseline(run({"https": 10.0}), tmp_path / "summary.json", 0) == 0


@pytest.mark.parametrize(("content", "message"), [
    (None, "no load report there"), ("{", "is not JSON"), ('{"kind": "conformance"}', "is not a flowlb load report"),
])
def test_a_baseline_that_is_no_load_report_is_one_line(tmp_path: Path, content: str | None, message: str) -> None:
    if content is not None:
        (tmp_path / "summary.json").write_text(content)
    with pytest.raises(FlowlbError, match=message):
        load_report(tmp_path)
