"""The conformance report without a cluster: pictures from sample figures, fixes first, atomic publishing."""

from __future__ import annotations

import base64
import json
import re
import time
import warnings
from pathlib import Path

import pytest

from flowlb import plots, reporting
from flowlb.checks.stream import MAX_INTERVALS, Outcome, RequestStream
from flowlb.reporting import CheckResult, RunInfo, finish, render_html, run_directory, split_fix

BALANCE = "conformance/balance/test_requests_spread_over_all_nodes.py::test_requests_spread_evenly"
KILL = "conformance/failover/test_killed_node_under_load.py::test_no_request_lost_when_a_node_is_killed"


def svgs(page: str) -> list[str]:
    """The inline SVG documents of a page's ``<img>`` charts."""
    return [base64.b64decode(data).decode() for data in re.findall(r'src="data:image/svg\+xml;base64,([^"]+)"', page)]


def kill_timeline() -> dict[str, object]:
    steps = [round(0.5 * i, 1) for i in range(8)]
    return {
        "interval_s": 0.5,
        "t": steps,
        "nodes": {"node1": [10] * 8, "node2": [10] * 8, "node3": [10, 10, 10, 2, 0, 0, 0, 0]},
        "failed": [0, 0, 0, 3, 1, 0, 0, 0],
        "events": [
            {"t": 1.6, "what": "killed node3", "kind": "failure"},
            {"t": 2.1, "what": "HAProxy marked node3 DOWN", "kind": "down"},
        ],
    }


def sample_results() -> list[CheckResult]:
    results = [
        CheckResult(f"{BALANCE}[{port}]", "balance", "Balancing", "spread", figures={
            "requests_per_node": {"node1": 20, "node2": 20, "node3": 20},
        })
        for port in ("443", "8443")
    ]
    results.append(CheckResult(
        f"{BALANCE}[8000]", "balance", "Balancing", "spread", outcome="failed",
        message="60 requests were answered node1=60: node2 got 0. Fix: `balance roundrobin` and weight > 0.",
        figures={"requests_per_node": {"node1": 60, "node2": 0, "node3": 0}},
    ))
    results.append(CheckResult(KILL, "failover", "Killed node", "no loss", figures={
        "kill_timeline": kill_timeline(), "kill_detection_s": 0.5,
    }))
    return results


def test_each_chart_is_an_inline_svg_image() -> None:
    images = [
        plots.balance_chart({"443": {"node1": 20, "node2": 19, "node3": 21}}),
        plots.timeline_chart([0, 1, 2], {"requests": [5, 6, 7]}, [0, 2, 0],
                             [plots.Event(1.2, "killed node1", "failure")], title="t", ylabel="requests/s"),
        plots.latency_chart({"https": {"p50_ms": 2, "p95_ms": 4, "p99_ms": 6}, "stomp": {"p50_ms": 3}}),
    ]
    for image in images:
        assert image.startswith("<img ")
        (svg,) = svgs(image)
        assert "<svg" in svg and "</svg>" in svg


def test_a_single_interval_timeline_draws_without_warnings() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. matplotlib's singular x limits
        assert svgs(plots.timeline_chart([0.0], {"node1": [3]}, [0], [], title="one", ylabel="requests"))


def test_page_embeds_balance_and_failover_pictures_from_the_figures() -> None:
    results = sample_results()
    page = render_html(RunInfo("local", "hardened", "spec.toml"), results, {"passed": 3, "failed": 1, "skipped": 0})
    charts = svgs(page)
    assert len(charts) == 2, "one balance chart (all ports) and one failover timeline"
    balance, timeline = charts
    assert all(f"port {port}" in balance for port in ("443", "8000", "8443"))
    assert "killed node3" in timeline and "HAProxy marked DOWN" in timeline
    assert "<script" not in page and "http://" not in page and "https://" not in page, "self-contained, offline"


def test_failed_checks_come_first_with_their_fix_prominent() -> None:
    page = render_html(RunInfo("local", "kb", "spec.toml"), sample_results(), {"passed": 3, "failed": 1, "skipped": 0})
    assert page.index("What to fix") < page.index("<h2>balance</h2>")
    assert "<div class=fix><b>Fix:</b> <code>balance roundrobin</code> and weight &gt; 0.</div>" in page
    assert "node2 got 0." in page
    assert "kill_detection_s: 0.5" in page, "scalar figures stay in the table"
    assert "kill_timeline:" not in page, "series are drawn, not printed"


def test_fix_is_split_from_the_message() -> None:
    assert split_fix("node2 got 0. Fix: weight > 0.") == ("node2 got 0.", "weight > 0.")
    assert split_fix("no fix here") == ("no fix here", "")


def test_malformed_figures_are_not_drawn() -> None:
    bad = CheckResult(KILL, "failover", "Killed", "", figures={"kill_timeline": {**kill_timeline(), "failed": [1]}})
    odd = CheckResult(BALANCE + "[443]", "balance", "B", "", figures={"requests_per_node": "node1=3"})
    page = render_html(RunInfo("local", "kb", "s"), [bad, odd], {"passed": 2, "failed": 0, "skipped": 0})
    assert svgs(page) == []


def test_finish_publishes_atomically_and_points_latest(tmp_path: Path) -> None:
    info = RunInfo("local", "hardened", "spec.toml", started=time.time())
    final = finish(run_directory(tmp_path, info), info, sample_results())
    assert not final.name.endswith(".partial")
    assert (tmp_path / "latest").resolve() == final.resolve()
    assert {p.name for p in final.iterdir()} >= {"index.html", "summary.json"}
    summary = json.loads((final / "summary.json").read_text())
    assert summary["checks"][-1]["figures"]["kill_timeline"]["events"][0]["what"] == "killed node3"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".partial")] == []


def test_a_report_that_cannot_be_written_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object) -> str:
        raise RuntimeError("drawing failed")

    monkeypatch.setattr(reporting, "render_html", broken)
    info = RunInfo("local", "hardened", "spec.toml")
    with pytest.raises(RuntimeError):
        finish(run_directory(tmp_path, info), info, sample_results())
    assert list(tmp_path.iterdir()) == []


def test_stream_series_is_bounded_and_counts_per_node() -> None:
    stream = RequestStream(lambda: None, "/x")  # type: ignore[arg-type, return-value]
    stream.outcomes = [Outcome(i * 0.001, 0.001, f"node{i % 3 + 1}", 200, None) for i in range(20000)]
    stream.outcomes.append(Outcome(5.0, 2.0, None, None, "ReadTimeoutError"))
    series = stream.series(until=20.0)
    assert len(series["t"]) <= MAX_INTERVALS  # type: ignore[arg-type]
    nodes = series["nodes"]
    assert isinstance(nodes, dict) and set(nodes) == {"node1", "node2", "node3"}
    assert sum(sum(v) for v in nodes.values()) == 20000
    assert sum(series["failed"]) == 1  # type: ignore[arg-type]
    short = stream.series(until=0.05)
    assert short["interval_s"] == 0.01 and len(short["t"]) == 6  # type: ignore[arg-type]


def test_hostile_names_are_escaped_and_the_charts_are_not() -> None:
    hostile = "<script>alert(1)</script>"
    check = CheckResult(f"x.py::test[{hostile}']", hostile, hostile, f"guards `{hostile}`", outcome="failed",
                        message=f"{hostile} Fix: `{hostile}`", figures={hostile: hostile})
    info = RunInfo(hostile, hostile, hostile, nodes=[hostile], extra_listeners={hostile: hostile})
    page = render_html(info, [check, *sample_results()], {"passed": 3, "failed": 2, "skipped": 0})
    assert "<script" not in page
    assert page.count("&lt;script&gt;") == 20, (
        "header x6, verdict reason, to-do x4, area heading, row x8 (figure name and value too)")
    assert "id='x.py::test[&lt;script&gt;alert(1)&lt;/script&gt;&#39;]'" in page, "the quote cannot end the id"
    assert "<div class=fix><b>Fix:</b> <code>&lt;script&gt;alert(1)&lt;/script&gt;</code></div>" in page
    assert len(svgs(page)) == 2, "the plots' <img> tags are inserted as HTML"


def test_runs_started_in_the_same_second_get_their_own_directories(tmp_path: Path) -> None:
    info = RunInfo("local", "hardened", "spec.toml", started=time.time())
    first, second = run_directory(tmp_path, info), run_directory(tmp_path, info)
    assert first != second
    published = [finish(directory, info, sample_results()) for directory in (first, second)]
    assert len({p.name for p in published}) == 2 and all((p / "summary.json").is_file() for p in published)
    third = run_directory(tmp_path, info)  # the published names stay taken
    assert third.name.removesuffix(".partial") not in {p.name for p in published}
