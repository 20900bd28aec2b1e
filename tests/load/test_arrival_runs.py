"""``flowlb load --arrival-rate``: one short real run on two Locust processes writes the open model's figures, and
bad open-model options are one line before any cluster starts.

The run's validity depends on the machine (a busy CI machine is over 90 % CPU and makes it invalid): the test holds
the exit code to what the run says of itself, 0 when valid and 3 with its reasons when not.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.load.test_load_runs import flowlb_load, published_run
from tests.support.suite import flowlb_processes

pytest.importorskip("hdrh", reason="hdrhistogram is not installed (scripts/setup.sh installs it)")


def test_an_arrival_rate_run_on_two_processes_writes_latency_and_rate(haproxy_bin: str, tmp_path: Path) -> None:
    result = flowlb_load("--target", "local", "--run-time", "6s", "--arrival-rate", "40", "--processes", "2",
                         "--report-dir", str(tmp_path))
    output = result.stdout[-3000:] + result.stderr[-3000:]
    run = published_run(tmp_path)
    summary = json.loads((run / "summary.json").read_text())
    validity = summary["validity"]
    assert result.returncode == (0 if validity["valid"] else 3), output
    assert bool(validity["reasons"]) is not validity["valid"] and validity["generators"] == 2, validity
    assert summary["exit_code"] == result.returncode
    rate = summary["rate"]
    assert rate["offered"] == pytest.approx(40, rel=0.02), rate
    assert rate["offered_requests"] == rate["started"] + rate["dropped"] + rate["missed"], rate
    assert rate["achieved"] > 0 and rate["completed"] <= rate["started"], rate
    for path in ("https", "handshake", "stomp"):
        figures = summary["latency_ms"][path]
        assert figures["count"] > 0, (path, figures)
        assert 0 < figures["p50"] <= figures["p90"] <= figures["p99"] <= figures["p99.9"] <= figures["max"], figures
        assert summary["paths"][path]["requests"] > 0, "Locust's own stats must count the open model's requests"
        assert (run / f"latency-{path}.hgrm").is_file()
        over_time = summary["latency_over_time"]["paths"][path]
        assert over_time and min(p["t"] for p in over_time) >= summary["latency_over_time"]["warmup_s"]
    assert "Arrival rate (open model)" in (run / "index.html").read_text()
    for line in validity["reasons"]:
        assert f"flowlb: INVALID run: {line}" in result.stdout
    assert flowlb_processes() == []


@pytest.mark.parametrize(("args", "message"), [
    (["--arrival-rate", "0"], "--arrival-rate 0: give requests per second, a positive number"),
    (["--arrival-rate", "nan"], "--arrival-rate nan: give requests per second"),
    (["--arrival-rate", "100", "--find-capacity", "--max-rate", "50"], "the rate search needs a positive start"),
    (["--arrival-rate", "1", "--find-capacity", "--rate-step", "1", "--max-rate", "100"], "100 steps from 1 to 100"),
    (["--baseline", "/nonexistent/run"], "--baseline /nonexistent/run: no load report there"),
], ids=["zero", "nan", "search-range", "search-steps", "baseline-missing"])
def test_bad_open_model_options_are_one_line_before_any_cluster_starts(args: list[str], message: str,
                                                                       tmp_path: Path) -> None:
    result = flowlb_load("--target", "local", "--run-time", "3s", "--report-dir", str(tmp_path), *args, timeout=60)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stdout == "" and result.stderr.startswith(f"flowlb: {message}"), result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert not tmp_path.exists() or not any(tmp_path.iterdir())
